"""Every key's loss curve in one graphics item, so a progress poll costs one update for any number of keys.

One ``PlotDataItem`` per key cost about 0.3 ms of GUI time per key and poll (its ``setData`` re-logs,
re-clips and re-bounds the whole series and tells the view box): 25 ms a poll for the whole piano.
:class:`LossCurves` keeps the steps (n,) and the log10 losses (n, keys) in preallocated arrays,
appends a poll's points in one numpy copy and rebuilds its paths only when it is next painted.
It draws in the plot's data coordinates: x in steps, y in decades (the plot's axis is in log mode).
At most ``MAX_POINTS`` points per key are kept: when full, every second point is dropped and only
every second later point is kept (more than the plot has pixels would only cost painting time).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

MAX_POINTS = 1024
"""Points kept per key (the loss plot is a few hundred pixels wide)."""


def curve_pen(index: int, count: int, width: int = 1):
    """A pen of a distinct hue for key ``index`` of ``count`` (low keys blue, high keys red)."""
    return pg.mkPen(pg.intColor(index, hues=max(count, 1), maxValue=230), width=width)


class LossCurves(pg.GraphicsObject):
    """The loss curves of ``notes``: one hue per key, the selected key bold and on top; hovering names
    the key whose curve is nearest the pointer in its tooltip."""

    def __init__(self, notes: list[str]):
        super().__init__()
        self.notes = list(notes)
        self.selected = -1
        self._x = np.empty(MAX_POINTS)
        self._y = np.empty((MAX_POINTS, len(self.notes)))
        self._count = 0
        self._stride = 1  # keep every stride-th point offered
        self._offered = 0
        self._paths = None
        self._bounds = QRectF()
        self.setAcceptHoverEvents(True)

    def __len__(self) -> int:
        return self._count

    @property
    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """The points kept: steps (n,) and log10 losses (n, keys), NaN where a loss was not positive."""
        return self._x[:self._count], self._y[:self._count]

    def pen(self, index: int):
        """The pen key ``index`` is drawn with (width 3 if it is the selected key)."""
        return curve_pen(index, len(self.notes), width=3 if index == self.selected else 1)

    def select(self, index: int) -> None:
        """Draw key ``index`` bold and on top (-1: none)."""
        if index != self.selected:
            self.selected = index
            self.update()

    def append(self, steps: np.ndarray, losses: np.ndarray) -> None:
        """Add points: steps (m,) and losses (m, keys), linear; a zero or non-finite loss is a gap."""
        steps = np.asarray(steps, dtype=np.float64)
        losses = np.asarray(losses, dtype=np.float64).reshape(len(steps), len(self.notes))
        offered = self._offered + np.arange(len(steps))  # the i-th point ever offered is kept iff i % stride == 0
        self._offered += len(steps)
        while True:
            keep = offered % self._stride == 0
            if self._count + int(keep.sum()) <= MAX_POINTS:
                break
            half = (self._count + 1) // 2  # kept point j was offered as j * stride: keep the even ones
            self._x[:half] = self._x[:self._count:2]
            self._y[:half] = self._y[:self._count:2]
            self._count = half
            self._stride *= 2
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(np.isfinite(losses) & (losses > 0), np.log10(losses), np.nan)
        end = self._count + int(keep.sum())
        self._x[self._count:end] = steps[keep]
        self._y[self._count:end] = logs[keep]
        self._count = end
        self._changed()

    def _changed(self) -> None:
        x, y = self.data
        finite = y[np.isfinite(y)]
        self.prepareGeometryChange()
        if len(x) and finite.size:
            self._bounds = QRectF(float(x[0]), float(finite.min()), float(x[-1] - x[0]),
                                  float(finite.max() - finite.min()))
        else:
            self._bounds = QRectF()
        self._paths = None
        self.update()

    def key_at(self, step: float, log_loss: float) -> str | None:
        """The note whose curve passes nearest (in decades) to ``log_loss`` at ``step`` (None: no data)."""
        x, y = self.data
        if not len(x):
            return None
        row = y[min(int(np.searchsorted(x, step)), len(x) - 1)]
        if not np.isfinite(row).any():
            return None
        return self.notes[int(np.nanargmin(np.abs(row - log_loss)))]

    # ---- QGraphicsItem --------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:  # noqa: D102 - Qt hook
        return self._bounds

    def paint(self, painter, *_args) -> None:  # noqa: D102 - Qt hook
        x, y = self.data
        if len(x) < 2:
            return
        if self._paths is None:
            self._paths = [pg.arrayToQPath(x, y[:, k], connect="finite") for k in range(len(self.notes))]
        order = [k for k in range(len(self.notes)) if k != self.selected]
        if 0 <= self.selected < len(self.notes):
            order.append(self.selected)
        for k in order:
            pen = self.pen(k)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawPath(self._paths[k])

    def hoverMoveEvent(self, event) -> None:  # noqa: D102 - Qt hook
        pos = event.pos()
        self.setToolTip(self.key_at(pos.x(), pos.y()) or "")

"""A custom-painted piano keyboard widget that plays with the mouse and widens with the window.

The instrument runs A0..C8; the widget shows as many whole octaves of it as fit its width with keys
at least :data:`app.keyboard_layout.MIN_WHITE_WIDTH` pixels wide (two octaves at the least, all 88
keys once they fit), centred on the keys the computer keyboard plays. Those keys are marked (a tint,
a blue strip along their bottom and their key letters, :meth:`PianoKeyboard.set_key_labels`); when the
mark moves out of the shown run (an octave shift), the run scrolls by whole octaves to keep it in view.

Press plays a key, release ends it (the resonator's tail rings on), dragging glides from key to
key, and the vertical position of the press sets the velocity (soft at the top, loud at the
bottom of a key). Keys are lit while held from any source: the widget's own mouse, or
:meth:`PianoKeyboard.set_lit` for the computer keyboard and MIDI; a lit key outside the shown run
shows as an arrow at that edge. Signals carry MIDI numbers; velocity is 1..127.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from iirnn_core.dsp.notes import midi_to_note, note_to_midi

from .keyboard_layout import KeyLayout, Span, centred_first, follow, is_black, whites_that_fit

__all__ = ["MIN_VELOCITY", "PianoKeyboard", "is_black"]

MIN_VELOCITY = 20
"""Velocity at the very top of a key; the bottom edge gives 127."""

ACCENT = QColor(255, 153, 51)
"""Lit keys."""

MARK = QColor(60, 125, 210)
"""The strip under the computer keyboard's keys."""

MARK_STRIP = 5.0
"""Height of that strip (pixels)."""

ARROW_Y = 0.75
"""Height of the arrows for lit keys off the shown run, as a fraction of the widget's (below the black keys)."""


class PianoKeyboard(QWidget):
    """Piano keys ``lowest``..``highest`` (note names, both included, white keys at both ends; A0..C8 by
    default), of which the widget shows the run of whole octaves its width fits.

    Signals: ``note_on(midi, velocity)`` and ``note_off(midi)`` for the mouse's keys. Lit keys
    (held by any source) are drawn in the accent colour.
    """

    note_on = Signal(int, int)
    note_off = Signal(int)

    def __init__(self, lowest: str = "A0", highest: str = "C8", parent: QWidget | None = None):
        super().__init__(parent)
        self.lowest = note_to_midi(lowest)
        self.highest = note_to_midi(highest)
        if is_black(self.lowest) or is_black(self.highest) or self.highest <= self.lowest:
            raise ValueError(f"a keyboard runs from a white key up to a white key, not {lowest}..{highest}")
        self._lit: dict[int, int] = {}  # midi -> number of sources holding it
        self._labels: dict[int, str] = {}  # midi -> computer key that plays it
        self._mark: Span | None = None
        self._layout: KeyLayout | None = None
        self._mouse_note: int | None = None
        self.setMinimumSize(360, 110)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setMouseTracking(False)
        self.setToolTip("Click or drag to play; the lower you click on a key, the louder.")

    # ---- geometry -------------------------------------------------------------------------
    def sizeHint(self) -> QSize:  # noqa: D102 - Qt override
        return QSize(900, 150)

    def key_layout(self) -> KeyLayout:
        """The keys as laid out for the widget's size now; a width that fits another number of octaves centres
        the run on the mark again."""
        width, height = float(self.width()), float(self.height())
        old = self._layout
        if old is None or (old.width, old.height) != (width, height):
            count = whites_that_fit(width, self.lowest, self.highest)
            if old is None or old.count != count:
                first = centred_first(count, self._mark, self.lowest, self.highest)
            else:
                first = old.first
            self._layout = KeyLayout(first, count, width, height)
        return self._layout

    def shown_range(self) -> Span:
        """The keys drawn now, (lowest, highest) MIDI numbers."""
        return self.key_layout().shown

    def white_keys(self) -> list[int]:
        """MIDI numbers of the shown white keys, left to right."""
        low, high = self.shown_range()
        return [m for m in range(low, high + 1) if not is_black(m)]

    def key_rect(self, midi: int) -> QRectF:
        """The key's rectangle in widget coordinates (pixels); outside the widget for a key not shown."""
        return QRectF(*self.key_layout().key_rect(midi))

    def key_at(self, pos: QPointF) -> int | None:
        """The key under ``pos`` (black keys first, they lie on top), or None outside the keys."""
        return self.key_layout().key_at(pos.x(), pos.y())

    def velocity_at(self, midi: int, pos: QPointF) -> int:
        """Velocity 1..127 from the vertical position inside the key (top soft, bottom loud)."""
        rect = self.key_rect(midi)
        frac = (pos.y() - rect.top()) / max(rect.height(), 1.0)
        frac = min(max(frac, 0.0), 1.0)
        return int(round(MIN_VELOCITY + frac * (127 - MIN_VELOCITY)))

    # ---- lit keys -------------------------------------------------------------------------
    def set_lit(self, midi: int, lit: bool) -> None:
        """Light (or unlight) a key for one more (or one fewer) source holding it."""
        count = self._lit.get(midi, 0) + (1 if lit else -1)
        if count > 0:
            self._lit[midi] = count
        else:
            self._lit.pop(midi, None)
        self.update()

    def clear_lit(self) -> None:
        """Unlight every key (panic)."""
        self._lit.clear()
        self.update()

    def lit_notes(self) -> list[int]:
        """MIDI numbers of the keys lit now, ascending."""
        return sorted(self._lit)

    def set_key_labels(self, labels: dict[int, str]) -> None:
        """Show which computer key plays each key (MIDI number -> character); keys not given get none. The keys
        from the lowest to the highest labelled one are marked, and the shown run scrolls to keep them in view."""
        self._labels = dict(labels)
        self._mark = (min(labels), max(labels)) if labels else None
        old = self._layout
        if old is not None:
            first = follow(old.first, old.count, self._mark, self.lowest, self.highest)
            self._layout = KeyLayout(first, old.count, old.width, old.height)
        self.update()

    def marked_range(self) -> Span | None:
        """The marked keys (the computer keyboard's), (lowest, highest) MIDI numbers, or None."""
        return self._mark

    # ---- mouse ----------------------------------------------------------------------------
    def _start(self, midi: int, pos: QPointF) -> None:
        self._mouse_note = midi
        self.set_lit(midi, True)
        self.note_on.emit(midi, self.velocity_at(midi, pos))

    def _stop(self) -> None:
        midi, self._mouse_note = self._mouse_note, None
        if midi is not None:
            self.set_lit(midi, False)
            self.note_off.emit(midi)

    def mousePressEvent(self, event) -> None:  # noqa: D102 - Qt override
        if event.button() != Qt.LeftButton:
            return
        self.setFocus(Qt.MouseFocusReason)
        self._stop()
        midi = self.key_at(event.position())
        if midi is not None:
            self._start(midi, event.position())

    def mouseMoveEvent(self, event) -> None:  # noqa: D102 - Qt override
        if not event.buttons() & Qt.LeftButton:
            return
        midi = self.key_at(event.position())
        if midi == self._mouse_note:
            return
        self._stop()  # glide: the old key ends, the new one (if any) starts
        if midi is not None:
            self._start(midi, event.position())

    def mouseReleaseEvent(self, event) -> None:  # noqa: D102 - Qt override
        if event.button() == Qt.LeftButton:
            self._stop()

    def release_mouse_note(self) -> None:
        """End the key the mouse holds, if any (focus loss, panic)."""
        self._stop()

    # ---- painting -------------------------------------------------------------------------
    def _marked(self, midi: int) -> bool:
        return self._mark is not None and self._mark[0] <= midi <= self._mark[1]

    def paintEvent(self, event) -> None:  # noqa: D102 - Qt override
        layout = self.key_layout()
        low, high = layout.shown
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing, True)
        outline = QPen(QColor(40, 40, 40), 1)
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, min(10.0, layout.white_width / 3.2)))
        painter.setFont(font)
        for midi in self.white_keys():
            rect = self.key_rect(midi).adjusted(0.5, 0.5, -0.5, -0.5)
            painter.setPen(outline)
            unlit = QColor(236, 243, 252) if self._marked(midi) else QColor(250, 250, 246)
            painter.setBrush(ACCENT if midi in self._lit else unlit)
            painter.drawRoundedRect(rect, 3, 3)
            if midi % 12 == 0:
                painter.setPen(QColor(90, 90, 90))
                painter.drawText(rect.adjusted(0, 0, 0, -MARK_STRIP - 4), Qt.AlignHCenter | Qt.AlignBottom,
                                 midi_to_note(midi))
            if midi in self._labels:
                painter.setPen(QColor(60, 60, 60) if midi in self._lit else QColor(120, 120, 130))
                painter.drawText(rect.adjusted(0, 0, 0, -rect.height() * 0.28), Qt.AlignHCenter | Qt.AlignBottom,
                                 self._labels[midi])
        self._paint_mark(painter)
        for midi in range(low, high + 1):
            if is_black(midi):
                rect = self.key_rect(midi)
                painter.setPen(outline)
                painter.setBrush(ACCENT.darker(130) if midi in self._lit else QColor(30, 30, 34))
                painter.drawRoundedRect(rect, 2, 2)
                if midi in self._labels:
                    painter.setPen(QColor(170, 170, 170))
                    painter.drawText(rect.adjusted(0, 0, 0, -4), Qt.AlignHCenter | Qt.AlignBottom, self._labels[midi])
        self._paint_lit_outside(painter, low, high)
        painter.end()

    def _paint_mark(self, painter: QPainter) -> None:
        """The strip along the bottom of the marked keys (clipped to the widget)."""
        if self._mark is None:
            return
        left = max(self.key_rect(self._mark[0]).left(), 0.0)
        right = min(self.key_rect(self._mark[1]).right(), float(self.width()))
        if right <= left:
            return
        bottom = self.key_rect(self.white_keys()[0]).bottom()
        painter.setPen(Qt.NoPen)
        painter.setBrush(MARK)
        painter.drawRect(QRectF(left + 1, bottom - MARK_STRIP - 1, right - left - 2, MARK_STRIP))

    def _paint_lit_outside(self, painter: QPainter, low: int, high: int) -> None:
        """An accent arrow at the left (right) edge while a key left (right) of the shown run is lit."""
        size = min(14.0, self.height() * 0.12)
        top = self.height() * ARROW_Y - size / 2
        painter.setPen(QPen(QColor(40, 40, 40), 1))
        painter.setBrush(ACCENT)
        if any(m < low for m in self._lit):
            painter.drawPolygon(QPolygonF([QPointF(2, top + size / 2), QPointF(2 + size, top),
                                           QPointF(2 + size, top + size)]))
        if any(m > high for m in self._lit):
            w = self.width() - 2
            painter.drawPolygon(QPolygonF([QPointF(w, top + size / 2), QPointF(w - size, top),
                                           QPointF(w - size, top + size)]))

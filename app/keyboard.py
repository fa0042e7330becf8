"""A custom-painted piano keyboard widget (C4..C6 by default) that plays with the mouse.

Press plays a key, release ends it (the resonator's tail rings on), dragging glides from key to
key, and the vertical position of the press sets the velocity (soft at the top, loud at the
bottom of a key). Keys are lit while held from any source: the widget's own mouse, or
:meth:`PianoKeyboard.set_lit` for the computer keyboard (or MIDI later). Signals carry MIDI
numbers; velocity is 1..127.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from iirnn_core.dsp.notes import midi_to_note, note_to_midi

_BLACK = {1, 3, 6, 8, 10}
"""Semitones (within an octave) of the black keys."""

BLACK_HEIGHT = 0.62
"""Black keys' length as a fraction of the white keys'."""

BLACK_WIDTH = 0.6
"""Black keys' width as a fraction of a white key's."""

MIN_VELOCITY = 20
"""Velocity at the very top of a key; the bottom edge gives 127."""


def is_black(midi: int) -> bool:
    """Whether MIDI note ``midi`` is a black key."""
    return midi % 12 in _BLACK


class PianoKeyboard(QWidget):
    """Piano keys from ``low`` to ``high`` (note names, both included; white keys at both ends).

    Signals: ``note_on(midi, velocity)`` and ``note_off(midi)`` for the mouse's keys. Lit keys
    (held by any source) are drawn in the accent colour.
    """

    note_on = Signal(int, int)
    note_off = Signal(int)

    def __init__(self, low: str = "C4", high: str = "C6", parent: QWidget | None = None):
        super().__init__(parent)
        self.low = note_to_midi(low)
        self.high = note_to_midi(high)
        if is_black(self.low) or is_black(self.high) or self.high <= self.low:
            raise ValueError(f"a keyboard runs from a white key up to a white key, not {low}..{high}")
        self._lit: dict[int, int] = {}  # midi -> number of sources holding it
        self._labels: dict[int, str] = {}  # midi -> computer key that plays it
        self._mouse_note: int | None = None
        self.setMinimumSize(360, 110)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setMouseTracking(False)
        self.setToolTip("Click or drag to play; the lower you click on a key, the louder.")

    # ---- geometry -------------------------------------------------------------------------
    def sizeHint(self) -> QSize:  # noqa: D102 - Qt override
        return QSize(900, 150)

    def white_keys(self) -> list[int]:
        """MIDI numbers of the white keys, left to right."""
        return [m for m in range(self.low, self.high + 1) if not is_black(m)]

    def key_rect(self, midi: int) -> QRectF:
        """The key's rectangle in widget coordinates (pixels)."""
        whites = self.white_keys()
        width = self.width() / len(whites)
        height = self.height() - 1
        if not is_black(midi):
            i = whites.index(midi)
            return QRectF(i * width, 0, width, height)
        left_white = whites.index(midi - 1)
        center = (left_white + 1) * width
        w = width * BLACK_WIDTH
        return QRectF(center - w / 2, 0, w, height * BLACK_HEIGHT)

    def key_at(self, pos: QPointF) -> int | None:
        """The key under ``pos`` (black keys first, they lie on top), or None outside the keys."""
        if not self.rect().contains(pos.toPoint()):
            return None
        for midi in range(self.low, self.high + 1):
            if is_black(midi) and self.key_rect(midi).contains(pos):
                return midi
        for midi in self.white_keys():
            if self.key_rect(midi).contains(pos):
                return midi
        return None

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
        """Show which computer key plays each key (MIDI number -> character); keys not given get none."""
        self._labels = dict(labels)
        self.update()

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
    def paintEvent(self, event) -> None:  # noqa: D102 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing, True)
        accent = QColor(255, 153, 51)
        outline = QPen(QColor(40, 40, 40), 1)
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, min(10.0, self.key_rect(self.low).width() / 3.2)))
        painter.setFont(font)
        for midi in self.white_keys():
            rect = self.key_rect(midi).adjusted(0.5, 0.5, -0.5, -0.5)
            painter.setPen(outline)
            painter.setBrush(accent if midi in self._lit else QColor(250, 250, 246))
            painter.drawRoundedRect(rect, 3, 3)
            if midi % 12 == 0:
                painter.setPen(QColor(90, 90, 90))
                painter.drawText(rect.adjusted(0, 0, 0, -6), Qt.AlignHCenter | Qt.AlignBottom, midi_to_note(midi))
            if midi in self._labels:
                painter.setPen(QColor(60, 60, 60) if midi in self._lit else QColor(150, 150, 150))
                painter.drawText(rect.adjusted(0, 0, 0, -rect.height() * 0.28), Qt.AlignHCenter | Qt.AlignBottom,
                                 self._labels[midi])
        for midi in range(self.low, self.high + 1):
            if is_black(midi):
                rect = self.key_rect(midi)
                painter.setPen(outline)
                painter.setBrush(accent.darker(130) if midi in self._lit else QColor(30, 30, 34))
                painter.drawRoundedRect(rect, 2, 2)
                if midi in self._labels:
                    painter.setPen(QColor(170, 170, 170))
                    painter.drawText(rect.adjusted(0, 0, 0, -4), Qt.AlignHCenter | Qt.AlignBottom, self._labels[midi])
        painter.end()

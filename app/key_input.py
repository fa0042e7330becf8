"""The computer keyboard as a note source for one window: an application event filter over
:class:`app.keymap.KeyboardPlayer`.

An application-wide filter sees the keys whichever control has focus, so the keys keep playing
after a slider or a button was used; a text field with focus keeps its keys (except Esc, which is
always panic). Auto-repeat is swallowed, arrows shift the octave, the space bar is the sustain pedal
(held down, it holds the keys released meanwhile), Ctrl/Alt/Meta combinations are left to the menus.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QPlainTextEdit, QTextEdit, QWidget

from .keymap import KeyboardPlayer, semitone_of

OCTAVE_DOWN = (Qt.Key_Left, Qt.Key_Down)
OCTAVE_UP = (Qt.Key_Right, Qt.Key_Up)
SUSTAIN_KEY = Qt.Key_Space
"""The computer keyboard's sustain pedal."""
TEXT_INPUTS = (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)
"""Widgets that keep the keys typed into them."""


class KeyInput(QObject):
    """Keys of ``window`` (and its children) become signals: ``pressed(midi)``, ``released(midi)``,
    ``sustain(down)`` (the space bar), ``panic_requested()``, ``octave_requested(step)``; ``deactivated()``
    when the application loses focus. ``player`` holds the keys down and the octave shift, ``sustain_down``
    whether the space bar holds the pedal down."""

    pressed = Signal(int)
    released = Signal(int)
    sustain = Signal(bool)
    panic_requested = Signal()
    octave_requested = Signal(int)
    deactivated = Signal()

    def __init__(self, window: QWidget, shift: int = 0):
        super().__init__(window)
        self.window = window
        self.player = KeyboardPlayer(shift)
        self.sustain_down = False  # the space bar (the pedal) is held down

    def install(self) -> None:
        """Start listening (application-wide filter)."""
        QApplication.instance().installEventFilter(self)

    def uninstall(self) -> None:
        """Stop listening."""
        QApplication.instance().removeEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: D102 - Qt override
        kind = event.type()
        if kind in (QEvent.KeyPress, QEvent.KeyRelease) and isinstance(obj, QWidget) and obj.window() is self.window:
            return self.key(event, kind == QEvent.KeyPress)
        if kind == QEvent.ApplicationDeactivate:
            self.deactivated.emit()
        return False

    def key(self, event, pressed: bool) -> bool:
        """Handle one key event; True when it was used (so no widget sees it)."""
        code = event.key()
        if code == Qt.Key_Escape:
            if pressed:
                self.panic_requested.emit()
            return True
        if code == SUSTAIN_KEY and not pressed and not event.isAutoRepeat() and self.sustain_down:
            self.sustain_down = False  # let go wherever the focus went meanwhile: the pedal never sticks down
            self.sustain.emit(False)
        if event.modifiers() & (Qt.ControlModifier | Qt.AltModifier | Qt.MetaModifier):
            return False
        if isinstance(QApplication.focusWidget(), TEXT_INPUTS):
            return False
        if code in OCTAVE_DOWN or code in OCTAVE_UP:
            if pressed and not event.isAutoRepeat():
                self.octave_requested.emit(-1 if code in OCTAVE_DOWN else 1)
            return True
        if code == SUSTAIN_KEY:
            if pressed and not event.isAutoRepeat() and not self.sustain_down:
                self.sustain_down = True
                self.sustain.emit(True)
            return True
        char = chr(code).lower() if 32 <= code < 127 else event.text().lower()
        if pressed:
            midi = self.player.press(char, event.isAutoRepeat())
            if midi is not None:
                self.pressed.emit(midi)
        else:
            midi = self.player.release(char, event.isAutoRepeat())
            if midi is not None:
                self.released.emit(midi)
        return semitone_of(char) is not None

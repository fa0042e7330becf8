"""From the sound controls to the engine: what the controls select, what sounds for them with a model (the
core's one rule, :func:`iirnn_core.models.what_plays.what_plays`), and one engine change once the controls
have rested (a slider drag is one change, not one per step): patches, master volume and room together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from iirnn_core.models.what_plays import Playing, what_plays
from iirnn_core.synth.renderer import SynthSettings

from .texts import one_line

if TYPE_CHECKING:
    from .main_window import MainWindow

SOUND_DEBOUNCE_MS = 30
"""A control change reaches the engine once the controls have rested this long (ms)."""

IMPULSE_AMPLITUDE = 0.1
"""Impulse height at full velocity (the seed's 0.1)."""


class SoundController(QObject):
    """Sends the window's sound controls and model to its engine, SOUND_DEBOUNCE_MS after they last moved.

    ``window``: the window whose sound panel selects, whose model plays, whose engine sounds and whose
    status bar reports a refused change. Call :meth:`start` once the engine exists.
    """

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SOUND_DEBOUNCE_MS)
        self._timer.timeout.connect(self.apply_sound)

    def start(self) -> None:
        """From now on, a moved control reaches the engine once the controls rest; the controls apply now."""
        self.window.sound.changed.connect(self._timer.start)
        self.apply_sound()

    def selected_settings(self) -> SynthSettings:
        """The SynthSettings the controls select (stereo, so A/B puts the IIR left and the RNN right)."""
        c = self.window.sound.choice()
        return SynthSettings(rate=float(c.rate), q=c.q, drive=c.drive, amplitude=IMPULSE_AMPLITUDE, channels=2,
                             ab_twin=c.ab_twin, untrained=c.untrained, release=c.release)

    def playing(self, model=None) -> Playing:
        """What sounds for the controls with ``model`` (default: the model in use), by the core's one rule
        (:func:`iirnn_core.models.what_plays.what_plays`): a trained twin without a fitting model plays the
        analytic twin (the sound panel says why)."""
        window = self.window
        return what_plays(window.sound.engine, self.selected_settings(), window.model if model is None else model)

    def synth_settings(self) -> SynthSettings:
        """The settings that sound (the A/B twin resolved by :meth:`playing`)."""
        return self.playing().settings

    def effective_engine(self) -> str:
        """The engine that sounds (:meth:`playing`)."""
        return self.playing().engine

    def apply_sound(self) -> None:
        """Send the controls and the model to the engine as one change (one patch table, whatever moved);
        a refused change is one status line. The last key's plots follow."""
        from iirnn_core.dsp.resonator import SettingError

        window = self.window
        self._timer.stop()
        try:
            playing = self.playing()
            choice = window.sound.choice()
            window.engine.configure(playing.engine, playing.settings, window.model, choice.master, choice.room)
        except SettingError as exc:
            window.statusBar().showMessage(f"Not applied: {one_line(exc)}")
        window.plot_control.redraw()

    def flush_sound(self) -> None:
        """Apply a control change still waiting out its debounce now."""
        if self._timer.isActive():
            self.apply_sound()

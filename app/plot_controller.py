"""What the window's plots show and when: the scope from the engine at about 30 Hz, and the last key's twins
(:func:`app.comparison.compare`), computed once per key, settings and model and redrawn only when a key or a
control changed; and a learned sound against its recording (:func:`app.comparison.sound_comparison`) whenever
the model in use changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from iirnn_core.dsp.notes import midi_to_note

from .comparison import compare, sound_comparison
from .texts import one_line

if TYPE_CHECKING:
    from .main_window import MainWindow

PLOT_MS = 33
"""Plot refresh period, ms (about 30 Hz)."""

COMPARISON_CACHE = 64
"""Comparisons of the last key kept for reuse (one per key and settings)."""


class PlotController(QObject):
    """Feeds the window's scope and twin views from its engine and its model; ``last_note`` is the MIDI key the
    twins show (None before the first). ``timer`` (PLOT_MS) runs from :meth:`start` until :meth:`stop`.

    ``window``: the window whose views it draws, whose engine it reads and whose controls pick the settings.
    """

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self.last_note: int | None = None
        self._pending = False  # the last key's twins are drawn again at the next refresh
        self._comparisons: dict = {}  # (key, settings, engine) -> (model, Comparison), oldest first
        self.timer = QTimer(self)
        self.timer.setInterval(PLOT_MS)
        self.timer.timeout.connect(self.refresh_plots)

    def start(self) -> None:
        """Refresh the plots every PLOT_MS from now on."""
        self.timer.start()

    def stop(self) -> None:
        """No more refreshes (window closing)."""
        self.timer.stop()

    def follow(self, midi: int) -> None:
        """Key ``midi`` was played or picked: the twins show it at the next refresh."""
        self.last_note = midi
        self._pending = True

    def redraw(self) -> None:
        """A control or the model changed: the last key's twins (if any) are compared again at the next refresh."""
        self._pending = self.last_note is not None

    def refresh_plots(self) -> None:
        """Scope from the engine; the last key's twins when a key or a control changed."""
        if self.window.scope.isVisible():
            self.window.scope.refresh(self.window.engine)
        if self._pending and self.last_note is not None:
            self._pending = False
            self.show_comparison(self.last_note)

    def show_sound(self, model, net=None, linear=None) -> None:
        """The model in use changed: its learned sound (if it holds one) is drawn against its recording and its
        tab shown (``net``, ``linear``: the responses when known; the net is rendered otherwise); a model without
        one empties that view."""
        window = self.window
        tabs, view = window.plot_tabs, window.sound_view
        index = tabs.indexOf(view)
        if model is None or getattr(model, "sound", None) is None:
            view.clear()
            tabs.setTabEnabled(index, False)
            if tabs.currentIndex() == index:
                tabs.setCurrentIndex(tabs.indexOf(window.twins))
            return
        try:
            comparison = sound_comparison(model, net, linear)
        except ValueError as exc:  # a sound that cannot be rendered: said in the view, the model still plays
            view.clear()
            view.caption.setText(f"The learned sound cannot be drawn: {one_line(exc)}")
        else:
            view.show_sound(comparison)
        tabs.setTabEnabled(index, True)
        tabs.setCurrentIndex(index)

    def show_comparison(self, midi: int) -> None:
        """Compare the twins for key ``midi`` at the current settings and draw it."""
        window = self.window
        key = (midi, window.sound_control.synth_settings(), window.sound.engine)
        playing = window.snapshot_playing or window.model  # during a run: the nets being learned
        try:
            model, comparison = self._comparisons.get(key, (None, None))
            if comparison is None or model is not playing:  # once per key, settings and model (a few ms)
                comparison = compare(midi_to_note(midi), key[1], key[2], playing)
                if len(self._comparisons) >= COMPARISON_CACHE:
                    self._comparisons.pop(next(iter(self._comparisons)))
                self._comparisons[key] = (playing, comparison)
        except ValueError as exc:  # a key above Nyquist after a rate change
            window.twins.caption.setText(one_line(exc))
        else:
            window.twins.show_comparison(comparison)

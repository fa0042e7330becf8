"""The window's trained model: the one in use and where it came from, its files (File > Open / Save model), the
model shipped for start-up, the training snapshots the engine plays while a run learns, and a learned sound (File >
Learn a sound...: it plays with the trained engine at its own rate, and its plots show it against its recording).

A changed model reaches the engine through the window's :meth:`~app.main_window.MainWindow.apply_sound`, like
every control change (sounding notes keep their weights, new notes take the new nets).
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMessageBox

from iirnn_core.models.what_plays import model_fits, uses_trained_model

from .texts import one_line

if TYPE_CHECKING:
    from .main_window import MainWindow


class ModelController(QObject):
    """The model in use (``model``, None when there is none), a line saying where it came from (``source``) and
    the snapshot the engine plays during a run (``snapshot_playing``, None otherwise).

    ``window``: the window whose sound panel shows the model, whose engine plays it and whose status bar reports.
    """

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self.model = None
        self.source = ""
        self.snapshot_playing = None

    def set_model(self, model, source: str, net=None, linear=None) -> None:
        """Use ``model`` (None: no model; the trained engine is off) and show it with ``source``. A model holding a
        learned sound is drawn against its recording (``net``, ``linear``: its responses when known)."""
        self.model = model
        self.source = source
        self.window.sound.set_trained_available(model is not None)
        self.window.sound.show_model(model, source)
        self.window.plot_control.show_sound(model, net, linear)

    def play_as_learned(self) -> None:
        """A learned sound is in use: the trained engine plays it, at the rate it was learned at."""
        window = self.window
        window.sound.set_engine("rnn-trained")
        window.sound.set_rate(int(round(self.model.sound.rate)))

    def use_learned(self, result) -> None:
        """A sound was just learned (a :class:`app.learn_control.LearnedResult`): it becomes the model in use,
        played as learned (while notes play)."""
        self.set_model(result.model, result.describe(), result.net, result.linear)
        self.play_as_learned()
        self.window.apply_sound()

    def load_startup_model(self, path) -> str:
        """Load the shipped model (``path`` None: the default file); returns a status line when it is missing or bad."""
        from iirnn_core.models.modelfile import DEFAULT_MODEL_PATH, ModelFileError, load_model

        path = DEFAULT_MODEL_PATH if path is None else path
        if not os.path.isfile(path):
            self.set_model(None, f"no model file at {path}")
            return f"No trained model ({path} is missing): the trained engine is off."
        try:
            model = load_model(path)
        except (ModelFileError, OSError, ValueError) as exc:
            self.set_model(None, "the shipped model could not be read")
            return f"Trained model not loaded: {one_line(exc)} The trained engine is off."
        self.set_model(model, os.path.basename(str(path)))
        return ""

    def play_snapshot(self, snapshot) -> None:
        """During a run: the trained engine (and a trained A/B twin) play each trained key's best net so far.

        Played when the trained engine is selected and the run is for the rate and Q the controls are
        at. The snapshot's keys replace those of the model in use when that was trained at the same
        rate and Q (its other keys sound as before; a learned sound's keys are not mixed with a run's nets).
        Published like every engine change: sounding
        notes keep their weights, new notes take the new nets. The model in use, and its file, stay
        as they are until the run ends."""
        from iirnn_core.dsp.resonator import SettingError

        window = self.window
        if not uses_trained_model(window.sound.engine, window.sound_control.selected_settings()):
            return
        model = self.model
        if model is not None and model.sound is None and not model_fits(model, snapshot.rate, snapshot.q):
            snapshot = replace(snapshot, keys={**model.keys, **snapshot.keys},
                               hidden=max(model.hidden, snapshot.hidden))
        playing = window.sound_control.playing(snapshot)
        if playing.reason:  # the run is for other settings than the controls'
            return
        try:
            window.engine.configure(playing.engine, playing.settings, snapshot)
        except SettingError as exc:
            window.statusBar().showMessage(f"Snapshot not played: {one_line(exc)}")
            return
        self.snapshot_playing = snapshot
        window.plot_control.redraw()  # the last key's plots follow the learning

    def end_snapshots(self) -> None:
        """A run ended: the engine goes back to the model in use (a trained result follows through
        :meth:`use_trained_model`)."""
        if self.snapshot_playing is not None:
            self.snapshot_playing = None
            self.window.apply_sound()

    def use_trained_model(self, model) -> None:
        """Swap a freshly trained model into the engine (while notes play)."""
        self.set_model(model, "trained just now, not saved")
        self.window.apply_sound()

    def open_model_file(self, path: str) -> bool:
        """Load ``path`` and use it; a bad file shows a one-sentence dialog and the model in use stays."""
        from iirnn_core.models.modelfile import ModelFileError, load_model

        try:
            model = load_model(path)
        except (ModelFileError, OSError, ValueError) as exc:
            QMessageBox.warning(self.window, "Model not loaded", f"{one_line(exc)}")
            return False
        self.set_model(model, os.path.basename(path))
        if model.sound is not None:
            self.play_as_learned()
        self.window.apply_sound()
        self.window.statusBar().showMessage(f"Loaded {path}.")
        return True

    def save_model_file(self, path: str) -> bool:
        """Save the model in use to ``path``; a failure shows a one-sentence dialog."""
        from iirnn_core.models.modelfile import ModelFileError, save_model

        if self.model is None:
            QMessageBox.information(self.window, "No model", "There is no trained model to save yet.")
            return False
        try:
            save_model(self.model, path)
        except (ModelFileError, OSError, ValueError) as exc:
            QMessageBox.warning(self.window, "Model not saved", f"{one_line(exc)}")
            return False
        self.source = os.path.basename(path)
        self.window.sound.show_model(self.model, self.source)
        self.window.statusBar().showMessage(f"Saved {path}.")
        return True

    def open_model_dialog(self) -> None:
        """File > Open model."""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open model", "", "iirnn models (*.json);;All files (*)")
        if path:
            self.open_model_file(path)

    def save_model_dialog(self) -> None:
        """File > Save model as."""
        path, _ = QFileDialog.getSaveFileName(self.window, "Save model", "model.json", "iirnn models (*.json)")
        if path:
            self.save_model_file(path)

"""File > Export network...: back to the seed. One key's net as a torch state dict the seed's own
``RNNnet(1, H, 1)`` loads (``iirnn export``'s file, :mod:`iirnn_core.training.export`).

It asks for a key (the last one played or picked, else A4) and a file name. The net is what that key plays
(:func:`net_to_export`): the trained model's, or the analytic twin's at the controls' rate, Q and drive when the
analytic twin is what sounds. The window's process never imports torch, so the trainer process, which has it
loaded, writes the file: a job of its own, after any training run under way. One status line says where it
went, or why not.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QInputDialog, QLineEdit, QMenu, QWidget

from iirnn_core.dsp.notes import NoteError, canonical, midi_to_note
from iirnn_core.dsp.resonator import SettingError
from iirnn_core.training.export import SeedNet, analytic_net, trained_net

from .texts import one_line

POLL_MS = 50
"""How often a pending export asks the trainer process for its answer (ms)."""

DEFAULT_KEY = "A4"
"""The key offered before any key was played or picked."""


class TrainerJobControl(QObject):
    """A File menu action whose work is a job of the trainer process (the window's
    :class:`~iirnn_core.training.worker.TrainingWorker`, ``trainer``), its answers polled every :data:`POLL_MS` by
    ``_poll``; ``busy()`` says whether a training run holds the trainer. The action ``text`` (tool tip ``tip``) is
    added to ``menu`` and calls ``choose``. Subclasses define ``choose`` and ``_poll``."""

    def __init__(self, menu: QMenu, trainer, busy, parent: QWidget, text: str, tip: str):
        super().__init__(parent)
        self._trainer = trainer
        self._busy = busy
        self._parent = parent
        self.action = QAction(text, parent)
        self.action.setToolTip(tip)
        self.action.triggered.connect(self.choose)
        menu.addAction(self.action)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    def choose(self) -> None:
        """The action was triggered."""
        raise NotImplementedError

    def _poll(self) -> None:
        raise NotImplementedError


def net_to_export(note: str, selected: str, playing, model, source: str) -> SeedNet:
    """The net key ``note`` plays: ``selected`` is the engine chosen, ``playing`` what sounds for it
    (:func:`~iirnn_core.models.what_plays.what_plays`), ``model`` the model in use (None: none), named ``source``.

    With an RNN engine (or A/B), the twin that sounds for the key: the trained net when the trained twin plays
    (a key it lacks plays the analytic twin when the controls say so), else the analytic twin at the settings'
    rate, Q and drive. The IIR has no net of its own: its export is the model's net for the key when a model
    holds one, else its analytic twin. NoteError or SettingError (one line) when the key has no such net."""
    name = canonical(note)
    if selected == "iir":
        trained = model is not None and name in model.keys
    else:
        model = playing.model
        trained = playing.twin == "rnn-trained" and (name in model.keys or playing.settings.untrained != "analytic")
    if trained:
        return trained_net(model, name, source)
    settings = playing.settings
    return analytic_net(name, settings.rate, settings.q, settings.drive)


class ExportControl(TrainerJobControl):
    """The Export network... action, added to ``menu``. ``trainer`` is the window's
    :class:`~iirnn_core.training.worker.TrainingWorker`; ``net_for(note)`` gives the
    :class:`~iirnn_core.training.export.SeedNet` to write (raising NoteError or SettingError), ``last_key()``
    the MIDI key last played or picked (None before any), ``busy()`` whether a training run holds the trainer.
    ``message(text)`` is for the status bar; ``done(ok)`` follows each export's last line."""

    message = Signal(str)
    done = Signal(bool)

    def __init__(self, menu: QMenu, trainer, net_for, last_key, busy, parent: QWidget):
        super().__init__(menu, trainer, busy, parent, "&Export network...",
                         "Write one key's net as a torch state dict the seed's RNNnet(1, H, 1) loads")
        self._net_for = net_for
        self._last_key = last_key
        self._pending: dict[int, tuple[SeedNet, str, int]] = {}  # trainer job id -> (net, path, trainer's restarts)

    @property
    def pending(self) -> bool:
        """True while an export waits for the trainer process."""
        return bool(self._pending)

    def default_key(self) -> str:
        """The key offered: the last played or picked, else :data:`DEFAULT_KEY`."""
        midi = self._last_key()
        return DEFAULT_KEY if midi is None else midi_to_note(midi)

    def choose(self) -> None:
        """File > Export network...: ask for a key, then (when it has a net) for a file, then export."""
        text, ok = QInputDialog.getText(self._parent, "Export network", "Key to export (A4, C#5, Db5):",
                                        QLineEdit.EchoMode.Normal, self.default_key())
        if not ok or not text.strip():
            return
        try:
            net = self._net_for(text.strip())
        except (NoteError, SettingError) as exc:
            self.message.emit(f"Network not exported: {one_line(exc)}")
            self.done.emit(False)
            return
        path, _ = QFileDialog.getSaveFileName(self._parent, "Export network", f"{net.note}.pt",
                                              "PyTorch state dicts (*.pt);;All files (*)")
        if path:
            self.start(net, path)

    def start(self, net: SeedNet, path: str) -> int:
        """Ask the trainer process to write ``net`` to ``path``; returns the trainer's job id. The answer comes as a
        status line (``message``) and ``done``."""
        self._trainer.ensure_running()
        job = self._trainer.submit({"export": {**net.to_dict(), "path": path}})
        self._pending[job] = (net, path, self._trainer.restarts)
        self._timer.start()
        after = " after the training run" if self._busy() else ""
        self.message.emit(f"Exporting {net.note}, {net.what}, to {path}{after}...")
        return job

    def _poll(self) -> None:
        """Take the trainer's answers: one status line per export that ended."""
        for job, (net, path, restarts) in list(self._pending.items()):
            alive = self._trainer.alive and self._trainer.restarts == restarts  # a restarted trainer forgot the job
            answers = self._trainer.take(job)  # after reading alive: an answer sent just before it ended is here
            if answers:
                kind, body = answers[-1]
                if kind == "result":
                    self._finish(job, True, f"Exported {body['note']}, {body['what']}, H {body['hidden']}, to "
                                            f"{body['path']}: the seed's RNNnet(1, {body['hidden']}, 1) loads it.")
                else:
                    self._finish(job, False, f"Network not exported: {body}")
            elif not alive:
                self._finish(job, False, f"Network not exported to {path}: the training process ended first.")
        if not self._pending:
            self._timer.stop()

    def _finish(self, job: int, ok: bool, line: str) -> None:
        del self._pending[job]
        self._trainer.forget(job)
        self.message.emit(line)
        self.done.emit(ok)

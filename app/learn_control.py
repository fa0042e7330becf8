"""File > Learn a sound... (or a sound file dropped on the training panel): a recorded note becomes the model in use.

The window's process never imports torch or the learning kernels and never learns: the trainer process does, as
a job of its own (``{"learn": {"path", "hidden", "seconds", "pitch", "budget"}}``,
:func:`iirnn_core.training.worker.learn_job`), after any job under way, as File > Export network... does
(:mod:`app.export_control`). A timer polls its answers every 50 ms: the loss of each step, then the model as its
file dict with the network's and the linear fit's responses, or one line saying why not (not audio, silent, too
short, no clear pitch, too long). The hidden size is the training panel's (even, 2 to 64: an odd one is rounded
up, and the status line says so). Nothing changes until a sound is learned: the model in use stays.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from iirnn_core.models.modelfile import ModelFileError, model_from_dict
from iirnn_core.training.config import LEARN_BUDGET, LEARN_HIDDEN

from .export_control import TrainerJobControl
from .texts import one_line

SOUND_FILTERS = "Sound files (*.wav *.flac *.ogg *.WAV *.FLAC *.OGG);;All files (*)"
"""What the file dialog offers."""

LEARN_SECONDS = 1.0
"""Seconds of the note learned, from its onset."""

DEFAULT_BUDGET = LEARN_BUDGET
"""Seconds learning may take when the training panel's budget is the trainer's default (0)."""


def learn_hidden(value: int) -> tuple[int, str]:
    """The hidden size a sound learns with for the panel's ``value``: even and within :data:`LEARN_HIDDEN` (an odd
    value rounds up); and a note for the status line when it differs from ``value`` ("" when not)."""
    low, high = LEARN_HIDDEN
    hidden = min(max(int(value) + int(value) % 2, low), high)
    if hidden == value:
        return hidden, ""
    why = "is odd" if value % 2 and low <= value <= high else f"is outside {low}..{high}"
    return hidden, f"Hidden {value} {why}: learning with {hidden} (2 states per partial)"


def learn_budget(panel_budget: float) -> float:
    """The refinement's budget (s) for the training panel's Budget (0: :data:`DEFAULT_BUDGET`)."""
    return DEFAULT_BUDGET if not panel_budget else min(float(panel_budget), 600.0)


@dataclass(frozen=True)
class LearnedResult:
    """A learned sound as the window receives it: the ``model`` (a TrainedModel with ``.sound``), the network's
    response ``net`` and the linear modal fit's ``linear`` (N,) at the sound's rate, from the onset."""

    model: object
    net: np.ndarray
    linear: np.ndarray

    @property
    def source(self) -> str:
        """The recording's file name."""
        return self.model.sound.source

    def describe(self) -> str:
        """Where the model came from, as the sound panel shows it: ``marimba.wav, learned (H 16)``."""
        return f"{self.source}, learned (H {self.model.hidden})"


def learned_from_answer(body: dict) -> LearnedResult:
    """The trainer's answer (plain data) as a :class:`LearnedResult`; ModelFileError (one sentence) if it is not
    one."""
    model = model_from_dict(body.get("model"), "the learned sound")
    if model.sound is None:
        raise ModelFileError("the learned sound holds no sound")
    responses = []
    for name in ("net", "linear"):
        values = np.asarray(body.get(name, []), dtype=np.float64)
        if values.ndim != 1 or not np.all(np.isfinite(values)):
            raise ModelFileError(f"the learned sound's {name} response is not a finite series")
        responses.append(values)
    return LearnedResult(model, *responses)


def report_line(result: LearnedResult) -> str:
    """The learned sound's report in one line: the network's waveform SNR and STFT distance beside the linear
    fit's."""
    sound = result.model.sound
    rep = sound.report

    def figure(key: str, unit: str = "dB") -> str:
        value = rep.get(key)
        return f"{value:.1f} {unit}" if isinstance(value, (int, float)) and math.isfinite(value) else "?"

    return (f"Learned {sound.source}: {sound.note} ({sound.pitch:.1f} Hz), H {sound.hidden}, "
            f"{rep.get('steps', 0)} steps in {rep.get('learn_seconds', 0):.1f} s. Network SNR {figure('snr_db')}, "
            f"STFT {figure('stft_db')}; linear fit SNR {figure('linear_snr_db')}, STFT {figure('linear_stft_db')}.")


class LearnControl(TrainerJobControl):
    """The Learn a sound... action, added to ``menu``. ``trainer`` is the window's
    :class:`~iirnn_core.training.worker.TrainingWorker`; ``form()`` gives the training panel's (hidden, budget);
    ``busy()`` whether a training run holds the panel. Signals: ``started(name)`` (the file's name),
    ``progress(step, loss)``, ``learned(LearnedResult)``, ``message(text)`` (one line for the status bar and the
    panel), ``done(ok)`` after each learning's last line (True: a sound was learned)."""

    started = Signal(str)
    progress = Signal(int, float)
    learned = Signal(object)
    message = Signal(str)
    done = Signal(bool)

    def __init__(self, menu: QMenu, trainer, form, busy, parent: QWidget):
        super().__init__(menu, trainer, busy, parent, "&Learn a sound...",
                         "Learn a recorded note (WAV, FLAC, OGG) as a network that plays on every key")
        self._form = form
        self._job: int | None = None
        self._restarts = 0
        self._name = ""

    @property
    def learning(self) -> str | None:
        """The name of the file being learned, None when none is."""
        return self._name if self._job is not None else None

    def choose(self) -> None:
        """File > Learn a sound...: ask for a sound file, then learn it."""
        path, _ = QFileDialog.getOpenFileName(self._parent, "Learn a sound", "", SOUND_FILTERS)
        if path:
            self.start(path)

    def start(self, path: str) -> bool:
        """Ask the trainer process to learn the note in ``path``; False (and one line) when it cannot start."""
        name = os.path.basename(path)
        if self._job is not None:
            return self._refuse(f"Not learned: {self._name} is still being learned.")
        if self._busy():
            return self._refuse(f"Not learned: {name}: a training run is under way; stop it first.")
        if not os.path.isfile(path):
            return self._refuse(f"Not learned: {path}: no such file.")
        value, budget = self._form()
        hidden, note = learn_hidden(value)
        self._trainer.ensure_running()
        self._job = self._trainer.submit({"learn": {"path": str(path), "hidden": hidden, "seconds": LEARN_SECONDS,
                                                    "pitch": None, "budget": learn_budget(budget)}})
        self._restarts, self._name = self._trainer.restarts, name
        self._timer.start()
        self.started.emit(name)
        self.message.emit((f"{note}. " if note else "") + f"Learning {name} with H {hidden}...")
        return True

    def cancel(self) -> None:
        """Ask the learning under way to stop after its current step (the model in use stays)."""
        if self._job is not None:
            self._trainer.cancel(self._job)
            self.message.emit(f"Stopping the learning of {self._name}...")

    def _refuse(self, line: str) -> bool:
        self.message.emit(line)
        self.done.emit(False)
        return False

    def _poll(self) -> None:
        """Take the trainer's answers: progress, then one result or error."""
        job = self._job
        if job is None:
            self._timer.stop()
            return
        alive = self._trainer.alive and self._trainer.restarts == self._restarts  # a restarted one forgot the job
        for kind, body in self._trainer.take(job):  # after reading alive: what it sent before it ended is here
            if kind == "progress":
                self.progress.emit(int(body["step"]), float(body["loss"]))
            elif kind == "result" and body is None:
                return self._finish(False, f"Learning of {self._name} stopped; the model in use stays.")
            elif kind == "result":
                try:
                    result = learned_from_answer(body)
                except (ModelFileError, AttributeError, TypeError, ValueError) as exc:
                    return self._finish(False, f"Not learned: {one_line(exc)}")
                return self._finish(True, report_line(result), result)
            else:
                return self._finish(False, f"Not learned: {body}")
        if not alive:
            self._finish(False, f"Not learned: {self._name}: the training process ended first.")

    def _finish(self, ok: bool, line: str, result: LearnedResult | None = None) -> None:
        self._trainer.forget(self._job)
        self._job = None
        self._timer.stop()
        if result is not None:
            self.learned.emit(result)
        self.message.emit(line)
        self.done.emit(ok)

"""The training panel: keys, hidden size, optimizer, init, budget; Start/Stop; live per-key loss curves and SNR
table.

Training runs in a child process (:class:`iirnn_core.training.worker.TrainingJob`). A small thread of this
process calls the job's ``poll()`` (which joins the child when it ends, up to seconds) and passes
the progress on through a deque; a ``QTimer`` drains that deque every ``POLL_MS``, so neither the
window nor the audio ever waits for the child.
When the job ends with a model, ``model_trained`` carries it to the window, which swaps it into
the engine while you play.

The panel also shows a sound being learned (File > Learn a sound..., :mod:`app.learn_control`): its loss per step
in the loss plot, its status and report in the status line, Stop to cancel it; a sound file dropped on the panel
asks for it to be learned (``sound_dropped``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)
import pyqtgraph as pg

from iirnn_core.dsp.notes import WHOLE_KEYBOARD, parse_notes, piano_keys

from .loss_curves import LossCurves
from .plots import cache_axes
from .texts import format_db, one_line
from .settings import HIDDEN_MAX, HIDDEN_MIN, INITS, OPTIMIZERS

POLL_MS = 50
"""Progress poll period (20 updates a second)."""

TABLE_EVERY = 4
"""The SNR table is refreshed on every TABLE_EVERY-th poll with news (5 times a second)."""


def per_key(values, notes: list[str]) -> list[float]:
    """Per-key numbers from a Progress field that is either a mapping by note or a sequence like ``notes``."""
    if isinstance(values, Mapping):
        return [float(values.get(n, math.nan)) for n in notes]
    return [float(v) for v in values]


class JobPoller(threading.Thread):
    """Calls ``job.poll()`` every ``period`` seconds off the GUI thread; progress goes to ``inbox``.

    ``done`` is set once the job has finished (its result or error is then safe to read).
    """

    def __init__(self, job, period: float = POLL_MS / 2000.0):
        super().__init__(name="iirnn-training-poller", daemon=True)
        self.job = job
        self.period = period
        self.inbox: deque = deque()
        self.done = threading.Event()

    def run(self) -> None:  # noqa: D102 - Thread hook
        try:
            while True:
                self.inbox.extend(self.job.poll())
                if not self.job.is_running:
                    break
                time.sleep(self.period)
        finally:
            self.done.set()


@dataclass(frozen=True)
class TrainingChoice:
    """What the training form selects, handed to the window as one value: ``keys`` (text),
    ``optimizer``, ``init``, ``budget`` (s; 0: the trainer's default) and ``hidden`` (each net's states)."""

    keys: str
    optimizer: str
    init: str
    budget: float
    hidden: int = 3


class TrainingPanel(QGroupBox):
    """Configure and run a training job; shows its loss curves (log scale) and per-key SNR.

    ``job_factory(config)`` makes the job (default: :class:`iirnn_core.training.worker.TrainingJob`);
    ``context()`` gives the (rate, q, warm model) the window is playing with.
    Signals: ``model_trained(model)``, ``model_snapshot(model)`` (every key's best net so far, a few
    times a second during a run), ``run_ended()`` (before ``model_trained``),
    ``key_picked(note)`` (a row of the SNR table clicked), ``message(str)`` (one line for the status bar),
    ``progress_received(int)`` (number of Progress events in a poll), ``sound_dropped(path)`` (a local file
    dropped on the panel, to be learned), ``learn_stop_requested()`` (Stop while a sound is learned).
    """

    model_trained = Signal(object)
    model_snapshot = Signal(object)
    run_ended = Signal()
    key_picked = Signal(str)
    message = Signal(str)
    progress_received = Signal(int)
    sound_dropped = Signal(str)
    learn_stop_requested = Signal()

    def __init__(self, context, job_factory=None, parent: QWidget | None = None):
        super().__init__("Training", parent)
        self._context = context
        self._job_factory = job_factory
        self.job = None
        self._stopping = False
        self.poller: JobPoller | None = None
        self.notes: list[str] = []
        self.curves = LossCurves([])
        self.points_received = 0
        self.snapshots_received = 0
        self._polls_with_news = 0
        self._last = None
        self.learning: str | None = None  # the name of the sound being learned (File > Learn a sound...)
        self.setAcceptDrops(True)
        self.setToolTip("Drop a recorded note (WAV, FLAC, OGG) here to learn it")

        self.keys_edit = QLineEdit("C4..C6")
        self.keys_edit.setToolTip(f"Notes and ranges, e.g. C4..C6 or A4 C5 E5, or '{WHOLE_KEYBOARD}'")
        self.whole_button = QPushButton("Whole keyboard")
        self.whole_button.setToolTip("Every piano key the rate allows (A0..B7 at 8 kHz, A0..C8 from 8.4 kHz)")
        self.whole_button.setFocusPolicy(Qt.NoFocus)
        self.whole_button.clicked.connect(lambda: self.keys_edit.setText(WHOLE_KEYBOARD))
        self.optimizer_box = QComboBox()
        self.optimizer_box.addItems(OPTIMIZERS)
        self.init_box = QComboBox()
        self.init_box.addItems(INITS)
        self.init_box.setToolTip("random: fresh weights; warm: start from the model in use; pole: a rotation "
                                 "ringing at each target's own pole, extra states small")
        self.hidden_spin = QSpinBox()
        self.hidden_spin.setRange(HIDDEN_MIN, HIDDEN_MAX)
        self.hidden_spin.setValue(3)
        self.hidden_spin.setToolTip("Hidden states of each key's net: a tanh IIR of that order (3: the seed's). "
                                    "best trains more than 16 block-diagonal (2x2 blocks); warm needs a model of "
                                    "this size")
        self.budget_spin = QDoubleSpinBox()
        self.budget_spin.setRange(0.0, 3600.0)
        self.budget_spin.setDecimals(0)
        self.budget_spin.setSuffix(" s")
        self.budget_spin.setSpecialValueText("trainer's default")
        self.budget_spin.setToolTip("Wall-clock budget of the training run")
        for widget in (self.optimizer_box, self.init_box):
            widget.setFocusPolicy(Qt.NoFocus)
        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        for button in (self.start_button, self.stop_button):
            button.setFocusPolicy(Qt.NoFocus)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.status_label = QLabel("Idle.")
        self.status_label.setWordWrap(True)

        self.loss_plot = pg.PlotWidget()
        item = self.loss_plot.getPlotItem()
        item.setTitle("Loss per key", size="9pt")
        item.setLabel("bottom", "step")
        item.setLabel("left", "loss")
        item.setLogMode(y=True)
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setMenuEnabled(False)
        cache_axes(item)
        item.disableAutoRange()  # ranges move in coarse steps (_fit_view): the axes are not redrawn per update
        self._view = (0.0, 0.0, 0.0)
        self.loss_plot.setMinimumHeight(140)

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["key", "loss", "SNR"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setFocusPolicy(Qt.NoFocus)
        self.table.setMinimumHeight(120)
        self.table.cellClicked.connect(lambda row, _column: self.key_picked.emit(self.notes[row]))
        self.selected: str | None = None  # the key whose curve is drawn bold (the last played or picked)

        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

        form = QFormLayout()
        keys_row = QHBoxLayout()
        keys_row.addWidget(self.keys_edit, 1)
        keys_row.addWidget(self.whole_button)
        form.addRow("Keys", keys_row)
        form.addRow("Hidden", self.hidden_spin)
        form.addRow("Optimizer", self.optimizer_box)
        form.addRow("Init", self.init_box)
        form.addRow("Budget", self.budget_spin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status_label)
        layout.addWidget(self.loss_plot, 2)
        layout.addWidget(self.table, 1)

    # ---- configuration ----------------------------------------------------------------------
    def set_values(self, keys: str, optimizer: str, init: str, budget: float, hidden: int = 3) -> None:
        """Fill the form (from saved settings)."""
        self.keys_edit.setText(keys)
        self.optimizer_box.setCurrentText(optimizer)
        self.init_box.setCurrentText(init)
        self.budget_spin.setValue(budget)
        self.hidden_spin.setValue(hidden)

    def choice(self) -> TrainingChoice:
        """The form's values at once."""
        return TrainingChoice(self.keys_edit.text(), self.optimizer_box.currentText(), self.init_box.currentText(),
                              self.budget_spin.value(), self.hidden_spin.value())

    def make_config(self):
        """The TrainConfig for the form and the window's rate, Q and model; NoteError for bad keys."""
        from iirnn_core.training.config import TrainConfig

        form = self.choice()
        rate, q, model = self._context()
        if form.keys.strip().lower() == WHOLE_KEYBOARD:
            notes = piano_keys(float(rate))
        else:
            notes = parse_notes(form.keys.replace(",", " ").split())
        return TrainConfig(notes=notes, rate=float(rate), q=float(q), hidden=form.hidden, optimizer=form.optimizer,
                           init=form.init, warm_model=model if form.init == "warm" else None,
                           budget=form.budget or None)

    @property
    def is_running(self) -> bool:
        """Whether a job is running (until the panel has taken its end)."""
        return self.job is not None

    # ---- running ----------------------------------------------------------------------------
    def start(self) -> bool:
        """Start a job from the form; returns False (with a message) if it cannot start."""
        if self.is_running:
            return False
        if self.learning is not None:
            self._say(f"Training not started: {self.learning} is still being learned.")
            return False
        try:
            config = self.make_config()
            factory = self._job_factory
            if factory is None:
                from iirnn_core.training.worker import TrainingJob as factory
            job = factory(config)
            job.start()  # the child lowers its own priority (worker.TRAINING_NICENESS)
        except Exception as exc:  # a bad key list, setting or warm model: one line, nothing starts
            self._say(f"Training not started: {one_line(exc)}")
            return False
        self.job = job
        self._stopping = False
        self.poller = JobPoller(job)
        self.poller.start()
        self._reset(list(config.notes))
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self._say(f"Training {len(self.notes)} keys at {config.rate:g} Hz, Q {config.q:g} "
                  f"({config.hidden} hidden, {config.optimizer}, {config.init} init)...")
        self.timer.start()
        return True

    def stop(self) -> None:
        """Ask the job (or the sound being learned) to stop; the timer keeps polling until the child has ended."""
        if self.job is None and self.learning is not None:
            self.learn_stop_requested.emit()
        if self.job is not None:
            self.job.cancel()
            self._stopping = True
            self._say("Stopping training...")

    def shutdown(self) -> None:
        """End any job at once (window closing): ask it to stop, then end the child process."""
        self.timer.stop()
        if self.job is not None:
            self.job.cancel()
            self.job.terminate()
        self.job = None

    def poll(self) -> int:
        """Take the progress the poller thread received (never blocks), update curves and table;
        returns the number of events taken."""
        job = self.job
        if job is None:
            self.timer.stop()
            return 0
        finished = self.poller.done.is_set()  # read before draining: nothing can arrive after it
        snapshots, snapshot = job.snapshots, job.snapshot  # (count first: the poller may add one meanwhile)
        if snapshots > self.snapshots_received and snapshot is not None and not finished:
            self.snapshots_received = snapshots
            self.model_snapshot.emit(snapshot)
        inbox = self.poller.inbox
        events = [inbox.popleft() for _ in range(len(inbox))]
        if events:
            self._last = events[-1]
            self.points_received += len(events)
            self._polls_with_news += 1
            self.curves.append(np.array([float(p.step) for p in events]),
                               np.array([per_key(p.loss, self.notes) for p in events], dtype=np.float64))
            self._fit_view()
            if self._polls_with_news % TABLE_EVERY == 1:
                self._fill_table(events[-1])
            self.progress_received.emit(len(events))
        if finished and not inbox:
            self._finish(job)
        return len(events)

    # ---- learning a sound (the job is the window's LearnControl) ----------------------------
    def show_learning(self, name: str) -> None:
        """A sound ``name`` is being learned: its loss curve replaces the keys', Stop cancels it."""
        self.learning = name
        self._reset([])
        self.loss_plot.removeItem(self.curves)
        self.curves = LossCurves([name])
        self.loss_plot.addItem(self.curves, ignoreBounds=True)
        self.loss_plot.getPlotItem().setTitle(f"Loss of {name}", size="9pt")
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)

    def learning_progress(self, step: int, loss: float) -> None:
        """One step of the sound being learned: a point of its loss curve."""
        self.curves.append(np.array([float(step)]), np.array([[loss]]))
        self.points_received += 1
        self._fit_view()
        self.status_label.setText(f"Learning {self.learning}: step {step}, loss {loss:.4g}.")

    def learning_ended(self) -> None:
        """The sound's learning ended (learned, stopped or failed: its last line comes as a message)."""
        self.learning = None
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def show_line(self, text: str) -> None:
        """Show ``text`` (one line, e.g. a learned sound's report) as the panel's status."""
        self.status_label.setText(text)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: D102 - Qt hook
        if dropped_file(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: D102 - Qt hook
        path = dropped_file(event.mimeData())
        if path:
            event.acceptProposedAction()
            self.sound_dropped.emit(path)

    # ---- internals --------------------------------------------------------------------------
    def _fit_view(self) -> None:
        """Show every step and loss, with the x range doubling and the y range in whole decades."""
        steps, logs = self.curves.data
        finite = logs[np.isfinite(logs)]
        if finite.size == 0:
            return
        x_max = float(2 ** math.ceil(math.log2(max(steps[-1], 8.0))))
        low, high = math.floor(finite.min()), math.ceil(finite.max())
        if (x_max, low, high) != self._view:
            self._view = (x_max, low, high)
            self.loss_plot.setRange(xRange=(0.0, x_max), yRange=(low, max(high, low + 1)), padding=0.02)

    def _reset(self, notes: list[str]) -> None:
        self.notes = notes
        self.points_received = 0
        self.snapshots_received = 0
        self._polls_with_news = 0
        self._last = None
        self._view = (0.0, 0.0, 0.0)
        self.loss_plot.clear()
        self.curves = LossCurves(notes)  # hovering a curve names its key
        self.loss_plot.addItem(self.curves, ignoreBounds=True)
        self.select_key(self.selected)
        self.table.setRowCount(len(notes))
        for row, note in enumerate(notes):
            self.table.setItem(row, 0, QTableWidgetItem(note))
            self.table.setItem(row, 1, QTableWidgetItem(""))
            self.table.setItem(row, 2, QTableWidgetItem(""))

    def select_key(self, note: str | None) -> None:
        """Draw ``note``'s loss curve bold and on top and name it in the plot's title (None: no key)."""
        self.selected = note
        self.curves.select(self.notes.index(note) if note in self.notes else -1)
        shown = note if note in self.notes else None
        self.loss_plot.getPlotItem().setTitle(f"Loss per key (bold: {shown})" if shown else "Loss per key",
                                              size="9pt")

    def _fill_table(self, progress) -> None:
        losses = per_key(progress.loss, self.notes)
        snrs = per_key(progress.snr_db, self.notes)
        for row, (loss, snr) in enumerate(zip(losses, snrs)):
            self.table.item(row, 1).setText(f"{loss:.3g}")
            self.table.item(row, 2).setText(format_db(snr))
        if snrs:
            finite = [s for s in snrs if np.isfinite(s)]
            worst = f", worst key {min(finite):.1f} dB" if finite else ""
            self.status_label.setText(f"Step {progress.step:.4g}, {progress.elapsed:.1f} s{worst}.")

    def _finish(self, job) -> None:
        self.timer.stop()
        self.run_ended.emit()
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if self._last is not None:
            self._fill_table(self._last)
        self.job = None
        if job.error:
            self._say(f"Training failed: {job.error}")
        elif job.result is not None:
            model = job.result
            snrs = [k.snr_db for k in model.keys.values()]
            how = "stopped, the best so far" if self._stopping else "done"
            self._say(f"Training {how}: {len(snrs)} keys, SNR {min(snrs):.1f}..{max(snrs):.1f} dB; "
                      "the trained engine now uses this model.")
            self.model_trained.emit(model)
        else:
            self._say("Training stopped; the model in use stays.")

    def _say(self, text: str) -> None:
        self.status_label.setText(text)
        self.message.emit(text)


def dropped_file(mime) -> str:
    """The first local file among ``mime``'s URLs ("" when there is none)."""
    if mime is None or not mime.hasUrls():
        return ""
    return next((url.toLocalFile() for url in mime.urls() if url.isLocalFile()), "")

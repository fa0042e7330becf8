"""The window's training process and jobs: the :class:`~iirnn_core.training.worker.TrainingWorker` (started
first, so torch loads before any audio plays), the factory of :class:`~iirnn_core.training.worker.TrainingJob`
the training panel runs, what a run trains for, and the shutdown when the window closes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from iirnn_core.training.worker import TrainingJob, TrainingWorker

if TYPE_CHECKING:
    from .main_window import MainWindow


class TrainingController(QObject):
    """Starts ``trainer`` (None: a TrainingWorker of its own, closed with the window) and makes the training
    panel's jobs with ``job_factory(config)`` (None: a TrainingJob on that trainer).

    ``window``: the window whose sound panel sets the rate and Q, whose model a run starts from and whose
    training panel runs the jobs.
    """

    def __init__(self, window: MainWindow, trainer=None, job_factory=None):
        super().__init__(window)
        self.window = window
        self._own_trainer = trainer is None
        self.trainer = TrainingWorker() if trainer is None else trainer
        self.trainer.start()
        self.job_factory = self.make_job if job_factory is None else job_factory

    def make_job(self, config) -> TrainingJob:
        """A training job for ``config`` on the controller's trainer."""
        return TrainingJob(config, worker=self.trainer)

    def training_context(self):
        """(model rate Hz, Q, model in use) for the training panel."""
        return self.window.sound.rate, self.window.sound.q, self.window.model

    def train_for_current_settings(self) -> None:
        """Train the model's keys (or the panel's) at the current rate and Q."""
        model = self.window.model
        if model is not None:
            self.window.training.keys_edit.setText(model.describe_keys().replace(",", ""))
        self.window.training.start()

    def shutdown(self) -> None:
        """Window closing: the training panel ends any job at once."""
        self.window.training.shutdown()

    def close(self) -> None:
        """Close the training process if it is the controller's own (a trainer passed in stays open)."""
        if self._own_trainer:
            self.trainer.close()

"""Training in a child process, with progress streamed over a queue (the audio process never trains).

:class:`TrainingJob` starts :func:`iirnn_core.training.Training` in a process of the ``spawn``
context (the parent may hold Qt, PortAudio and numba threads: never fork). Only plain data
crosses the queue: the config as a dict (a warm model as its file dict), progress as dicts,
the result as the model file dict, an error as one line of text. Messages are
``("progress", dict)``, ``("result", dict | None)`` and ``("error", str)``.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time

from .errors import one_line

PROGRESS_INTERVAL = 0.05
"""Seconds between progress messages from the child (at most 20 per second; the last always)."""

TRAINING_NICENESS = 10
"""Niceness the child gives itself first thing (never lower than it inherited): on a 2-core machine
training must never take the CPU the audio callback and the sound server need. The audio process
raises its own threads to nice -10, and a child would inherit that; threads torch and numba start
later inherit the child's value."""


def lower_own_priority(niceness: int) -> None:
    """Set this process's niceness to at least ``niceness`` (quietly skipped where not possible)."""
    if niceness is None or not hasattr(os, "setpriority"):
        return
    try:
        current = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, 0, max(current, niceness))
    except OSError:  # the platform refuses: training still works
        pass


def config_to_dict(config) -> dict:
    """A :class:`training.TrainConfig` as plain data (the warm model as its file dict)."""
    return {"notes": list(config.notes), "rate": config.rate, "q": config.q, "seconds": config.seconds,
            "amplitude": config.amplitude, "hidden": config.hidden, "optimizer": config.optimizer,
            "init": config.init, "seed": config.seed, "budget": config.budget, "steps": config.steps,
            "warm_model": None if config.warm_model is None else config.warm_model.to_dict()}


def config_from_dict(data: dict):
    """Inverse of :func:`config_to_dict` (validates, so a bad dict raises SettingError/ModelFileError)."""
    from .modelfile import model_from_dict
    from .training import TrainConfig

    data = dict(data)
    warm = data.pop("warm_model", None)
    return TrainConfig(**data, warm_model=None if warm is None else model_from_dict(warm, "the warm model"))


def run_child(payload: dict, messages, stop_event, interval: float = PROGRESS_INTERVAL,
              niceness: int | None = TRAINING_NICENESS) -> None:
    """Body of the child process: lower its priority, train, send throttled progress, then the result (or an error)."""
    lower_own_priority(niceness)
    try:
        from .training import Training, build_model, run_metadata

        config = config_from_dict(payload)
        training = Training(config)
        last_sent, pending = 0.0, None
        for progress in training.run(stop_event.is_set):
            pending = progress.to_dict()
            now = time.monotonic()
            if progress.done or now - last_sent >= interval:
                messages.put(("progress", pending))
                last_sent, pending = now, None
        if pending is not None:
            messages.put(("progress", pending))
        if training.steps_done == 0:
            messages.put(("result", None))
            return
        model = build_model(config, training.weights(), training.steps_done, training.elapsed,
                            run_metadata(cancelled=bool(stop_event.is_set())))
        messages.put(("result", model.to_dict()))
    except BaseException as exc:  # the parent gets one line, never a traceback
        messages.put(("error", one_line(exc)))


class TrainingJob:
    """One training run in a child process.

    ``start()`` launches it (the child runs at ``niceness``, None: as inherited); ``poll()`` drains progress without blocking; ``cancel()`` asks the
    child to stop after its current step (it then delivers the best model so far, or None if no
    step was taken); ``result`` is the :class:`modelfile.TrainedModel` once finished; ``error`` a
    line of text if the child failed or died. ``payload`` is the plain-data config sent to it.
    """

    def __init__(self, config, interval: float = PROGRESS_INTERVAL, niceness: int | None = TRAINING_NICENESS):
        self.config = config
        self.payload = config_to_dict(config)
        self.interval = interval
        self.niceness = niceness
        self.result = None
        self.error: str | None = None
        self._ctx = multiprocessing.get_context("spawn")
        self._process = None
        self._messages = None
        self._stop = None
        self._finished = False
        self._buffer: list = []

    def start(self) -> None:
        """Launch the child process (once)."""
        if self._process is not None:
            raise RuntimeError("a TrainingJob can be started only once")
        self._messages = self._ctx.Queue()
        self._stop = self._ctx.Event()
        self._process = self._ctx.Process(target=run_child, name="iirnn-training", daemon=True,
                                          args=(self.payload, self._messages, self._stop, self.interval, self.niceness))
        self._process.start()

    @property
    def pid(self) -> int | None:
        """Process id of the child (None before start)."""
        return None if self._process is None else self._process.pid

    @property
    def is_running(self) -> bool:
        """True from ``start()`` until the result or an error has arrived (call ``poll`` to update)."""
        return self._process is not None and not self._finished

    def cancel(self) -> None:
        """Ask the child to stop after its current step; returns at once."""
        if self._stop is not None:
            self._stop.set()

    def _drain(self) -> None:
        """Move every waiting message into the buffer / result / error."""
        from .modelfile import ModelFileError, model_from_dict
        from .training import Progress

        while not self._finished:
            try:
                kind, body = self._messages.get_nowait()
            except queue.Empty:
                break
            except (EOFError, OSError):  # the child died while writing
                break
            if kind == "progress":
                self._buffer.append(Progress.from_dict(body))
            elif kind == "result":
                try:
                    self.result = None if body is None else model_from_dict(body, "the trained model")
                except ModelFileError as exc:
                    self.error = str(exc)
                self._finish()
            else:
                self.error = str(body)
                self._finish()

    def _finish(self) -> None:
        self._finished = True
        self._process.join(timeout=5.0)

    def poll(self) -> list:
        """Progress events that arrived since the last call (never blocks); updates result/error."""
        if self._process is None:
            return []
        self._drain()
        if not self._finished and not self._process.is_alive():
            self._drain()  # messages the child sent just before it ended
            if not self._finished:
                self.error = f"the training process ended unexpectedly (exit code {self._process.exitcode})"
                self._finished = True
        out, self._buffer = self._buffer, []
        return out

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the job has finished (progress is kept for the next ``poll``); True if it has."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._process is not None and not self._finished:
            events = self.poll()  # (poll replaces self._buffer, so take its result first)
            self._buffer.extend(events)
            if self._finished or (deadline is not None and time.monotonic() >= deadline):
                break
            time.sleep(0.01)
        return self._process is not None and self._finished

    def terminate(self) -> None:
        """Kill the child at once (for shutdown when it does not stop in time); the job ends with an error."""
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5.0)

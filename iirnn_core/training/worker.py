"""Training in a persistent child process, with progress streamed over a queue (the audio process never trains).

:class:`TrainingWorker` is one process of the ``spawn`` context (the parent may hold Qt, PortAudio
and numba threads: never fork), started once before the audio plays, at low CPU and I/O priority,
with torch and the training kernels loaded up front; it then trains :class:`TrainingJob` s one
after another, so no process starts and nothing imports torch while the music plays. Only plain
data crosses the queues: the config as a dict (a warm model as its file dict), progress as dicts,
the result as the model file dict, an error as one line of text. Messages are
``(kind, job_id, body)`` with kind ``"progress"``, ``"snapshot"`` (every key's best net so far, a few
times a second, as a model file dict), ``"result"`` or ``"error"``.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import threading
import time

from iirnn_core.errors import one_line

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.025
"""Seconds between progress messages from the child (at most 40 per second, so each of the window's polls, 20 a
second, finds news; the last always)."""

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
    except OSError as exc:  # the platform refuses: training still works
        log.info("could not lower the training process's priority: %s", exc)


def config_to_dict(config) -> dict:
    """A :class:`~iirnn_core.training.config.TrainConfig` as plain data (the warm model as its file dict)."""
    return {"notes": list(config.notes), "rate": config.rate, "q": config.q, "seconds": config.seconds,
            "amplitude": config.amplitude, "hidden": config.hidden, "optimizer": config.optimizer,
            "init": config.init, "seed": config.seed, "budget": config.budget, "steps": config.steps,
            "warm_model": None if config.warm_model is None else config.warm_model.to_dict()}


def config_from_dict(data: dict):
    """Inverse of :func:`config_to_dict` (validates, so a bad dict raises SettingError/ModelFileError)."""
    from iirnn_core.models.modelfile import model_from_dict
    from iirnn_core.training.config import TrainConfig

    data = dict(data)
    warm = data.pop("warm_model", None)
    return TrainConfig(**data, warm_model=None if warm is None else model_from_dict(warm, "the warm model"))


SNAPSHOT_INTERVAL = 0.25
"""Seconds between snapshots of every key's best net so far (what the trained engine plays during a run)."""


def snapshot_model(config, training, progress):
    """Every key's best net so far as a :class:`~iirnn_core.models.modelfile.TrainedModel`, with the training SNR of
    ``progress`` (no rendering: it is sent a few times a second)."""
    from iirnn_core.training.run import file_snr, model_of

    return model_of(config, training.weights(), [file_snr(db) for db in progress.snr_db], progress.step,
                    progress.elapsed, {"snapshot": True})


def lower_io_priority() -> None:
    """Put this process in the idle I/O class (``ioprio_set``, Linux; quietly skipped elsewhere), so its
    imports and page-cache traffic never delay the sound server's or the audio process's reads."""
    import ctypes
    import platform

    numbers = {"x86_64": 251, "aarch64": 30}  # SYS_ioprio_set
    number = numbers.get(platform.machine())
    if number is None:
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syscall(number, 1, 0, 3 << 13) != 0:  # IOPRIO_WHO_PROCESS, this process, IOPRIO_CLASS_IDLE
            log.info("idle I/O priority refused (errno %d)", ctypes.get_errno())
    except (OSError, AttributeError) as exc:
        log.info("idle I/O priority not available: %s", exc)


def _run_job(payload: dict, send, should_stop, interval: float) -> None:
    """Train one job: throttled ``send("progress", dict)``, then ``send("result", dict | None)``, or
    ``send("error", line)``. A payload ``{"export": data}`` trains nothing: it writes one key's net for the seed
    (:func:`iirnn_core.training.export.export_job`, File > Export network...) and sends its result or error. A payload
    ``{"learn": data}`` learns a recorded note (:func:`learn_job`, File > Learn a sound...)."""
    try:
        if "export" in payload:
            from iirnn_core.training.export import export_job

            send("result", export_job(payload["export"]))
            return
        if "learn" in payload:
            learn_job(payload["learn"], send, should_stop, interval)
            return
        from iirnn_core.training.run import Training, build_model, run_metadata

        config = config_from_dict(payload)
        training = Training(config)
        last_sent, last_snapshot, pending = 0.0, time.monotonic(), None
        for progress in training.run(should_stop):
            pending = progress.to_dict()
            now = time.monotonic()
            if progress.done or now - last_sent >= interval:
                send("progress", pending)
                last_sent, pending = now, None
            if not progress.done and now - last_snapshot >= SNAPSHOT_INTERVAL:
                send("snapshot", snapshot_model(config, training, progress).to_dict())
                last_snapshot = now
        if pending is not None:
            send("progress", pending)
        if training.steps_done == 0:
            send("result", None)
            return
        model = build_model(config, training.weights(), training.steps_done, training.elapsed,
                            run_metadata(cancelled=bool(should_stop())))
        send("result", model.to_dict())
    except BaseException as exc:  # the parent gets one line, never a traceback
        send("error", one_line(exc))


def learn_job(data: dict, send, should_stop, interval: float) -> None:
    """Learn the note in the file ``data["path"]`` with ``data["hidden"]`` states (``"seconds"`` of it, ``"pitch"``
    None or a note name / Hz, optional ``"budget"`` s): ``send("progress", {"step", "loss", "elapsed"})`` at most
    every ``interval`` s (the last step always), then ``send("result", {"model": the model file's dict, "net": the
    network's response, "linear": the linear fit's, as lists})``, or ``send("result", None)`` when ``should_stop()``
    cancelled it. Bad input raises SettingError (one line, sent as the error by :func:`_run_job`)."""
    from iirnn_core.models.modelfile import model_for_sound
    from iirnn_core.training.config import LEARN_BUDGET
    from iirnn_core.training.learn import learn_file

    begin = time.monotonic()
    last = {"sent": 0.0, "pending": None}

    def progress(step: int, loss: float) -> None:
        now = time.monotonic()
        last["pending"] = {"step": int(step), "loss": float(loss), "elapsed": now - begin}
        if now - last["sent"] >= interval:
            send("progress", last["pending"])
            last["sent"], last["pending"] = now, None

    learned = learn_file(str(data["path"]), int(data["hidden"]), float(data.get("seconds", 1.0)),
                         data.get("pitch"), budget=float(data.get("budget", LEARN_BUDGET)), progress=progress,
                         should_stop=should_stop)
    if last["pending"] is not None:
        send("progress", last["pending"])
    if should_stop():
        send("result", None)
        return
    sound = learned.sound
    model = model_for_sound(sound, {"learned_from": sound.source}, sound.report["steps"],
                            sound.report["learn_seconds"])
    send("result", {"model": model.to_dict(), "net": [float(v) for v in learned.net],
                    "linear": [float(v) for v in learned.linear]})


def worker_main(jobs, messages, cancel_id, interval: float = PROGRESS_INTERVAL,
                niceness: int | None = TRAINING_NICENESS) -> None:
    """Body of the persistent training process: lower its CPU and I/O priority, load torch, say ``ready``,
    load the training kernels (a two-step run of one key), then train each ``(job_id, payload)`` from ``jobs`` in turn
    (None ends it). Messages are ``(kind, job_id, body)``; a job stops early once ``cancel_id`` holds its id.
    It ends with its parent, however the parent ends (a killed window leaves no trainer behind)."""
    exit_with_parent()
    lower_own_priority(niceness)
    lower_io_priority()
    import torch  # noqa: F401 - loaded now, never while the music plays

    messages.put(("ready", 0, None))  # the window may open its audio: no process start, no torch import is left
    from iirnn_core.training.run import TrainConfig, Training

    for _ in Training(TrainConfig(notes=["A4"], steps=2)).run():  # loads numba and the cached kernels (about 1 s, at
        pass                                                      # low priority) before the first job arrives
    while True:
        item = jobs.get()
        if item is None:
            return
        job_id, payload = item

        def send(kind, body, job_id=job_id):
            messages.put((kind, job_id, body))

        _run_job(payload, send, lambda job_id=job_id: cancel_id.value == job_id, interval)


def exit_with_parent() -> None:
    """End this (multiprocessing child) process as soon as its parent process is gone, even if the parent was
    killed and never said goodbye: a daemon thread waits on the parent's sentinel."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch():
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="iirnn-parent-watch", daemon=True).start()


class TrainingWorker:
    """One persistent training process that trains jobs one after another.

    Start it once, before any audio stream opens (spawning it and its torch import cost CPU and
    page cache that a playing machine cannot spare), then give it jobs with :class:`TrainingJob`.
    If it dies it is started again by the next :meth:`ensure_running` (and that job ends with one
    line saying so). ``restarts`` counts those.
    """

    def __init__(self, interval: float = PROGRESS_INTERVAL, niceness: int | None = TRAINING_NICENESS):
        self.interval = interval
        self.niceness = niceness
        self.restarts = 0
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._process = None
        self._jobs = self._messages = self._cancel = None
        self._next_id = 1
        self._inbox: dict[int, list] = {}
        self.ready = False

    def start(self) -> None:
        """Start the process (if it does not run); returns at once."""
        with self._lock:
            if self._process is not None and self._process.is_alive():
                return
            self._jobs = self._ctx.Queue()
            self._messages = self._ctx.Queue()
            self._cancel = self._ctx.Value("q", 0, lock=False)
            self.ready = False
            self._process = self._ctx.Process(target=worker_main, name="iirnn-training", daemon=True,
                                              args=(self._jobs, self._messages, self._cancel, self.interval,
                                                    self.niceness))
            self._process.start()

    @property
    def pid(self) -> int | None:
        """Process id (None before start)."""
        return None if self._process is None else self._process.pid

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self._process is not None and self._process.is_alive()

    @property
    def exitcode(self):
        """The process's exit code once it has ended."""
        return None if self._process is None else self._process.exitcode

    def ensure_running(self) -> bool:
        """Start the process again if it died; True if it had to."""
        if self._process is None or self._process.is_alive():
            return False
        log.warning("the training process ended (exit code %s); starting it again", self._process.exitcode)
        self.restarts += 1
        self._inbox.clear()
        self.start()
        return True

    def submit(self, payload: dict) -> int:
        """Queue one job (plain-data config); returns its id."""
        self.start()
        with self._lock:
            job_id = self._next_id
            self._next_id += 1
            self._inbox[job_id] = []
            self._jobs.put((job_id, payload))
            return job_id

    def cancel(self, job_id: int) -> None:
        """Ask job ``job_id`` to stop after its current step (returns at once)."""
        if self._cancel is not None:
            self._cancel.value = job_id

    def take(self, job_id: int) -> list:
        """The messages ``(kind, body)`` of ``job_id`` that arrived since the last call (never blocks)."""
        with self._lock:
            while self._messages is not None:
                try:
                    kind, jid, body = self._messages.get_nowait()
                except queue.Empty:
                    break
                except (EOFError, OSError):  # the process died while writing
                    break
                if kind == "ready":
                    self.ready = True
                elif jid in self._inbox:
                    self._inbox[jid].append((kind, body))
            out = self._inbox.get(job_id, [])
            if job_id in self._inbox:
                self._inbox[job_id] = []
            return out

    def forget(self, job_id: int) -> None:
        """Drop what is kept for a finished job."""
        with self._lock:
            self._inbox.pop(job_id, None)

    def close(self, timeout: float = 2.0) -> None:
        """End the process (it finishes nothing: call after cancelling)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.is_alive():
            try:
                self._jobs.put(None)
            except (OSError, ValueError) as exc:
                log.info("could not ask the training process to end: %s", exc)
            process.join(timeout)
            if process.is_alive():
                process.kill()
                process.join(timeout)

    def kill(self) -> None:
        """End the process at once."""
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(5.0)


class TrainingJob:
    """One training run on a :class:`TrainingWorker` (a private one when ``worker`` is None).

    ``start()`` submits it; ``poll()`` drains progress without blocking; ``cancel()`` asks it to
    stop after its current step (it then delivers the best model so far, or None if no step was
    taken); ``result`` is the :class:`~iirnn_core.models.modelfile.TrainedModel` once finished; ``error`` a line of
    text if it failed or its process died. ``payload`` is the plain-data config sent to it.
    """

    def __init__(self, config, interval: float = PROGRESS_INTERVAL, niceness: int | None = TRAINING_NICENESS,
                 worker: TrainingWorker | None = None):
        self.config = config
        self.payload = config_to_dict(config)
        self.result = None
        self.error: str | None = None
        self._own = worker is None
        self._worker = TrainingWorker(interval, niceness) if worker is None else worker
        self._id: int | None = None
        self._finished = False
        self._buffer: list = []
        self.snapshot = None  # the newest TrainedModel of every key's best net so far (during the run)
        self.snapshots = 0

    def start(self) -> None:
        """Submit the job (once)."""
        if self._id is not None:
            raise RuntimeError("a TrainingJob can be started only once")
        self._worker.ensure_running()
        self._id = self._worker.submit(self.payload)

    @property
    def pid(self) -> int | None:
        """Process id of the worker that trains it (None before start)."""
        return None if self._id is None else self._worker.pid

    @property
    def is_running(self) -> bool:
        """True from ``start()`` until the result or an error has arrived (call ``poll`` to update)."""
        return self._id is not None and not self._finished

    def cancel(self) -> None:
        """Ask the job to stop after its current step; returns at once."""
        if self._id is not None and not self._finished:
            self._worker.cancel(self._id)

    def _take(self) -> None:
        """Move every waiting message into the buffer / result / error."""
        from iirnn_core.models.modelfile import ModelFileError, model_from_dict
        from iirnn_core.training.config import Progress

        for kind, body in self._worker.take(self._id):
            if self._finished:
                break
            if kind == "progress":
                self._buffer.append(Progress.from_dict(body))
            elif kind == "snapshot":
                try:
                    self.snapshot = model_from_dict(body, "a training snapshot")
                    self.snapshots += 1
                except ModelFileError as exc:  # a diverged net: the previous snapshot stays
                    log.info("training snapshot skipped: %s", exc)
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
        self._worker.forget(self._id)
        if self._own:
            self._worker.close()

    def poll(self) -> list:
        """Progress events that arrived since the last call (never blocks); updates result/error."""
        if self._id is None:
            return []
        self._take()
        if not self._finished and not self._worker.alive:
            self._take()  # messages sent just before it ended
            if not self._finished:
                code = self._worker.exitcode
                self.error = f"the training process ended unexpectedly (exit code {code})"
                if not self._own:
                    self._worker.ensure_running()
                    self.error += "; it was started again"
                self._finish()
        out, self._buffer = self._buffer, []
        return out

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the job has finished (progress is kept for the next ``poll``); True if it has."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._id is not None and not self._finished:
            events = self.poll()  # (poll replaces self._buffer, so take its result first)
            self._buffer.extend(events)
            if self._finished or (deadline is not None and time.monotonic() >= deadline):
                break
            time.sleep(0.01)
        return self._id is not None and self._finished

    def terminate(self) -> None:
        """End the job at once (shutdown): a private worker is killed; a shared one is asked to cancel."""
        if self._id is None or self._finished:
            return
        self._worker.cancel(self._id)
        if self._own:
            self._worker.kill()
        self._finished = True
        self.error = self.error or "the training was ended"

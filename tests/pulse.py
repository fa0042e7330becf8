"""A real sound server for the device tests: PulseAudio, with a null sink of the tests' own.

:func:`start_server` starts ``pulseaudio`` in the foreground (so we own its process and stop
it by id) unless a server already answers ``pactl info``; as root (CI) it retries in system
mode if the per-user server will not come up. PortAudio reaches the server through ALSA's
pulse plugin as devices ``pulse`` / ``default``. :func:`own_sink` loads a null sink of the
tests' own (``norewinds=1``) and sends this process's streams there; :func:`record_monitor`
records what it plays from its monitor with ``parec``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time

import numpy as np

def server_running() -> bool:
    """True if a PulseAudio server answers."""
    if shutil.which("pactl") is None:
        return False
    try:
        return subprocess.run(["pactl", "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _wait_for_server(proc: subprocess.Popen, seconds: float) -> bool:
    return _wait_for(server_running, proc, seconds)


def start_server() -> subprocess.Popen | None:
    """Start PulseAudio if none runs; returns our process (None if one was running). Raises RuntimeError."""
    if server_running():
        return None
    if shutil.which("pulseaudio") is None:
        raise RuntimeError("pulseaudio is not installed (the packages are listed in .ci/run)")
    common = ["--daemonize=no", "--exit-idle-time=-1", "--disallow-exit", "--log-target=stderr", "--log-level=error"]
    attempts = [(["pulseaudio", *common], {})]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        attempts.append((["pulseaudio", "--system", "--disallow-module-loading=no", *common],
                         {"PULSE_SERVER": "unix:/var/run/pulse/native"}))
    errors = []
    for argv, env in attempts:
        os.environ.update(env)
        log = tempfile.TemporaryFile()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        if _wait_for_server(proc, 10.0):
            make_realtime(proc.pid)  # as rtkit would on a desktop; a server already running is left alone
            return proc
        stop_server(proc)
        log.seek(0)
        errors.append(log.read().decode(errors="replace").strip().splitlines()[-1:] or ["no output"])
        for key in env:
            os.environ.pop(key, None)
    raise RuntimeError(f"could not start pulseaudio: {errors}")


SERVER_RT_PRIORITY = 5
"""SCHED_FIFO priority of a server we start: what rtkit grants PulseAudio on a desktop (its
``realtime-priority`` default). Without it, a 2-core machine busy training starves the server."""


def make_realtime(pid: int, priority: int = SERVER_RT_PRIORITY) -> bool:
    """Give every thread of process ``pid`` SCHED_FIFO ``priority`` (threads it starts later inherit it);
    False where that is not allowed (not root, no RLIMIT_RTPRIO)."""
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            os.sched_setscheduler(int(tid), os.SCHED_FIFO, os.sched_param(priority))
        return True
    except (OSError, AttributeError):
        return False


def stop_server(proc: subprocess.Popen | None) -> None:
    """Stop a server :func:`start_server` started (by its process id)."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def load_sink(name: str) -> int:
    """Load a null sink of our own called ``name`` with rewinds off (a dropout then costs about 50 ms,
    not the 2 s of silence the default null sink has already queued); returns its module index."""
    proc = subprocess.run(["pactl", "load-module", "module-null-sink", f"sink_name={name}", "norewinds=1",
                           f"sink_properties=device.description={name}"], capture_output=True, text=True, timeout=10)
    if proc.returncode != 0:
        raise RuntimeError(f"pactl could not load a null sink: {proc.stderr.strip() or proc.stdout.strip()}")
    return int(proc.stdout.strip())


def unload_sink(module: int) -> None:
    """Unload a sink :func:`load_sink` loaded."""
    subprocess.run(["pactl", "unload-module", str(module)], capture_output=True, timeout=10)


@contextlib.contextmanager
def own_sink(name: str):
    """A null sink of our own for this process: ``PULSE_SINK`` sends every stream this process (and its
    children) opens there, and its monitor records only what we play. Unloaded afterwards."""
    module = load_sink(name)
    previous = os.environ.get("PULSE_SINK")
    os.environ["PULSE_SINK"] = name
    try:
        yield name
    finally:
        if previous is None:
            os.environ.pop("PULSE_SINK", None)
        else:
            os.environ["PULSE_SINK"] = previous
        unload_sink(module)


@contextlib.contextmanager
def server_and_sink(name: str):
    """A PulseAudio server (started here, real-time, when none runs; stopped after only if started here) with
    a null sink of our own, ``name`` (:func:`own_sink`); yields the sink's name. Raises RuntimeError without one."""
    server = start_server()
    try:
        with own_sink(name) as sink:
            yield sink
    finally:
        stop_server(server)


class PrivateServer:
    """A PulseAudio server of a fault test's own, which the test may kill, start again, and whose sink it may
    unload and load again, without touching any other server: its own runtime directory and socket, and a
    null sink ``sink`` (``norewinds=1``) that is its default. :attr:`env` points a client at it (a child
    process's environment, or ``os.environ`` for this one)."""

    def __init__(self, sink: str = "iirnn_fault", realtime: bool = True):
        self.dir = tempfile.mkdtemp(prefix="iirnn-pulse-")
        os.chmod(self.dir, 0o700)
        self.sink = sink
        self.realtime = realtime
        self.proc: subprocess.Popen | None = None
        self.module: int | None = None
        self.env = {"PULSE_SERVER": f"unix:{self.dir}/native", "PULSE_RUNTIME_PATH": f"{self.dir}/pulse",
                    "PULSE_SINK": sink}
        self.started_at = 0.0

    def _environ(self) -> dict:
        return {**os.environ, **self.env, "HOME": self.dir, "XDG_RUNTIME_DIR": self.dir}

    def pactl(self, *args: str) -> subprocess.CompletedProcess:
        """Run ``pactl`` against this server."""
        return subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=10, env=self._environ())

    def answers(self) -> bool:
        """True if the server answers ``pactl info``."""
        try:
            return self.pactl("info").returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def start(self) -> "PrivateServer":
        """Start the server with its sink (real-time where allowed, as rtkit would); :attr:`started_at` is
        ``time.monotonic()`` when it first answered. RuntimeError if it does not come up within 10 s."""
        if shutil.which("pulseaudio") is None:
            raise RuntimeError("pulseaudio is not installed (the packages are listed in ./run)")
        argv = ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit", "-n",
                "--log-target=stderr", "--log-level=error",
                f"--load=module-native-protocol-unix socket={self.dir}/native auth-anonymous=1"]
        with tempfile.TemporaryFile() as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=self._environ(), start_new_session=True)
            if not _wait_for(self.answers, self.proc, 10.0):
                self.kill()
                log.seek(0)
                said = log.read().decode(errors="replace").strip().splitlines()
                raise RuntimeError(f"the private pulseaudio did not start: {said[-1:] or 'no output'}")
        self.started_at = time.monotonic()
        if self.realtime:
            make_realtime(self.proc.pid)
        self.load_sink()
        return self

    def load_sink(self) -> None:
        """Load the null sink (again) and make it the default."""
        done = self.pactl("load-module", "module-null-sink", f"sink_name={self.sink}", "norewinds=1",
                          f"sink_properties=device.description={self.sink}")
        if done.returncode != 0:
            raise RuntimeError(f"pactl could not load a null sink: {done.stderr.strip()}")
        self.module = int(done.stdout.strip())
        self.pactl("set-default-sink", self.sink)

    def unload_sink(self) -> None:
        """Unload the null sink (as when a device is unplugged)."""
        if self.module is not None:
            self.pactl("unload-module", str(self.module))
            self.module = None

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (and reap it)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self.proc = None
        self.module = None
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{self.dir}/pulse/pid")

    def close(self) -> None:
        """Kill the server and remove its directory."""
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "PrivateServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def record(self, **kwargs):
        """:func:`record_monitor` of this server's sink (see there)."""
        return record_monitor(self.sink, env=self._environ(), **kwargs)


def _wait_for(ready, proc: subprocess.Popen, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def record_monitor(sink: str, rate: int = 48000, channels: int = 2, connect_timeout: float = 5.0,
                   env: dict | None = None, started: list | None = None):
    """Record the sink's monitor while the block runs; yields a list that then holds one array (frames, channels).

    Waits until ``parec`` delivers samples before the block starts (a monitor can take a moment to
    start flowing), and fails with one line saying what ``parec`` said if it never does. ``env``: the
    environment ``parec`` runs in (default this process's); ``started``, if given, gets the
    ``time.monotonic()`` at which the yielded recording's first sample was taken (within 20 ms).
    """
    result: list[np.ndarray] = []
    frame_bytes = 4 * channels
    with tempfile.NamedTemporaryFile(suffix=".raw") as raw, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(["parec", f"--device={sink}.monitor", "--format=float32le", f"--rate={rate}",
                                 f"--channels={channels}", "--latency-msec=20"],
                                stdin=subprocess.DEVNULL, stdout=raw, stderr=err, env=env)

        def why() -> str:
            err.seek(0)
            said = err.read().decode(errors="replace").strip().splitlines()
            return f"parec recorded nothing from {sink}.monitor" + (f" (it said: {said[-1]})" if said else "")

        try:
            deadline = time.monotonic() + connect_timeout
            while os.path.getsize(raw.name) < frame_bytes * rate // 50:  # 20 ms: samples flow
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(why())
                time.sleep(0.02)
            start = os.path.getsize(raw.name) // frame_bytes
            if started is not None:
                started.append(time.monotonic())
            yield result
            time.sleep(0.1)
        finally:
            proc.terminate()
            proc.wait(timeout=5)
        data = np.fromfile(raw.name, dtype=np.float32)
    frames = data[: len(data) // channels * channels].reshape(-1, channels)
    result.append(frames[start:])


def silences(x: np.ndarray, start: int, end: int, rate: int = 48000, longer_than_s: float = 0.005,
             silent: float = 1e-6) -> list[tuple[float, float]]:
    """Dropouts heard in a recording: (start in s from ``x[start]``, length in s) of each run of samples
    below ``silent`` longer than ``longer_than_s`` in ``x[start:end]`` (mono, at ``rate`` Hz)."""
    quiet = np.abs(x[start:end]) < silent
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.astype(np.int8), [0]))))
    runs = zip(edges[0::2] / rate, (edges[1::2] - edges[0::2]) / rate)
    return [(float(at), float(length)) for at, length in runs if length > longer_than_s]


def first_sound(x: np.ndarray, level: float = 0.01) -> int | None:
    """Index of the first sample of ``x`` (mono) louder than ``level``: where the first key was heard; None if none was."""
    loud = np.abs(x) > level
    return int(np.argmax(loud)) if loud.any() else None

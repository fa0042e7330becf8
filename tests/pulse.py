"""Real sound servers for the device tests and benchmarks: PulseAudio, and PipeWire through ``pipewire-pulse``.

A private server (:class:`PrivateServer` for PulseAudio, :class:`PrivatePipeWire` for the PipeWire stack;
:func:`private_server` by kind) runs in a runtime directory of its own with its own sockets and a null sink
(``norewinds=1``) that is its default; its :attr:`env` points a client at it. Either kind is reached the same
way: PulseAudio's protocol, which PortAudio speaks through ALSA's pulse plugin as devices ``pulse`` /
``default``, and ``pactl`` / ``parec`` too. :func:`our_servers` lists the servers this process started, by
kind, and :func:`check_one_kind` fails when both kinds run at once.

The older helpers share one per-user PulseAudio: :func:`start_server` starts ``pulseaudio`` in the foreground
(so we own its process and stop it by id) unless a server already answers ``pactl info``; as root (CI) it
retries in system mode if the per-user server will not come up. :func:`own_sink` loads a null sink of our own
and sends this process's streams there; :func:`record_monitor` records what a sink plays from its monitor with
``parec``.
"""

from __future__ import annotations

import contextlib
import json
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


def make_realtime(pid: int, priority: int = SERVER_RT_PRIORITY, keep_higher: bool = False) -> bool:
    """Give every thread of process ``pid`` SCHED_FIFO ``priority`` (threads it starts later inherit it), except,
    with ``keep_higher``, a thread already real-time at that priority or above (PipeWire's data threads, which
    it makes SCHED_FIFO 88 itself where allowed); False where that is not allowed (not root, no RLIMIT_RTPRIO)."""
    try:
        for tid in map(int, os.listdir(f"/proc/{pid}/task")):
            policy = os.sched_getscheduler(tid) & ~os.SCHED_RESET_ON_FORK  # PipeWire sets that flag too
            if (keep_higher and policy in (os.SCHED_FIFO, os.SCHED_RR)
                    and os.sched_getparam(tid).sched_priority >= priority):
                continue
            os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(priority))
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


SERVER_KINDS = ("pulseaudio", "pipewire")
"""The sound servers the device tests play into: PulseAudio itself, and PipeWire standing in for it through
``pipewire-pulse`` (what a modern Linux desktop runs)."""

PROGRAMS = {"pulseaudio": ("pulseaudio",), "pipewire": ("dbus-daemon", "pipewire", "wireplumber", "pipewire-pulse")}
"""The processes a private server of each kind runs (:func:`our_servers` looks for these names)."""


def missing_programs(kind: str) -> list[str]:
    """The programs a private server of ``kind`` and its clients' tools (``pactl``, ``parec``) need but lack."""
    return [p for p in (*PROGRAMS[kind], "pactl", "parec") if shutil.which(p) is None]


def our_servers() -> dict[str, list[int]]:
    """The sound server processes this process started and that still run, by kind: ``{kind: [pid, ...]}``."""
    kinds = {name: kind for kind, names in PROGRAMS.items() for name in names}
    found: dict[str, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                name, rest = f.read().rsplit(")", 1)
        except OSError:  # gone meanwhile
            continue
        state, ppid = rest.split()[:2]
        kind = kinds.get(name.split("(", 1)[1])
        if kind and int(ppid) == os.getpid() and state not in "ZX":
            found.setdefault(kind, []).append(int(entry))
    return found


def check_one_kind() -> None:
    """AssertionError if sound servers of both kinds that this process started run at once."""
    running = our_servers()
    if len(running) > 1:
        raise AssertionError(f"sound servers of both kinds run at once (by kind, the pids): {running}")


def pipewire_node_of(pid: int) -> str | None:
    """The id of a PipeWire node of process ``pid`` that plays (its client's ``application.process.id`` is ``pid``:
    a JACK client's node, which ``pactl`` does not list as a sink input, or a pulse client's stream), read from
    ``pw-dump`` on the server ``PIPEWIRE_RUNTIME_DIR`` names; None if there is none, or no PipeWire there."""
    folder = os.environ.get("PIPEWIRE_RUNTIME_DIR")
    if not folder or not os.path.exists(f"{folder}/pipewire-0") or shutil.which("pw-dump") is None:
        return None
    try:
        objects = json.loads(subprocess.run(["pw-dump"], capture_output=True, text=True, timeout=10).stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    def of(kind: str) -> list[tuple[int, dict]]:
        return [(o["id"], (o.get("info") or {}).get("props") or {}) for o in objects
                if o.get("type", "").endswith(f":{kind}")]

    clients = {i for i, p in of("Client") if str(p.get("application.process.id")) == str(pid)}
    nodes = [i for i, p in of("Node") if p.get("client.id") in clients and p.get("media.class") != "Stream/Input/Audio"]
    return str(nodes[0]) if nodes else None


def private_server(kind: str, **kwargs) -> "PrivateServer | PrivatePipeWire":
    """A private server of ``kind`` (one of :data:`SERVER_KINDS`), not started yet; ``kwargs`` as its class takes."""
    return {"pulseaudio": PrivateServer, "pipewire": PrivatePipeWire}[kind](**kwargs)


class _PrivateSoundServer:
    """What a private server of either kind shares: its own runtime directory (and HOME) holding its sockets, a
    null sink ``sink`` (``norewinds=1``) that is its default, and :attr:`env`, which points a client at it (a
    child process's environment, or ``os.environ`` for this one): ``PULSE_SERVER``, ``PULSE_RUNTIME_PATH``,
    ``PULSE_SINK``, and ``PIPEWIRE_RUNTIME_DIR`` (so a client looking for PipeWire finds this one or none)."""

    kind = ""

    def __init__(self, sink: str, realtime: bool, socket: str):
        self.dir = tempfile.mkdtemp(prefix=f"iirnn-{self.kind}-")
        os.chmod(self.dir, 0o700)
        self.sink = sink
        self.realtime = realtime
        self.module: int | None = None
        self.started_at = 0.0
        self.env = {"PULSE_SERVER": f"unix:{self.dir}/{socket}", "PULSE_RUNTIME_PATH": f"{self.dir}/pulse",
                    "PULSE_SINK": sink, "PIPEWIRE_RUNTIME_DIR": self.dir}

    def client_environ(self, env: dict | None = None) -> dict:
        """This process's environment for a client of this server (a child ``iirnn play``): no other server's
        ``PULSE_*``/``PIPEWIRE_*`` variables, and :attr:`env` (or ``env`` instead)."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "PIPEWIRE_"))}
        return {**inherited, **(self.env if env is None else env)}

    def _environ(self) -> dict:
        return {**self.client_environ(), "HOME": self.dir, "XDG_RUNTIME_DIR": self.dir}

    @contextlib.contextmanager
    def serving_this_process(self):
        """Point this process's environment at the server (:attr:`env`) while the block runs, then put back
        exactly what was there: streams opened meanwhile (and their devices re-scanned) play there."""
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            yield self
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def _spawn(self, argv: list[str]) -> subprocess.Popen:
        """Start ``argv`` in its own session (so we stop it by id), its output in ``<dir>/<program>.log``."""
        with open(f"{self.dir}/{os.path.basename(argv[0])}.log", "ab") as log:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self._environ(),
                                    start_new_session=True)

    def _said(self, program: str) -> str:
        """The last line ``program`` wrote to its log (``no output`` if none)."""
        try:
            with open(f"{self.dir}/{program}.log", errors="replace") as log:
                lines = log.read().strip().splitlines()
        except OSError:
            lines = []
        return lines[-1] if lines else "no output"

    def pactl(self, *args: str) -> subprocess.CompletedProcess:
        """Run ``pactl`` against this server."""
        return subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=10, env=self._environ())

    def answers(self) -> bool:
        """True if the server answers ``pactl info``."""
        try:
            return self.pactl("info").returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def load_sink(self) -> None:
        """Load the null sink (again) and make it the default; RuntimeError if it is not the default within 10 s
        (on PipeWire the session manager, wireplumber, makes it so, and links the streams)."""
        done = self.pactl("load-module", "module-null-sink", f"sink_name={self.sink}", "norewinds=1",
                          f"sink_properties=device.description={self.sink}")
        if done.returncode != 0:
            raise RuntimeError(f"pactl could not load a null sink: {done.stderr.strip()}")
        self.module = int(done.stdout.strip())
        self.pactl("set-default-sink", self.sink)
        deadline = time.monotonic() + 10.0
        while self.pactl("get-default-sink").stdout.strip() != self.sink:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the private {self.kind}'s default sink is not {self.sink} after 10 s")
            time.sleep(0.05)

    def unload_sink(self) -> None:
        """Unload the null sink (as when a device is unplugged)."""
        if self.module is not None:
            self.pactl("unload-module", str(self.module))
            self.module = None

    def record(self, sink: str | None = None, **kwargs):
        """:func:`record_monitor` of this server's sink, or of its sink ``sink`` (see there)."""
        return record_monitor(self.sink if sink is None else sink, env=self._environ(), **kwargs)

    def close(self) -> None:
        """Kill the server (every process it started) and remove its directory."""
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def _sigkill(proc: subprocess.Popen | None) -> None:
    """SIGKILL ``proc`` if it runs, and reap it."""
    if proc is not None and proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


class PrivateServer(_PrivateSoundServer):
    """A PulseAudio server of a test's own, which the test may kill, start again, and whose sink it may unload and
    load again, without touching any other server (see :class:`_PrivateSoundServer`)."""

    kind = "pulseaudio"

    def __init__(self, sink: str = "iirnn_fault", realtime: bool = True):
        super().__init__(sink, realtime, "native")
        self.proc: subprocess.Popen | None = None

    def start(self) -> "PrivateServer":
        """Start the server with its sink (real-time where allowed, as rtkit would); :attr:`started_at` is
        ``time.monotonic()`` when it first answered. RuntimeError if it does not come up within 10 s."""
        if shutil.which("pulseaudio") is None:
            raise RuntimeError("pulseaudio is not installed (the packages are listed in ./run)")
        self.proc = self._spawn(["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit", "-n",
                                 "--log-target=stderr", "--log-level=error",
                                 f"--load=module-native-protocol-unix socket={self.dir}/native auth-anonymous=1"])
        if not _wait_for(self.answers, self.proc, 10.0):
            self.kill()
            raise RuntimeError(f"the private pulseaudio did not start: {self._said('pulseaudio')}")
        self.started_at = time.monotonic()
        if self.realtime:
            make_realtime(self.proc.pid)
        self.load_sink()
        return self

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (and reap it)."""
        _sigkill(self.proc)
        self.proc = None
        self.module = None
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{self.dir}/pulse/pid")


class PrivatePipeWire(_PrivateSoundServer):
    """A PipeWire stack of a test's own, with :class:`PrivateServer`'s interface: ``pipewire``, the session manager
    ``wireplumber`` and ``pipewire-pulse`` (PulseAudio's protocol, which PortAudio reaches through ALSA's pulse
    plugin), on a session bus of its own (``dbus-daemon``: wireplumber needs one). :meth:`kill` SIGKILLs the three
    as a crash of the stack would (the bus lives on); :meth:`start` starts them again in the order they need."""

    kind = "pipewire"
    STACK = ("pipewire", "wireplumber", "pipewire-pulse")
    """The processes :meth:`start` starts, in that order (each after the one before answers)."""

    def __init__(self, sink: str = "iirnn_fault", realtime: bool = True):
        super().__init__(sink, realtime, "pulse/native")
        self.bus: subprocess.Popen | None = None
        self.procs: dict[str, subprocess.Popen] = {}

    def _environ(self) -> dict:
        return {**super()._environ(), "XDG_CONFIG_HOME": f"{self.dir}/config", "XDG_STATE_HOME": f"{self.dir}/state",
                "DBUS_SESSION_BUS_ADDRESS": f"unix:path={self.dir}/bus"}

    @property
    def proc(self) -> subprocess.Popen | None:
        """The ``pipewire-pulse`` process: the one a PulseAudio client talks to (None while killed)."""
        return self.procs.get("pipewire-pulse")

    def start(self) -> "PrivatePipeWire":
        """Start the stack with its sink (``pipewire`` and ``pipewire-pulse`` real-time where allowed, as rtkit
        would); :attr:`started_at` is ``time.monotonic()`` when ``pipewire-pulse`` first answered. RuntimeError
        if a part does not come up within 10 s."""
        missing = [p for p in PROGRAMS["pipewire"] if shutil.which(p) is None]
        if missing:
            raise RuntimeError(f"not installed: {', '.join(missing)} (the packages are listed in ./run)")
        if self.bus is None or self.bus.poll() is not None:
            self.bus = self._spawn(["dbus-daemon", "--session", f"--address=unix:path={self.dir}/bus", "--nofork",
                                    "--nopidfile"])
            self._wait("dbus-daemon", self.bus, lambda: os.path.exists(f"{self.dir}/bus"))
        ready = {"pipewire": lambda: os.path.exists(f"{self.dir}/pipewire-0"), "wireplumber": lambda: True,
                 "pipewire-pulse": self.answers}
        for program in self.STACK:
            self.procs[program] = self._spawn([program])
            self._wait(program, self.procs[program], ready[program])
        self.started_at = time.monotonic()
        if self.realtime:
            for program in ("pipewire", "pipewire-pulse"):  # their data threads are SCHED_FIFO 88 already as root
                make_realtime(self.procs[program].pid, keep_higher=True)
        self.load_sink()
        return self

    def _wait(self, program: str, proc: subprocess.Popen, ready) -> None:
        """Wait up to 10 s for ``ready()``; if it never is, kill everything and raise RuntimeError."""
        if not _wait_for(ready, proc, 10.0):
            said = self._said(program)
            self.kill()
            raise RuntimeError(f"the private {program} did not start: {said}")

    def kill(self) -> None:
        """SIGKILL ``pipewire-pulse``, ``pipewire`` and ``wireplumber``, as a crash would (and reap them)."""
        for program in ("pipewire-pulse", "pipewire", "wireplumber"):
            _sigkill(self.procs.pop(program, None))
        self.module = None
        for stale in ("pulse/pid", "pulse/native", "pipewire-0", "pipewire-0.lock"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(f"{self.dir}/{stale}")

    def close(self) -> None:
        """Kill the stack and its bus, and remove its directory."""
        self.kill()
        if self.bus is not None and self.bus.poll() is None:
            self.bus.terminate()
            self.bus.wait(timeout=5)
        self.bus = None
        super().close()


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

"""Why the output drops out, where the engine can see it: a cause in a few words for ``stats()`` and the status bar.

:class:`DropoutCauses` is ticked a few times a second (by the supervisor's watch or by
``engine.stats()``; never by the audio callback) with the dropouts counted so far. Only while
dropouts came in the last :data:`RECENT_SECONDS` does it look for a cause it can see, cheaply,
from ``/proc``:

- **no device**: the null output, a thread of ours pacing the blocks, is playing;
- **the sound server is not real-time**: no thread of the PulseAudio or PipeWire server process
  (the one whose socket we connect to, else one our user owns) runs SCHED_FIFO or SCHED_RR, as
  rtkit makes it on a desktop; a server started by hand without rtkit is starved by a busy machine;
- **CPU steal**: the hypervisor took at least :data:`STEAL_PERCENT` % of the CPU time over the last
  :data:`STEAL_WINDOW_SECONDS` (``steal`` of ``/proc/stat``);
- **halted cores**: the CPU wake-up request (:mod:`iirnn_core.audio.cpu_wakeup`) is not holding
  the cores awake, so an idle core may wake too late for the next block.

The ``/proc`` root is a parameter so tests can hand it fake readings.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from dataclasses import dataclass

RECENT_SECONDS = 10.0
"""A cause is named only while the last dropout is at most this old (s)."""
STEAL_WINDOW_SECONDS = 5.0
"""CPU steal is measured over about this long (s)."""
STEAL_PERCENT = 1.0
"""Steal (percent of all CPU time) from which it is named: 1 % of 5 s on 2 CPUs is 100 ms taken away."""
STEAL_SAMPLE_SECONDS = 0.1
"""``/proc/stat`` is read at most this often (s), however often :meth:`DropoutCauses.tick` is called."""
SERVER_CHECK_SECONDS = 2.0
"""How long (s) a finding about the sound server is kept before /proc is read again."""
SERVER_NAMES = ("pulseaudio", "pipewire", "pipewire-pulse")
"""Process names of sound servers, the likelier audio graph first."""
REAL_TIME_POLICIES = (1, 2, 6)
"""SCHED_FIFO, SCHED_RR, SCHED_DEADLINE: the kernel's real-time scheduling policies."""


@dataclass(frozen=True)
class SoundServer:
    """A sound server process: ``pid``, its ``name`` (comm) and the ``uid`` that owns it."""

    pid: int
    name: str
    uid: int


def sound_servers(proc: str = "/proc") -> list[SoundServer]:
    """Every PulseAudio or PipeWire server process under ``proc``, in pid order."""
    found = []
    try:
        entries = os.listdir(proc)
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/comm") as f:
                name = f.read().strip()
            if name in SERVER_NAMES:
                found.append(SoundServer(int(entry), name, _real_uid(f"{proc}/{entry}/status")))
        except (OSError, ValueError):
            continue  # the process ended meanwhile
    return sorted(found, key=lambda s: s.pid)


def _real_uid(status_path: str) -> int:
    """The real user id on the ``Uid:`` line of a ``/proc/PID/status`` file."""
    with open(status_path) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise ValueError(f"no Uid line in {status_path}")


def pulse_socket(env=None) -> str | None:
    """The path of the PulseAudio socket a client connects to (``PULSE_SERVER``, ``PULSE_RUNTIME_PATH``,
    ``XDG_RUNTIME_DIR``), or None when that is not a local socket."""
    env = os.environ if env is None else env
    server = env.get("PULSE_SERVER")
    if server:
        for entry in server.split():
            entry = entry.split("}", 1)[1] if entry.startswith("{") else entry
            if entry.startswith("unix:"):
                return entry[5:]
            if entry.startswith("/"):
                return entry
        return None
    if env.get("PULSE_RUNTIME_PATH"):
        return os.path.join(env["PULSE_RUNTIME_PATH"], "native")
    if env.get("XDG_RUNTIME_DIR"):
        return os.path.join(env["XDG_RUNTIME_DIR"], "pulse", "native")
    return None


def _socket_inodes(path: str, proc: str) -> set[str]:
    """Inodes of the Unix sockets bound to ``path`` (``/proc/net/unix``)."""
    inodes = set()
    try:
        with open(f"{proc}/net/unix") as f:
            next(f, None)
            for line in f:
                fields = line.split()
                if len(fields) >= 8 and fields[7] == path:
                    inodes.add(fields[6])
    except OSError:
        pass
    return inodes


def _holds_socket(pid: int, inodes: set[str], proc: str) -> bool:
    try:
        fds = os.listdir(f"{proc}/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            link = os.readlink(f"{proc}/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False


def find_sound_server(proc: str = "/proc", uid: int | None = None, socket: str | None = None) -> SoundServer | None:
    """The sound server this process plays through: the one listening on ``socket`` (default:
    :func:`pulse_socket`), else the likeliest our user (``uid``, default ours) owns, else any; None if none runs."""
    servers = sound_servers(proc)
    if not servers:
        return None
    socket = pulse_socket() if socket is None else socket
    inodes = _socket_inodes(socket, proc) if socket else set()
    if inodes:
        for server in servers:
            if _holds_socket(server.pid, inodes, proc):
                return server
    uid = os.getuid() if uid is None else uid
    return min(servers, key=lambda s: (s.uid != uid, SERVER_NAMES.index(s.name), s.pid))


def scheduling_policy(stat_line: str) -> int:
    """The scheduling policy (field 41) of one ``/proc/PID[/task/TID]/stat`` line: 0 normal, 1 FIFO, 2 RR, ..."""
    fields = stat_line[stat_line.rindex(")") + 2:].split()  # the name may hold spaces and ')'
    return int(fields[41 - 3])


def is_realtime(pid: int, proc: str = "/proc") -> bool | None:
    """True if any thread of process ``pid`` is scheduled real-time (FIFO, RR, deadline); None if it cannot be read."""
    try:
        tids = os.listdir(f"{proc}/{pid}/task")
    except OSError:
        return None
    seen = False
    for tid in tids:
        try:
            with open(f"{proc}/{pid}/task/{tid}/stat") as f:
                policy = scheduling_policy(f.read())
        except (OSError, ValueError, IndexError):
            continue
        seen = True
        if policy in REAL_TIME_POLICIES:
            return True
    return False if seen else None


def cpu_times(proc: str = "/proc") -> tuple[int, int] | None:
    """(steal, total) CPU time of all CPUs since boot, in clock ticks, from ``/proc/stat``; None if unreadable."""
    try:
        with open(f"{proc}/stat") as f:
            fields = f.readline().split()
        # cpu user nice system idle iowait irq softirq steal [guest guest_nice: already in user, nice]
        ticks = [int(v) for v in fields[1:9]]
        return ticks[7], sum(ticks)
    except (OSError, ValueError, IndexError):
        return None


class DropoutCauses:
    """Names the visible cause of recent dropouts: :meth:`tick` a few times a second, read :attr:`cause`.

    ``proc`` is the ``/proc`` root, ``clock`` the time base (s), ``uid`` whose sound server is
    preferred and ``socket`` the server's socket path (defaults: :func:`find_sound_server`'s);
    all for tests. Thread-safe; never called from the audio callback.
    """

    def __init__(self, proc: str = "/proc", clock=time.monotonic, uid: int | None = None, socket: str | None = None):
        self._proc = proc
        self._clock = clock
        self._uid = uid
        self._socket = socket
        self._lock = threading.Lock()
        self._steal = collections.deque()        # (time, steal ticks, total ticks)
        self._total = 0
        self._last_dropout = -float("inf")
        self._server: SoundServer | None = None
        self._server_rt: bool | None = None
        self._server_checked = -float("inf")
        self.cause = ""
        """The cause in a few words ('sound server not real-time', 'CPU steal 7 %', ...; '' for none seen)."""

    @property
    def text(self) -> str:
        """One short line: 'dropouts: <cause>', or '' when no cause is named."""
        return f"dropouts: {self.cause}" if self.cause else ""

    def tick(self, underruns_total: int, null_output: bool = False, cpu_wakeup: str = "awake") -> str:
        """Take the dropouts counted so far (since the output started; a smaller number means a new
        output), whether the null output plays and the CPU wake-up request's state
        (:attr:`CpuWakeup.state <iirnn_core.audio.cpu_wakeup.CpuWakeup.state>`); returns :attr:`cause`."""
        with self._lock:
            now = self._clock()
            self._sample_steal(now)
            underruns_total = int(underruns_total)
            if underruns_total > self._total:
                self._last_dropout = now
            self._total = underruns_total
            if now - self._last_dropout > RECENT_SECONDS:
                self.cause = ""
            elif null_output:
                self.cause = "no audio device (null output)"
            else:
                self.cause = ", ".join(self._causes(now, cpu_wakeup))
            return self.cause

    def _causes(self, now: float, cpu_wakeup: str) -> list[str]:
        causes = []
        if self._server_realtime(now) is False:
            causes.append("sound server not real-time")
        steal = self.steal_percent()
        if steal is not None and steal >= STEAL_PERCENT:
            causes.append(f"CPU steal {steal:.0f} %")
        if cpu_wakeup != "awake":
            causes.append("CPUs may halt (wake-up request " + ("refused)" if cpu_wakeup.startswith("refused")
                                                                else "off)"))
        return causes

    def _server_realtime(self, now: float) -> bool | None:
        """Whether the sound server runs real-time (None: no server found), read at most every SERVER_CHECK_SECONDS."""
        if now - self._server_checked >= SERVER_CHECK_SECONDS:
            self._server_checked = now
            rt = is_realtime(self._server.pid, self._proc) if self._server is not None else None
            if rt is None:  # first look, or the server we knew is gone
                self._server = find_sound_server(self._proc, self._uid, self._socket)
                rt = is_realtime(self._server.pid, self._proc) if self._server is not None else None
            self._server_rt = rt
        return self._server_rt

    @property
    def server(self) -> SoundServer | None:
        """The sound server last looked at (None before a dropout or where none runs)."""
        return self._server

    def _sample_steal(self, now: float) -> None:
        if self._steal and now - self._steal[-1][0] < STEAL_SAMPLE_SECONDS:
            return  # ticked more often than needed
        times = cpu_times(self._proc)
        if times is None:
            return
        self._steal.append((now, *times))
        while len(self._steal) > 2 and now - self._steal[1][0] >= STEAL_WINDOW_SECONDS:
            self._steal.popleft()

    def steal_percent(self) -> float | None:
        """CPU steal over about the last STEAL_WINDOW_SECONDS, in percent of all CPU time (None: too few samples)."""
        if len(self._steal) < 2:
            return None
        (_, steal0, total0), (_, steal1, total1) = self._steal[0], self._steal[-1]
        if total1 <= total0:
            return None
        return 100.0 * (steal1 - steal0) / (total1 - total0)

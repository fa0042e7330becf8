"""Keeping the CPUs from sleeping while notes sound: a PM QoS CPU wake-up latency request (Linux).

An idle core halts, and waking it for the audio thread's next block takes time: on a virtual
machine (cpuidle driver ``haltpoll``) a real-time thread sleeping 1 ms can wake milliseconds late,
longer than a small buffer lasts. ``tests/rt_probe.py [--cpus-awake]`` measures the lateness with
and without this request, ``benchmarks/bench_live_audio.py [--cpus-may-sleep]`` the underruns
(figures: ``docs/measurements.md``). A busy machine (training on both cores) seldom halts, which
is why it underruns less than an idle one.

The kernel's interface is ``/dev/cpu_dma_latency``: a process writes the longest wake-up it can
bear, in microseconds, as one native 32-bit integer; the request holds while the file stays
open and ends when it is closed or the process dies, so a crash never leaves a machine awake.
0 µs makes idle cores poll instead of halting, which costs power, so :class:`CpuWakeup` holds 0
only while notes sound (and :data:`LINGER_SECONDS` after), and "no constraint" otherwise. Pro
audio software does the same (Ardour's "CPU DMA latency" preference); the file belongs to root
unless a udev rule gives it to the audio group (``KERNEL=="cpu_dma_latency", GROUP="audio",
MODE="0660"``, as audio distributions ship). Where it cannot be opened, nothing changes and
:attr:`CpuWakeup.state` says why in a few words.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time

log = logging.getLogger(__name__)

PATH = "/dev/cpu_dma_latency"
AWAKE_US = 0
"""Wake-up latency asked for while notes sound (µs): 0, cores poll rather than halt."""
NO_CONSTRAINT_US = 2_000_000_000
"""The kernel's default request (PM_QOS_CPU_LATENCY_DEFAULT_VALUE, 2000 s in µs): no constraint."""
LINGER_SECONDS = 10.0
"""How long the CPUs stay awake after the last sound (a pause between phrases keeps them awake)."""


def kernel_limit_us(path: str = PATH) -> int | None:
    """The kernel's CPU wake-up latency limit now (µs, the strictest request of every process; reading the
    device returns it), or None where it cannot be read."""
    try:
        with open(path, "rb") as qos:
            return struct.unpack("=i", qos.read(4))[0]
    except (OSError, struct.error):
        return None


class CpuWakeup:
    """One process's PM QoS request: :meth:`open` with a stream, :meth:`sound` when a key is struck or voices
    ring, :meth:`tick` a few times a second, :meth:`close` with the stream. Thread-safe; never called from
    the audio callback. ``path`` and ``clock`` are for tests."""

    def __init__(self, path: str = PATH, clock=time.monotonic, linger: float = LINGER_SECONDS):
        self._path = path
        self._clock = clock
        self._linger = float(linger)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._awake = False
        self._last_sound = -float("inf")
        self.state = "off"
        """'awake' (held at 0 µs), 'may sleep' (open, no constraint), 'off' (not asked) or 'refused: why'."""

    def open(self) -> str:
        """Open the request (no constraint yet); returns :attr:`state`. Already open: unchanged."""
        with self._lock:
            if self._fd is None:
                try:
                    self._fd = os.open(self._path, os.O_WRONLY | os.O_CLOEXEC)
                    self.state = "may sleep"
                except OSError as exc:
                    self.state = f"refused: {exc.strerror or exc}"
                    log.info("CPU wake-up latency request refused: %s", exc)
            return self.state

    def sound(self) -> None:
        """Something sounds now: keep the CPUs awake from now until LINGER_SECONDS after the last call."""
        with self._lock:
            self._last_sound = self._clock()
            self._set(True)

    def tick(self, sounding: bool) -> None:
        """Called every fraction of a second with whether voices sound: lets the CPUs sleep once quiet for
        LINGER_SECONDS."""
        with self._lock:
            now = self._clock()
            if sounding:
                self._last_sound = now
            self._set(now - self._last_sound < self._linger)

    def close(self) -> None:
        """End the request (the kernel's default comes back)."""
        with self._lock:
            fd, self._fd = self._fd, None
            self._awake = False
            if fd is not None:
                os.close(fd)
                self.state = "off"

    def _set(self, awake: bool) -> None:
        if self._fd is None or awake == self._awake:
            return
        try:
            os.write(self._fd, struct.pack("=i", AWAKE_US if awake else NO_CONSTRAINT_US))
        except OSError as exc:
            log.info("CPU wake-up latency request failed: %s", exc)
            os.close(self._fd)
            self._fd = None
            self.state = f"refused: {exc.strerror or exc}"
            return
        self._awake = awake
        self.state = "awake" if awake else "may sleep"

"""What the machine lets a real-time thread have: wakeup latency of a SCHED_FIFO thread on each CPU, and CPU steal.

One probe thread per CPU, pinned there, asks for the audio callback's priority (SCHED_FIFO 60; it
says what it got), then sleeps 1 ms at a time in compiled code that never takes the GIL
(``nanosleep`` through ctypes, called from a numba ``nogil`` loop) and records how late each wakeup
is, and when. Nothing in the guest can run ahead of it but the kernel itself, so a late wakeup here
is time the machine did not give: on a virtual machine, the host running something else (counted as
``steal`` in ``/proc/stat``). A dropout in the audio at the same time is not the audio code's doing;
:meth:`WakeupProbe.stalls_near` says which stalls overlap a moment. One thread per CPU matters: the
audio passes through threads on both CPUs of a 2-core machine, and a stall of either empties it.

    with WakeupProbe() as probe:
        ...                      # the work to watch
    probe.result                 # {'wakeups', 'worst_ms', 'over_2ms', 'over_5ms', 'steal_percent', 'priority', 'cpus',
                                 #  'wakeups_per_cpu', 'priorities', 'pinned', 'stalls_unrecorded', 'cut_short'}
    probe.stalls                 # [(perf_counter s, late s, cpu), ...] for each wakeup over 2 ms late

``python tests/rt_probe.py [--seconds 10] [--cpus-awake] [--load N]`` probes the machine (holding the
audio engine's CPU wake-up request, :mod:`iirnn_core.audio.cpu_wakeup`, with ``--cpus-awake``; beside N
threads that keep CPUs busy in user mode and never enter the kernel, with ``--load N``: then no core
halts and nothing of ours runs kernel code a real-time thread could wait behind, so a late wakeup is
the host's or the guest kernel's own doing). It imports the installed package (``./run`` installs the
checkout with ``pip install -e``). :func:`on_a_steady_machine` takes a device test again when, and only
when, its take dropped out (:class:`Dropout`) while the machine stalled such threads.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import os
import sys
import threading

import numpy as np
from numba import njit

from iirnn_core.rt.atomics import load_acquire, monotonic_seconds
from iirnn_core.audio.cpu_wakeup import CpuWakeup
from iirnn_core.audio.priority import raise_callback_priority

_libc = ctypes.CDLL(None, use_errno=True)
_nanosleep = _libc.nanosleep
_nanosleep.restype = ctypes.c_int
_nanosleep.argtypes = [ctypes.c_int64, ctypes.c_int64]  # two pointers, passed as addresses (same ABI)

PERIOD_S = 0.001
"""How long the probe asks to sleep each time (s)."""


STALL_CAPACITY = 100_000
"""How many wakeups over :data:`LATE_S` late one probe thread remembers (time and lateness)."""

STALL_MS = 5.0
"""A real-time thread woken this late (ms) means the machine stalled long enough to empty the tests'
shortest host buffer (5.3 ms)."""


LATE_S = 0.002
"""A wakeup this late (s) is remembered with its time, to set beside the dropouts of the same moment."""


@njit(nogil=True)  # not cached: numba cannot cache a ctypes function pointer
def _probe(request, stop, late_s, lates, stall_at, stall_late, counts):
    """Sleep PERIOD_S at a time until ``stop[0]`` or ``lates`` is full: each wakeup's lateness (s) goes to
    ``lates``; the expected wakeup time (s, ``time.perf_counter``) and lateness (s) of each over ``late_s``
    late go to ``stall_at`` and ``stall_late`` while they have room; ``counts`` gets (wakeups, wakeups
    over ``late_s`` late)."""
    n = 0
    stalls = 0
    while load_acquire(stop, 0) == 0 and n < lates.shape[0]:
        start = monotonic_seconds()
        _nanosleep(request.ctypes.data, 0)
        late = monotonic_seconds() - start - PERIOD_S
        lates[n] = late
        if late > late_s:
            if stalls < stall_at.shape[0]:
                stall_at[stalls] = start + PERIOD_S
                stall_late[stalls] = late
            stalls += 1
        n += 1
        counts[0] = n
        counts[1] = stalls


@njit(nogil=True)
def _spin(stop):
    """Count in user mode, never entering the kernel, until ``stop[0]``; returns the count."""
    count = 0
    while load_acquire(stop, 0) == 0:
        count += 1
    return count


def steal_jiffies() -> tuple[int, int]:
    """(steal, total) CPU jiffies of the whole machine so far (Linux ``/proc/stat``; (0, 0) elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


class _CpuProbe:
    """One probe thread, pinned to one CPU, and what it recorded."""

    def __init__(self, cpu: int, max_seconds: float, late_s: float):
        self.cpu = cpu
        self.late_s = late_s
        self.request = np.array([0, int(PERIOD_S * 1e9)], dtype=np.int64)  # struct timespec
        self.lates = np.zeros(int(max_seconds / PERIOD_S), dtype=np.float64)
        self.stall_at = np.zeros(STALL_CAPACITY, dtype=np.float64)
        self.stall_late = np.zeros(STALL_CAPACITY, dtype=np.float64)
        self.counts = np.zeros(2, dtype=np.int64)
        self.priority = "normal"
        self.pinned = False

    def run(self, stop: np.ndarray) -> None:
        """The thread: pin, raise, probe until ``stop[0]``."""
        try:
            os.sched_setaffinity(threading.get_native_id(), {self.cpu})
            self.pinned = os.sched_getaffinity(threading.get_native_id()) == {self.cpu}
        except (AttributeError, OSError):
            self.pinned = False
        self.priority = raise_callback_priority(threading.get_native_id())
        _probe(self.request, stop, self.late_s, self.lates, self.stall_at, self.stall_late, self.counts)


class WakeupProbe:
    """A context manager that probes real-time wakeups on every CPU while its block runs (see the module
    docstring). ``result`` then holds the totals (``over_2ms`` and ``over_5ms`` add up all CPUs' wakeups, so
    one stall of the whole machine counts once per CPU); ``stalls`` every wakeup over ``late_s`` late as
    (expected wakeup time in s of ``time.perf_counter``, lateness in s, CPU), in time order."""

    def __init__(self, max_seconds: float = 3600.0, late_s: float = LATE_S):
        self._stop = np.zeros(1, dtype=np.int64)
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
        self._probes = [_CpuProbe(cpu, max_seconds, late_s) for cpu in cpus]
        self._threads = [threading.Thread(target=p.run, args=(self._stop,), name=f"rt-probe-{p.cpu}", daemon=True)
                         for p in self._probes]
        self.result: dict = {}
        self.stalls: list[tuple[float, float, int]] = []
        warm = self._probes[0]  # compiled before it counts
        _probe(warm.request, np.ones(1, dtype=np.int64), warm.late_s, warm.lates[:1], warm.stall_at, warm.stall_late,
               np.zeros(2, dtype=np.int64))

    def __enter__(self) -> "WakeupProbe":
        self._steal0 = steal_jiffies()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop[0] = 1  # the probes read it with acquire ordering
        for thread in self._threads:
            thread.join()
        steal1 = steal_jiffies()
        lates = np.concatenate([p.lates[:p.counts[0]] for p in self._probes])
        self.stalls = sorted((float(p.stall_at[i]), float(p.stall_late[i]), p.cpu)
                             for p in self._probes for i in range(min(p.counts[1], STALL_CAPACITY)))
        total = steal1[1] - self._steal0[1]
        stall_s = STALL_MS / 1000.0
        self.result = {"wakeups": len(lates), "worst_ms": 1000.0 * float(lates.max()) if len(lates) else float("nan"),
                       "over_2ms": int(np.sum(lates > 0.002)), "over_5ms": int(np.sum(lates > stall_s)),
                       "steal_percent": 100.0 * (steal1[0] - self._steal0[0]) / total if total > 0 else float("nan"),
                       "priority": self._probes[0].priority, "cpus": len(self._probes),
                       "wakeups_per_cpu": [int(p.counts[0]) for p in self._probes],
                       "priorities": [p.priority for p in self._probes],
                       "pinned": all(p.pinned for p in self._probes),
                       "stalls_unrecorded": int(sum(max(0, p.counts[1] - STALL_CAPACITY) for p in self._probes)),
                       "cut_short": any(p.counts[0] >= len(p.lates) for p in self._probes)}

    def long_stalls(self) -> list[tuple[float, float, int]]:
        """The :attr:`stalls` over :data:`STALL_MS` late: long enough to empty the shortest host buffer."""
        return [s for s in self.stalls if s[1] > STALL_MS / 1000.0]

    def stalls_near(self, at: float, within: float = 0.05,
                    until: float | None = None) -> list[tuple[float, float, int]]:
        """The :meth:`long_stalls` that overlap ``at`` (to ``until``, if given) ± ``within`` (s,
        ``time.perf_counter``)."""
        until = at if until is None else until
        return [s for s in self.long_stalls() if s[0] - within <= until and at <= s[0] + s[1] + within]

    def beside(self, moments) -> list[bool]:
        """For each moment (s, ``time.perf_counter``): did a stall over :data:`STALL_MS` come within 50 ms of it?"""
        return [bool(self.stalls_near(at)) for at in moments]


class Dropout(AssertionError):
    """A failed dropout or underrun check: the sound went missing (or the engine counted an underrun) between
    ``start`` and ``end`` (s, ``time.perf_counter``). The one failure :func:`on_a_steady_machine` may excuse."""

    def __init__(self, message: str, start: float, end: float):
        super().__init__(message)
        self.start, self.end = start, end


def on_a_steady_machine(attempts: int = 3):
    """Decorate a device test: run it under a :class:`WakeupProbe` and take it again (up to ``attempts`` takes)
    only if it failed with a :class:`Dropout` that a stall of the machine overlaps in time
    (:meth:`WakeupProbe.stalls_near`: a real-time thread woken over :data:`STALL_MS` late, which no audio code
    plays through). Every other failure fails at once: pitch, level, and a dropout with no stall beside it. If
    every take was excused, the test is skipped saying which stalls (conftest counts skips against a budget).

    This is the device tests' one retry: a test's own takes are not repeated inside it."""
    import pytest

    def decorate(test):
        @functools.wraps(test)
        def run(*args, **kwargs):
            excused = []
            for _ in range(attempts):
                probe = WakeupProbe(120.0)
                try:
                    with probe:
                        return test(*args, **kwargs)
                except Dropout as failure:
                    stalls = probe.stalls_near(failure.start, until=failure.end)
                    if not stalls:
                        raise
                    excused.append(f"{failure} beside a {1000.0 * max(s[1] for s in stalls):.0f} ms stall")
            pytest.skip(f"each of {attempts} takes dropped out while the machine stalled: {'; '.join(excused)}")
        return run
    return decorate


@contextlib.contextmanager
def spinning(count: int):
    """While the block runs, ``count`` threads keep CPUs busy in user mode at nice 19, never entering the
    kernel: no core halts, and nothing of ours runs kernel code a real-time wakeup could wait behind."""
    stop = np.zeros(1, dtype=np.int64)
    _spin(np.ones(1, dtype=np.int64))  # compiled before it counts

    def run():
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        _spin(stop)

    threads = [threading.Thread(target=run, name=f"spin-{i}", daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop[0] = 1
        for thread in threads:
            thread.join()


def main() -> int:
    """Probe for ``--seconds`` and print one line, then each wakeup over 5 ms late."""
    import time

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--cpus-awake", action="store_true",
                        help="hold the audio engine's CPU wake-up request meanwhile (iirnn_core.audio.cpu_wakeup)")
    parser.add_argument("--load", type=int, default=0, metavar="N",
                        help="meanwhile keep N threads busy in user mode at nice 19 (no core halts, and nothing of ours "
                             "runs in the kernel)")
    args = parser.parse_args()
    wakeup = CpuWakeup()
    if args.cpus_awake:
        wakeup.open()
        wakeup.sound()
    try:
        with spinning(args.load), WakeupProbe(args.seconds + 60.0) as probe:
            t0 = time.perf_counter()
            time.sleep(args.seconds)
    finally:
        state = wakeup.state
        wakeup.close()
    r = probe.result
    print(f"CPUs {state}, {args.load} user-mode spinners: {r['wakeups']} wakeups of {r['cpus']} {r['priority']} threads "
          f"(one per CPU, {'pinned' if r['pinned'] else 'NOT pinned'}) asking for 1 ms sleeps: worst {r['worst_ms']:.2f} ms late, {r['over_2ms']} over 2 ms, "
          f"{r['over_5ms']} over 5 ms; CPU steal {r['steal_percent']:.1f} %")
    for at, late, cpu in probe.long_stalls():
        print(f"  CPU {cpu}: {1000.0 * late:.1f} ms late at {at - t0:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

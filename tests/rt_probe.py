"""What the machine lets a real-time thread have: wakeup latency of a SCHED_FIFO thread, and CPU steal.

A probe thread asks for the audio callback's priority (SCHED_FIFO 60; it says what it got), then
sleeps 1 ms at a time in compiled code that never takes the GIL (``nanosleep`` through ctypes,
called from a numba ``nogil`` loop) and records how late each wakeup is. Nothing in the guest
can run ahead of it but the kernel itself, so a late wakeup here is time the machine did not
give: on a virtual machine, the host running something else (counted as ``steal`` in
``/proc/stat``). A dropout in the audio at the same time is not the audio code's doing.

    with WakeupProbe() as probe:
        ...                      # the work to watch
    probe.result                 # {'wakeups', 'worst_ms', 'over_2ms', 'over_5ms', 'steal_percent', 'priority'}

``python tests/rt_probe.py [--seconds 10] [--cpus-awake]`` probes an idle machine (holding the audio
engine's CPU wake-up request, :mod:`iirnn_core.cpu_wakeup`, with ``--cpus-awake``). :func:`on_a_steady_machine` makes a
device test judge the audio code only on a take during which the machine let such a thread run.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import sys
import threading
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from iirnn_core.atomics import monotonic_seconds  # noqa: E402
from iirnn_core.cpu_wakeup import CpuWakeup  # noqa: E402
from iirnn_core.priority import raise_callback_priority  # noqa: E402

_libc = ctypes.CDLL(None, use_errno=True)
_nanosleep = _libc.nanosleep
_nanosleep.restype = ctypes.c_int
_nanosleep.argtypes = [ctypes.c_int64, ctypes.c_int64]  # two pointers, passed as addresses (same ABI)

PERIOD_S = 0.001
"""How long the probe asks to sleep each time (s)."""


@njit(nogil=True)  # not cached: numba cannot cache a ctypes function pointer
def _probe(request, stop, lates):
    """Sleep PERIOD_S at a time until ``stop[0]``; returns how many wakeups, their lateness (s) in ``lates``."""
    n = 0
    while stop[0] == 0 and n < lates.shape[0]:
        start = monotonic_seconds()
        _nanosleep(request.ctypes.data, 0)
        lates[n] = monotonic_seconds() - start - PERIOD_S
        n += 1
    return n


def steal_jiffies() -> tuple[int, int]:
    """(steal, total) CPU jiffies of the whole machine so far (Linux ``/proc/stat``; (0, 0) elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


class WakeupProbe:
    """A context manager that probes real-time wakeups while its block runs (see the module docstring)."""

    def __init__(self, max_seconds: float = 3600.0):
        self._request = np.array([0, int(PERIOD_S * 1e9)], dtype=np.int64)  # struct timespec
        self._stop = np.zeros(1, dtype=np.int64)
        self._lates = np.zeros(int(max_seconds / PERIOD_S), dtype=np.float64)
        self._count = 0
        self._thread = threading.Thread(target=self._run, name="rt-probe", daemon=True)
        self.priority = "normal"
        self.result: dict = {}
        _probe(self._request, np.ones(1, dtype=np.int64), self._lates[:1])  # compiled before it counts

    def _run(self) -> None:
        self.priority = raise_callback_priority(threading.get_native_id())
        self._count = int(_probe(self._request, self._stop, self._lates))

    def __enter__(self) -> "WakeupProbe":
        self._steal0 = steal_jiffies()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop[0] = 1
        self._thread.join()
        steal1 = steal_jiffies()
        lates = self._lates[:self._count]
        total = steal1[1] - self._steal0[1]
        self.result = {"wakeups": len(lates), "worst_ms": 1000.0 * float(lates.max()) if len(lates) else float("nan"),
                       "over_2ms": int(np.sum(lates > 0.002)), "over_5ms": int(np.sum(lates > 0.005)),
                       "steal_percent": 100.0 * (steal1[0] - self._steal0[0]) / total if total > 0 else float("nan"),
                       "priority": self.priority}


STALL_MS = 5.0
"""A real-time thread woken this late (ms) means the machine stalled long enough to empty the tests'
shortest host buffer (5.3 ms)."""


def on_a_steady_machine(attempts: int = 4, stall_ms: float = STALL_MS):
    """Decorate a device test: run it under a :class:`WakeupProbe`; a take that fails while the machine
    stalled a real-time thread longer than ``stall_ms`` is not the audio code's fault and is taken again
    (up to ``attempts``). A failure on a steady take fails the test; if every take stalled, the test is
    skipped with what the machine did."""
    import pytest

    def decorate(test):
        @functools.wraps(test)
        def run(*args, **kwargs):
            stalls = []
            for _ in range(attempts):
                probe = WakeupProbe(120.0)
                try:
                    with probe:
                        return test(*args, **kwargs)
                except (AssertionError, ValueError):
                    r = probe.result
                    if r["worst_ms"] <= stall_ms:
                        raise
                    stalls.append(f"{r['worst_ms']:.0f} ms ({r['steal_percent']:.0f} % steal)")
            pytest.skip(f"the machine stalled a real-time thread in each of {attempts} takes: {', '.join(stalls)}")
        return run
    return decorate


def main() -> int:
    """Probe for ``--seconds`` and print one line."""
    import time

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--cpus-awake", action="store_true",
                        help="hold the audio engine's CPU wake-up request meanwhile (iirnn_core.cpu_wakeup)")
    args = parser.parse_args()
    wakeup = CpuWakeup()
    if args.cpus_awake:
        wakeup.open()
        wakeup.sound()
    try:
        with WakeupProbe() as probe:
            time.sleep(args.seconds)
    finally:
        state = wakeup.state
        wakeup.close()
    r = probe.result
    print(f"CPUs {state}: {r['wakeups']} wakeups of a {r['priority']} thread asking for 1 ms sleeps: worst {r['worst_ms']:.2f} ms late, "
          f"{r['over_2ms']} over 2 ms, {r['over_5ms']} over 5 ms; CPU steal {r['steal_percent']:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())

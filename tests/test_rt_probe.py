"""The real-time probe the device tests and benchmarks judge the machine by (tests/rt_probe.py)."""

import os
import time

from rt_probe import WakeupProbe, spinning


def test_the_probe_wakes_a_thread_on_every_cpu_and_says_what_it_got():
    with spinning(1), WakeupProbe(5.0) as probe:
        time.sleep(0.3)
    r = probe.result
    assert r["cpus"] == len(os.sched_getaffinity(0))
    assert r["wakeups"] > 100 * r["cpus"]  # 1 ms sleeps for 0.3 s on each CPU, however slow the machine
    assert r["priority"] in ("SCHED_FIFO 60", "nice -10", "normal")
    assert r["over_5ms"] <= r["over_2ms"] <= r["wakeups"]
    assert all(late > 0.002 for _, late, _ in probe.stalls)
    assert [at for at, _, _ in probe.stalls] == sorted(at for at, _, _ in probe.stalls)


def test_stalls_near_a_moment_are_those_over_5_ms_that_overlap_it():
    probe = WakeupProbe(1.0)
    probe.stalls = [(10.0, 0.003, 0), (20.0, 0.012, 1), (30.0, 0.020, 0)]
    assert probe.stalls_near(10.0) == []  # 3 ms: too short to empty the buffer
    assert probe.stalls_near(20.005) == [(20.0, 0.012, 1)]
    assert probe.stalls_near(20.06) == [(20.0, 0.012, 1)]  # within 50 ms of its end
    assert probe.stalls_near(20.07) == []
    assert probe.stalls_near(29.96) == [(30.0, 0.020, 0)]
    assert probe.stalls_near(25.0) == []

"""The real-time probe the device tests and benchmarks judge the machine by (tests/rt_probe.py)."""

import os
import time

import pytest

import rt_probe
from rt_probe import Dropout, WakeupProbe, on_a_steady_machine, spinning


def test_the_probe_wakes_a_pinned_thread_on_every_cpu_and_says_what_it_got():
    with spinning(1), WakeupProbe(5.0) as probe:
        time.sleep(0.3)
    r = probe.result
    assert len(r["wakeups_per_cpu"]) == len(os.sched_getaffinity(0))
    assert all(n > 100 for n in r["wakeups_per_cpu"])  # 1 ms sleeps for 0.3 s on each CPU, however slow the machine
    assert r["pinned"]
    assert set(r["priorities"]) <= {"SCHED_FIFO 60", "nice -10", "normal"}
    assert r["over_5ms"] <= r["over_2ms"] <= r["wakeups"] == sum(r["wakeups_per_cpu"])
    assert not r["cut_short"] and r["stalls_unrecorded"] == 0


def test_each_late_wakeup_is_remembered_with_its_time_and_cpu():
    before = time.perf_counter()
    with WakeupProbe(5.0, late_s=-1.0) as probe:  # every wakeup counts as late
        time.sleep(0.2)
    after = time.perf_counter()
    r = probe.result
    assert len(probe.stalls) == r["wakeups"]
    assert all(before < at < after and late > -1.0 for at, late, _ in probe.stalls)
    assert {cpu for _, _, cpu in probe.stalls} == os.sched_getaffinity(0)
    assert [at for at, _, _ in probe.stalls] == sorted(at for at, _, _ in probe.stalls)


def test_a_probe_that_runs_out_of_room_says_so():
    with WakeupProbe(0.05, late_s=-1.0) as probe:  # room for 50 wakeups per CPU
        time.sleep(0.2)
    assert probe.result["cut_short"]
    assert probe.result["wakeups_per_cpu"] == [50] * len(os.sched_getaffinity(0))


def test_stalls_near_a_moment_are_those_over_5_ms_that_overlap_it():
    probe = WakeupProbe(1.0)
    probe.stalls = [(10.0, 0.003, 0), (20.0, 0.012, 1), (30.0, 0.020, 0)]
    assert probe.stalls_near(10.0) == []  # 3 ms: too short to empty the buffer
    assert probe.stalls_near(20.005) == [(20.0, 0.012, 1)]
    assert probe.stalls_near(20.06) == [(20.0, 0.012, 1)]  # within 50 ms of its end
    assert probe.stalls_near(20.07) == []
    assert probe.stalls_near(29.96) == [(30.0, 0.020, 0)]
    assert probe.beside([10.0, 20.005, 25.0, 29.96]) == [False, True, False, True]
    assert probe.stalls_near(19.0, until=19.96) == [(20.0, 0.012, 1)]  # a span that ends 40 ms before it
    assert probe.stalls_near(10.0, until=19.9) == []


class StillProbe:
    """A probe that runs no threads and saw :attr:`stalls` (``time.perf_counter`` s, late s, CPU)."""

    stalls = [(20.0, 0.020, 1)]
    long_stalls = WakeupProbe.long_stalls
    stalls_near = WakeupProbe.stalls_near

    def __init__(self, max_seconds):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


@pytest.mark.parametrize("failures, takes, outcome", [
    ([AssertionError("pitch 452 Hz")], 1, AssertionError),          # pitch and level always fail
    ([Dropout("a gap", 30.0, 30.1)], 1, Dropout),                    # a dropout with no stall beside it fails
    ([Dropout("a gap", 20.0, 20.1)] * 3, 3, pytest.skip.Exception),  # beside a stall each time: skipped
    ([Dropout("a gap", 19.9, 20.0), AssertionError("level")], 2, AssertionError),  # the retake is judged anew
])
def test_a_retake_excuses_only_a_dropout_beside_a_stall(monkeypatch, failures, takes, outcome):
    monkeypatch.setattr(rt_probe, "WakeupProbe", StillProbe)
    ran = []

    @on_a_steady_machine(attempts=3)
    def device_test():
        ran.append(1)
        raise failures[len(ran) - 1]

    with pytest.raises(outcome):
        device_test()
    assert len(ran) == takes


def test_a_retake_that_passes_passes(monkeypatch):
    monkeypatch.setattr(rt_probe, "WakeupProbe", StillProbe)
    ran = []

    @on_a_steady_machine()
    def device_test():
        ran.append(1)
        if len(ran) == 1:
            raise Dropout("the stream underran", 19.5, 20.5)

    device_test()
    assert len(ran) == 2

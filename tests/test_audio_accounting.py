"""Underruns counted from timestamps and from the wall clock, callback load, latency ring."""

import numpy as np

from iirnn_core.synth.accounting import WINDOW_SECONDS, Accounting

RATE, BLOCK = 48000, 128
PERIOD = BLOCK / RATE


def run(acc, entry_times, stamps=None):
    stamps = entry_times if stamps is None else stamps
    for now, stamp in zip(entry_times, stamps):
        acc.block_started(now, stamp, BLOCK, False)
        acc.block_done(0.1 * PERIOD, BLOCK)


def test_steady_stream_counts_nothing():
    acc = Accounting(RATE, BLOCK)
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, 4000) * PERIOD
    times = np.arange(4000) * PERIOD + jitter
    run(acc, times, np.arange(4000) * PERIOD)
    assert (acc.underruns_timestamps, acc.underruns_wallclock) == (0, 0)
    assert acc.callbacks == 4000
    assert abs(acc.load_mean - 0.1) < 1e-9 and abs(acc.load_max - 0.1) < 1e-9


def test_host_pairs_of_blocks_are_not_underruns():
    # PulseAudio asks for two blocks back to back every two periods: no gap, no loss.
    times = np.repeat(np.arange(2000) * 2 * PERIOD, 2)
    stamps = np.arange(4000) * PERIOD
    acc = Accounting(RATE, BLOCK)
    run(acc, times, stamps)
    assert (acc.underruns_timestamps, acc.underruns_wallclock) == (0, 0)


def test_a_dropout_is_counted_both_ways():
    # 2000 blocks, then the device plays 40 ms of silence (the callback came too late), then on.
    gap = 0.040
    before = np.arange(2000) * PERIOD
    after = before[-1] + PERIOD + gap + np.arange(2000) * PERIOD
    times = np.concatenate([before, after])
    acc = Accounting(RATE, BLOCK)
    run(acc, times)
    assert acc.underruns_timestamps == 1
    assert acc.underruns_wallclock == 1
    assert abs(acc.frames_lost - gap * RATE) < 2 * BLOCK


def test_a_late_callback_that_catches_up_is_no_dropout():
    # One callback 3 periods late, then a burst that catches up: the frames kept pace.
    times = list(np.arange(2000) * PERIOD)
    late = times[-1] + 4 * PERIOD
    times += [late, late + 1e-5, late + 2e-5] + list(late + 3e-5 + np.arange(1, 2000) * PERIOD)
    stamps = np.arange(len(times)) * PERIOD  # the DAC times stay contiguous
    acc = Accounting(RATE, BLOCK)
    run(acc, times, stamps)
    assert acc.underruns_timestamps == 0
    assert acc.underruns_wallclock == 0


def test_reset_and_latency_ring():
    acc = Accounting(RATE, BLOCK, capacity=4)
    for ms in (1, 2, 3, 4, 5, 6):
        acc.note_latency(ms / 1000)
    assert acc.notes == 6
    assert sorted(acc.latencies_seconds() * 1000) == [3, 4, 5, 6]
    run(acc, [0.0, 10 * PERIOD])
    assert acc.underruns_timestamps == 1
    acc.reset()
    assert (acc.underruns_timestamps, acc.callbacks, acc.notes) == (0, 0, 0)
    assert WINDOW_SECONDS > 2 * PERIOD

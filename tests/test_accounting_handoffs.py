"""The accounting's hand-offs between threads: the reset request is an atomic store the callback honours,
and the latency ring reads oldest first once it has wrapped."""

import numpy as np

from iirnn_core.rt.accounting_layout import A_RESET
from iirnn_core.synth.accounting import Accounting

RATE, BLOCK = 48000, 128
PERIOD = BLOCK / RATE


def test_the_latency_ring_reads_oldest_first_after_it_wraps():
    acc = Accounting(RATE, BLOCK, capacity=4)
    for ms in (1, 2, 3):
        acc.note_latency(ms / 1000)
    np.testing.assert_allclose(acc.latencies_seconds() * 1000, [1, 2, 3])
    for ms in (4, 5, 6, 7, 8, 9):
        acc.note_latency(ms / 1000)
    np.testing.assert_allclose(acc.latencies_seconds() * 1000, [6, 7, 8, 9])  # in the order they came


def test_a_requested_reset_is_published_and_honoured_at_the_next_block():
    acc = Accounting(RATE, BLOCK)
    for i in range(3):
        acc.block_started(i * PERIOD, i * PERIOD, BLOCK, False)
        acc.block_done(0.1 * PERIOD, BLOCK)
    acc.block_started(20 * PERIOD, 20 * PERIOD, BLOCK, False)  # a gap: one underrun
    acc.block_done(0.1 * PERIOD, BLOCK)
    assert acc.callbacks == 4 and acc.underruns_timestamps == 1
    acc.request_reset()
    assert acc.ints[A_RESET] == 1
    acc.block_started(21 * PERIOD, 21 * PERIOD, BLOCK, False)
    acc.block_done(0.1 * PERIOD, BLOCK)
    assert acc.ints[A_RESET] == 0
    assert (acc.callbacks, acc.underruns_timestamps) == (1, 0)

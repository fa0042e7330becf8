"""The accounting's compiled functions, called by the audio callback on an accounting's two arrays
(counters ``A_*`` and state ``F_*``: :mod:`iirnn_core.rt.accounting_layout`)."""

from __future__ import annotations

import numpy as np
from numba import njit

from iirnn_core.rt.accounting_layout import (A_CALLBACKS, A_FRAMES, A_NOTES, A_RESET, A_UNDERFLOWS, A_UNDERRUNS_TS,
                                            A_UNDERRUNS_WALL, F_BASELINE, F_BLOCKSIZE, F_FRAMES_LOST, F_LAST_STAMP,
                                            F_LOAD_MAX, F_LOAD_SUM, F_RATE, F_START, F_WINDOW_END, F_WINDOW_MIN,
                                            WINDOW_SECONDS)
from iirnn_core.rt.atomics import load_acquire

_JIT = dict(nogil=True, cache=True, error_model="numpy")


@njit(**_JIT)
def acc_reset(ints, floats):
    """Start counting afresh."""
    for i in range(ints.shape[0]):
        ints[i] = 0
    floats[F_LAST_STAMP] = -1.0
    floats[F_START] = -1.0
    floats[F_WINDOW_END] = 0.0
    floats[F_WINDOW_MIN] = np.inf
    floats[F_BASELINE] = np.nan
    floats[F_FRAMES_LOST] = 0.0
    floats[F_LOAD_SUM] = 0.0
    floats[F_LOAD_MAX] = 0.0


@njit(**_JIT)
def _close_window(ints, floats):
    low = floats[F_WINDOW_MIN]
    floats[F_WINDOW_MIN] = np.inf
    base = floats[F_BASELINE]
    if base != base:  # NaN: the first window sets the baseline
        floats[F_BASELINE] = low
    elif low > base + 2.0 * floats[F_BLOCKSIZE]:
        ints[A_UNDERRUNS_WALL] += 1
        floats[F_FRAMES_LOST] += low - base
        floats[F_BASELINE] = low
    elif low < base:
        floats[F_BASELINE] = low


@njit(**_JIT)
def acc_block_started(ints, floats, now, stamp, frames, underflow):
    """A callback began at ``now`` (s) for a block whose first frame plays at ``stamp`` (s); a pending reset
    request (``ints[A_RESET]``, set by another thread) is honoured first."""
    if load_acquire(ints, A_RESET):  # published by another thread (Accounting.request_reset)
        acc_reset(ints, floats)
    if underflow:
        ints[A_UNDERFLOWS] += 1
    period = floats[F_BLOCKSIZE] / floats[F_RATE]
    if floats[F_LAST_STAMP] >= 0.0 and stamp - floats[F_LAST_STAMP] > 2.0 * period:
        ints[A_UNDERRUNS_TS] += 1
    floats[F_LAST_STAMP] = stamp
    if floats[F_START] < 0.0:
        floats[F_START] = now
        floats[F_WINDOW_END] = now + WINDOW_SECONDS
    lag = (now - floats[F_START]) * floats[F_RATE] - ints[A_FRAMES]
    if lag < floats[F_WINDOW_MIN]:
        floats[F_WINDOW_MIN] = lag
    if now >= floats[F_WINDOW_END]:
        _close_window(ints, floats)
        floats[F_WINDOW_END] = now + WINDOW_SECONDS
    ints[A_FRAMES] += frames


@njit(**_JIT)
def acc_block_done(ints, floats, seconds, frames):
    """The callback spent ``seconds`` on ``frames`` frames."""
    load = seconds * floats[F_RATE] / frames if frames else 0.0
    ints[A_CALLBACKS] += 1
    floats[F_LOAD_SUM] += load
    if load > floats[F_LOAD_MAX]:
        floats[F_LOAD_MAX] = load


@njit(**_JIT)
def acc_note_latency(ints, latencies, seconds):
    """Record one note's key-to-sound latency (s) in the ring."""
    latencies[ints[A_NOTES] % latencies.shape[0]] = seconds
    ints[A_NOTES] += 1

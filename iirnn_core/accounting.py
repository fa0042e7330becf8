"""Honest accounting of a live output stream: underruns counted two ways, callback load, latency.

Everything here is called from the compiled audio callback, so it only updates preallocated
numpy arrays (compiled functions ``acc_*``; :class:`Accounting` holds the arrays for Python):

- **underruns from timestamps**: consecutive blocks whose DAC times (when their first frame
  reaches the converter; the callback entry time when the host gives none) are more than two
  block periods apart: the device played something else (silence) in between.
- **underruns from the wall clock**: frames produced against ``(now - start) * rate``. A
  dropout makes the producer fall behind for good; a merely late callback catches up. Every
  ``window`` seconds the smallest lag (wall-clock frames minus produced frames) of the window
  is compared with the baseline; a rise of more than two blocks counts one underrun and moves
  the baseline (``frames_lost`` adds the rise). The first window after :meth:`reset` sets the baseline.
- **callback load**: time inside the callback / block period (mean and max).
- **latency**: per note, event time to the DAC time of the frame where its impulse lands,
  kept in a ring of the last ``capacity`` notes.
The ``output_underflow`` flag of the host is counted too, for comparison only (it misses most).
"""

from __future__ import annotations

import numpy as np
from numba import njit

WINDOW_SECONDS = 0.1
"""Length of a wall-clock window (s)."""

# int64 counters (Accounting.ints)
A_CALLBACKS, A_UNDERRUNS_TS, A_UNDERRUNS_WALL, A_UNDERFLOWS, A_NOTES, A_FRAMES, A_RESET = range(7)
# float64 state (Accounting.floats)
(F_RATE, F_BLOCKSIZE, F_LAST_STAMP, F_START, F_WINDOW_END, F_WINDOW_MIN, F_BASELINE, F_FRAMES_LOST, F_LOAD_SUM,
 F_LOAD_MAX) = range(10)

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
    if ints[A_RESET]:
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


class Accounting:
    """Counters of one stream at ``rate`` frames/s and ``blocksize``-frame blocks, in numpy arrays
    (``ints``, ``floats``, ``latencies``) that the compiled callback updates; read them from any thread."""

    def __init__(self, rate: float, blocksize: int, capacity: int = 8192):
        self.rate = float(rate)
        self.blocksize = int(blocksize)
        self.period = self.blocksize / self.rate
        self.ints = np.zeros(7, dtype=np.int64)
        self.floats = np.zeros(10)
        self.floats[F_RATE], self.floats[F_BLOCKSIZE] = self.rate, self.blocksize
        self.latencies = np.zeros(capacity)
        acc_reset(self.ints, self.floats)

    def reset(self) -> None:
        """Start counting afresh (now; only while no callback runs)."""
        acc_reset(self.ints, self.floats)

    def request_reset(self) -> None:
        """Ask the callback to start counting afresh at its next block (any thread)."""
        self.ints[A_RESET] = 1

    def block_started(self, now: float, stamp: float, frames: int, underflow: bool) -> None:
        """A callback began at ``now`` (perf_counter s) for a block whose first frame plays at ``stamp`` (s)."""
        acc_block_started(self.ints, self.floats, float(now), float(stamp), int(frames), bool(underflow))

    def block_done(self, seconds: float, frames: int) -> None:
        """The callback spent ``seconds`` on ``frames`` frames."""
        acc_block_done(self.ints, self.floats, float(seconds), int(frames))

    def note_latency(self, seconds: float) -> None:
        """Record one note's key-to-sound latency (s)."""
        acc_note_latency(self.ints, self.latencies, float(seconds))

    callbacks = property(lambda self: int(self.ints[A_CALLBACKS]), doc="Blocks counted.")
    underruns_timestamps = property(lambda self: int(self.ints[A_UNDERRUNS_TS]), doc="Gaps in the DAC times.")
    underruns_wallclock = property(lambda self: int(self.ints[A_UNDERRUNS_WALL]), doc="Falls behind the clock.")
    underflow_flags = property(lambda self: int(self.ints[A_UNDERFLOWS]), doc="The host's own underflow flags.")
    notes = property(lambda self: int(self.ints[A_NOTES]), doc="Notes whose latency was measured.")
    frames_lost = property(lambda self: float(self.floats[F_FRAMES_LOST]), doc="Frames lost (wall clock).")
    load_max = property(lambda self: float(self.floats[F_LOAD_MAX]), doc="Largest callback load.")

    @property
    def load_mean(self) -> float:
        """Mean callback load (time in callback / block period)."""
        n = self.callbacks
        return float(self.floats[F_LOAD_SUM]) / n if n else 0.0

    def latencies_seconds(self) -> np.ndarray:
        """A copy of the recorded latencies (s), at most ``capacity`` of the newest."""
        n = min(self.notes, self.latencies.shape[0])
        return self.latencies[:n].copy()

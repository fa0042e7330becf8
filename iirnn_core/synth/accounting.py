"""Honest accounting of a live output stream: underruns counted two ways, callback load, latency.

Everything here is called from the compiled audio callback, so it only updates preallocated
numpy arrays (compiled functions ``acc_*`` in :mod:`iirnn_core.rt.accounting_kernels`; :class:`Accounting`
holds the arrays for Python and imports no numba):

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

from iirnn_core.rt import library as rt
from iirnn_core.rt.accounting_layout import (A_CALLBACKS, A_COUNT, A_FRAMES, A_NOTES, A_RESET,  # noqa: F401
                                            A_UNDERFLOWS, A_UNDERRUNS_TS, A_UNDERRUNS_WALL, F_BASELINE,
                                            F_BLOCKSIZE, F_COUNT, F_FRAMES_LOST, F_LAST_STAMP, F_LOAD_MAX,
                                            F_LOAD_SUM, F_RATE, F_START, F_WINDOW_END, F_WINDOW_MIN,
                                            WINDOW_SECONDS)

class Accounting:
    """Counters of one stream at ``rate`` frames/s and ``blocksize``-frame blocks, in numpy arrays
    (``ints``, ``floats``, ``latencies``) that the compiled callback updates; read them from any thread."""

    def __init__(self, rate: float, blocksize: int, capacity: int = 8192):
        self.rate = float(rate)
        self.blocksize = int(blocksize)
        self.period = self.blocksize / self.rate
        self.ints = np.zeros(A_COUNT, dtype=np.int64)
        self.floats = np.zeros(F_COUNT)
        self.floats[F_RATE], self.floats[F_BLOCKSIZE] = self.rate, self.blocksize
        self.latencies = np.zeros(capacity)
        rt.acc_reset(self.ints, self.floats)

    def reset(self) -> None:
        """Start counting afresh (now; only while no callback runs)."""
        rt.acc_reset(self.ints, self.floats)

    def request_reset(self) -> None:
        """Ask the callback to start counting afresh at its next block (any thread): an atomic release
        store through the compiled code, as every word the callback shares is written."""
        rt.publish(self.ints, A_RESET, 1)

    def block_started(self, now: float, stamp: float, frames: int, underflow: bool) -> None:
        """A callback began at ``now`` (perf_counter s) for a block whose first frame plays at ``stamp`` (s)."""
        from iirnn_core.rt.accounting_kernels import acc_block_started

        acc_block_started(self.ints, self.floats, float(now), float(stamp), int(frames), bool(underflow))

    def block_done(self, seconds: float, frames: int) -> None:
        """The callback spent ``seconds`` on ``frames`` frames."""
        from iirnn_core.rt.accounting_kernels import acc_block_done

        acc_block_done(self.ints, self.floats, float(seconds), int(frames))

    def note_latency(self, seconds: float) -> None:
        """Record one note's key-to-sound latency (s)."""
        from iirnn_core.rt.accounting_kernels import acc_note_latency

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
        """A copy of the recorded latencies (s), oldest first: at most ``capacity`` of the newest."""
        notes, capacity = self.notes, self.latencies.shape[0]
        if notes <= capacity:
            return self.latencies[:notes].copy()
        start = notes % capacity  # the ring's oldest slot, once it has wrapped
        return np.concatenate([self.latencies[start:], self.latencies[:start]])

"""Honest accounting of a live output stream: underruns counted two ways, callback load, latency.

Everything here is called from the audio callback, so it only updates preallocated numbers:

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

WINDOW_SECONDS = 0.1
"""Length of a wall-clock window (s)."""


class Accounting:
    """Counters of one stream at ``rate`` frames/s and ``blocksize``-frame blocks (read them from any thread)."""

    def __init__(self, rate: float, blocksize: int, capacity: int = 8192):
        self.rate = float(rate)
        self.blocksize = int(blocksize)
        self.period = self.blocksize / self.rate
        self.latencies = np.zeros(capacity)
        self.reset()

    def reset(self) -> None:
        """Start counting afresh (called once the stream runs steadily)."""
        self.callbacks = 0
        self.underruns_timestamps = 0
        self.underruns_wallclock = 0
        self.frames_lost = 0.0
        self.underflow_flags = 0
        self.load_sum = 0.0
        self.load_max = 0.0
        self.notes = 0
        self.last_stamp = -1.0
        self.start_time = -1.0
        self.frames = 0
        self.window_end = 0.0
        self.window_min = np.inf
        self.baseline = np.nan

    def block_started(self, now: float, stamp: float, frames: int, underflow: bool) -> None:
        """A callback began at ``now`` (perf_counter s) for a block whose first frame plays at ``stamp`` (s)."""
        if underflow:
            self.underflow_flags += 1
        if self.last_stamp >= 0.0 and stamp - self.last_stamp > 2.0 * self.period:
            self.underruns_timestamps += 1
        self.last_stamp = stamp
        if self.start_time < 0.0:
            self.start_time = now
            self.window_end = now + WINDOW_SECONDS
        lag = (now - self.start_time) * self.rate - self.frames
        if lag < self.window_min:
            self.window_min = lag
        if now >= self.window_end:
            self._close_window()
            self.window_end = now + WINDOW_SECONDS
        self.frames += frames

    def _close_window(self) -> None:
        low = self.window_min
        self.window_min = np.inf
        if self.baseline != self.baseline:  # NaN: the first window sets the baseline
            self.baseline = low
        elif low > self.baseline + 2.0 * self.blocksize:
            self.underruns_wallclock += 1
            self.frames_lost += low - self.baseline
            self.baseline = low
        elif low < self.baseline:
            self.baseline = low

    def block_done(self, seconds: float, frames: int) -> None:
        """The callback spent ``seconds`` on ``frames`` frames."""
        load = seconds * self.rate / frames if frames else 0.0
        self.callbacks += 1
        self.load_sum += load
        if load > self.load_max:
            self.load_max = load

    def note_latency(self, seconds: float) -> None:
        """Record one note's key-to-sound latency (s)."""
        self.latencies[self.notes % self.latencies.shape[0]] = seconds
        self.notes += 1

    @property
    def load_mean(self) -> float:
        """Mean callback load (time in callback / block period)."""
        return self.load_sum / self.callbacks if self.callbacks else 0.0

    def latencies_seconds(self) -> np.ndarray:
        """A copy of the recorded latencies (s), at most ``capacity`` of the newest."""
        n = min(self.notes, self.latencies.shape[0])
        return self.latencies[:n].copy()

"""The master stage: the small room, the master gain and the peak limiter of one output, as arrays the compiled
code works on.

A :class:`MasterStage` builds, for a rate and a channel count, every array of the last steps of a block
(rows ``M_*`` of :mod:`iirnn_core.rt.master_layout`; the kernels are
:func:`iirnn_core.rt.output_stage.master_block` and the ones it calls) and lists them in one int64 table:
the audio callback reaches it through its block processor's table, ``iirnn render`` through
:meth:`MasterStage.process` / :meth:`MasterStage.finish` (same compiled function). Everything is allocated
here, sized for the stage's rate; nothing is allocated per block.

The limiter delays the audio by :attr:`MasterStage.lookahead` frames (0.5 ms, rounded up: 24 frames at
48 kHz, 4 at the seed's 8 kHz). Live, that adds 0.5 ms to every note's latency (the measured key-to-sound
latency includes it); offline, :meth:`MasterStage.finish` renders that many frames more and drops the
first ones, so every note starts on the sample it was struck. This module imports no numba.
"""

from __future__ import annotations

import math

import numpy as np

from iirnn_core.dsp.resonator import SettingError
from iirnn_core.rt import library as rt
from iirnn_core.rt import master_layout as ml
from iirnn_core.rt.tables import table_row


def _power_of_two_above(n: int) -> int:
    """The least power of two greater than ``n`` (>= 1)."""
    return 1 << max(0, int(n)).bit_length()


def _prime_at_least(n: int) -> int:
    """The least prime >= ``n`` (>= 2)."""
    n = max(2, int(n))
    while any(n % d == 0 for d in range(2, math.isqrt(n) + 1)):
        n += 1
    return n


def room_lengths(rate: float) -> np.ndarray:
    """The room's delay line lengths (ROOM_LINES,) int64 at ``rate`` Hz: prime numbers of frames, all different."""
    lengths: list[int] = []
    for seconds in ml.ROOM_DELAYS_SECONDS:
        n = _prime_at_least(round(seconds * rate))
        while n in lengths:
            n = _prime_at_least(n + 1)
        lengths.append(n)
    return np.array(lengths, dtype=np.int64)


def check_wet(wet: float) -> float:
    """``wet`` (the room's wet mix, 0 = off .. 1) as float, or SettingError with one line."""
    try:
        wet = float(wet)
    except (TypeError, ValueError):
        raise SettingError(f"the room's wet mix must be a number 0..1, got {wet!r}") from None
    if not (math.isfinite(wet) and 0.0 <= wet <= 1.0):
        raise SettingError(f"the room's wet mix must be 0..1 (0: no room), got {wet}")
    return wet


class MasterStage:
    """Room, master gain and peak limiter state for ``channels`` (1 or 2) at ``rate`` Hz; ``room`` is the wet mix
    :meth:`finish` uses (live, the block processor publishes it per block instead)."""

    def __init__(self, rate: float, channels: int, room: float = 0.0):
        if not (math.isfinite(rate) and rate > 0):
            raise SettingError(f"sample rate must be positive, got {rate}")
        if channels not in (1, 2):
            raise SettingError(f"the master stage plays 1 or 2 channels, not {channels}")
        self.rate, self.channels, self.room = float(rate), int(channels), check_wet(room)
        lookahead = math.ceil(ml.LIMITER_LOOKAHEAD_SECONDS * self.rate - 1e-9)
        hold = max(lookahead + 1, math.ceil(ml.LIMITER_HOLD_SECONDS * self.rate))
        self.delay = np.zeros((_power_of_two_above(lookahead), self.channels))
        self.wedge_v = np.ones(_power_of_two_above(hold))
        self.wedge_t = np.zeros(len(self.wedge_v), dtype=np.int64)
        self.box = np.ones(lookahead + 1)
        self.lim_i = np.zeros(ml.L_COUNT, dtype=np.int64)
        self.lim_i[ml.L_LOOKAHEAD], self.lim_i[ml.L_HOLD] = lookahead, hold
        self.lim_f = np.zeros(ml.LF_COUNT)
        self.lim_f[ml.LF_CEILING] = 10.0 ** (ml.LIMITER_CEILING_DB / 20.0)
        self.lim_f[ml.LF_RELEASE] = 1.0 - math.exp(-1.0 / (ml.LIMITER_RELEASE_SECONDS * self.rate))
        self.lim_f[ml.LF_HELD] = self.lim_f[ml.LF_LEAST] = 1.0
        self.lim_f[ml.LF_SUM] = float(len(self.box))
        self.lengths = room_lengths(self.rate)
        self.lines = np.zeros((ml.ROOM_LINES, _power_of_two_above(self.lengths.max())))
        self.feedback = 10.0 ** (-3.0 * self.lengths / (ml.ROOM_DECAY_SECONDS * self.rate))
        self.low = np.zeros(ml.ROOM_LINES)
        self.taps = np.zeros(ml.ROOM_LINES)
        self.room_i = np.zeros(ml.RI_COUNT, dtype=np.int64)
        self.room_f = np.zeros(ml.RF_COUNT)
        cutoff = min(ml.ROOM_DAMPING_HZ, 0.4 * self.rate)
        self.room_f[ml.RF_DAMP] = 1.0 - math.exp(-2.0 * math.pi * cutoff / self.rate)
        arrays = (self.delay, self.wedge_v, self.wedge_t, self.box, self.lim_i, self.lim_f, self.lines, self.lengths,
                  self.feedback, self.low, self.taps, self.room_i, self.room_f)
        self.table = np.array([table_row(a) for a in arrays], dtype=np.int64)
        self.muted_blocks = 0

    @property
    def lookahead(self) -> int:
        """Frames the limiter delays the audio by (its lookahead)."""
        return int(self.lim_i[ml.L_LOOKAHEAD])

    @property
    def ceiling(self) -> float:
        """The limiter's ceiling (linear full scale)."""
        return float(self.lim_f[ml.LF_CEILING])

    @property
    def reduction_db(self) -> float:
        """The most the limiter has reduced the level so far (dB, >= 0; 0: it never acted)."""
        return max(0.0, -20.0 * math.log10(max(float(self.lim_f[ml.LF_LEAST]), 1e-300)))

    def process(self, buf: np.ndarray, gain_from: float = 1.0, gain_to: float = 1.0, wet_from: float = 0.0,
                wet_to: float = 0.0) -> bool:
        """Finish buf (N, channels) float64 in place, as the callback finishes a block (room, gain ramps, limiter,
        clamp; delayed by :attr:`lookahead`); True (and counted) if the block held NaN/Inf and was muted."""
        if buf.ndim != 2 or buf.shape[1] != self.channels:
            raise ValueError(f"a block of {self.channels} channels is needed, not {buf.shape}")
        bad = bool(rt.master_block(self.table, buf, gain_from, gain_to, wet_from, wet_to))
        self.muted_blocks += bad
        return bad

    def finish(self, audio: np.ndarray, block: int = 128) -> np.ndarray:
        """``audio`` (frames, channels) float64 as the live output stage plays it at master gain 1 with the wet mix
        :attr:`room`, in blocks of ``block`` frames, its lookahead delay removed: a new (frames, channels) array
        whose notes start on the samples they started on in ``audio``."""
        frames = audio.shape[0]
        padded = np.zeros((frames + self.lookahead, self.channels))
        padded[:frames] = audio
        for start in range(0, len(padded), block):
            self.process(padded[start:start + block], 1.0, 1.0, self.room, self.room)
        return padded[self.lookahead:]

"""A streaming (stateful) polyphase resampler for a rational rate ratio L/M, block by block.

Voices are rendered at the model rate (the seed's 8 kHz) and played at the device rate
(48 kHz: L/M = 6/1; 44.1 kHz: 441/80). Output sample ``j`` sits at input time ``j*M/L``; with
a Kaiser-windowed low-pass ``h`` of ``L*K`` taps (cut-off at the lower Nyquist rate),

    y[j] = L * sum_k h[p + k*L] * x[floor(j*M/L) - k],   p = (j*M) mod L,

so each output costs ``K`` multiply-adds per channel and pitch is exact (no drift: integer
phase arithmetic). The state (phase, input position, the last ``K`` input frames) carries
across blocks, so block boundaries are inaudible. Nothing allocates after construction.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from iirnn_core.dsp.resonator import SettingError
from iirnn_core.rt.resample_layout import (RS_BLOCK_PHASE, RS_BLOCK_T_REL, RS_COUNT, RS_DOWN, RS_HISTORY,  # noqa: F401
                                          RS_N_IN, RS_PHASE, RS_T_REL, RS_UP)

TAPS_PER_PHASE = 16
"""K: taps per polyphase branch. 16 gives about 65 dB image rejection 1 kHz past the cut-off
at 8 -> 48 kHz for a group delay of about K/2 input samples (1 ms at 8 kHz)."""

KAISER_BETA = 7.0
"""Kaiser window shape: about 70 dB stop-band floor."""


def rate_ratio(rate_in: float, rate_out: float) -> tuple[int, int]:
    """(L, M) in lowest terms with ``rate_out / rate_in = L / M``; both rates must be whole Hz."""
    for rate in (rate_in, rate_out):
        if not (math.isfinite(rate) and rate > 0 and float(rate).is_integer()):
            raise SettingError(f"sample rates must be whole positive numbers of Hz, got {rate}")
    ratio = Fraction(int(rate_out), int(rate_in))
    if ratio.numerator > 4096 or ratio.denominator > 4096:
        raise SettingError(f"cannot resample {rate_in:g} Hz to {rate_out:g} Hz: the ratio {ratio} is too fine")
    return ratio.numerator, ratio.denominator


def kaiser_lowpass(taps: int, cutoff: float, beta: float) -> np.ndarray:
    """Kaiser-windowed sinc low-pass of ``taps`` taps, ``cutoff`` relative to Nyquist, unity gain at DC
    (what ``scipy.signal.firwin(taps, cutoff, window=("kaiser", beta))`` gives; numpy only, so the live
    engine's process need not load scipy)."""
    n = np.arange(taps) - (taps - 1) / 2.0
    h = cutoff * np.sinc(cutoff * n) * np.kaiser(taps, beta)
    return h / h.sum()


def design_table(up: int, down: int, taps_per_phase: int = TAPS_PER_PHASE, beta: float = KAISER_BETA) -> np.ndarray:
    """Polyphase table (L, K) float64: ``table[p, k] = L * h[p + k*L]`` of a Kaiser low-pass.

    The cut-off is the lower of the two Nyquist rates; for L = M = 1 the table is ``[[1]]``.
    """
    if up == down == 1:
        return np.ones((1, 1))
    h = kaiser_lowpass(up * taps_per_phase, 1.0 / max(up, down), beta)
    return np.ascontiguousarray(up * h.reshape(taps_per_phase, up).T)




class StreamingResampler:
    """Resample ``channels`` channels from ``rate_in`` to ``rate_out`` in blocks of up to ``block_out_max`` frames.

    Per block: ``n_in = inputs_needed(n_out)``; write ``n_in`` new input frames into
    ``input_view(n_in)`` (n_in, C); then ``process(n_in, out)`` fills out (n_out, C).
    ``input_for_frame`` / ``frame_of_input`` map between an input frame of the current block
    and the output frame where it sounds (group delay included), for exact impulse placement.
    All state is in numpy arrays (``xbuf``, ``table``, ``state``) that the compiled callback reads
    through a table of addresses.
    """

    def __init__(self, rate_in: float, rate_out: float, channels: int, block_out_max: int,
                 taps_per_phase: int = TAPS_PER_PHASE):
        self.up, self.down = rate_ratio(rate_in, rate_out)
        self.rate_in, self.rate_out = float(rate_in), float(rate_out)
        self.table = design_table(self.up, self.down, taps_per_phase)
        self.taps = self.table.shape[1]
        self.history = self.taps
        self.block_out_max = int(block_out_max)
        self.in_max = (self.block_out_max * self.down) // self.up + 2
        self.xbuf = np.zeros((self.history + self.in_max, channels))
        self.state = np.zeros(RS_COUNT, dtype=np.int64)
        self.state[RS_UP], self.state[RS_DOWN], self.state[RS_HISTORY] = self.up, self.down, self.history
        self._views = [self.xbuf[self.history:self.history + n] for n in range(self.in_max + 1)]
        self.delay_up = (self.up * self.taps - 1) / 2.0 if self.taps > 1 else 0.0

    @property
    def group_delay_frames(self) -> float:
        """Delay of the low-pass in output frames."""
        return self.delay_up / self.down

    def reset(self) -> None:
        """Forget every earlier input (silence) and restart the phase."""
        self.xbuf[:, :] = 0.0
        self.state[RS_PHASE] = self.state[RS_T_REL] = 0

    def inputs_needed(self, n_out: int) -> int:
        """New input frames the next ``n_out`` output frames need; remembers the block's start phase."""
        from iirnn_core.rt import resample_kernels

        return int(resample_kernels.inputs_needed(self.state, int(n_out)))

    def input_view(self, n_in: int) -> np.ndarray:
        """Where the next block's ``n_in`` new input frames go: a preallocated (n_in, C) view."""
        return self._views[n_in]

    def input_for_frame(self, frame: int) -> int:
        """The new input frame of this block whose time is at or just before output ``frame``."""
        from iirnn_core.rt import resample_kernels

        return int(resample_kernels.input_for_frame(self.state, int(frame)))

    def frame_of_input(self, index: int) -> float:
        """Output frame (of this block, fractional) where an impulse at new input ``index`` peaks."""
        from iirnn_core.rt import resample_kernels

        return float(resample_kernels.frame_of_input(self.state, int(index), self.delay_up))

    def process(self, n_in: int, out: np.ndarray) -> None:
        """Resample the ``n_in`` frames written into ``input_view(n_in)`` into out (n_out, C)."""
        from iirnn_core.rt import resample_kernels

        resample_kernels._resample_block(self.xbuf, self.history, n_in, self.table, self.up, self.down, self.state, out)

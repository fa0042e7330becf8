"""Multi-resolution STFT log-magnitudes: the loss that hears like a person, and the distance ``iirnn learn`` reports.

Three resolutions (FFT sizes :data:`FFT_SIZES` at 16 kHz, scaled to the rate: 128 ms, 32 ms and 8 ms windows),
Hann windows, hop a quarter of the window, frames over the whole signal (zero padded at both ends). A bin's level
is ``log(|S| + floor)`` with ``floor`` :data:`FLOOR_DB` below the target's strongest bin at that resolution, so
what lies 60 dB under the note does not count (the forms of auraloss and DDSP, with a floor relative to the note).

:func:`stft_distance` is the mean absolute difference of those levels in dB, averaged over the resolutions (0 dB:
the same spectrogram). Numpy and scipy only. Signals are 1-D float64 arrays.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

FFT_SIZES = (2048, 512, 128)
"""Window lengths (samples) at 16 kHz; other rates scale them (to the nearest power of two)."""
FLOOR_DB = 60.0
"""Bins this far (dB) below the target's strongest bin count as the floor."""


def fft_sizes(rate: float) -> tuple[int, ...]:
    """The window lengths (samples) at ``rate`` Hz."""
    return tuple(int(2 ** round(np.log2(n * rate / 16000.0))) for n in FFT_SIZES)


def frames(x: np.ndarray, n_fft: int) -> np.ndarray:
    """Hann-windowed frames of ``x`` (..., N) with hop ``n_fft // 4``: (..., F, n_fft), zero padded by half a
    window at both ends."""
    hop = n_fft // 4
    pad = [(0, 0)] * (x.ndim - 1) + [(n_fft // 2, n_fft // 2 + hop)]
    xp = np.pad(x, pad)
    count = (xp.shape[-1] - n_fft) // hop + 1
    view = np.lib.stride_tricks.sliding_window_view(xp, n_fft, axis=-1)[..., ::hop, :][..., :count, :]
    return view * np.hanning(n_fft + 2)[1:-1]


def stft(x: np.ndarray, n_fft: int) -> np.ndarray:
    """Complex STFT of ``x`` (..., N): (..., F, n_fft // 2 + 1)."""
    return scipy.fft.rfft(frames(x, n_fft), axis=-1, workers=-1)


def floor_of(target_spec: np.ndarray) -> float:
    """The magnitude floor for a target's STFT: :data:`FLOOR_DB` below its strongest bin (a tiny number when
    the target is silent)."""
    return max(float(np.max(np.abs(target_spec), initial=0.0)) * 10 ** (-FLOOR_DB / 20), 1e-12)


def log_magnitude(spec: np.ndarray, floor: float) -> np.ndarray:
    """``log(|spec| + floor)`` (natural log), same shape."""
    return np.log(np.abs(spec) + floor)


class TargetSpectra:
    """A target's log-magnitude STFTs at the three resolutions, computed once: what a net's output is compared with
    (``target`` (N,) at ``rate`` Hz). ``sizes``, ``floors`` (:func:`floor_of` each), ``levels`` (F, B) each."""

    def __init__(self, target: np.ndarray, rate: float):
        self.sizes = fft_sizes(rate)
        specs = [stft(target, n) for n in self.sizes]
        self.floors = [floor_of(s) for s in specs]
        self.levels = [log_magnitude(s, f) for s, f in zip(specs, self.floors)]

    def differences(self, y: np.ndarray) -> list[np.ndarray]:
        """The log-magnitude differences (natural log) of ``y`` (N,) from the target, (F, B) per resolution."""
        return [log_magnitude(stft(y, n), floor) - level
                for n, floor, level in zip(self.sizes, self.floors, self.levels)]

    def distance(self, y: np.ndarray) -> float:
        """:func:`stft_distance` of ``y`` (N,) from the target (dB)."""
        diffs = self.differences(y)
        return sum(float(np.mean(np.abs(d))) * 20 / np.log(10) for d in diffs) / len(diffs)


def stft_distance(y: np.ndarray, target: np.ndarray, rate: float) -> float:
    """Mean absolute difference (dB) of the log magnitudes of ``y`` and ``target`` (N,), over bins, frames and
    the three resolutions at ``rate`` Hz."""
    return TargetSpectra(target, rate).distance(y)


def snr_db(y: np.ndarray, target: np.ndarray) -> float:
    """Waveform SNR (dB) of ``y`` against ``target`` (N,): target energy over the energy of the difference."""
    err = float(np.sum((np.asarray(y) - target) ** 2))
    sig = float(np.sum(np.asarray(target) ** 2))
    return float("inf") if err == 0 else 10 * np.log10(max(sig, 1e-300) / err)

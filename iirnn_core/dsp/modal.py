"""A recorded note as damped partials (modal analysis), and those partials as an RNN's weights.

A struck or plucked note (marimba, glockenspiel, harp, a piano key) rings as a sum of damped sinusoids:
``y[n] = sum_k Re(c_k z_k**n)`` with poles ``z_k = r_k exp(i theta_k)`` inside the unit circle. This is
the linear part of learning a sound (issue 26):

- :func:`load_mono`, :func:`find_onset`, :func:`estimate_pitch`: a recording as a mono float64 signal,
  where its note starts, and its pitch (the strongest partial near a harmonic template);
- :func:`fit_modes`: the matrix-pencil method (Hua and Sarkar, 1990) finds ``order`` real states' worth of
  poles (``order // 2`` conjugate pairs) and their complex amplitudes by least squares;
- :meth:`Modes.transposed`: the same partials for another key (each angle scaled by the frequency ratio, each
  decay per second kept, partials at or above Nyquist left out): exact transposition in the modal form;
- :func:`modes_to_weights`: an RNN (``h[n] = tanh(W_hh h[n-1] + w_ih x[n])``, ``y[n] = w_out . h[n]``) whose
  ``W_hh`` is block diagonal, one 2x2 rotation-decay block per partial, driven small (``drive``) so tanh stays
  linear: the network's impulse response is the fitted one.

Numpy and scipy only (no torch, no Qt). Signals are 1-D float64 arrays at ``rate`` Hz.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from iirnn_core.dsp.resonator import SettingError
from iirnn_core.dsp.weights import RNNWeights

MIN_SECONDS = 0.05
"""A recording shorter than this (after its onset) is refused."""
MAX_SECONDS = 600.0
"""A recording longer than this is refused (it is a note, not a piece)."""
SILENCE = 1e-4
"""A recording whose peak is below this (-80 dBFS) is silent."""
ONSET_FRACTION = 0.1
"""The onset is the first sample whose short-time level reaches this fraction of the note's peak level."""


@dataclass(frozen=True)
class Modes:
    """Damped partials at ``rate`` Hz: ``poles`` (M,) complex, 0 < angle < pi, radius < 1; ``amplitudes`` (M,)
    complex. The signal is ``y[n] = sum_k Re(amplitudes[k] * poles[k]**n)``, n = 0, 1, ..."""

    poles: np.ndarray
    amplitudes: np.ndarray
    rate: float

    def __len__(self) -> int:
        return int(self.poles.shape[0])

    @property
    def frequencies(self) -> np.ndarray:
        """Each partial's frequency (Hz), shape (M,)."""
        return np.angle(self.poles) * self.rate / (2 * np.pi)

    @property
    def t60(self) -> np.ndarray:
        """Each partial's time to fall 60 dB (s), shape (M,)."""
        return -3.0 / (self.rate * np.log10(np.abs(self.poles)))

    def response(self, length: int) -> np.ndarray:
        """The signal's first ``length`` samples, (length,) float64."""
        n = np.arange(length)[:, None]
        return np.real(self.amplitudes[None, :] * self.poles[None, :] ** n).sum(axis=1) if len(self) else \
            np.zeros(length)

    def transposed(self, ratio: float, rate: float | None = None) -> "Modes":
        """The partials ``ratio`` times higher in pitch, at ``rate`` Hz (default this one): each angle scaled, each
        decay per second kept; partials at or above Nyquist are left out. Exact, as the modal form allows."""
        rate = self.rate if rate is None else float(rate)
        if not (math.isfinite(ratio) and ratio > 0 and math.isfinite(rate) and rate > 0):
            raise SettingError(f"cannot transpose by {ratio} to {rate} Hz")
        angles = np.abs(np.angle(self.poles)) * ratio * self.rate / rate
        radii = np.abs(self.poles) ** (self.rate / rate)
        keep = angles < np.pi * (1 - 1e-9)
        return Modes(radii[keep] * np.exp(1j * angles[keep]), self.amplitudes[keep], rate)


def load_mono(path: str, max_seconds: float = MAX_SECONDS) -> tuple[np.ndarray, float]:
    """A sound file (WAV, FLAC, OGG: whatever soundfile reads) as a mono float64 signal (the channels' mean) and its
    rate (Hz). SettingError with one line when it is not audio, is longer than ``max_seconds`` or is silent."""
    import soundfile

    try:
        info = soundfile.info(path)
    except (RuntimeError, OSError, ValueError) as exc:  # soundfile's LibsndfileError is a RuntimeError
        raise SettingError(f"{path} is not a sound file soundfile can read ({exc})") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise SettingError(f"{path} holds no audio")
    if info.frames / info.samplerate > max_seconds:
        raise SettingError(f"{path} is {info.frames / info.samplerate:.0f} s long; a note of at most "
                           f"{max_seconds:g} s is wanted")
    try:
        data, rate = soundfile.read(path, dtype="float64", always_2d=True)
    except (RuntimeError, OSError, ValueError) as exc:
        raise SettingError(f"{path} could not be read: {exc}") from None
    x = data.mean(axis=1)
    if not np.all(np.isfinite(x)):
        raise SettingError(f"{path} holds samples that are not numbers")
    if np.max(np.abs(x), initial=0.0) < SILENCE:
        raise SettingError(f"{path} is silent (peak below {20 * math.log10(SILENCE):.0f} dBFS)")
    return x, float(rate)


def _level(x: np.ndarray, rate: float, window_s: float = 0.001) -> np.ndarray:
    """Short-time RMS level of ``x`` over ``window_s`` (a centred moving average of x**2), (len(x),)."""
    w = max(1, int(round(window_s * rate)))
    return np.sqrt(np.convolve(x * x, np.ones(w) / w, mode="same"))


def find_onset(x: np.ndarray, rate: float) -> int:
    """Index of the note's start: the first sample whose 1 ms level reaches :data:`ONSET_FRACTION` of the peak
    level, moved back to the last zero crossing before it (so the attack is kept whole)."""
    level = _level(x, rate)
    peak = float(level.max(initial=0.0))
    if peak <= 0.0:
        raise SettingError("the recording is silent")
    first = int(np.argmax(level >= ONSET_FRACTION * peak))
    quiet = np.flatnonzero(np.abs(x[:first]) <= 0.01 * np.max(np.abs(x)))
    return int(quiet[-1]) + 1 if quiet.size else 0


def estimate_pitch(x: np.ndarray, rate: float, low: float = 25.0, high: float = 4500.0) -> float:
    """The note's pitch (Hz): among candidates f0 (each of the strongest spectral peaks, divided by 1..4), the one
    whose harmonics 1..8 (within 3 %, weighted 1/k) hold the most energy; a near tie goes to the higher f0, so an
    octave below the true pitch is not chosen for its even harmonics. SettingError when no partial stands out."""
    n = len(x)
    if n < 64:
        raise SettingError("the recording is too short to find its pitch")
    size = 1 << max(14, int(math.ceil(math.log2(n))))
    spectrum = np.abs(np.fft.rfft(x * np.hanning(n), size))
    hz = np.fft.rfftfreq(size, 1.0 / rate)
    band = (hz >= low) & (hz <= min(high * 8, rate / 2))
    mag = np.where(band, spectrum, 0.0)
    if mag.max() <= 0.0 or mag.max() < 20 * np.median(mag[band]):
        raise SettingError("the recording has no clear pitch (no partial stands out of the noise)")
    from scipy.signal import find_peaks

    peaks, _ = find_peaks(mag, height=0.05 * mag.max())
    strongest = peaks[np.argsort(mag[peaks])[::-1][:8]]
    power = mag ** 2

    def score(f0: float) -> float:
        total = 0.0
        for k in range(1, 9):
            sel = (hz > k * f0 * 0.97) & (hz < k * f0 * 1.03)
            if sel.any():
                total += power[sel].max() / k
        return total

    candidates = sorted({hz[p] / d for p in strongest for d in (1, 2, 3, 4) if low <= hz[p] / d <= high})
    if not candidates:
        raise SettingError("the recording has no clear pitch in the piano's range")
    scores = np.array([score(f) for f in candidates])
    good = [f for f, s in zip(candidates, scores) if s >= 0.9 * scores.max()]
    return _nearest_partial(max(good), hz, power)


def _nearest_partial(f0: float, hz: np.ndarray, power: np.ndarray) -> float:
    """The partial the harmonic template's first harmonic matched: the strongest bin within 3 % of ``f0`` (Hz),
    refined by a parabola through its neighbours; ``f0`` itself when nothing there stands out (a missing
    fundamental). A candidate f0 comes from a higher partial divided, and an inharmonic overtone (a marimba's
    fourth is not 4 f0) would put it off the note by up to the template's 3 %."""
    sel = np.flatnonzero((hz > f0 * 0.97) & (hz < f0 * 1.03))
    if sel.size == 0 or power[sel].max() < 1e-3 * power.max():
        return float(f0)
    k = int(sel[np.argmax(power[sel])])
    if 0 < k < len(power) - 1:
        a, b, c = np.log(power[k - 1:k + 2] + 1e-300)
        shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c < 0 else 0.0
        return float(hz[k] + np.clip(shift, -0.5, 0.5) * (hz[1] - hz[0]))
    return float(hz[k])


POLE_SAMPLES = 3000
"""The poles are found in at most this many samples from the start (the SVD's cost grows with its square)."""


def fit_modes(x: np.ndarray, rate: float, order: int, pencil: float = 1 / 3,
              pole_samples: int = POLE_SAMPLES) -> Modes:
    """The matrix-pencil fit of ``x`` (N,) at ``rate`` Hz with ``order`` real states: ``order // 2`` damped partials
    (conjugate pairs) found in the first ``pole_samples`` samples, their amplitudes by least squares over all of
    ``x``. A pole on or outside the unit circle is pulled just inside it; real poles (no pitch) are left out.
    ``pencil``: the pencil parameter as a fraction of those samples (1/3 .. 1/2 is the usual range). Cost: an SVD
    of an (n - L) x (L + 1) matrix, n = min(N, pole_samples)."""
    full = np.asarray(x, dtype=np.float64)
    x = full[:max(int(pole_samples), 1)]
    n = len(x)
    pairs = int(order) // 2
    if pairs < 1:
        raise SettingError(f"a ringing sound needs at least 2 hidden states, got {order}")
    span = max(2 * pairs + 1, int(n * pencil))
    if n - span < 2 * pairs + 1:
        raise SettingError(f"{n} samples are too few for {2 * pairs} poles")
    from scipy.linalg import hankel

    y = hankel(x[:n - span], x[n - span - 1:])  # (n - span) x (span + 1)
    v = top_right_singular_vectors(y, 2 * pairs).T  # (span + 1) x 2 pairs: the signal subspace
    poles = np.linalg.eigvals(np.linalg.pinv(v[:-1]) @ v[1:])
    poles = poles[np.imag(poles) > 1e-9]
    radius = np.minimum(np.abs(poles), 1 - 1e-7)
    poles = radius * np.exp(1j * np.angle(poles))
    if poles.size == 0:
        return Modes(np.zeros(0, complex), np.zeros(0, complex), float(rate))
    amplitudes, _ = fit_amplitudes(full, poles)
    order_by = np.argsort(np.angle(poles))
    return Modes(poles[order_by], amplitudes[order_by], float(rate))


def top_right_singular_vectors(a: np.ndarray, k: int, oversample: int = 20, passes: int = 4) -> np.ndarray:
    """The ``k`` leading right singular vectors of ``a`` (m, n) as rows (k, n), by a randomized range finder with
    ``passes`` power iterations (Halko, Martinsson and Tropp, 2011; seeded, so the same ``a`` gives the same
    result): for a signal of well separated singular values it agrees with the full SVD to rounding, at a small
    part of its cost (the full SVD of a 2000 x 1000 Hankel matrix takes 0.6 s; this, 30 ms)."""
    m, n = a.shape
    if k + oversample >= min(m, n):
        return np.linalg.svd(a, full_matrices=False)[2][:k]
    q = np.linalg.qr(a @ np.random.default_rng(0).standard_normal((n, k + oversample)))[0]
    for _ in range(passes):
        q = np.linalg.qr(a.T @ q)[0]
        q = np.linalg.qr(a @ q)[0]
    return np.linalg.svd(q.T @ a, full_matrices=False)[2][:k]


def fit_amplitudes(x: np.ndarray, poles: np.ndarray) -> tuple[np.ndarray, float]:
    """The complex amplitudes (M,) of ``poles`` (M,) that fit ``x`` (N,) best by least squares, and the energy of
    what is left (the summed squared residual)."""
    k = np.arange(len(x))[:, None]
    basis = np.concatenate([np.real(poles[None, :] ** k), -np.imag(poles[None, :] ** k)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
    left = x - basis @ coef
    return coef[:poles.size] + 1j * coef[poles.size:], float(left @ left)


def modes_to_weights(modes: Modes, amplitude: float, hidden: int | None = None, drive: float = 1e-3) -> RNNWeights:
    """An RNN whose impulse response to an impulse of height ``amplitude`` is ``modes.response`` (while tanh stays
    linear): ``W_hh`` block diagonal, block k = ``r_k`` times the rotation by ``theta_k``; ``w_ih`` = ``drive /
    amplitude`` on each block's first state (the states stay within about ``drive``), ``w_out`` the block's
    amplitude divided by that. ``hidden`` (default 2 per partial) pads with silent states."""
    m = len(modes)
    hidden = 2 * m if hidden is None else int(hidden)
    if hidden < 2 * m:
        raise SettingError(f"{m} partials need {2 * m} hidden states, not {hidden}")
    if not (math.isfinite(amplitude) and amplitude > 0 and math.isfinite(drive) and drive > 0):
        raise SettingError(f"impulse height {amplitude} and drive {drive} must be positive numbers")
    w_hh, w_ih, w_out = np.zeros((hidden, hidden)), np.zeros(hidden), np.zeros(hidden)
    gain = drive / amplitude
    for k, (z, c) in enumerate(zip(modes.poles, modes.amplitudes)):
        r, theta = abs(z), float(np.angle(z))
        i = 2 * k
        w_hh[i:i + 2, i:i + 2] = r * np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
        w_ih[i] = gain
        w_out[i], w_out[i + 1] = c.real / drive, -c.imag / drive
    return RNNWeights(w_hh, w_ih, w_out)

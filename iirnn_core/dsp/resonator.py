"""The reference IIR resonator of the seed: ``y[n] = x[n] + k1*y[n-1] + k2*y[n-2]``.

``k1 = 2 Q cos(w)``, ``k2 = -Q**2`` with ``w = 2 pi f / rate`` (radians per sample).
``Q`` (0 < Q < 1) is the pole radius: the envelope falls by ``Q`` per sample, so the
60 dB decay time is ``3 / -log10(Q)`` samples. Frequencies in Hz, rates in samples/s.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np


class SettingError(ValueError):
    """An impossible synthesis setting (Q >= 1, a frequency above Nyquist, ...)."""


@dataclass(frozen=True)
class Resonator:
    """Coefficients of one resonator: ``k1``, ``k2`` and the (f, Q, rate) they came from."""

    k1: float
    k2: float
    freq: float
    q: float
    rate: float

    @property
    def omega(self) -> float:
        """Normalised frequency in radians per sample."""
        return 2.0 * math.pi * self.freq / self.rate

    @property
    def loudness_gain(self) -> float:
        """Gain that brings the impulse response's peak to about the impulse height.

        The peak is about ``amp / sin(w)`` (low keys ring far louder), so the gain is ``sin(w)``.
        It is applied to a voice's output, outside the recursion.
        """
        return math.sin(self.omega)


def check_q(q: float) -> float:
    """Return ``q`` if it is a usable pole radius (0 < q < 1), else raise SettingError."""
    if not (isinstance(q, (int, float)) and math.isfinite(q)) or not 0.0 < q < 1.0:
        raise SettingError(f"Q must be between 0 and 1 (exclusive), got {q}")
    return float(q)


def _positive(value) -> bool:
    """True for a finite real number above zero (not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value > 0


RELEASE_MIN = 0.05
"""The shortest release T60 in seconds (a damper that stops a key in 50 ms; shorter would click)."""

RING_ON = math.inf
"""The release T60 that means no damper: a released key rings on with its own Q."""


def check_release(t60: float) -> float:
    """Return the release T60 ``t60`` (seconds a released key takes to fall 60 dB) as float if it is at least
    RELEASE_MIN, or RING_ON (inf); else raise SettingError."""
    if not (isinstance(t60, numbers.Real) and not isinstance(t60, bool)) or math.isnan(t60) or t60 < RELEASE_MIN:
        raise SettingError(f"release must be a T60 of at least {RELEASE_MIN:g} s, or off (ring on), got {t60}")
    return float(t60)


def check_rate(rate: float) -> float:
    """Return ``rate`` (samples/s) as float if it is a finite positive number, else raise SettingError."""
    if not _positive(rate):
        raise SettingError(f"sample rate must be positive, got {rate}")
    return float(rate)


def check_amplitude(amplitude: float) -> float:
    """Return the impulse height ``amplitude`` as float if it is a finite positive number, else raise SettingError."""
    if not _positive(amplitude):
        raise SettingError(f"amplitude must be positive, got {amplitude}")
    return float(amplitude)


def check_freq(freq: float, rate: float) -> None:
    """Raise SettingError unless 0 < freq < rate/2 (Hz) and rate > 0."""
    check_rate(rate)
    if not math.isfinite(freq) or not 0.0 < freq < rate / 2.0:
        raise SettingError(f"{freq:.1f} Hz is not below the Nyquist frequency {rate / 2:.0f} Hz")


def q_from_t60(t60_seconds: float, rate: float) -> float:
    """Pole radius Q whose 60 dB decay takes ``t60_seconds`` at ``rate``: ``10**(-3 / (t60*rate))``."""
    if not math.isfinite(t60_seconds) or t60_seconds <= 0:
        raise SettingError(f"decay time must be positive, got {t60_seconds} s")
    return 10.0 ** (-3.0 / (t60_seconds * rate))


def t60_from_q(q: float, rate: float) -> float:
    """60 dB decay time in seconds of pole radius ``q`` at ``rate``: ``3 / -log10(q) / rate``."""
    return 3.0 / -math.log10(check_q(q)) / rate


def resonator(freq: float, q: float, rate: float) -> Resonator:
    """Coefficients from a frequency (Hz), pole radius Q and rate (samples/s)."""
    check_freq(freq, rate)
    q = check_q(q)
    w = 2.0 * math.pi * freq / rate
    return Resonator(k1=2.0 * q * math.cos(w), k2=-q * q, freq=float(freq), q=q, rate=float(rate))


def resonator_t60(freq: float, t60_seconds: float, rate: float) -> Resonator:
    """Coefficients from a frequency (Hz) and a 60 dB decay time (s) at ``rate``."""
    return resonator(freq, q_from_t60(t60_seconds, rate), rate)


def impulse(length: int, amplitude: float = 0.1) -> np.ndarray:
    """The seed's input: ``length`` samples (float64), ``amplitude`` at sample 0, zeros after."""
    x = np.zeros(int(length))
    x[0] = amplitude
    return x


def reference_filter(res: Resonator, x: np.ndarray) -> np.ndarray:
    """The seed's filter over a whole signal with ``scipy.signal.lfilter``; shape as ``x``, float64."""
    import scipy.signal  # here, not at import: the window's process never needs scipy (memory)

    return scipy.signal.lfilter([1.0], [1.0, -res.k1, -res.k2], np.asarray(x, dtype=np.float64))


def impulse_response(res: Resonator, seconds: float = 0.6, amplitude: float = 0.1) -> np.ndarray:
    """The target waveform of the seed: the response to an impulse of ``amplitude``, ``seconds`` long."""
    return reference_filter(res, impulse(int(round(seconds * res.rate)), amplitude))

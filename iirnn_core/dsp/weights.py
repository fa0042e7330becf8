"""One key's network as numpy weights, with no torch: what the renderer, the model files and the window use.

Per time step: ``h[n] = tanh(W_hh @ h[n-1] + w_ih * x[n])``, ``y[n] = w_out @ h[n]``.
Analytic weights make the hidden state a delay line: ``W_hh`` is a shift matrix whose first
row is ``[k1, k2, 0, ...]``, ``w_ih = [1, 0, ...]``, ``w_out = [1, 0, ...]``; :func:`rotation_weights`
rings at the same poles with a rotation instead (any H from 2; a start for training and the benchmark's nets).
**Drive** ``d`` scales ``w_ih`` by ``d`` and ``w_out`` by ``1/d``: small ``d`` keeps tanh in its
linear range (the twin matches the IIR), large ``d`` adds tanh colour; ``d = 1`` is the seed.
The torch network itself (the seed's ``RNNnet``) is in :mod:`iirnn_core.training.network`, imported only
where training or the seed's comparison needs it: the window's process never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iirnn_core.dsp.resonator import Resonator, SettingError


@dataclass(frozen=True)
class RNNWeights:
    """One key's network: ``w_hh`` (H, H), ``w_ih`` (H,), ``w_out`` (H,), all float64."""

    w_hh: np.ndarray
    w_ih: np.ndarray
    w_out: np.ndarray

    @property
    def hidden(self) -> int:
        """Hidden size H."""
        return int(self.w_hh.shape[0])

    def with_drive(self, drive: float) -> "RNNWeights":
        """The same network with input weights times ``drive`` and output weights divided by it."""
        drive = check_drive(drive)
        return RNNWeights(self.w_hh, self.w_ih * drive, self.w_out / drive)

    def padded(self, hidden: int) -> "RNNWeights":
        """The same network with zero rows/columns up to ``hidden`` states (output unchanged)."""
        h = self.hidden
        if hidden < h:
            raise ValueError(f"cannot pad {h} hidden states down to {hidden}")
        w_hh = np.zeros((hidden, hidden))
        w_hh[:h, :h] = self.w_hh
        w_ih = np.zeros(hidden)
        w_ih[:h] = self.w_ih
        w_out = np.zeros(hidden)
        w_out[:h] = self.w_out
        return RNNWeights(w_hh, w_ih, w_out)


def check_drive(drive: float) -> float:
    """Return ``drive`` if it is a finite positive number, else raise SettingError."""
    if not np.isfinite(drive) or drive <= 0:
        raise SettingError(f"drive must be a positive number, got {drive}")
    return float(drive)


def analytic_weights(res: Resonator, hidden: int = 3, drive: float = 1.0) -> RNNWeights:
    """The seed's computed weights for coefficients ``res.k1``, ``res.k2``, then ``drive`` applied."""
    if hidden < 3:
        raise SettingError(f"hidden size must be at least 3, got {hidden}")
    w_hh = np.diag(np.ones(hidden - 1), k=-1)
    w_hh[0, :2] = (res.k1, res.k2)
    w_ih = np.zeros(hidden)
    w_ih[0] = 1.0
    w_out = np.zeros(hidden)
    w_out[0] = 1.0
    return RNNWeights(w_hh, w_ih, w_out).with_drive(drive)


def rotation_weights(radius: float, angle: float, hidden: int = 2, level: float = 0.01,
                     amplitude: float = 0.1) -> RNNWeights:
    """A net of ``hidden`` (>= 2) states whose first two ring at the pole ``radius e^{+-j angle}`` (angle in
    radians per sample, 0 < angle < pi), the others silent (zero): the analytic twin's trick in rotation form.

    ``W_hh``'s first block is ``radius [[cos, -sin], [sin, cos]]``, ``w_ih = (level / amplitude, 0)``, ``w_out =
    (amplitude / level) (1, cot angle)``. Linearised (tanh(u) ~ u), an impulse of ``amplitude`` gives
    ``h[n] = level radius^n (cos n angle, sin n angle)`` and ``y[n] = amplitude radius^n sin((n+1) angle) /
    sin angle``: the two-pole resonator's impulse response. The states never exceed ``level`` (a rotation
    does not grow them, where the shift matrix of :func:`analytic_weights` grows them by 1 / sin angle)."""
    if hidden < 2:
        raise SettingError(f"a rotation needs at least 2 hidden states, got {hidden}")
    c, s = np.cos(angle), np.sin(angle)
    w_hh = np.zeros((hidden, hidden))
    w_hh[:2, :2] = radius * np.array([[c, -s], [s, c]])
    w_ih = np.zeros(hidden)
    w_ih[0] = level / amplitude
    w_out = np.zeros(hidden)
    w_out[:2] = (amplitude / level) * np.array([1.0, c / s])
    return RNNWeights(w_hh, w_ih, w_out)


def spectral_radius(w_hh: np.ndarray) -> float:
    """Largest eigenvalue magnitude of a square matrix (below 1 means the linearised net decays)."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(w_hh, dtype=np.float64)))))


def snr_db(target: np.ndarray, estimate: np.ndarray) -> float:
    """``10 log10(sum y**2 / sum (yhat - y)**2)`` in dB; ``inf`` when they are identical."""
    target = np.asarray(target, dtype=np.float64)
    err = float(np.sum((np.asarray(estimate, dtype=np.float64) - target) ** 2))
    sig = float(np.sum(target**2))
    if err == 0.0:
        return float("inf")
    if not np.isfinite(err):
        return float("-inf")
    return 10.0 * np.log10(sig / err)

"""What every optimizer sees: the inputs, each key's IIR target, and the checks on a trained net.

:class:`Problem` holds the impulse inputs and targets (K keys, N samples) of a
:class:`~iirnn_core.training.config.TrainConfig`; :func:`iir_targets` computes targets with a compiled
kernel; :func:`spectral_radii` and :func:`stabilised` keep ``W_hh`` below radius 1 (dense or modal parameters, see
:mod:`iirnn_core.training.kernels`); :func:`target_pole` reads a key's pole off its target. numpy and numba only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from iirnn_core.dsp.notes import note_to_hz
from iirnn_core.dsp.resonator import impulse, resonator
from iirnn_core.training import kernels as tk
from iirnn_core.training.config import TrainConfig


MAX_RADIUS = 1.0 - 1e-7
"""A trained ``W_hh`` must have a spectral radius below 1 (model files require it); a net that
ends at 1 or above is scaled down to this radius (the fidelity measured afterwards says what it
cost). Targets need radii up to Q, so this sits just below 1."""

@dataclass
class Problem:
    """The data every optimizer sees: ``x`` (K, N) inputs, ``targets`` (K, N), their energies (K,)."""

    config: TrainConfig
    x: np.ndarray
    targets: np.ndarray
    energy: np.ndarray = field(init=False)

    def __post_init__(self):
        self.energy = np.sum(self.targets**2, axis=1)

    def snr(self, losses: np.ndarray) -> tuple:
        """Training SNR (dB) per key for summed squared errors ``losses`` (K,)."""
        out = []
        for e, l in zip(self.energy, losses):
            out.append(float("inf") if l == 0 else (10.0 * math.log10(e / l) if math.isfinite(l) else float("-inf")))
        return tuple(out)


def make_problem(config: TrainConfig) -> Problem:
    """Inputs and IIR targets (K, N) of every key of ``config``."""
    n = config.length
    x = np.tile(impulse(n, config.amplitude), (len(config.notes), 1))
    return Problem(config, x, iir_targets(config.notes, config.q, config.rate, config.amplitude, n))


def iir_targets(notes, q: float, rate: float, amplitude: float, length: int) -> np.ndarray:
    """The IIR's impulse responses (K, ``length``) of ``notes`` (names) at pole radius ``q`` and
    ``rate`` (samples/s) for an impulse of ``amplitude``: what ``resonator.impulse_response``
    gives (to rounding), computed by a compiled kernel."""
    coefficients = [resonator(note_to_hz(name), q, rate) for name in notes]
    return tk.impulse_responses(np.array([c.k1 for c in coefficients], dtype=np.float64),
                                np.array([c.k2 for c in coefficients], dtype=np.float64),
                                float(amplitude), int(length))


def stabilised(theta: np.ndarray, hidden: int, modal: bool = False) -> np.ndarray:
    """``theta`` (P,), with ``W_hh`` scaled down to :data:`MAX_RADIUS` if its spectral radius is 1 or more.
    Modal: each block on its own (the blocks are independent nets: a block that drifted above 1 while it
    barely sounds is brought back without moving the others' poles)."""
    if not modal:
        radius = float(spectral_radii(theta[None, :], hidden)[0])
        if radius < 1.0:
            return theta
        out = theta.copy()
        out[tk.parts(hidden)[0]] *= MAX_RADIUS / radius
        return out
    out = theta
    for first, size, o in tk.modal_blocks(hidden):
        block = theta[o:o + size * size].reshape(size, size)
        radius = float(np.max(np.abs(np.linalg.eigvals(block)))) if np.all(np.isfinite(block)) else np.inf
        if not radius < 1.0:
            out = out.copy() if out is theta else out
            out[o:o + size * size] *= MAX_RADIUS / radius if np.isfinite(radius) else 0.0
    return out


def spectral_radii(thetas: np.ndarray, hidden: int, modal: bool = False) -> np.ndarray:
    """Spectral radius of ``W_hh`` of every row of ``thetas`` (S, P); NaN rows give inf. Modal: the largest of its
    blocks' (the eigenvalues of a block-diagonal matrix are its blocks')."""
    out = np.full(len(thetas), np.inf)
    if not modal:
        w = thetas[:, :hidden * hidden].reshape(-1, hidden, hidden)
        ok = np.all(np.isfinite(w), axis=(1, 2))
        if np.any(ok):
            out[ok] = np.max(np.abs(np.linalg.eigvals(w[ok])), axis=1)
        return out
    ok = np.all(np.isfinite(thetas[:, tk.parts(hidden, modal)[0]]), axis=1)
    radius = np.zeros(int(np.sum(ok)))
    for _first, size, o in tk.modal_blocks(hidden):
        block = thetas[ok, o:o + size * size].reshape(-1, size, size)
        radius = np.maximum(radius, np.max(np.abs(np.linalg.eigvals(block)), axis=1)) if len(block) else radius
    out[ok] = radius
    return out


def target_pole(target: np.ndarray, count: int = 256) -> complex:
    """The pole (upper half-plane) of a two-pole resonance read off ``target`` (N,): the least-squares fit of
    ``y[n] = k1 y[n-1] + k2 y[n-2]`` over its first ``count`` samples (exact for an IIR target, whose every
    sample obeys it), then the root of ``z^2 - k1 z - k2`` with the larger imaginary part. Only the waveform
    is used, never the note or the resonator's coefficients."""
    y = np.asarray(target[:count], dtype=np.float64)
    if len(y) < 3 or not np.all(np.isfinite(y)) or not np.any(y):
        return complex(0.5, 0.5)
    past = np.stack([y[1:-1], y[:-2]], axis=1)
    (k1, k2), *_ = np.linalg.lstsq(past, y[2:], rcond=None)
    roots = np.roots([1.0, -k1, -k2])
    return complex(roots[np.argmax(roots.imag)])

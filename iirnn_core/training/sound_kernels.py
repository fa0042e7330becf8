"""Compiled forward pass and Jacobian of a learned sound's network (numba), for :mod:`iirnn_core.training.learn`.

The net is M independent two-state tanh blocks summed (:mod:`iirnn_core.models.sound`): block k has
``W_k = r_k R(theta_k)`` (R a rotation), input weights ``u_k`` (2,) and output weights ``v_k`` (2,); ``h_k[n] =
tanh(W_k h_k[n-1] + u_k x[n])``, ``y[n] = sum_k v_k . h_k[n]``. Its parameters, 6 per block, in this order:
``rho_k = log(-log r_k)`` (so any value is a stable radius), ``theta_k``, ``u_k0``, ``u_k1``, ``v_k0``, ``v_k1``:
a vector (6M,). :func:`forward` returns ``y`` (N,) and, when asked, the Jacobian ``dy/dparams`` (N, 6M) by
forward-mode sensitivities (each block's states depend on its own six parameters only). Float64; one thread
(the blocks are cheap beside the STFTs of the Jacobian, and a parallel kernel would compile for seconds in a
fresh trainer process).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

PER_BLOCK = 6
"""Parameters per block: rho, theta, u0, u1, v0, v1."""


@njit(nogil=True, cache=True, error_model="numpy")
def _run(params, x, y_blocks, jac, want_jac):
    m = params.shape[0] // PER_BLOCK
    n = x.shape[0]
    for k in range(m):
        o = PER_BLOCK * k
        rho, theta = params[o], params[o + 1]
        u0, u1, v0, v1 = params[o + 2], params[o + 3], params[o + 4], params[o + 5]
        log_r = -math.exp(rho)
        r = math.exp(log_r)
        c, s = r * math.cos(theta), r * math.sin(theta)
        h0 = 0.0
        h1 = 0.0
        # sensitivities of (h0, h1) to rho, theta, u0, u1
        a0 = a1 = b0 = b1 = p0 = p1 = q0 = q1 = 0.0
        for t in range(n):
            xt = x[t]
            z0 = c * h0 - s * h1 + u0 * xt
            z1 = s * h0 + c * h1 + u1 * xt
            g0 = math.tanh(z0)
            g1 = math.tanh(z1)
            y_blocks[k, t] = v0 * g0 + v1 * g1
            if want_jac:
                d0 = 1.0 - g0 * g0
                d1 = 1.0 - g1 * g1
                # d/d rho: dW = log_r * W
                na0 = d0 * (c * a0 - s * a1 + log_r * (c * h0 - s * h1))
                na1 = d1 * (s * a0 + c * a1 + log_r * (s * h0 + c * h1))
                # d/d theta: dW = [[-s, -c], [c, -s]]
                nb0 = d0 * (c * b0 - s * b1 - s * h0 - c * h1)
                nb1 = d1 * (s * b0 + c * b1 + c * h0 - s * h1)
                np0 = d0 * (c * p0 - s * p1 + xt)
                np1 = d1 * (s * p0 + c * p1)
                nq0 = d0 * (c * q0 - s * q1)
                nq1 = d1 * (s * q0 + c * q1 + xt)
                a0, a1, b0, b1, p0, p1, q0, q1 = na0, na1, nb0, nb1, np0, np1, nq0, nq1
                jac[t, o] = v0 * a0 + v1 * a1
                jac[t, o + 1] = v0 * b0 + v1 * b1
                jac[t, o + 2] = v0 * p0 + v1 * p1
                jac[t, o + 3] = v0 * q0 + v1 * q1
                jac[t, o + 4] = g0
                jac[t, o + 5] = g1
            h0 = g0
            h1 = g1


def forward(params: np.ndarray, x: np.ndarray, want_jac: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The net's output ``y`` (N,) for input ``x`` (N,) and parameters (6M,), and its Jacobian (N, 6M) when
    ``want_jac`` (else None)."""
    params = np.ascontiguousarray(params, dtype=np.float64)
    x = np.ascontiguousarray(x, dtype=np.float64)
    m = params.shape[0] // PER_BLOCK
    y_blocks = np.empty((m, x.shape[0]))
    jac = np.empty((x.shape[0], params.shape[0]) if want_jac else (1, params.shape[0]))
    _run(params, x, y_blocks, jac, want_jac)
    return y_blocks.sum(axis=0), (jac if want_jac else None)


def to_params(radii: np.ndarray, angles: np.ndarray, w_ih: np.ndarray, w_out: np.ndarray) -> np.ndarray:
    """The parameter vector (6M,) of blocks given as ``radii``, ``angles`` (M,), ``w_ih``, ``w_out`` (M, 2)."""
    m = len(radii)
    p = np.empty((m, PER_BLOCK))
    p[:, 0] = np.log(-np.log(np.clip(radii, 1e-300, 1 - 1e-15)))
    p[:, 1] = angles
    p[:, 2:4] = w_ih
    p[:, 4:6] = w_out
    return p.ravel()


def from_params(params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``radii``, ``angles`` (M,), ``w_ih``, ``w_out`` (M, 2) of a parameter vector (6M,)."""
    p = np.asarray(params, dtype=np.float64).reshape(-1, PER_BLOCK)
    return np.exp(-np.exp(p[:, 0])), p[:, 1].copy(), p[:, 2:4].copy(), p[:, 4:6].copy()

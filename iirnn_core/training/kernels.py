"""Fused numba kernels for training the seed's network on one impulse response.

The network is ``h[n] = tanh(W h[n-1] + u x[n])``, ``y[n] = v . h[n]`` with ``h[-1] = 0``
(``W`` = ``w_hh`` (H, H), ``u`` = ``w_ih`` (H,), ``v`` = ``w_out`` (H,)): the same math as
``model.RNNNet`` (``nn.RNN(1, H, bias=False)`` + ``Linear(H, 1, bias=False)``), in float64.

Parameters travel as one flat vector ``theta`` (P,) with ``P = H*H + 2H``: ``W`` row-major,
then ``u``, then ``v`` (see :func:`pack` / :func:`unpack`).

:func:`normal_equations` runs the recurrence once with forward-mode sensitivities
``S[n] = dh[n]/dtheta`` (H, H*H+H) and accumulates the Gauss-Newton matrix ``J^T J`` (P, P) and
gradient ``J^T r`` (P,) of the summed squared error on the fly (nothing of length N is stored).
:func:`lm_steps` runs Levenberg-Marquardt iterations for many (key, start) pairs in parallel.
Verified against ``nn.RNN`` and autograd in ``tests/test_training.py``.

Rounding is the same on every CPU: no kernel here is compiled with fast-math flags (no
reassociation, no contraction), multiply-adds are fused only where :func:`fma` says so, and sums
that vectorise are written lane by lane (:func:`_dot`). So the compiler may use vectors of any
width, but every result is rounded in the order the code gives, and ``iirnn train`` gives the
same weights bit for bit whatever the vector unit (tested with the kernels compiled for the
host and for a generic x86-64). What is left to the platform is the C library's ``tanh``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import literally, njit, prange, typeof, types
from numba.extending import intrinsic

_JIT = dict(nogil=True, cache=True, error_model="numpy")

_BLOCK = 32
"""Samples whose Jacobian rows are gathered before they are added to J^T J (so the sums vectorise)."""
LAMBDA_MIN = 1e-12
LAMBDA_MAX = 1e12


def n_params(hidden: int) -> int:
    """Number of parameters of a net with ``hidden`` states: ``H*H + 2H``."""
    return hidden * hidden + 2 * hidden


def pack(w_hh: np.ndarray, w_ih: np.ndarray, w_out: np.ndarray) -> np.ndarray:
    """Flat parameter vector (P,) from ``w_hh`` (H, H), ``w_ih`` (H,), ``w_out`` (H,)."""
    return np.concatenate([np.ravel(w_hh), np.ravel(w_ih), np.ravel(w_out)]).astype(np.float64)


def unpack(theta: np.ndarray, hidden: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(w_hh (H, H), w_ih (H,), w_out (H,))`` copies from a flat vector (P,)."""
    hh = hidden * hidden
    theta = np.asarray(theta, dtype=np.float64)
    return (theta[:hh].reshape(hidden, hidden).copy(), theta[hh:hh + hidden].copy(),
            theta[hh + hidden:hh + 2 * hidden].copy())


@njit(**_JIT)
def impulse_responses(k1, k2, amplitude, length):
    """The seed's IIR targets, ``y[n] = x[n] + k1 y[n-1] + k2 y[n-2]`` for an impulse of
    ``amplitude``: (K, ``length``) float64 for coefficient arrays ``k1``, ``k2`` (K,).

    The sums are rounded in ``scipy.signal.lfilter``'s order (its transposed direct form 2 adds
    ``k2 y[n-2]`` and ``k1 y[n-1]`` first, then the input), so the result equals
    :func:`iirnn_core.dsp.resonator.impulse_response` to rounding (bit for bit where scipy's C fuses no
    multiply-add, as on x86-64) without importing scipy.signal, slow to import."""
    out = np.zeros((k1.shape[0], length))
    for k in range(k1.shape[0]):
        y1 = 0.0
        y2 = 0.0
        for n in range(length):
            y = k2[k] * y2 + k1[k] * y1
            if n == 0:
                y += amplitude
            out[k, n] = y
            y2 = y1
            y1 = y
    return out


@njit(inline="always", **_JIT)
def _advance(theta, hidden, h, a, xn):
    """One time step in place on h (H,) for input sample ``xn`` (``a`` (H,) is scratch); returns y."""
    hh = hidden * hidden
    for i in range(hidden):
        s = theta[hh + i] * xn
        for j in range(hidden):
            s += theta[i * hidden + j] * h[j]
        a[i] = s
    out = 0.0
    for i in range(hidden):
        h[i] = math.tanh(a[i])
        out += theta[hh + hidden + i] * h[i]
    return out


@njit(**_JIT)
def forward(theta, hidden, x, y):
    """Output y (N,) of the net ``theta`` (P,) for input x (N,) (``len(y)`` samples are computed)."""
    h = np.zeros(hidden)
    a = np.zeros(hidden)
    for n in range(y.shape[0]):
        y[n] = _advance(theta, hidden, h, a, x[n])


@njit(**_JIT)
def sse(theta, hidden, x, target, length):
    """Summed squared error of the net ``theta`` against ``target`` over the first ``length`` samples."""
    h = np.zeros(hidden)
    a = np.zeros(hidden)
    total = 0.0
    for n in range(length):
        r = _advance(theta, hidden, h, a, x[n]) - target[n]
        total += r * r
    return total


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (IEEE 754 fusedMultiplyAdd), float64: the same bits on every CPU.

    Where the CPU has an FMA instruction it is one instruction; where it has none (a generic
    x86-64 target), LLVM calls the C library's ``fma``, which rounds the same way, only slower.
    Unlike the ``contract`` fast-math flag, which lets the compiler fuse where the target allows
    (so the rounding follows the CPU), this fuses exactly where it is written.
    """
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return sig, codegen


@njit(inline="always", **_JIT)
def _dot(a, b, count):
    """``sum(a[:count] * b[:count])`` (float64) summed in one fixed order on every CPU.

    Eight partial sums over ``k mod 8`` (fused multiply-adds), then the leftover terms into the
    first one, then ``((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))``. Every operation is
    written out, so the compiler may put the eight lanes in vector registers of any width (SSE2,
    AVX2, AVX-512, NEON) but may not reorder them: with no fast-math flags, the result is the
    same bit for bit whatever the vector width. (Reassociation would let the sum's rounding
    follow the host's vector width, and the trained weights with it.)
    """
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    whole = count - count % 8
    for k in range(0, whole, 8):
        s0 = fma(a[k], b[k], s0)
        s1 = fma(a[k + 1], b[k + 1], s1)
        s2 = fma(a[k + 2], b[k + 2], s2)
        s3 = fma(a[k + 3], b[k + 3], s3)
        s4 = fma(a[k + 4], b[k + 4], s4)
        s5 = fma(a[k + 5], b[k + 5], s5)
        s6 = fma(a[k + 6], b[k + 6], s6)
        s7 = fma(a[k + 7], b[k + 7], s7)
    for k in range(whole, count):
        s0 = fma(a[k], b[k], s0)
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@njit(**_JIT)
def normal_equations(theta, hidden, x, target, length, jtj, jtr):
    """Fill ``jtj`` (P, P) with J^T J and ``jtr`` (P,) with J^T r over ``length`` samples; return sum r^2.

    ``J[n, p] = d y[n] / d theta[p]`` and ``r[n] = y[n] - target[n]``: the loss gradient is
    ``2 J^T r``. Sensitivities run forward alongside the recurrence (forward-mode).
    """
    hh = hidden * hidden
    nrec = hh + hidden  # parameters that act on h (W and u); v only acts on y
    p_all = hh + 2 * hidden
    h = np.zeros(hidden)
    h_prev = np.zeros(hidden)
    sens = np.zeros((hidden, nrec))
    sens_new = np.zeros((hidden, nrec))
    rows = np.zeros((p_all, _BLOCK))  # J's rows of the current block of samples, one column per sample
    res = np.zeros(_BLOCK)
    jtj[:, :] = 0.0
    jtr[:] = 0.0
    total = 0.0
    b = 0
    for n in range(length):
        xn = x[n]
        for i in range(hidden):
            s = theta[hh + i] * xn
            for j in range(hidden):
                s += theta[i * hidden + j] * h_prev[j]
            h[i] = math.tanh(s)
        # S_new[i, :] = g_i * (sum_j W[i, j] S[j, :] + dh-term), the inner loops over parameters run contiguously
        for i in range(hidden):
            for p in range(nrec):
                sens_new[i, p] = 0.0
            for j in range(hidden):
                w = theta[i * hidden + j]
                for p in range(nrec):
                    sens_new[i, p] += w * sens[j, p]
            for j in range(hidden):
                sens_new[i, i * hidden + j] += h_prev[j]
            sens_new[i, hh + i] += xn
            g = 1.0 - h[i] * h[i]
            for p in range(nrec):
                sens_new[i, p] *= g
        out = 0.0
        for i in range(hidden):
            out += theta[hh + hidden + i] * h[i]
        for p in range(nrec):
            rows[p, b] = 0.0
        for i in range(hidden):
            v = theta[hh + hidden + i]
            for p in range(nrec):
                rows[p, b] += v * sens_new[i, p]
        for i in range(hidden):
            rows[nrec + i, b] = h[i]
        r = out - target[n]
        res[b] = r
        total += r * r
        b += 1
        if b == _BLOCK or n == length - 1:  # J^T J += R R^T and J^T r += R res over the block
            for p in range(p_all):
                jtr[p] += _dot(rows[p], res, b)
                for q in range(p, p_all):
                    jtj[p, q] += _dot(rows[p], rows[q], b)
            b = 0
        for i in range(hidden):
            h_prev[i] = h[i]
        sens, sens_new = sens_new, sens
    for p in range(p_all):
        for q in range(p):
            jtj[p, q] = jtj[q, p]
    return total


@njit(**_JIT)
def _damped_solve(jtj, jtr, lam, step, work):
    """Solve ``(J^T J + lam * diag(J^T J)) step = -J^T r`` by Cholesky; False if not positive definite."""
    p_all = jtr.shape[0]
    floor = 0.0
    for p in range(p_all):
        floor += jtj[p, p]
    floor = floor * 1e-9 / p_all + 1e-300  # so a parameter the output ignores still gets damped
    for p in range(p_all):
        for q in range(p_all):
            work[p, q] = jtj[p, q]
        work[p, p] += lam * max(jtj[p, p], floor)
    for j in range(p_all):
        d = work[j, j]
        for k in range(j):
            d -= work[j, k] * work[j, k]
        if not d > 0.0:
            return False
        d = math.sqrt(d)
        work[j, j] = d
        for i in range(j + 1, p_all):
            s = work[i, j]
            for k in range(j):
                s -= work[i, k] * work[j, k]
            work[i, j] = s / d
    for i in range(p_all):  # forward: L z = -g
        s = -jtr[i]
        for k in range(i):
            s -= work[i, k] * step[k]
        step[i] = s / work[i, i]
    for i in range(p_all - 1, -1, -1):  # backward: L^T step = z
        s = step[i]
        for k in range(i + 1, p_all):
            s -= work[k, i] * step[k]
        step[i] = s / work[i, i]
    return True


@njit(**_JIT)
def lm_fit(theta, hidden, x, target, length, iterations, lam, jtj, jtr, loss, fresh, tol):
    """Levenberg-Marquardt on one net ``theta`` (P,) in place; returns (loss, lambda, converged) at the end.

    Stops after ``iterations``, or converged: when no damping finds a better point, or when an
    iteration lowers the loss by less than the fraction ``tol`` (0: never).

    ``jtj`` (P, P), ``jtr`` (P,) and ``loss`` are the normal equations at ``theta`` when ``fresh``;
    otherwise they are computed first. On return they always hold the values at the final ``theta``.
    """
    p_all = theta.shape[0]
    work = np.zeros((p_all, p_all))
    step = np.zeros(p_all)
    trial = np.zeros(p_all)
    if not fresh:
        loss = normal_equations(theta, hidden, x, target, length, jtj, jtr)
    converged = False
    for _ in range(iterations):
        improved = False
        for _try in range(12):
            if _damped_solve(jtj, jtr, lam, step, work):
                for p in range(p_all):
                    trial[p] = theta[p] + step[p]
                new = sse(trial, hidden, x, target, length)
                if new < loss:
                    theta[:] = trial
                    lam = max(lam / 3.0, LAMBDA_MIN)
                    improved = True
                    break
            lam = min(lam * 4.0, LAMBDA_MAX)
        if not improved:
            converged = True
            break
        converged = new > (1.0 - tol) * loss
        loss = normal_equations(theta, hidden, x, target, length, jtj, jtr)
        if converged:
            break
    return loss, lam, converged


def lm_steps(thetas, lambdas, keys, hidden, x, targets, length, iterations, losses, jtjs, jtrs, fresh, tol):
    """Run :func:`lm_fit` for every row of ``thetas`` (S, P) in parallel (two cores here); see :func:`_lm_steps`.

    ``_lm_steps`` is compiled per hidden size (``literally``). Numba's dispatcher would re-run its
    front end on every call to find that specialisation (about 20 ms a call); it is looked up once
    per argument types here and called directly (a few microseconds).
    """
    args = (thetas, lambdas, keys, hidden, x, targets, length, iterations, losses, jtjs, jtrs, fresh, tol)
    sig = tuple(types.literal(a) if i == 3 else typeof(a) for i, a in enumerate(args))
    compiled = _lm_steps.overloads.get(sig)
    if compiled is None:
        _lm_steps(*args)
    else:
        compiled.entry_point(*args)


@njit(parallel=True, **_JIT)
def _lm_steps(thetas, lambdas, keys, hidden, x, targets, length, iterations, losses, jtjs, jtrs, fresh, tol):
    """Run :func:`lm_fit` for every row of ``thetas`` (S, P) in parallel (two cores here).

    Row ``s`` fits key ``keys[s]``: input ``x[keys[s]]`` against ``targets[keys[s]]`` (K, N)
    over the first ``length`` samples. Updates ``thetas``, ``lambdas`` (S,) and ``losses`` (S,).
    ``jtjs`` (S, P, P) and ``jtrs`` (S, P) carry each row's normal equations between calls;
    ``fresh[s]`` (uint8) says they (and ``losses[s]``) are valid for this ``length``: 1, or 2 when the
    row has also converged there (see :func:`lm_fit`, ``tol``); converged rows are skipped.
    """
    literally(hidden)  # compile per hidden size: constant loop bounds unroll (about 2x faster)
    for s in prange(thetas.shape[0]):
        if fresh[s] == 2:
            continue
        k = keys[s]
        loss, lam, converged = lm_fit(thetas[s], hidden, x[k], targets[k], length, iterations, lambdas[s],
                           jtjs[s], jtrs[s], losses[s], fresh[s] != 0, tol)
        losses[s] = loss
        lambdas[s] = lam
        fresh[s] = 2 if converged else 1


@njit(**_JIT)
def sse_many(thetas, keys, hidden, x, targets, length, losses):
    """Summed squared error of every row of ``thetas`` (S, P) against ``targets[keys[s]]``.

    Serial on purpose: it is cheap (about 25 ns per sample and row), and a parallel region per
    call would leave OpenMP workers spinning between the many small calls of adam and randdir.
    """
    for s in range(thetas.shape[0]):
        k = keys[s]
        losses[s] = sse(thetas[s], hidden, x[k], targets[k], length)

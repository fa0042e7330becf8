"""Fused numba kernels for training the seed's network on one impulse response.

The network is ``h[n] = tanh(W h[n-1] + u x[n])``, ``y[n] = v . h[n]`` with ``h[-1] = 0``
(``W`` = ``w_hh`` (H, H), ``u`` = ``w_ih`` (H,), ``v`` = ``w_out`` (H,)): the same math as
``model.RNNNet`` (``nn.RNN(1, H, bias=False)`` + ``Linear(H, 1, bias=False)``), in float64.

Parameters travel as one flat vector ``theta`` (P,) in one of two forms (every kernel takes ``modal``):

- **dense** (``modal`` False): ``P = H*H + 2H``, ``W`` row-major, then ``u``, then ``v``
  (see :func:`pack` / :func:`unpack`);
- **modal** (``modal`` True): ``W`` block-diagonal, 2x2 blocks (a last 1x1 block for odd H), so the
  net is H/2 independent two-state tanh nets (modes) summed; block by block its ``W`` (row-major),
  ``u`` and ``v`` entries, 8 per block (3 for a 1x1 block): ``P`` about 4H instead of H*H. The
  Levenberg-Marquardt optimizer trains this form above 16 states, where the dense Jacobian is too
  large (P = 4224 at H = 64: 143 MB of J^T J per net). :func:`unpack` gives the dense matrices,
  bit for bit the same net.

:func:`normal_equations` runs the recurrence once with forward-mode sensitivities
``S[n] = dh[n]/dtheta`` (H, H*H+H; modal: (H, 6), each state depends on its own block only) and
accumulates the Gauss-Newton matrix ``J^T J`` (P, P) and
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


def n_params(hidden: int, modal: bool = False) -> int:
    """Number of parameters of a net with ``hidden`` states: ``H*H + 2H`` dense; modal 8 per 2x2 block, 3 for
    a last 1x1 block."""
    if modal:
        return 8 * (hidden // 2) + 3 * (hidden % 2)
    return hidden * hidden + 2 * hidden


def modal_blocks(hidden: int) -> list[tuple[int, int, int]]:
    """The blocks of the modal form: (first state, size, first parameter) each."""
    return [(i, min(2, hidden - i), 4 * i) for i in range(0, hidden, 2)]


def parts(hidden: int, modal: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where ``W``'s, ``u``'s and ``v``'s entries sit in ``theta``: three index arrays (dense: ``W`` row-major;
    modal: block by block, each block's ``W`` row-major)."""
    if not modal:
        hh = hidden * hidden
        return np.arange(hh), np.arange(hh, hh + hidden), np.arange(hh + hidden, hh + 2 * hidden)
    w, u, v = [], [], []
    for _first, size, o in modal_blocks(hidden):
        ss = size * size
        w += range(o, o + ss)
        u += range(o + ss, o + ss + size)
        v += range(o + ss + size, o + ss + 2 * size)
    return np.array(w, dtype=np.int64), np.array(u, dtype=np.int64), np.array(v, dtype=np.int64)


def pack(w_hh: np.ndarray, w_ih: np.ndarray, w_out: np.ndarray, modal: bool = False) -> np.ndarray:
    """Flat parameter vector (P,) from ``w_hh`` (H, H), ``w_ih`` (H,), ``w_out`` (H,). Modal: ``w_hh`` must be
    block-diagonal (2x2 blocks), else ValueError."""
    w_hh, w_ih, w_out = (np.asarray(a, dtype=np.float64) for a in (w_hh, w_ih, w_out))
    if not modal:
        return np.concatenate([np.ravel(w_hh), np.ravel(w_ih), np.ravel(w_out)]).astype(np.float64)
    hidden = w_hh.shape[0]
    mask = np.zeros((hidden, hidden), dtype=bool)
    theta = np.zeros(n_params(hidden, True))
    for first, size, o in modal_blocks(hidden):
        span = slice(first, first + size)
        mask[span, span] = True
        theta[o:o + size * size] = np.ravel(w_hh[span, span])
        theta[o + size * size:o + size * size + size] = w_ih[span]
        theta[o + size * size + size:o + size * size + 2 * size] = w_out[span]
    if np.any(w_hh[~mask] != 0.0):
        raise ValueError("W_hh is not block-diagonal with 2x2 blocks")
    return theta


def unpack(theta: np.ndarray, hidden: int, modal: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(w_hh (H, H), w_ih (H,), w_out (H,))`` copies from a flat vector (P,) (modal: ``w_hh`` block-diagonal)."""
    theta = np.asarray(theta, dtype=np.float64)
    w_idx, u_idx, v_idx = parts(hidden, modal)
    if not modal:
        return theta[w_idx].reshape(hidden, hidden), theta[u_idx], theta[v_idx]
    w_hh = np.zeros((hidden, hidden))
    for first, size, o in modal_blocks(hidden):
        w_hh[first:first + size, first:first + size] = theta[o:o + size * size].reshape(size, size)
    return w_hh, theta[u_idx], theta[v_idx]


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


@njit(inline="always", **_JIT)
def _advance_modal(theta, hidden, h, a, xn):
    """:func:`_advance` for the modal form: block by block (each block's states depend on that block only), the
    same roundings as the dense net of :func:`unpack` (its zero entries add nothing)."""
    out = 0.0
    for first in range(0, hidden, 2):
        size = min(2, hidden - first)
        o = 4 * first
        ss = size * size
        for i in range(size):
            s = theta[o + ss + i] * xn
            for j in range(size):
                s += theta[o + i * size + j] * h[first + j]
            a[i] = s
        for i in range(size):
            h[first + i] = math.tanh(a[i])
            out += theta[o + ss + size + i] * h[first + i]
    return out


@njit(**_JIT)
def forward(theta, hidden, x, y, modal=False):
    """Output y (N,) of the net ``theta`` (P,) for input x (N,) (``len(y)`` samples are computed)."""
    h = np.zeros(hidden)
    a = np.zeros(hidden)
    for n in range(y.shape[0]):
        y[n] = _advance_modal(theta, hidden, h, a, x[n]) if modal else _advance(theta, hidden, h, a, x[n])


@njit(**_JIT)
def sse(theta, hidden, x, target, length, modal=False):
    """Summed squared error of the net ``theta`` against ``target`` over the first ``length`` samples."""
    h = np.zeros(hidden)
    a = np.zeros(hidden)
    total = 0.0
    for n in range(length):
        y = _advance_modal(theta, hidden, h, a, x[n]) if modal else _advance(theta, hidden, h, a, x[n])
        r = y - target[n]
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
def normal_equations(theta, hidden, x, target, length, jtj, jtr, modal=False):
    """Fill ``jtj`` (P, P) with J^T J and ``jtr`` (P,) with J^T r over ``length`` samples; return sum r^2.

    ``J[n, p] = d y[n] / d theta[p]`` and ``r[n] = y[n] - target[n]``: the loss gradient is
    ``2 J^T r``. Sensitivities run forward alongside the recurrence (forward-mode).
    """
    if modal:
        return _normal_equations_modal(theta, hidden, x, target, length, jtj, jtr)
    return _normal_equations_dense(theta, hidden, x, target, length, jtj, jtr)


@njit(inline="always", **_JIT)
def _accumulate(rows, res, count, jtj, jtr, p_all):
    """``J^T J += R R^T`` (upper triangle) and ``J^T r += R res`` for the first ``count`` columns of the block of
    Jacobian rows ``rows`` (P, _BLOCK) and residuals ``res`` (_BLOCK,); ``p_all`` = P."""
    for p in range(p_all):
        jtr[p] += _dot(rows[p], res, count)
        for q in range(p, p_all):
            jtj[p, q] += _dot(rows[p], rows[q], count)


@njit(inline="always", **_JIT)
def _workspace(hidden, width, p_all, jtj, jtr):
    """Zero ``jtj`` and ``jtr``; return the scratch of a pass: states ``h``, ``h_prev`` (H,), sensitivities
    ``sens``, ``sens_new`` (H, ``width``), J's rows of the current block of samples (P, _BLOCK; one column
    per sample) and their residuals (_BLOCK,)."""
    jtj[:, :] = 0.0
    jtr[:] = 0.0
    return (np.zeros(hidden), np.zeros(hidden), np.zeros((hidden, width)), np.zeros((hidden, width)),
            np.zeros((p_all, _BLOCK)), np.zeros(_BLOCK))


@njit(inline="always", **_JIT)
def _end_sample(r, total, b, last, rows, res, jtj, jtr, p_all, h, h_prev):
    """End a sample of a pass: add its residual ``r`` squared to ``total`` and put it in column ``b`` of the
    block (whose Jacobian rows are filled in); when the block is full or the sample is the ``last``,
    ``J^T J += R R^T`` and ``J^T r += R res`` over it; ``h_prev = h``. Returns (total, the next column)."""
    total += r * r
    res[b] = r
    b += 1
    if b == _BLOCK or last:
        _accumulate(rows, res, b, jtj, jtr, p_all)
        b = 0
    for i in range(h.shape[0]):
        h_prev[i] = h[i]
    return total, b


@njit(inline="always", **_JIT)
def _mirror(jtj):
    """Copy the upper triangle of ``jtj`` into its lower one."""
    for p in range(jtj.shape[0]):
        for q in range(p):
            jtj[p, q] = jtj[q, p]


@njit(**_JIT)
def _normal_equations_dense(theta, hidden, x, target, length, jtj, jtr):
    """:func:`normal_equations` of the dense form."""
    hh = hidden * hidden
    nrec = hh + hidden  # parameters that act on h (W and u); v only acts on y
    p_all = hh + 2 * hidden
    h, h_prev, sens, sens_new, rows, res = _workspace(hidden, nrec, p_all, jtj, jtr)
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
        total, b = _end_sample(out - target[n], total, b, n == length - 1, rows, res, jtj, jtr, p_all, h, h_prev)
        sens, sens_new = sens_new, sens
    _mirror(jtj)
    return total


@njit(**_JIT)
def _normal_equations_modal(theta, hidden, x, target, length, jtj, jtr):
    """:func:`normal_equations` of the modal form: each state's sensitivities reach only its own block's six
    recurrent parameters (``W`` block, ``u``), held in ``sens`` (H, 6), so a sample costs O(H) before the
    accumulation of J^T J (O(P^2), P about 4H)."""
    p_all = theta.shape[0]
    h, h_prev, sens, sens_new, rows, res = _workspace(hidden, 6, p_all, jtj, jtr)
    total = 0.0
    b = 0
    for n in range(length):
        xn = x[n]
        out = 0.0
        for first in range(0, hidden, 2):
            size = min(2, hidden - first)
            o = 4 * first
            ss = size * size
            nrec = ss + size
            for i in range(size):
                s = theta[o + ss + i] * xn
                for j in range(size):
                    s += theta[o + i * size + j] * h_prev[first + j]
                h[first + i] = math.tanh(s)
            for i in range(size):
                for p in range(nrec):
                    acc = 0.0
                    for j in range(size):
                        acc += theta[o + i * size + j] * sens[first + j, p]
                    sens_new[first + i, p] = acc
                for j in range(size):
                    sens_new[first + i, i * size + j] += h_prev[first + j]
                sens_new[first + i, ss + i] += xn
                g = 1.0 - h[first + i] * h[first + i]
                for p in range(nrec):
                    sens_new[first + i, p] *= g
            for p in range(nrec):
                acc = 0.0
                for i in range(size):
                    acc += theta[o + nrec + i] * sens_new[first + i, p]
                rows[o + p, b] = acc
            for i in range(size):
                rows[o + nrec + i, b] = h[first + i]
                out += theta[o + nrec + i] * h[first + i]
        total, b = _end_sample(out - target[n], total, b, n == length - 1, rows, res, jtj, jtr, p_all, h, h_prev)
        sens, sens_new = sens_new, sens
    _mirror(jtj)
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
def lm_fit(theta, hidden, x, target, length, iterations, lam, jtj, jtr, loss, fresh, tol, modal=False):
    """Levenberg-Marquardt on one net ``theta`` (P,, dense or ``modal``) in place; returns (loss, lambda,
    converged) at the end.

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
        loss = normal_equations(theta, hidden, x, target, length, jtj, jtr, modal)
    converged = False
    for _ in range(iterations):
        improved = False
        for _try in range(12):
            if _damped_solve(jtj, jtr, lam, step, work):
                for p in range(p_all):
                    trial[p] = theta[p] + step[p]
                new = sse(trial, hidden, x, target, length, modal)
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
        loss = normal_equations(theta, hidden, x, target, length, jtj, jtr, modal)
        if converged:
            break
    return loss, lam, converged


def lm_steps(thetas, lambdas, keys, hidden, x, targets, length, iterations, losses, jtjs, jtrs, fresh, tol,
             modal=False):
    """Run :func:`lm_fit` for every row of ``thetas`` (S, P; dense or ``modal``) in parallel (two cores here); see
    :func:`_lm_steps`.

    ``_lm_steps`` is compiled per hidden size and form (``literally``). Numba's dispatcher would re-run its
    front end on every call to find that specialisation (about 20 ms a call); it is looked up once
    per argument types here and called directly (a few microseconds).
    """
    args = (thetas, lambdas, keys, hidden, x, targets, length, iterations, losses, jtjs, jtrs, fresh, tol,
            bool(modal))
    sig = tuple(types.literal(a) if i in (3, 13) else typeof(a) for i, a in enumerate(args))
    compiled = _lm_steps.overloads.get(sig)
    if compiled is None:
        _lm_steps(*args)
    else:
        compiled.entry_point(*args)


@njit(parallel=True, **_JIT)
def _lm_steps(thetas, lambdas, keys, hidden, x, targets, length, iterations, losses, jtjs, jtrs, fresh, tol, modal):
    """Run :func:`lm_fit` for every row of ``thetas`` (S, P; dense, or ``modal``) in parallel (two cores here).

    Row ``s`` fits key ``keys[s]``: input ``x[keys[s]]`` against ``targets[keys[s]]`` (K, N)
    over the first ``length`` samples. Updates ``thetas``, ``lambdas`` (S,) and ``losses`` (S,).
    ``jtjs`` (S, P, P) and ``jtrs`` (S, P) carry each row's normal equations between calls;
    ``fresh[s]`` (uint8) says they (and ``losses[s]``) are valid for this ``length``: 1, or 2 when the
    row has also converged there (see :func:`lm_fit`, ``tol``); converged rows are skipped.
    """
    literally(hidden)  # compile per hidden size: constant loop bounds unroll (about 2x faster)
    literally(modal)  # and per form: only that form's kernels are compiled
    for s in prange(thetas.shape[0]):
        if fresh[s] == 2:
            continue
        k = keys[s]
        loss, lam, converged = lm_fit(thetas[s], hidden, x[k], targets[k], length, iterations, lambdas[s],
                           jtjs[s], jtrs[s], losses[s], fresh[s] != 0, tol, modal)
        losses[s] = loss
        lambdas[s] = lam
        fresh[s] = 2 if converged else 1


@njit(**_JIT)
def sse_many(thetas, keys, hidden, x, targets, length, losses, modal=False):
    """Summed squared error of every row of ``thetas`` (S, P) against ``targets[keys[s]]``.

    Serial on purpose: it is cheap (about 25 ns per sample and row), and a parallel region per
    call would leave OpenMP workers spinning between the many small calls of adam and randdir.
    """
    for s in range(thetas.shape[0]):
        k = keys[s]
        losses[s] = sse(thetas[s], hidden, x[k], targets[k], length, modal)

"""Fused numba kernels for the real-time path: a bank of voices advanced sample by sample.

Every voice of a bank is the same recurrence, ``h[n] = f(g[n] W_hh @ h[n-1] + w_ih * x[n])``,
``y[n] = w_out @ h[n]``, with ``f = tanh`` (the RNN twin) or ``f = identity`` (the IIR
resonator in state-space form, ``W_hh = [[k1, k2], [1, 0]]``). Arrays are voice-minor so the
inner loops over voices vectorise: ``w_hh`` (H, H, V), ``w_ih``/``w_out``/``h`` (H, V), signals
(N, V). Everything is float64; the kernels release the GIL and never allocate.

``g`` is the voice's damper factor: 1 while the key is held (the product is then exactly the
undamped one), ramped down to its release factor once it is released. Scaling ``W_hh`` by ``g``
scales every eigenvalue (pole) by ``g``; the kernel scales the stored state ``h`` by ``g`` after
each output instead (``W (g h) = (g W) h``), which costs H products per voice and sample, and
none for a bank with no damped voice.

Verified against ``torch.nn.RNN`` and ``scipy.signal.lfilter`` in ``tests/test_kernels.py``.

A third kind of voice plays a recording (:func:`advance_sample_bank`): it reads one shared table at a
fractional position by 4-point cubic Hermite interpolation, its envelope scaled by the same damper factor
every sample (the equivalent of the recurrence's ``g``: 60 dB in the release T60 after a short ramp).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Fast-math without "nnan"/"ninf": the safety checks below must still see NaN and Inf.
_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
_JIT = dict(nogil=True, fastmath=_FASTMATH, cache=True, error_model="numpy")

# Cephes' rational approximation of tanh on |x| < 0.625 (double precision).
_P0, _P1, _P2 = -9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3
_Q0, _Q1, _Q2 = 1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3
# Taylor coefficients 1/k! of exp, highest first, for arguments in [0, 0.625].
_EXP = tuple(1.0 / math.factorial(k) for k in range(15, -1, -1))


@njit(inline="always", fastmath=_FASTMATH, error_model="numpy")
def fast_tanh(x):
    """tanh(x) to about 1e-14 relative, branch-free so loops over voices vectorise (libm's does not).

    Below |x| = 0.625 Cephes' rational form; above, ``1 - 2 / (exp(2|x|) + 1)`` with
    ``exp(t) = (exp(t/64))**64`` and a degree-15 Taylor polynomial (|x| is clamped at 20,
    where tanh is 1 to double precision).
    """
    a = min(abs(x), 20.0)
    small = _tanh_small(a)
    u = a * (2.0 / 64.0)
    e = _EXP[0]
    for c in _EXP[1:]:
        e = e * u + c
    for _ in range(6):
        e = e * e
    large = 1.0 - 2.0 / (e + 1.0)
    use_small = 1.0 * (a < SMALL)
    return math.copysign(use_small * small + (1.0 - use_small) * large, x)  # exactly one of the two


SMALL = 0.625
"""Below this magnitude :func:`fast_tanh` is Cephes' rational form alone (:func:`tanh_small`)."""


@njit(inline="always", fastmath=_FASTMATH, error_model="numpy")
def _tanh_small(a):
    z = a * a
    return a + a * z * ((_P0 * z + _P1) * z + _P2) / (((z + _Q0) * z + _Q1) * z + _Q2)


@njit(inline="always", fastmath=_FASTMATH, error_model="numpy")
def tanh_small(x):
    """:func:`fast_tanh` for ``|x| < SMALL``, bit for bit, at a quarter of its cost (the rational form only)."""
    return math.copysign(_tanh_small(abs(x)), x)


@njit(**_JIT)
def _block_diagonal(w_hh, count):
    """True when the ``w_hh`` (H, H, V) of voices ``0..count-1`` hold nothing outside the 2x2 blocks on the
    diagonal (the modal form of a learned sound, or the rotation twins): the bank then costs 2H products a voice
    and sample instead of H^2. A scan of H^2 V entries a block, 1/N of what the dense form costs; it stops at the
    first weight outside the blocks."""
    hidden = w_hh.shape[0]
    if hidden <= 2:
        return False
    for i in range(hidden):
        first = i - i % 2
        for j in range(hidden):
            if j == first or j == first + 1:
                continue
            for v in range(count):
                if w_hh[i, j, v] != 0.0:
                    return False
    return True


def _make_bank_kernel(nonlinear: bool):
    """Build the bank kernel for ``tanh`` (``nonlinear=True``) or the identity."""

    @njit(**_JIT)
    def advance_bank(w_hh, w_ih, w_out, h, scratch, x, y, count, damp, target, step):
        """Advance voices ``0..count-1`` over x (N, V) into y (N, V); h (H, V) carries state.

        Damper (V,) each: ``damp`` the factor the next step's ``W_hh`` is scaled by, moved by ``step``
        per sample down to ``target`` (all 1, 1, 0 for a voice that is not damped: it then computes
        exactly what it would without a damper)."""
        hidden = h.shape[0]
        damped = False
        for v in range(count):
            if damp[v] != 1.0 or target[v] != 1.0:
                damped = True
        blocks = nonlinear and _block_diagonal(w_hh, count)
        for n in range(x.shape[0]):
            if blocks:  # only the 2x2 blocks on the diagonal hold weights: 2 products a state, not H
                for i in range(0, hidden - 1, 2):
                    for v in range(count):
                        h0 = h[i, v]
                        h1 = h[i + 1, v]
                        scratch[i, v] = w_ih[i, v] * x[n, v] + w_hh[i, i, v] * h0 + w_hh[i, i + 1, v] * h1
                        scratch[i + 1, v] = (w_ih[i + 1, v] * x[n, v] + w_hh[i + 1, i, v] * h0
                                             + w_hh[i + 1, i + 1, v] * h1)
                if hidden % 2:
                    last = hidden - 1
                    for v in range(count):
                        scratch[last, v] = w_ih[last, v] * x[n, v] + w_hh[last, last, v] * h[last, v]
            else:
                for i in range(hidden):
                    for v in range(count):
                        scratch[i, v] = w_ih[i, v] * x[n, v]
                    for j in range(hidden):
                        for v in range(count):
                            scratch[i, v] += w_hh[i, j, v] * h[j, v]
            for v in range(count):
                y[n, v] = 0.0
            small = nonlinear
            if nonlinear:  # every state in tanh's rational range (a learned sound's always are): that form alone
                peak = 0.0
                for i in range(hidden):
                    for v in range(count):
                        peak = max(peak, abs(scratch[i, v]))
                small = peak < SMALL
            for i in range(hidden):
                for v in range(count):
                    if small:
                        hv = tanh_small(scratch[i, v])
                    else:
                        hv = fast_tanh(scratch[i, v]) if nonlinear else scratch[i, v]
                    h[i, v] = hv
                    y[n, v] += w_out[i, v] * hv
            if damped:
                for v in range(count):
                    g = damp[v] - step[v]
                    damp[v] = g if g > target[v] else target[v]
                for i in range(hidden):
                    for v in range(count):
                        h[i, v] *= damp[v]

    return advance_bank


advance_rnn_bank = _make_bank_kernel(True)
advance_iir_bank = _make_bank_kernel(False)


@njit(inline="always", fastmath=_FASTMATH, error_model="numpy")
def hermite(sample, pos):
    """``sample`` (S,) at the fractional position ``pos`` (0 <= pos < S) by 4-point cubic Hermite (Catmull-Rom)
    interpolation, samples outside ``0..S-1`` taken as 0; exactly ``sample[pos]`` at a whole ``pos``."""
    size = sample.shape[0]
    i = int(pos)
    t = pos - i
    xm1 = sample[i - 1] if i >= 1 else 0.0
    x0 = sample[i] if 0 <= i < size else 0.0
    x1 = sample[i + 1] if i + 1 < size else 0.0
    x2 = sample[i + 2] if i + 2 < size else 0.0
    c1 = 0.5 * (x1 - xm1)
    c2 = xm1 - 2.5 * x0 + 2.0 * x1 - 0.5 * x2
    c3 = 0.5 * (x2 - xm1) + 1.5 * (x0 - x1)
    return ((c3 * t + c2) * t + c1) * t + x0


@njit(**_JIT)
def advance_sample_bank(sample, y, count, wait, pos, step, env, damp, target, dstep):
    """Advance sample voices ``0..count-1`` over y (N, V): each waits ``wait[v]`` frames (its onset), then plays
    ``env[v]`` times ``sample`` (S,) read at ``pos[v]`` (source samples), which moves by ``step[v]`` a frame;
    silent from the recording's end on (``pos >= S``). The damper (``damp``, ``target``, ``dstep``, as in the
    recurrence kernels) scales the envelope every frame once the voice sounds. Updates wait, pos, env, damp."""
    size = sample.shape[0]
    for v in range(count):
        w, p, e, g = wait[v], pos[v], env[v], damp[v]
        st, tgt, ds = step[v], target[v], dstep[v]
        damped = g != 1.0 or tgt != 1.0
        for n in range(y.shape[0]):
            if w > 0:
                w -= 1
                y[n, v] = 0.0
            else:
                if 0.0 <= p < size:
                    y[n, v] = e * hermite(sample, p)
                    p += st
                else:
                    y[n, v] = 0.0
                if damped:
                    g2 = g - ds
                    g = g2 if g2 > tgt else tgt
                    e *= g
        wait[v], pos[v], env[v], damp[v] = w, p, e, g


@njit(**_JIT)
def mix_bank(y, count, gains, out, peaks):
    """Add voices' outputs y (N, V) times gains (C, V) into out (N, C); peaks[v] = max |y| * max gain.

    A voice whose output is not finite gets a peak of ``inf`` so the caller can silence it.
    """
    channels = out.shape[1]
    for v in range(count):
        peaks[v] = 0.0
    for n in range(y.shape[0]):
        for v in range(count):
            a = abs(y[n, v])
            if not a <= peaks[v]:  # also catches NaN
                peaks[v] = a if a == a else np.inf
    for v in range(count):
        gmax = 0.0
        for c in range(channels):
            gmax = max(gmax, abs(gains[c, v]))
        peaks[v] *= gmax
        if peaks[v] != peaks[v]:
            peaks[v] = np.inf
    for n in range(y.shape[0]):
        for c in range(channels):
            acc = 0.0
            for v in range(count):
                if peaks[v] != np.inf:
                    acc += y[n, v] * gains[c, v]
            out[n, c] += acc


@njit(**_JIT)
def mute_if_not_finite(out):
    """Zero out (N, C) in place if it holds a NaN or Inf (a block muted, never passed on); returns 1 if so, else 0."""
    bad = 0
    for n in range(out.shape[0]):
        for c in range(out.shape[1]):
            if not math.isfinite(out[n, c]):
                bad = 1
    if bad:
        for n in range(out.shape[0]):
            for c in range(out.shape[1]):
                out[n, c] = 0.0
    return bad


@njit(**_JIT)
def retire_voices(peaks, count, retire_level, w_hh, w_ih, w_out, h, gains, x, ints, floats):
    """Drop voices whose block peak is below ``retire_level`` (or inf: not finite); returns the new count.

    The last sounding voice moves into each freed slot, so voices stay packed in ``0..count-1``;
    ``floats[0]`` (the level) is set from ``peaks`` for the voices that remain.
    """
    v = count - 1
    while v >= 0:
        p = peaks[v]
        if p < retire_level or p == np.inf:
            last = count - 1
            if v != last:  # element by element: an array-to-array slice copy may allocate a temporary
                for i in range(h.shape[0]):
                    for j in range(h.shape[0]):
                        w_hh[i, j, v] = w_hh[i, j, last]
                    w_ih[i, v] = w_ih[i, last]
                    w_out[i, v] = w_out[i, last]
                    h[i, v] = h[i, last]
                for c in range(gains.shape[0]):
                    gains[c, v] = gains[c, last]
                for n in range(x.shape[0]):
                    x[n, v] = x[n, last]
                for r in range(ints.shape[0]):
                    ints[r, v] = ints[r, last]
                for r in range(floats.shape[0]):
                    floats[r, v] = floats[r, last]
                peaks[v] = peaks[last]
            count = last
        else:
            floats[0, v] = p
        v -= 1
    return count


@njit(**_JIT)
def quietest_voice(levels, released, count):
    """Slot to steal among ``0..count-1``: the quietest released voice, else the quietest of all."""
    best, best_level, best_released = 0, np.inf, -1
    for v in range(count):
        r = released[v]
        if r > best_released or (r == best_released and levels[v] < best_level):
            best, best_level, best_released = v, levels[v], r
    return best

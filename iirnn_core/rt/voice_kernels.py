"""Voices of every bank driven through an array table: start, release, and render one model-rate block.

A :class:`~iirnn_core.synth.renderer.Renderer` keeps its arrays in numpy and lists them in an int64
table (rows of address and shape, :mod:`iirnn_core.rt.atomics`), so the same compiled functions run
from Python (``iirnn render``, the tests, ``iirnn bench``) and from the audio callback, which
has no Python objects, only the table. Table rows (:mod:`iirnn_core.rt.voice_layout`):

- bank ``b`` (0: IIR, linear; 1: RNN, tanh; 2: sample, a recording played back) at ``b * BANK_ROWS``:
  ``w_hh`` (H, H, V), ``w_ih``, ``w_out``, ``h``, ``scratch`` (H, V), ``gains`` (C, V), ``x``, ``y`` (N, V),
  ``ints`` (``INT_ROWS``, V) int64 (note, released, frames to wait), ``floats`` (``FLOAT_ROWS``, V) (level,
  spectral radius, damper factor, its target and step, a sample voice's position, step and envelope:
  ``FL_*``), ``peaks`` (V,); the sample bank has H = 1 and uses no weights;
- ``ROW_SAMPLE`` float64 (S,): the recording every sample voice reads (fixed for the renderer's life, so a
  sounding voice never reads freed memory: a new recording comes with a new pipeline);
- ``ROW_CTL`` int64: voice count of each bank, blocks, muted blocks, voices started, voices
  stolen, NaN/Inf guard on/off; ``ROW_PARAMS`` float64: retire level, sample rate.

**Dampers.** :func:`release_note` given a release T60 (seconds; 0, NaN or inf: ring on) moves each
released voice's poles to the release radius ``r_rel = 10**(-3 / (T60 * rate))``: its damper
factor ramps from 1 to ``r_rel / rho`` over :data:`~iirnn_core.rt.voice_layout.DAMPER_RAMP_SECONDS`,
``rho`` being the spectral radius of the voice's ``w_hh`` (so every pole ends at most at ``r_rel``:
exactly there for the IIR and the analytic twin, whose largest poles are the key's). A voice whose
radius is already at or below ``r_rel`` rings on as it is. The bank kernels apply the factor
(:mod:`iirnn_core.rt.bank_kernels`); a sample voice has radius 1, and its envelope is scaled by the factor
every sample, so it falls 60 dB in the release T60 (plus the recording's own decay).

Nothing here allocates; every function releases the GIL.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from iirnn_core.rt.atomics import f64_array1, f64_array2, f64_array3, i64_array1, i64_array2
from iirnn_core.rt.bank_kernels import (advance_iir_bank, advance_rnn_bank, advance_sample_bank, mix_bank,
                                        mute_if_not_finite, quietest_voice, retire_voices)
from iirnn_core.rt.voice_layout import (BANK_IIR, BANK_ROWS, BANK_RNN, BANK_SAMPLE, BANKS, CTL_BLOCKS,  # noqa: F401
                                        CTL_GUARD, CTL_MUTED, CTL_STARTED, CTL_STOLEN, PARAM_RETIRE, ROW_CTL,
                                        ROW_PARAMS, ROW_SAMPLE)
from iirnn_core.rt.voice_layout import (DAMPER_RAMP_SECONDS, FL_DAMP, FL_DAMP_STEP, FL_DAMP_TARGET, FL_ENV, FL_LEVEL,
                                        FL_POS, FL_RADIUS, FL_STEP, INT_NOTE, INT_RELEASED, INT_WAIT, PARAM_RATE)

_JIT = dict(nogil=True, cache=True, error_model="numpy")


@njit(inline="always")
def bank_arrays(tab, bank):
    """The arrays of ``bank``: (w_hh, w_ih, w_out, h, scratch, gains, x, y, ints, floats, peaks), as listed above."""
    base = bank * BANK_ROWS
    return (f64_array3(tab, base), f64_array2(tab, base + 1), f64_array2(tab, base + 2), f64_array2(tab, base + 3),
            f64_array2(tab, base + 4), f64_array2(tab, base + 5), f64_array2(tab, base + 6),
            f64_array2(tab, base + 7), i64_array2(tab, base + 8), f64_array2(tab, base + 9),
            f64_array1(tab, base + 10))


@njit(**_JIT)
def start_voice(tab, bank, hidden, w_hh, w_ih, w_out, gains, amplitude, offset, note, radius, step):
    """Start one voice in ``bank`` with weights ``w_hh`` (>= hidden, >= hidden), ``w_ih``, ``w_out`` (>= hidden,)
    (only the first ``hidden`` states are used), ``gains`` (C,), an impulse of ``amplitude`` at frame
    ``offset`` of the next block, and ``radius``, the spectral radius of its ``w_hh`` (what its damper
    scales from); the quietest voice is stolen when every slot sounds. A sample voice (``BANK_SAMPLE``, hidden 1,
    its weights unused, radius 1) plays the renderer's recording times ``amplitude`` from frame ``offset`` on,
    reading ``step`` source samples a frame. Returns the slot,
    or -1 (and starts nothing) when ``bank``, ``hidden``, the weights' or gains' sizes, ``offset`` or a sample
    voice's ``step`` (finite, >= 0) do not fit the renderer: a caller straight through :mod:`iirnn_core.rt.library`
    can never write (nor a sample voice read) out of bounds."""
    if bank != BANK_IIR and bank != BANK_RNN and bank != BANK_SAMPLE:
        return -1
    if bank == BANK_SAMPLE and not (step >= 0.0 and step < np.inf):
        return -1
    W, IH, OUT, H, _, G, X, _, INTS, FL, _ = bank_arrays(tab, bank)
    if (hidden < 1 or hidden > H.shape[0] or w_hh.shape[0] < hidden or w_hh.shape[1] < hidden
            or w_ih.shape[0] < hidden or w_out.shape[0] < hidden or gains.shape[0] < G.shape[0]
            or offset < 0 or offset >= X.shape[0]):
        return -1
    ctl = i64_array1(tab, ROW_CTL)
    count = ctl[bank]
    if count < H.shape[1]:
        slot = count
        ctl[bank] = count + 1
    else:
        slot = quietest_voice(FL[FL_LEVEL], INTS[INT_RELEASED], count)
        ctl[CTL_STOLEN] += 1
    ctl[CTL_STARTED] += 1
    for i in range(H.shape[0]):
        IH[i, slot] = w_ih[i] if i < hidden else 0.0
        OUT[i, slot] = w_out[i] if i < hidden else 0.0
        H[i, slot] = 0.0
        for j in range(H.shape[0]):
            W[i, j, slot] = w_hh[i, j] if (i < hidden and j < hidden) else 0.0
    for n in range(X.shape[0]):
        X[n, slot] = 0.0
    X[offset, slot] = amplitude
    for c in range(G.shape[0]):
        G[c, slot] = gains[c]
    INTS[INT_NOTE, slot] = note
    INTS[INT_RELEASED, slot] = 0
    INTS[INT_WAIT, slot] = offset
    FL[FL_LEVEL, slot] = np.inf  # a new voice is never the quietest before it sounds
    FL[FL_RADIUS, slot] = radius
    FL[FL_DAMP, slot] = 1.0
    FL[FL_DAMP_TARGET, slot] = 1.0
    FL[FL_DAMP_STEP, slot] = 0.0
    FL[FL_POS, slot] = 0.0
    FL[FL_STEP, slot] = step
    FL[FL_ENV, slot] = amplitude
    return slot


@njit(**_JIT)
def release_note(tab, note, release):
    """Mark every voice of ``note`` released in every bank (they are stolen first) and damp them to a 60 dB
    decay in ``release`` seconds at the renderer's rate (see the module docstring); a ``release`` that is not
    a finite positive number (0, NaN, inf: ring on) leaves them ringing with the key's own decay. A damper
    only ever closes further: a voice released again keeps the lower of its two factors."""
    ctl = i64_array1(tab, ROW_CTL)
    rate = f64_array1(tab, ROW_PARAMS)[PARAM_RATE]
    damp = release > 0.0 and release < np.inf and rate > 0.0
    r_rel = 10.0 ** (-3.0 / (release * rate)) if damp else 1.0
    ramp = max(1.0, DAMPER_RAMP_SECONDS * rate)
    for bank in range(BANKS):
        arrays = bank_arrays(tab, bank)
        ints, fl = arrays[8], arrays[9]
        for v in range(ctl[bank]):
            if ints[INT_NOTE, v] != note:
                continue
            ints[INT_RELEASED, v] = 1
            rho = fl[FL_RADIUS, v]
            if damp and rho > r_rel:
                target = r_rel / rho
                if target < fl[FL_DAMP_TARGET, v]:
                    fl[FL_DAMP_TARGET, v] = target
                    fl[FL_DAMP_STEP, v] = (fl[FL_DAMP, v] - target) / ramp


@njit(**_JIT)
def silence_voices(tab):
    """Stop every voice of every bank at once."""
    ctl = i64_array1(tab, ROW_CTL)
    for bank in range(BANKS):
        ctl[bank] = 0


@njit(**_JIT)
def voice_count(tab):
    """Sounding voices in every bank."""
    ctl = i64_array1(tab, ROW_CTL)
    return ctl[BANK_IIR] + ctl[BANK_RNN] + ctl[BANK_SAMPLE]


@njit(**_JIT)
def _sample_peaks(peaks, count, pos, step, size, frames, retire_level):
    """Sample voices' block peaks as the retirement reads them: -1 (retired even with a retire level of 0) once a
    voice has passed the recording's end; at least ``retire_level`` in the block of its onset (a recording may
    begin near 0 there)."""
    for v in range(count):
        if pos[v] >= size:
            peaks[v] = -1.0
        elif pos[v] < (frames + 0.5) * step[v] and peaks[v] < retire_level:
            peaks[v] = retire_level


@njit(**_JIT)
def _render_bank(tab, bank, out, retire_level):
    ctl = i64_array1(tab, ROW_CTL)
    count = ctl[bank]
    if count == 0:
        return
    W, IH, OUT, H, SCR, G, X, Y, INTS, FL, PK = bank_arrays(tab, bank)
    n = out.shape[0]
    x = X[:n]
    y = Y[:n]
    if bank == BANK_IIR:
        advance_iir_bank(W, IH, OUT, H, SCR, x, y, count, FL[FL_DAMP], FL[FL_DAMP_TARGET], FL[FL_DAMP_STEP])
    elif bank == BANK_RNN:
        advance_rnn_bank(W, IH, OUT, H, SCR, x, y, count, FL[FL_DAMP], FL[FL_DAMP_TARGET], FL[FL_DAMP_STEP])
    else:
        advance_sample_bank(f64_array1(tab, ROW_SAMPLE), y, count, INTS[INT_WAIT], FL[FL_POS], FL[FL_STEP],
                            FL[FL_ENV], FL[FL_DAMP], FL[FL_DAMP_TARGET], FL[FL_DAMP_STEP])
    for i in range(n):
        for v in range(count):
            x[i, v] = 0.0
    mix_bank(y, count, G, out, PK)
    if bank == BANK_SAMPLE:
        _sample_peaks(PK, count, FL[FL_POS], FL[FL_STEP], f64_array1(tab, ROW_SAMPLE).shape[0], n, retire_level)
    ctl[bank] = retire_voices(PK, count, retire_level, W, IH, OUT, H, G, X, INTS, FL)


@njit(**_JIT)
def render_voices(tab, out):
    """Overwrite out (N, C) float64 with the next N frames of every bank's mix (the plain sum: the level is the
    master stage's, :mod:`iirnn_core.rt.output_stage`).

    With the guard on, a block holding NaN or Inf is muted and counted in ``ROW_CTL``; returns 1 for such a
    block, else 0.
    """
    ctl = i64_array1(tab, ROW_CTL)
    params = f64_array1(tab, ROW_PARAMS)
    for i in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[i, c] = 0.0
    _render_bank(tab, BANK_IIR, out, params[PARAM_RETIRE])
    _render_bank(tab, BANK_RNN, out, params[PARAM_RETIRE])
    _render_bank(tab, BANK_SAMPLE, out, params[PARAM_RETIRE])
    ctl[CTL_BLOCKS] += 1
    if ctl[CTL_GUARD] and mute_if_not_finite(out):
        ctl[CTL_MUTED] += 1
        return 1
    return 0

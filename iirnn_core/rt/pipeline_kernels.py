"""The compiled functions that run a :class:`~iirnn_core.synth.pipeline.Pipeline` through its array table.

Per device block: :func:`pipe_begin` says how many model frames the block needs,
:func:`pipe_input_index` finds the model frame that sounds at a wanted device frame,
:func:`pipe_render` fills the block (its voices as :mod:`iirnn_core.rt.voice_kernels` renders them,
released ones damped). Nothing allocates per block.

numba's cache (``cache=True``) keys a function on its own file only: a function here keeps the
compiled voice kernels it was cached with until this file changes, so a change to the voice kernels'
arguments or arrays must touch this file too (or ``find . -name '*.nb[ic]' -delete``): as the sample bank did.
"""

from __future__ import annotations

from numba import njit

from iirnn_core.rt import voice_kernels as vk
from iirnn_core.rt.atomics import f64_array1, f64_array2, i64_array1
from iirnn_core.rt.pipeline_layout import ROW_DELAY, ROW_FIR, ROW_OUT, ROW_RSTATE, ROW_XBUF
from iirnn_core.rt.resample_layout import RS_DOWN, RS_HISTORY, RS_N_IN, RS_PHASE, RS_T_REL, RS_UP
from iirnn_core.rt.resample_kernels import _resample_block, frame_of_input, input_for_frame, inputs_needed

_JIT = dict(nogil=True, cache=True, error_model="numpy")


@njit(**_JIT)
def pipe_begin(tab, frames):
    """Start a block of ``frames`` device frames; returns the model frames it renders."""
    return inputs_needed(i64_array1(tab, ROW_RSTATE), frames)


@njit(**_JIT)
def pipe_input_index(tab, frame):
    """The model frame of this block that sounds at device ``frame`` (clamped into the block), or -1 if the
    block renders no model frame (the caller keeps the event for the next block)."""
    state = i64_array1(tab, ROW_RSTATE)
    n_in = state[RS_N_IN]
    if n_in == 0:
        return -1
    index = input_for_frame(state, frame)
    return 0 if index < 0 else (n_in - 1 if index >= n_in else index)


@njit(**_JIT)
def pipe_landing_frame(tab, index):
    """Device frame of this block (fractional, may exceed it) where an impulse at model frame ``index`` peaks."""
    return frame_of_input(i64_array1(tab, ROW_RSTATE), index, f64_array1(tab, ROW_DELAY)[0])


@njit(**_JIT)
def pipe_render(tab, frames):
    """Render the block begun by :func:`pipe_begin`: returns its (frames, C) float64 output view, and 1 if the
    renderer muted a NaN/Inf block (else 0)."""
    state = i64_array1(tab, ROW_RSTATE)
    xbuf = f64_array2(tab, ROW_XBUF)
    out = f64_array2(tab, ROW_OUT)[:frames]
    history, n_in = state[RS_HISTORY], state[RS_N_IN]
    muted = 0
    if n_in:
        muted = vk.render_voices(tab, xbuf[history:history + n_in])
    fir = f64_array2(tab, ROW_FIR)
    _resample_block(xbuf, history, n_in, fir, state[RS_UP], state[RS_DOWN], state, out)
    return out, muted


@njit(**_JIT)
def pipe_silence(tab):
    """Stop every voice and forget the resampler's history (after a fade-out)."""
    vk.silence_voices(tab)
    xbuf = f64_array2(tab, ROW_XBUF)
    for i in range(xbuf.shape[0]):
        for c in range(xbuf.shape[1]):
            xbuf[i, c] = 0.0
    state = i64_array1(tab, ROW_RSTATE)
    state[RS_PHASE] = 0
    state[RS_T_REL] = 0

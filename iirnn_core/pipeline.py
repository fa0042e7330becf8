"""Voices at the model rate, resampled to the device rate: one block of live audio.

A :class:`Pipeline` owns a :class:`~iirnn_core.renderer.Renderer` running at the model rate
(the seed's 8 kHz) and a :class:`~iirnn_core.resample.StreamingResampler` to the device rate,
plus its output buffer. Its arrays are listed in one int64 table (:attr:`Pipeline.table`: the
renderer's rows, then ``ROW_XBUF`` .. ``ROW_DELAY``), and the compiled functions below work on
that table, so the audio callback runs a pipeline with no Python object in reach (the class only
builds and keeps the arrays). Per device block: :func:`pipe_begin` says how many model frames the
block needs, :func:`pipe_input_index` finds the model frame that sounds at a wanted device frame,
:func:`pipe_render` fills the block. Nothing allocates per block.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import voice_kernels as vk
from .atomics import f64_array1, f64_array2, i64_array1, table_row
from .renderer import Renderer
from .resample import (RS_DOWN, RS_HISTORY, RS_N_IN, RS_PHASE, RS_T_REL, RS_UP, StreamingResampler,
                       _resample_block, frame_of_input, input_for_frame, inputs_needed)

_JIT = dict(nogil=True, cache=True, error_model="numpy")

ROW_XBUF = vk.RENDERER_ROWS
ROW_FIR = ROW_XBUF + 1
ROW_RSTATE = ROW_XBUF + 2
ROW_OUT = ROW_XBUF + 3
ROW_DELAY = ROW_XBUF + 4
PIPE_ROWS = ROW_DELAY + 1


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


class Pipeline:
    """Renderer at ``model_rate`` -> resampler -> ``device_rate`` blocks of up to ``block_max`` frames (N, channels)."""

    def __init__(self, model_rate: float, device_rate: float, channels: int, polyphony: int,
                 rnn_hidden: int, block_max: int):
        self.key = (float(model_rate), float(device_rate), int(channels), int(polyphony), int(rnn_hidden),
                    int(block_max))
        self.model_rate, self.device_rate = float(model_rate), float(device_rate)
        self.channels = int(channels)
        self.resampler = StreamingResampler(model_rate, device_rate, channels, block_max)
        self.renderer = Renderer(channels, max_voices=polyphony, rnn_hidden=rnn_hidden,
                                 block_max=self.resampler.in_max)
        self.out = np.zeros((block_max, channels))
        self._delay = np.array([self.resampler.delay_up])
        rs = self.resampler
        self.table = np.vstack([self.renderer.table,
                                np.array([table_row(rs.xbuf), table_row(rs.table), table_row(rs.state),
                                          table_row(self.out), table_row(self._delay)], dtype=np.int64)])

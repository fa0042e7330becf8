"""The streaming resampler's compiled functions (:class:`~iirnn_core.synth.resample.StreamingResampler`'s
state array, ``RS_*`` fields): the polyphase FIR block and the maps between input and output frames."""

from __future__ import annotations

from numba import njit

from iirnn_core.rt.resample_layout import RS_BLOCK_PHASE, RS_BLOCK_T_REL, RS_DOWN, RS_N_IN, RS_PHASE, RS_T_REL, RS_UP


# Fast-math without "nnan"/"ninf": once inlined into the callback's block, the output stage's NaN
# checks must still see NaN and Inf.
@njit(nogil=True, fastmath={"nsz", "arcp", "contract", "afn", "reassoc"}, cache=True, error_model="numpy")
def _resample_block(xbuf, history, n_in, table, up, down, state, out):
    """Fill out (N, C) from inputs xbuf[history - ... : history + n_in]; advance ``state`` [phase, t_rel].

    xbuf rows ``0..history-1`` hold the last ``history`` inputs of earlier blocks, rows
    ``history..history+n_in-1`` the new ones; afterwards the last ``history`` inputs are moved
    to the front. Inputs below 1e-30 in magnitude are flushed to zero (no denormals).
    """
    taps = table.shape[1]
    channels = out.shape[1]
    for i in range(history, history + n_in):
        for c in range(channels):
            if abs(xbuf[i, c]) < 1e-30:
                xbuf[i, c] = 0.0
    p = state[0]
    t_rel = state[1]
    for j in range(out.shape[0]):
        base = history + t_rel
        for c in range(channels):
            acc = 0.0
            for k in range(taps):
                acc += table[p, k] * xbuf[base - k, c]
            out[j, c] = acc
        p += down
        t_rel += p // up
        p = p % up
    for i in range(history):
        for c in range(channels):
            xbuf[i, c] = xbuf[n_in + i, c]
    state[0] = p
    state[1] = t_rel - n_in


@njit(nogil=True, cache=True, error_model="numpy")
def inputs_needed(state, n_out):
    """New input frames the next ``n_out`` output frames need; remembers the block's start phase and the count."""
    p, t_rel = state[RS_PHASE], state[RS_T_REL]
    state[RS_BLOCK_PHASE] = p
    state[RS_BLOCK_T_REL] = t_rel
    n_in = t_rel + (p + (n_out - 1) * state[RS_DOWN]) // state[RS_UP] + 1
    n_in = n_in if n_in > 0 else 0
    state[RS_N_IN] = n_in
    return n_in


@njit(nogil=True, cache=True, error_model="numpy")
def input_for_frame(state, frame):
    """The new input frame of this block whose time is at or just before output ``frame``."""
    return state[RS_BLOCK_T_REL] + (state[RS_BLOCK_PHASE] + frame * state[RS_DOWN]) // state[RS_UP]


@njit(nogil=True, cache=True, error_model="numpy")
def frame_of_input(state, index, delay_up):
    """Output frame (of this block, fractional) where an impulse at new input ``index`` peaks."""
    return ((index - state[RS_BLOCK_T_REL]) * state[RS_UP] - state[RS_BLOCK_PHASE] + delay_up) / state[RS_DOWN]

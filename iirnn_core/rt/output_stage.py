"""The last steps of every block, live and offline: NaN/Inf muting, the room, the master gain, the peak limiter,
a [-1, 1] clamp (a safety net the limiter leaves idle), denormal flush; then, live, the scope.

:func:`master_block` is the one output stage: the audio callback runs it on each device block
(:func:`iirnn_core.rt.block_kernels.process_block`), and ``iirnn render`` on its model-rate blocks
(:class:`iirnn_core.synth.master.MasterStage`), on the arrays of a master stage's table (rows ``M_*`` of
:mod:`iirnn_core.rt.master_layout`). Numba kernels on preallocated arrays; they release the GIL and never
allocate. The scope is a ring of mono samples (the mean of the channels) at the device rate whose length
is a power of two.
"""

from __future__ import annotations

import math

from numba import njit

from iirnn_core.rt.atomics import f64_array1, f64_array2, i64_array1
from iirnn_core.rt.limiter_kernels import limit_block
from iirnn_core.rt.master_layout import (DENORMAL, M_BOX, M_DELAY, M_FEEDBACK, M_LENGTHS, M_LIM_F, M_LIM_I, M_LINES,
                                         M_LOW, M_ROOM_F, M_ROOM_I, M_TAPS, M_WEDGE_T, M_WEDGE_V)
from iirnn_core.rt.room_kernels import room_block, room_clear

_JIT = dict(nogil=True, fastmath=False, cache=True, error_model="numpy")


@njit(**_JIT)
def master_block(mtab, buf, gain_from, gain_to, wet_from, wet_to):
    """Finish buf (N, C) float64 in place with the master stage whose table is ``mtab``: the room (wet mix
    ramping ``wet_from -> wet_to``; skipped while both are 0, and emptied when it starts from 0), the master
    gain ramping ``gain_from -> gain_to``, the peak limiter (its lookahead delays the audio), the [-1, 1]
    clamp, and magnitudes below DENORMAL written as 0.

    A block holding NaN or Inf enters as silence (the room and the limiter never see it), is written as
    silence, and 1 is returned (else 0).
    """
    frames, channels = buf.shape[0], buf.shape[1]
    bad = 0
    for n in range(frames):
        for c in range(channels):
            if not math.isfinite(buf[n, c]):
                bad = 1
    if bad:
        for n in range(frames):
            for c in range(channels):
                buf[n, c] = 0.0
    if wet_from > 0.0 or wet_to > 0.0:
        lines, low = f64_array2(mtab, M_LINES), f64_array1(mtab, M_LOW)
        if wet_from <= 0.0:
            room_clear(lines, low)
        room_block(buf, lines, i64_array1(mtab, M_LENGTHS), f64_array1(mtab, M_FEEDBACK), low,
                   f64_array1(mtab, M_TAPS), i64_array1(mtab, M_ROOM_I), f64_array1(mtab, M_ROOM_F),
                   wet_from, wet_to)
    scale_ramped(buf, gain_from, gain_to)
    limit_block(buf, f64_array2(mtab, M_DELAY), f64_array1(mtab, M_WEDGE_V), i64_array1(mtab, M_WEDGE_T),
                f64_array1(mtab, M_BOX), i64_array1(mtab, M_LIM_I), f64_array1(mtab, M_LIM_F))
    for n in range(frames):
        for c in range(channels):
            v = 0.0 if bad else buf[n, c]
            if v > 1.0:
                v = 1.0
            elif v < -1.0:
                v = -1.0
            elif abs(v) < DENORMAL:
                v = 0.0
            buf[n, c] = v
    return bad


@njit(**_JIT)
def finish_block(mix, out, scope, scope_pos):
    """Write mix (N, C) float64 (finished by :func:`master_block`) into out (N, C) (any float dtype); the mono
    mix of each frame goes to ``scope[(scope_pos + n) % len(scope)]`` (len(scope) a power of two)."""
    frames, channels = mix.shape[0], mix.shape[1]
    mask = scope.shape[0] - 1
    for n in range(frames):
        acc = 0.0
        for c in range(channels):
            out[n, c] = mix[n, c]
            acc += mix[n, c]
        scope[(scope_pos + n) & mask] = acc / channels


@njit(**_JIT)
def add_ramped(src, dst, gain_from, gain_to):
    """dst (N, C) += src (N, C) times a gain ramping ``gain_from -> gain_to`` over the block."""
    frames = src.shape[0]
    step = (gain_to - gain_from) / frames if frames else 0.0
    for n in range(frames):
        g = gain_from + step * (n + 1)
        for c in range(src.shape[1]):
            dst[n, c] += src[n, c] * g


@njit(**_JIT)
def scale_ramped(buf, gain_from, gain_to):
    """buf (N, C) *= a gain ramping ``gain_from -> gain_to`` over the block (a fade)."""
    frames = buf.shape[0]
    step = (gain_to - gain_from) / frames if frames else 0.0
    for n in range(frames):
        g = gain_from + step * (n + 1)
        for c in range(buf.shape[1]):
            buf[n, c] *= g

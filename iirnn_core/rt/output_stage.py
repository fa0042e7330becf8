"""The last step of a live block: master gain ramp, NaN/Inf muting, [-1, 1] clamp, denormal flush, scope.

Numba kernels called from the audio callback on preallocated arrays; they release the GIL and
never allocate. The scope is a ring of mono samples (the mean of the channels) at the device
rate whose length is a power of two.
"""

from __future__ import annotations

import math

from numba import njit

_JIT = dict(nogil=True, fastmath=False, cache=True, error_model="numpy")

DENORMAL = 1e-30
"""Magnitudes below this are written as exact zeros."""


@njit(**_JIT)
def finish_block(mix, out, gain_from, gain_to, scope, scope_pos):
    """Write mix (N, C) float64 times a gain ramping ``gain_from -> gain_to`` into out (N, C) (any float dtype).

    The result is clamped to [-1, 1] and magnitudes below DENORMAL become 0. A block holding
    NaN or Inf is written as silence and 1 is returned (else 0). The mono mix of each frame goes
    to ``scope[(scope_pos + n) % len(scope)]`` (len(scope) a power of two).
    """
    frames, channels = mix.shape[0], mix.shape[1]
    mask = scope.shape[0] - 1
    bad = 0
    for n in range(frames):
        for c in range(channels):
            if not math.isfinite(mix[n, c]):
                bad = 1
    step = (gain_to - gain_from) / frames if frames else 0.0
    for n in range(frames):
        g = gain_from + step * (n + 1)
        acc = 0.0
        for c in range(channels):
            v = 0.0 if bad else mix[n, c] * g
            if v > 1.0:
                v = 1.0
            elif v < -1.0:
                v = -1.0
            elif abs(v) < DENORMAL:
                v = 0.0
            out[n, c] = v
            acc += v
        scope[(scope_pos + n) & mask] = acc / channels
    return bad


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

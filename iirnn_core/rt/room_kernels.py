"""A small room: a feedback delay network of eight lines, damped, with a short decay (about 0.7 s).

Each frame, every line's oldest sample is scaled by the line's feedback gain (a decay of 60 dB in
``ROOM_DECAY_SECONDS``), low-passed by a one-pole filter (high notes fade sooner, as in a room), and
the eight results are mixed by an orthogonal (Hadamard) matrix and written back with the input (the
channels' mean) added. The left output taps the lines with one pattern of signs, the right with an
orthogonal one, so the two channels' tails are decorrelated; a mono output takes the left. The wet
signal is added to the dry one, times a wet mix that ramps from ``wet_from`` to ``wet_to`` over the
block. Numba kernels on preallocated arrays: they release the GIL and never allocate.
"""

from __future__ import annotations

import math

from numba import njit

from iirnn_core.rt.master_layout import DENORMAL, RF_DAMP, RI_POS, ROOM_LEVEL, ROOM_LINES

_JIT = dict(nogil=True, fastmath=False, cache=True, error_model="numpy")

_SCALE = 1.0 / math.sqrt(ROOM_LINES)
"""Makes the Hadamard mix orthogonal, and the input and output taps of unit length."""
_OUT = ROOM_LEVEL * _SCALE
"""The output taps' scale at a wet mix of 1."""


@njit(**_JIT)
def room_clear(lines, low):
    """Forget the room's sound: lines (ROOM_LINES, S) and the damping filters' states low (ROOM_LINES,) to 0."""
    for i in range(lines.shape[0]):
        low[i] = 0.0
        for j in range(lines.shape[1]):
            lines[i, j] = 0.0


@njit(**_JIT)
def room_block(buf, lines, lengths, feedback, low, taps, room_i, room_f, wet_from, wet_to):
    """Add the room's response to buf (N, C) float64 (C = 1 or 2) into buf, times a wet mix ramping
    ``wet_from -> wet_to``. ``lines`` (ROOM_LINES, S) float64, S a power of two longer than every length;
    ``lengths`` (ROOM_LINES,) int64 frames; ``feedback``, ``low`` (damping states), ``taps`` (scratch)
    (ROOM_LINES,) float64; ``room_i[RI_POS]`` the write position, ``room_f[RF_DAMP]`` the low-pass
    coefficient (0..1, 1: no damping)."""
    frames, channels = buf.shape[0], buf.shape[1]
    mask = lines.shape[1] - 1
    pos = room_i[RI_POS]
    damp = room_f[RF_DAMP]
    step = (wet_to - wet_from) / frames if frames else 0.0
    for n in range(frames):
        x = 0.0
        for c in range(channels):
            x += buf[n, c]
        x *= _SCALE / channels
        left = 0.0
        right = 0.0
        for i in range(ROOM_LINES):
            v = lines[i, (pos - lengths[i]) & mask] * feedback[i]
            v = low[i] + damp * (v - low[i])
            v = v if abs(v) >= DENORMAL else 0.0
            low[i] = v
            taps[i] = v
            left += v if (i & 1) == 0 else -v
            right += v if (i & 2) == 0 else -v
        h = 1
        while h < ROOM_LINES:  # fast Walsh-Hadamard transform, in place
            for i in range(0, ROOM_LINES, 2 * h):
                for j in range(i, i + h):
                    a, b = taps[j], taps[j + h]
                    taps[j], taps[j + h] = a + b, a - b
            h *= 2
        for i in range(ROOM_LINES):
            v = taps[i] * _SCALE + x
            lines[i, pos] = v if abs(v) >= DENORMAL else 0.0
        pos = (pos + 1) & mask
        wet = (wet_from + step * (n + 1)) * _OUT
        buf[n, 0] += wet * left
        if channels > 1:
            buf[n, 1] += wet * right
    room_i[RI_POS] = pos

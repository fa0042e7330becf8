"""The master peak limiter: a lookahead limiter whose output never exceeds its ceiling.

For every incoming frame the gain computer asks for ``target = min(1, ceiling / peak)`` (peak: the
largest magnitude over the channels, so the channels share one gain and the image stays put). The
gain then goes through three steps, each on preallocated arrays:

1. the least target of the last ``hold`` frames (a running minimum kept in a monotonic wedge, O(1) per
   frame on average; ``hold`` is at least the lookahead window);
2. instant attack, one-pole release towards that minimum (never above it);
3. a moving average over the ``lookahead + 1`` newest values: a ramp that starts as a peak enters the
   delay line and reaches the peak's gain exactly as the peak leaves it.

The audio is delayed by ``lookahead`` frames. Each averaged value is at most the target of the frame
leaving the delay (every value averaged is a minimum over a window holding that frame), so no output
sample exceeds the ceiling, however sudden the peak; a final comparison with the ceiling only absorbs
rounding (1e-15 relative). Below the ceiling the gain is exactly 1 and the audio passes bit for bit,
delayed. Numba kernels: they release the GIL and never allocate.
"""

from __future__ import annotations

from numba import njit

from iirnn_core.rt.master_layout import (L_BOX_POS, L_HEAD, L_HOLD, L_LOOKAHEAD, L_T, L_TAIL, LF_CEILING, LF_HELD,
                                         LF_LEAST, LF_RELEASE, LF_SUM)

_JIT = dict(nogil=True, fastmath=False, cache=True, error_model="numpy")

SNAP = 1e-6
"""A releasing gain this close to its target lands on it (a step 120 dB down), so it returns to exactly 1
(about 1 s after the last reduction)."""


@njit(**_JIT)
def limit_block(buf, delay, wedge_v, wedge_t, box, lim_i, lim_f):
    """Limit buf (N, C) float64 in place: each frame out is the frame ``lim_i[L_LOOKAHEAD]`` frames older times
    the limiter's gain. ``delay`` (D, C), ``wedge_v`` (float64) and ``wedge_t`` (int64) (S,) are rings of a
    power-of-two length (D > lookahead, S > hold); ``box`` (lookahead + 1,) holds the averaged gains; the
    words and floats are the ``L_*`` / ``LF_*`` of :mod:`iirnn_core.rt.master_layout`. ``lim_f[LF_LEAST]``
    keeps the least gain applied."""
    frames, channels = buf.shape[0], buf.shape[1]
    lookahead, hold, width = lim_i[L_LOOKAHEAD], lim_i[L_HOLD], box.shape[0]
    dmask, wmask = delay.shape[0] - 1, wedge_v.shape[0] - 1
    t, head, tail, pos = lim_i[L_T], lim_i[L_HEAD], lim_i[L_TAIL], lim_i[L_BOX_POS]
    ceiling, release = lim_f[LF_CEILING], lim_f[LF_RELEASE]
    held, total, least = lim_f[LF_HELD], lim_f[LF_SUM], lim_f[LF_LEAST]
    for n in range(frames):
        peak = 0.0
        slot = t & dmask
        for c in range(channels):
            v = buf[n, c]
            delay[slot, c] = v
            peak = max(peak, abs(v))
        target = ceiling / peak if peak > ceiling else 1.0
        while tail > head and wedge_v[(tail - 1) & wmask] >= target:
            tail -= 1
        wedge_v[tail & wmask] = target
        wedge_t[tail & wmask] = t
        tail += 1
        while wedge_t[head & wmask] <= t - hold:
            head += 1
        lowest = wedge_v[head & wmask]
        if lowest < held:
            held = lowest
        else:
            held += (lowest - held) * release
            if lowest - held < SNAP:
                held = lowest
        total += held - box[pos]
        box[pos] = held
        pos += 1
        if pos == width:  # the running sum is recomputed once per window: no drift, and exactly 1 at rest
            pos = 0
            total = 0.0
            for i in range(width):
                total += box[i]
        gain = total / width
        if gain < least:
            least = gain
        old = (t - lookahead) & dmask
        for c in range(channels):
            y = delay[old, c] * gain
            buf[n, c] = ceiling if y > ceiling else (-ceiling if y < -ceiling else y)
        t += 1
    lim_i[L_T], lim_i[L_HEAD], lim_i[L_TAIL], lim_i[L_BOX_POS] = t, head, tail, pos
    lim_f[LF_HELD], lim_f[LF_SUM], lim_f[LF_LEAST] = held, total, least

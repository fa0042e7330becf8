"""The block processor's compiled functions: one device block, the event ring, the record ring.

:func:`process_block` is what PortAudio's callback runs (:mod:`iirnn_core.rt.entries`), on the
table of a :class:`~iirnn_core.synth.block_processor.BlockProcessor` (rows ``R_*`` of
:mod:`iirnn_core.rt.block_layout`); the hand-offs are described in :mod:`iirnn_core.synth.block_processor`.
It renders with the same compiled voice and pipeline functions as ``iirnn render``
(:mod:`iirnn_core.rt.voice_kernels`, :mod:`iirnn_core.rt.pipeline_kernels`). Nothing here allocates,
locks, logs, waits or calls into Python.
"""

from __future__ import annotations

from numba import njit

from iirnn_core.rt import voice_kernels as vk
from iirnn_core.rt.accounting_kernels import acc_block_done, acc_block_started, acc_note_latency
from iirnn_core.rt.atomics import (current_thread_id, f32_array2, f64_array1, f64_array2, f64_array3, i64_array1, i64_array2,
                      i64_array3, load_acquire, monotonic_seconds, store_release)
from iirnn_core.rt.block_layout import (NOTE_ON, NOTE_OFF, KEYS, VOICES_PER_KEY, MASTER_RAMP_SECONDS, R_PIPES, R_PBANK, R_PHIDDEN, R_PWHH,
                           R_PWIH, R_PWOUT, R_PGAINS, R_HALF_F, R_HALF_I, R_SYNC, R_RING, R_EV_I, R_EV_F, R_CB_I, R_CB_F,
                           R_ACC_I, R_ACC_F, R_LAT, R_SCOPE, R_REC, R_REC_I, R_MASTER, R_PRADIUS, R_PSTEP, S_PUB,
                           S_SEEN, S_BUSY0, S_FADE0, S_THREAD, C_CUR, C_RETIRING, C_FADING, C_PANIC, C_CALLBACKS,
                           C_MUTED, C_SCOPE_POS,
                           G_GAIN, G_LAST, G_RATE, G_OUTLAT, G_HOSTLAT, G_WET,
                           H_AMPLITUDE, H_MASTER, H_ROOM, H_RELEASE, H_PIPE, REC_ON, REC_WRITE, REC_READ, REC_DROPPED)
from iirnn_core.rt.master_layout import L_LOOKAHEAD, M_LIM_I
from iirnn_core.rt.output_stage import add_ramped, finish_block, master_block, scale_ramped
from iirnn_core.rt.pipeline_kernels import pipe_begin, pipe_input_index, pipe_landing_frame, pipe_render, pipe_silence

_JIT = dict(nogil=True, cache=True, error_model="numpy")


@njit(**_JIT)
def push_event(ring, ev_i, ev_f, kind, midi, velocity, when):
    """Append one event (single producer); returns False, changing nothing, when the ring is full."""
    write = ring[0]
    if write - load_acquire(ring, 1) >= ev_i.shape[0]:
        return False
    slot = write & (ev_i.shape[0] - 1)
    ev_i[slot, 0] = kind
    ev_i[slot, 1] = midi
    ev_f[slot, 0] = velocity
    ev_f[slot, 1] = when
    store_release(ring, 0, write + 1)
    return True


@njit(**_JIT)
def publish_word(words, index, value):
    """``words[index] = value`` with release ordering: everything written before is visible with it."""
    store_release(words, index, value)


@njit(**_JIT)
def record_block(ring, rec_i, out, frames):
    """Copy out[:frames] (frames, C) into the record ring (N, C) float32 if recording is on and it fits;
    else count the frames in ``REC_DROPPED`` and write nothing. Never waits."""
    if load_acquire(rec_i, REC_ON) == 0:
        return
    write = rec_i[REC_WRITE]
    size = ring.shape[0]
    if write + frames - load_acquire(rec_i, REC_READ) > size:
        store_release(rec_i, REC_DROPPED, rec_i[REC_DROPPED] + frames)
        return
    mask = size - 1
    for n in range(frames):
        slot = (write + n) & mask
        for c in range(ring.shape[1]):
            ring[slot, c] = out[n, c]
    store_release(rec_i, REC_WRITE, write + frames)


@njit(**_JIT)
def read_recorded(ring, rec_i, dest):
    """Move up to len(dest) recorded frames, oldest first, from the ring into dest (M, C) float32 and free
    their slots; returns how many (the writer's side of :func:`record_block`)."""
    read = rec_i[REC_READ]
    n = min(load_acquire(rec_i, REC_WRITE) - read, dest.shape[0])
    mask = ring.shape[0] - 1
    for i in range(n):
        slot = (read + i) & mask
        for c in range(ring.shape[1]):
            dest[i, c] = ring[slot, c]
    store_release(rec_i, REC_READ, read + n)
    return n


@njit(**_JIT)
def _start_key(ptab, cur_tab, half, midi, amplitude, frame):
    """Start key ``midi``'s voices of patch half ``half`` at device ``frame``; returns the model frame used
    (-1: this block renders none, keep the event), or -2 if the key cannot sound."""
    bank = i64_array1(ptab, R_PBANK)
    base = (half * KEYS + midi) * VOICES_PER_KEY
    if bank[base] < 0:
        return -2
    index = pipe_input_index(cur_tab, frame)
    if index < 0:
        return -1
    hidden = i64_array1(ptab, R_PHIDDEN)
    w_hh = f64_array3(ptab, R_PWHH)
    w_ih = f64_array2(ptab, R_PWIH)
    w_out = f64_array2(ptab, R_PWOUT)
    gains = f64_array2(ptab, R_PGAINS)
    radius = f64_array1(ptab, R_PRADIUS)
    step = f64_array1(ptab, R_PSTEP)
    for v in range(VOICES_PER_KEY):
        k = base + v
        if bank[k] >= 0:
            vk.start_voice(cur_tab, bank[k], hidden[k], w_hh[k], w_ih[k], w_out[k], gains[k], amplitude, index, midi,
                           radius[k], step[k])
    return index


@njit(**_JIT)
def _drain_events(ptab, pipes, half, cur, retiring, frames, rate, now, dac_now):
    """Consume the events due by the end of this block: an impulse is heard one block period after its event."""
    ring = i64_array1(ptab, R_RING)
    ev_i = i64_array2(ptab, R_EV_I)
    ev_f = f64_array2(ptab, R_EV_F)
    cb_i = i64_array1(ptab, R_CB_I)
    half_f = f64_array2(ptab, R_HALF_F)
    acc_i = i64_array1(ptab, R_ACC_I)
    latencies = f64_array1(ptab, R_LAT)
    mask = ev_i.shape[0] - 1
    write = load_acquire(ring, 0)
    read = ring[1]
    block_start = now - frames / rate
    lookahead = i64_array1(i64_array2(ptab, R_MASTER), M_LIM_I)[L_LOOKAHEAD]  # the limiter delays every frame
    while read < write:
        slot = read & mask
        kind, midi = ev_i[slot, 0], ev_i[slot, 1]
        if kind == NOTE_ON:
            when = ev_f[slot, 1]
            if when > now:  # scheduled for a later block
                break
            frame = int((when - block_start) * rate + 0.5)
            frame = 0 if frame < 0 else (frames - 1 if frame >= frames else frame)
            index = _start_key(ptab, pipes[cur], half, midi, half_f[half, H_AMPLITUDE] * ev_f[slot, 0], frame)
            if index == -1:
                break
            if index >= 0:
                landed = pipe_landing_frame(pipes[cur], index)
                acc_note_latency(acc_i, latencies, dac_now + (landed + lookahead) / rate - when)
        elif kind == NOTE_OFF:
            release = half_f[half, H_RELEASE]
            vk.release_note(pipes[cur], midi, release)
            if retiring >= 0:
                vk.release_note(pipes[retiring], midi, release)
        else:
            cb_i[C_PANIC] = 1
            read += 1
            break
        read += 1
    store_release(ring, 1, read)


@njit(**_JIT)
def _ramp(value, target, step):
    """``value`` moved towards ``target`` by at most ``step``."""
    return target if abs(target - value) <= step else (value + step if target > value else value - step)


@njit(**_JIT)
def process_block(ptab, out, frames, now, current, dac, underflow):
    """Fill out (frames, C) float32 with the next block: ``now`` is the callback's time (s, the
    ``perf_counter`` clock), ``current`` and ``dac`` the host's stream times (s; <= 0 when it gives
    none; a DAC time no later than the current time, as PortAudio's JACK host API gives on PipeWire,
    carries no latency, so the output latency in ``G_OUTLAT`` stands in), ``underflow`` the host's
    flag. Never allocates, locks or waits."""
    started = monotonic_seconds()
    sync = i64_array1(ptab, R_SYNC)
    cb_i = i64_array1(ptab, R_CB_I)
    cb_f = f64_array1(ptab, R_CB_F)
    acc_i = i64_array1(ptab, R_ACC_I)
    acc_f = f64_array1(ptab, R_ACC_F)
    rate = cb_f[G_RATE]
    if dac > 0.0 and current > 0.0:
        stamp = dac
        cb_f[G_HOSTLAT] = dac - current
        dac_now = now + (dac - current) if dac > current else now + cb_f[G_OUTLAT]
    else:
        dac_now, stamp = now + cb_f[G_OUTLAT], now
    acc_block_started(acc_i, acc_f, now, stamp, frames, underflow)
    if sync[S_THREAD] == 0:
        sync[S_THREAD] = current_thread_id()

    word = load_acquire(sync, S_PUB)
    store_release(sync, S_SEEN, word)
    half = word & 1
    pipe = i64_array2(ptab, R_HALF_I)[half, H_PIPE]
    if pipe < 0:  # nothing published yet
        for i in range(frames):
            for c in range(out.shape[1]):
                out[i, c] = 0.0
        record_block(f32_array2(ptab, R_REC), i64_array1(ptab, R_REC_I), out, frames)
        return
    pipes = i64_array3(ptab, R_PIPES)
    cur = cb_i[C_CUR]
    retiring = cb_i[C_RETIRING]
    if pipe != cur:  # new notes go to another pipeline: the old one rings out
        if retiring == pipe:
            retiring = -1
        if cur >= 0 and vk.voice_count(pipes[cur]) > 0:
            if retiring >= 0:
                cb_i[C_FADING] = retiring
            retiring = cur
        cur = pipe
        cb_i[C_CUR] = cur
    if retiring >= 0 and load_acquire(sync, S_FADE0 + retiring):  # a writer wants that slot back
        cb_i[C_FADING] = retiring
        retiring = -1
    cb_i[C_RETIRING] = retiring

    pipe_begin(pipes[cur], frames)
    if retiring >= 0:
        pipe_begin(pipes[retiring], frames)
    _drain_events(ptab, pipes, half, cur, retiring, frames, rate, now, dac_now)
    mix, muted = pipe_render(pipes[cur], frames)
    if retiring >= 0:
        tail, tail_muted = pipe_render(pipes[retiring], frames)
        muted |= tail_muted
        add_ramped(tail, mix, 1.0, 1.0)
        if vk.voice_count(pipes[retiring]) == 0:
            retiring = -1
    fading = cb_i[C_FADING]
    if fading >= 0:
        pipe_begin(pipes[fading], frames)
        tail, tail_muted = pipe_render(pipes[fading], frames)
        add_ramped(tail, mix, 1.0, 0.0)
        pipe_silence(pipes[fading])
        cb_i[C_FADING] = -1
    panic = cb_i[C_PANIC]
    if panic:
        scale_ramped(mix, 1.0, 0.0)
        pipe_silence(pipes[cur])
        if retiring >= 0:
            pipe_silence(pipes[retiring])
            retiring = -1
        cb_i[C_PANIC] = 0
    cb_i[C_RETIRING] = retiring

    step = frames / (MASTER_RAMP_SECONDS * rate)
    half_f = f64_array2(ptab, R_HALF_F)
    gain, wet = cb_f[G_GAIN], cb_f[G_WET]
    new_gain = _ramp(gain, half_f[half, H_MASTER], step)
    new_wet = 0.0 if panic else _ramp(wet, half_f[half, H_ROOM], step)  # panic fades the room's tail too; it
    cb_f[G_GAIN], cb_f[G_WET] = new_gain, new_wet  # comes back empty, ramping up from 0
    bad = master_block(i64_array2(ptab, R_MASTER), mix, gain, new_gain, wet, new_wet)
    finish_block(mix, out, f64_array1(ptab, R_SCOPE), cb_i[C_SCOPE_POS])
    store_release(cb_i, C_SCOPE_POS, cb_i[C_SCOPE_POS] + frames)
    record_block(f32_array2(ptab, R_REC), i64_array1(ptab, R_REC_I), out, frames)
    if bad or muted:
        cb_i[C_MUTED] += 1
    for s in range(2):
        store_release(sync, S_BUSY0 + s, 1 if (s == cur or s == retiring) else 0)
    cb_i[C_CALLBACKS] += 1
    cb_f[G_LAST] = now
    acc_block_done(acc_i, acc_f, monotonic_seconds() - started, frames)

"""The compiled entry points, as numba ``@cfunc`` s with plain C signatures (:data:`iirnn_core.rt.prototypes.PROTOTYPES`).

These are the only doors from Python (and from PortAudio, alsa-lib, libjack) into the compiled audio
code. :mod:`iirnn_core.rt.build` compiles them ahead of time into one shared library, which
:mod:`iirnn_core.rt.library` loads with ctypes, so the window's process needs no numba; without that library
:mod:`iirnn_core.rt.library` calls these same functions through their addresses. Arrays cross as addresses
(``void*``) of numpy memory or of an array table (:mod:`iirnn_core.rt.tables`); nothing here allocates.
"""

from __future__ import annotations

import numpy as np
from numba import carray, cfunc, types

from iirnn_core.rt import voice_kernels as vk
from iirnn_core.rt.accounting_kernels import acc_reset as _acc_reset
from iirnn_core.rt.atomics import (_f32_ptr_at, _f64_ptr, _i64_ptr, address_of, call_frame_time, call_get_buffer, f32_array2, f32_frames,
                                  f64_array1, f64_array2, f64_time_info, i64_array1, i64_array2, load_acquire,
                                  monotonic_seconds, store_release, table_at)
from iirnn_core.rt.block_kernels import process_block, push_event, read_recorded as _read_recorded
from iirnn_core.rt.block_layout import C_CHANNELS, PA_OUTPUT_UNDERFLOW, R_CB_I, R_EV_F, R_EV_I, R_REC, R_REC_I, R_RING, TABLE_ROWS
from iirnn_core.rt.jack_layout import (J_BLOCK, J_CHANNELS, J_CLIENT, J_CYCLES, J_FRAME_TIME, J_GET_BUFFER,
                                      J_LAST_FRAMES, J_PORT0, J_PORT1, J_PORT_LATENCY, J_RATE, J_SCRATCH, J_SHUTDOWN,
                                      J_TABLE, J_XRUNS, J_XRUNS_SEEN, JACK_WORDS)
from iirnn_core.rt.master_layout import MASTER_ROWS
from iirnn_core.rt.output_stage import master_block as _master_block
from iirnn_core.rt.prototypes import PROTOTYPES

_NUMBA_TYPES = {"void*": types.voidptr, "int64": types.int64, "uint64": types.uint64, "uint32": types.uint32,
                "double": types.float64, "int": types.intc, "void": types.void}


def _entry(function):
    """Compile ``function`` as the C function its name has in :data:`~iirnn_core.rt.prototypes.PROTOTYPES`."""
    result, args = PROTOTYPES[function.__name__]
    signature = _NUMBA_TYPES[result](*(_NUMBA_TYPES[a] for a in args))
    return cfunc(signature, nopython=True, cache=True, error_model="numpy")(function)


@_entry
def pa_callback(input_buffer, output_buffer, frame_count, time_info, status_flags, user_data):
    """PortAudio's stream callback: ``user_data`` is the address of a block processor's table."""
    ptab = table_at(address_of(user_data), TABLE_ROWS)
    frames = np.int64(frame_count)
    out = f32_frames(output_buffer, frames, i64_array1(ptab, R_CB_I)[C_CHANNELS])
    times = f64_time_info(address_of(time_info))
    process_block(ptab, out, frames, monotonic_seconds(), times[1], times[2],
                  (status_flags & PA_OUTPUT_UNDERFLOW) != 0)
    return 0  # paContinue


@_entry
def jack_process(frame_count, arg):
    """libjack's process callback: ``arg`` is a JACK output's table (:mod:`iirnn_core.rt.jack_layout`).

    Renders the cycle's ``frame_count`` frames in chunks of at most the processor's block (a quantum larger than
    the block is split; each chunk's time is the cycle's start plus its offset), each sounding the ports'
    playback latency after its time (what the graph reports after the sink: its device buffer; on a null sink
    nothing, and the monitor hears it within the cycle), and writes them to the ports' buffers. The stream time
    of each chunk is the graph clock's (``jack_last_frame_time``), so the accounting sees a gap only where the
    graph skipped frames, not where this thread woke a little late within its cycle."""
    jt = carray(_i64_ptr(address_of(arg)), (JACK_WORDS,))
    ptab = table_at(jt[J_TABLE], TABLE_ROWS)
    channels, block, rate = jt[J_CHANNELS], jt[J_BLOCK], np.float64(jt[J_RATE])
    frames = np.int64(frame_count)
    scratch = carray(_f32_ptr_at(jt[J_SCRATCH]), (block, channels))
    left = carray(_f32_ptr_at(call_get_buffer(jt[J_GET_BUFFER], jt[J_PORT0], frame_count)), (frames,))
    right = left
    if channels > 1:
        right = carray(_f32_ptr_at(call_get_buffer(jt[J_GET_BUFFER], jt[J_PORT1], frame_count)), (frames,))
    xruns = load_acquire(jt, J_XRUNS)
    underflow = xruns != jt[J_XRUNS_SEEN]
    jt[J_XRUNS_SEEN] = xruns
    latency = jt[J_PORT_LATENCY] / rate
    start = monotonic_seconds()
    stream = call_frame_time(jt[J_FRAME_TIME], jt[J_CLIENT]) / rate
    done = np.int64(0)
    while done < frames:
        n = min(block, frames - done)
        now, current = start + done / rate, stream + done / rate
        process_block(ptab, scratch[:n], n, now, current, current + latency, underflow and done == 0)
        for i in range(n):
            left[done + i] = scratch[i, 0]
            right[done + i] = scratch[i, channels - 1]
        done += n
    jt[J_LAST_FRAMES] = frames
    store_release(jt, J_CYCLES, jt[J_CYCLES] + 1)
    return 0


@_entry
def jack_xrun(arg):
    """libjack's xrun callback: counts the server's xruns in the JACK output's table ``arg``."""
    jt = carray(_i64_ptr(address_of(arg)), (JACK_WORDS,))
    store_release(jt, J_XRUNS, jt[J_XRUNS] + 1)
    return 0


@_entry
def jack_shutdown(arg):
    """libjack's shutdown callback: marks the JACK output's table ``arg`` as left by its server."""
    jt = carray(_i64_ptr(address_of(arg)), (JACK_WORDS,))
    store_release(jt, J_SHUTDOWN, 1)


@_entry
def process(table, out, frames, now, current, dac, underflow):
    """One block into ``out`` (frames, C) float32, as PortAudio's callback would (null output, tests, bench)."""
    ptab = table_at(address_of(table), TABLE_ROWS)
    block = f32_frames(out, frames, i64_array1(ptab, R_CB_I)[C_CHANNELS])
    process_block(ptab, block, frames, now, current, dac, underflow != 0)


@_entry
def push(table, kind, midi, velocity, when):
    """Queue one event in a block processor's ring; 1 if queued, 0 if the ring was full."""
    ptab = table_at(address_of(table), TABLE_ROWS)
    return np.int64(1 if push_event(i64_array1(ptab, R_RING), i64_array2(ptab, R_EV_I), f64_array2(ptab, R_EV_F),
                                    kind, midi, velocity, when) else 0)


@_entry
def publish(words, index, value):
    """``words[index] = value`` (int64) with release ordering."""
    store_release(carray(_i64_ptr(address_of(words)), (index + 1,)), index, value)


@_entry
def read_recorded(table, dest, frames):
    """Move up to ``frames`` recorded frames into ``dest`` (frames, C) float32; returns how many."""
    ptab = table_at(address_of(table), TABLE_ROWS)
    ring = f32_array2(ptab, R_REC)
    view = carray(_f32_ptr_at(address_of(dest)), (frames, ring.shape[1]))
    return np.int64(_read_recorded(ring, i64_array1(ptab, R_REC_I), view))


@_entry
def render_voices(table, rows, out, frames, channels):
    """A renderer's next ``frames`` frames into ``out`` (frames, channels) float64; 1 if the block was muted."""
    return np.int64(vk.render_voices(table_at(address_of(table), rows),
                                     carray(_f64_ptr(address_of(out)), (frames, channels))))


@_entry
def start_voice(table, rows, weights, bank, hidden, amplitude, offset, note, radius, step):
    """Start one voice; ``weights`` is a 4-row array table: w_hh (H, H), w_ih (H,), w_out (H,), gains (C,);
    ``radius`` is the spectral radius of w_hh; ``step`` a sample voice's source samples per frame."""
    w = table_at(address_of(weights), 4)
    return np.int64(vk.start_voice(table_at(address_of(table), rows), bank, hidden, f64_array2(w, 0),
                                   f64_array1(w, 1), f64_array1(w, 2), f64_array1(w, 3), amplitude, offset, note,
                                   radius, step))


@_entry
def release_note(table, rows, note, release):
    """Release every voice of ``note`` in a renderer, damped to a 60 dB decay in ``release`` s (inf: ring on)."""
    vk.release_note(table_at(address_of(table), rows), note, release)


@_entry
def silence_voices(table, rows):
    """Stop every voice of a renderer at once."""
    vk.silence_voices(table_at(address_of(table), rows))


@_entry
def master_block(table, buf, frames, channels, gain_from, gain_to, wet_from, wet_to):
    """A master stage's last steps on ``buf`` (frames, channels) float64 in place: room, master gain, limiter,
    clamp (:func:`~iirnn_core.rt.output_stage.master_block`); 1 if the block held NaN/Inf and was muted."""
    return np.int64(_master_block(table_at(address_of(table), MASTER_ROWS),
                                  carray(_f64_ptr(address_of(buf)), (frames, channels)),
                                  gain_from, gain_to, wet_from, wet_to))


@_entry
def acc_reset(ints, n_ints, floats, n_floats):
    """Reset an accounting's counters ``ints`` (n_ints,) int64 and state ``floats`` (n_floats,) float64."""
    _acc_reset(carray(_i64_ptr(address_of(ints)), (n_ints,)), carray(_f64_ptr(address_of(floats)), (n_floats,)))


@_entry
def ignore_alsa(file, line, function, err, fmt):
    """alsa-lib's error handler that prints nothing (its C type is variadic; the rest is ignored)."""


@_entry
def ignore_jack(text):
    """libjack's error and info handler that prints nothing."""


ENTRIES = {f.__name__: f for f in (pa_callback, jack_process, jack_xrun, jack_shutdown, process, push, publish,
                                   read_recorded, render_voices, start_voice, release_note, silence_voices,
                                   master_block, acc_reset, ignore_alsa, ignore_jack)}
"""Every entry point by name; the keys are those of :data:`~iirnn_core.rt.prototypes.PROTOTYPES`."""

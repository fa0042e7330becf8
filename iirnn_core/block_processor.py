"""The compiled block processor: the audio callback as machine code that never takes the GIL.

:data:`pa_callback` is a numba ``@cfunc`` with PortAudio's ``PaStreamCallback`` signature.
PortAudio calls it on its own thread with ``userdata`` pointing at :attr:`BlockProcessor.table`,
an int64 table of the addresses and shapes of every numpy array it touches (two pipelines, the
patch tables, the event ring, counters, the scope ring; :mod:`iirnn_core.atomics`). It calls
:func:`process_block`, the same compiled function the null output, the tests and offline checks
call from Python, and that function renders with the same compiled voice and pipeline functions
as ``iirnn render`` (:mod:`iirnn_core.voice_kernels`, :mod:`iirnn_core.pipeline`). It never
allocates, locks, logs, waits or calls into Python.

Hand-offs, all lock-free for the callback:

- **Key events** (kind, key, velocity, time) go into a single-producer/single-consumer ring:
  :func:`push_event` writes the slot, then publishes the write index with a release store;
  the callback reads the write index with an acquire load, consumes what is due this block
  and publishes its read index the same way. Producer threads (GUI, MIDI, CLI) are serialised
  by a Python lock that the callback never sees; a full ring drops the new event and counts it.
- **Patches** (what each key plays: bank, weights, gains, for every key; impulse height; master
  gain; which pipeline new notes use) live in two halves. A writer fills the half the callback
  is not reading and publishes it by one release store of the word ``generation << 1 | half``.
  The callback reads that word once per block (acquire) and echoes it into ``SEEN``. A writer
  waits until ``SEEN`` equals the last published word before it touches the idle half again:
  every block that could still read that half has then finished.
- **Recording** goes the other way: while the writer has switched it on (``REC_ON``), the callback
  copies every block it wrote to the device (after the master gain and the clamp, exactly those
  float32 samples) into a float32 ring, then publishes its write index (release). The writer
  reads up to it (acquire) and publishes its read index. A block that does not fit is not
  written: its frames are counted in ``REC_DROPPED`` and the callback goes on; it never waits.
- **Pipelines** (two slots: new notes go to the current one, the previous one rings out) are
  replaced only in a slot the callback does not use: the writer asks it to fade that slot
  (``FADE``), waits until ``BUSY`` says the slot is free, then rewrites its table rows and
  publishes patches that point at it. Sounding notes keep the weights they started with: a
  voice copies its patch when it starts.

The callback owns ``CB_I``/``CB_F`` (current and retiring slot, gain ramp, counters) and the
accounting arrays; Python only reads them (aligned 8-byte loads, never torn on x86-64 or ARM64).
"""

from __future__ import annotations

import threading
import time

import numpy as np
from numba import cfunc, njit, types

from . import voice_kernels as vk
from .accounting import Accounting, acc_block_done, acc_block_started, acc_note_latency
from .atomics import (address_of, current_thread_id, f32_array2, f32_frames, f64_array1, f64_array2, f64_array3,
                      f64_time_info, i64_array1, i64_array2, i64_array3, load_acquire, monotonic_seconds,
                      store_release, table_at, table_row)
from .output_stage import add_ramped, finish_block, scale_ramped
from .pipeline import PIPE_ROWS, pipe_begin, pipe_input_index, pipe_landing_frame, pipe_render, pipe_silence

NOTE_ON, NOTE_OFF, PANIC = 0, 1, 2
KEYS = 128
VOICES_PER_KEY = 2
"""A key starts one voice, or two in A/B (the IIR on the left, the twin on the right)."""
HIDDEN_MAX = 16
"""Largest hidden size the live engine plays (patch tables are preallocated for it)."""
SCOPE_SIZE = 1 << 16
"""Scope ring length in device frames (1.4 s at 48 kHz)."""
EVENT_RING = 4096
"""Key events the ring holds (a power of two)."""
RECORD_FRAMES = 1 << 19
"""Frames the record ring holds (a power of two): 10.9 s at 48 kHz for a writer that falls behind."""
MASTER_RAMP_SECONDS = 0.02
"""The master gain moves at most full scale per this many seconds (no zipper noise, no clicks)."""
PA_OUTPUT_UNDERFLOW = 4
"""PortAudio's ``paOutputUnderflow`` status flag."""

# Rows of the processor's table.
(R_PIPES, R_PBANK, R_PHIDDEN, R_PWHH, R_PWIH, R_PWOUT, R_PGAINS, R_HALF_F, R_HALF_I, R_SYNC, R_RING, R_EV_I, R_EV_F,
 R_CB_I, R_CB_F, R_ACC_I, R_ACC_F, R_LAT, R_SCOPE, R_REC, R_REC_I) = range(21)
TABLE_ROWS = 21
# Words shared with the writers (R_SYNC).
S_PUB, S_SEEN, S_BUSY0, S_BUSY1, S_FADE0, S_FADE1, S_THREAD = range(7)
# Callback-owned integers (R_CB_I) and floats (R_CB_F).
C_CUR, C_RETIRING, C_FADING, C_PANIC, C_CALLBACKS, C_MUTED, C_SCOPE_POS, C_CHANNELS = range(8)
G_GAIN, G_LAST, G_RATE, G_OUTLAT = range(4)
# Per patch half: floats (R_HALF_F) and integers (R_HALF_I).
H_AMPLITUDE, H_MASTER = 0, 1
H_PIPE = 0
# Record ring words (R_REC_I): on (writer), write index (callback), read index (writer), frames dropped (callback).
REC_ON, REC_WRITE, REC_READ, REC_DROPPED = range(4)

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
    for v in range(VOICES_PER_KEY):
        k = base + v
        if bank[k] >= 0:
            vk.start_voice(cur_tab, bank[k], hidden[k], w_hh[k], w_ih[k], w_out[k], gains[k], amplitude, index, midi)
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
                acc_note_latency(acc_i, latencies, dac_now + landed / rate - when)
        elif kind == NOTE_OFF:
            vk.release_note(pipes[cur], midi)
            if retiring >= 0:
                vk.release_note(pipes[retiring], midi)
        else:
            cb_i[C_PANIC] = 1
            read += 1
            break
        read += 1
    store_release(ring, 1, read)


@njit(**_JIT)
def process_block(ptab, out, frames, now, current, dac, underflow):
    """Fill out (frames, C) float32 with the next block: ``now`` is the callback's time (s, the
    ``perf_counter`` clock), ``current`` and ``dac`` the host's stream times (s; <= 0 when it gives
    none), ``underflow`` the host's flag. Never allocates, locks or waits."""
    started = monotonic_seconds()
    sync = i64_array1(ptab, R_SYNC)
    cb_i = i64_array1(ptab, R_CB_I)
    cb_f = f64_array1(ptab, R_CB_F)
    acc_i = i64_array1(ptab, R_ACC_I)
    acc_f = f64_array1(ptab, R_ACC_F)
    rate = cb_f[G_RATE]
    if dac > 0.0 and current > 0.0:
        dac_now, stamp = now + (dac - current), dac
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
    if cb_i[C_PANIC]:
        scale_ramped(mix, 1.0, 0.0)
        pipe_silence(pipes[cur])
        if retiring >= 0:
            pipe_silence(pipes[retiring])
            retiring = -1
        cb_i[C_PANIC] = 0
    cb_i[C_RETIRING] = retiring

    gain = cb_f[G_GAIN]
    step = frames / (MASTER_RAMP_SECONDS * rate)
    target = f64_array2(ptab, R_HALF_F)[half, H_MASTER]
    new_gain = target if abs(target - gain) <= step else (gain + step if target > gain else gain - step)
    cb_f[G_GAIN] = new_gain
    bad = finish_block(mix, out, gain, new_gain, f64_array1(ptab, R_SCOPE), cb_i[C_SCOPE_POS])
    store_release(cb_i, C_SCOPE_POS, cb_i[C_SCOPE_POS] + frames)
    record_block(f32_array2(ptab, R_REC), i64_array1(ptab, R_REC_I), out, frames)
    if bad or muted:
        cb_i[C_MUTED] += 1
    for s in range(2):
        store_release(sync, S_BUSY0 + s, 1 if (s == cur or s == retiring) else 0)
    cb_i[C_CALLBACKS] += 1
    cb_f[G_LAST] = now
    acc_block_done(acc_i, acc_f, monotonic_seconds() - started, frames)


_PA_CALLBACK_SIGNATURE = types.intc(types.voidptr, types.voidptr, types.uint64, types.voidptr, types.uint64,
                                    types.voidptr)


@cfunc(_PA_CALLBACK_SIGNATURE, nopython=True, cache=True, error_model="numpy")
def pa_callback(input_buffer, output_buffer, frame_count, time_info, status_flags, user_data):
    """PortAudio's stream callback: ``user_data`` is the address of a :class:`BlockProcessor` table."""
    ptab = table_at(address_of(user_data), TABLE_ROWS)
    frames = np.int64(frame_count)
    out = f32_frames(output_buffer, frames, i64_array1(ptab, R_CB_I)[C_CHANNELS])
    times = f64_time_info(address_of(time_info))
    process_block(ptab, out, frames, monotonic_seconds(), times[1], times[2],
                  (status_flags & PA_OUTPUT_UNDERFLOW) != 0)
    return 0  # paContinue


class BlockProcessor:
    """The state arrays of one output stream (``device_rate`` Hz, ``blocksize`` frames, ``channels``) and
    the writer's side of the hand-offs described in the module docstring."""

    def __init__(self, device_rate: float, blocksize: int, channels: int, output_latency: float,
                 record_frames: int | None = None):
        self.device_rate = float(device_rate)
        self.blocksize = int(blocksize)
        self.channels = int(channels)
        self.acc = Accounting(device_rate, blocksize)
        n = 2 * KEYS * VOICES_PER_KEY
        self.pipes = np.zeros((2, PIPE_ROWS, 5), dtype=np.int64)
        self.pipelines = [None, None]  # keeps each slot's arrays alive
        self.p_bank = np.full(n, -1, dtype=np.int64)
        self.p_hidden = np.zeros(n, dtype=np.int64)
        self.p_w_hh = np.zeros((n, HIDDEN_MAX, HIDDEN_MAX))
        self.p_w_ih = np.zeros((n, HIDDEN_MAX))
        self.p_w_out = np.zeros((n, HIDDEN_MAX))
        self.p_gains = np.zeros((n, self.channels))
        self.half_f = np.zeros((2, 2))
        self.half_i = np.full((2, 1), -1, dtype=np.int64)
        self.sync = np.zeros(8, dtype=np.int64)
        self.ring = np.zeros(2, dtype=np.int64)
        self.ev_i = np.zeros((EVENT_RING, 2), dtype=np.int64)
        self.ev_f = np.zeros((EVENT_RING, 2))
        self.cb_i = np.zeros(8, dtype=np.int64)
        self.cb_i[[C_CUR, C_RETIRING, C_FADING]] = -1
        self.cb_i[C_CHANNELS] = self.channels
        self.cb_f = np.zeros(4)
        self.cb_f[G_RATE], self.cb_f[G_OUTLAT] = self.device_rate, float(output_latency)
        self.cb_f[G_GAIN] = 1.0  # the master gain ramps from full scale to the first published master
        self.scope = np.zeros(SCOPE_SIZE)
        record_frames = RECORD_FRAMES if record_frames is None else int(record_frames)
        if record_frames < 1 or record_frames & (record_frames - 1):
            raise ValueError(f"the record ring must hold a power of two frames, not {record_frames}")
        self.rec = np.zeros((record_frames, self.channels), dtype=np.float32)  # pages mapped only when written
        self.rec_i = np.zeros(4, dtype=np.int64)
        arrays = (self.pipes, self.p_bank, self.p_hidden, self.p_w_hh, self.p_w_ih, self.p_w_out, self.p_gains,
                  self.half_f, self.half_i, self.sync, self.ring, self.ev_i, self.ev_f, self.cb_i, self.cb_f,
                  self.acc.ints, self.acc.floats, self.acc.latencies, self.scope, self.rec, self.rec_i)
        self.table = np.array([table_row(a) for a in arrays], dtype=np.int64)
        self.running = False  # set by whoever drives the callback; while False writers need not wait
        self.events_dropped = 0
        self._producer = threading.Lock()
        self._writer = threading.Lock()

    # ---- the callback's side, for Python callers (null output, tests) -------------------------

    def process(self, out: np.ndarray, frames: int, now: float, current: float, dac: float,
                underflow: bool) -> None:
        """Run :func:`process_block` on out (frames, C) float32: the same code PortAudio calls."""
        process_block(self.table, out, int(frames), float(now), float(current), float(dac), bool(underflow))

    @property
    def callback_address(self) -> int:
        """Address of the compiled PortAudio callback."""
        return pa_callback.address

    @property
    def user_data(self) -> int:
        """The ``userdata`` PortAudio hands the callback: the address of :attr:`table`."""
        return self.table.ctypes.data

    # ---- events (any thread) ---------------------------------------------------------------

    def push(self, kind: int, midi: int, velocity: float, when: float) -> bool:
        """Queue one event for the callback; False (and counted) when the ring is full."""
        with self._producer:
            ok = push_event(self.ring, self.ev_i, self.ev_f, kind, midi, velocity, when)
        if not ok:
            self.events_dropped += 1
        return bool(ok)

    # ---- patches and pipelines (writers) ----------------------------------------------------

    @property
    def published_slot(self) -> int:
        """The pipeline slot new notes go to (as last published; -1 before the first publish)."""
        return int(self.half_i[self.sync[S_PUB] & 1, H_PIPE])

    def pipeline_in_use(self):
        """The pipeline new notes go to (None before the first publish)."""
        slot = self.published_slot
        return self.pipelines[slot] if slot >= 0 else None

    def publish(self, pipeline, patches, amplitude: float, master: float, timeout: float = 1.0) -> None:
        """Make ``patches`` (KEYS entries: a tuple of VoicePatch, or None for a key that cannot sound) on
        ``pipeline``, with impulse height ``amplitude`` and ``master`` gain, what new notes play.
        ``patches=None`` keeps the patches in use. Waits (never the callback) until that is safe."""
        with self._writer:
            self._wait(lambda: self.sync[S_SEEN] == self.sync[S_PUB], timeout)
            word = int(self.sync[S_PUB])
            active, idle = word & 1, 1 - (word & 1)
            slot = self._slot_for(pipeline, int(self.half_i[active, H_PIPE]), timeout)
            span = slice(idle * KEYS * VOICES_PER_KEY, (idle + 1) * KEYS * VOICES_PER_KEY)
            if patches is None:
                old = slice(active * KEYS * VOICES_PER_KEY, (active + 1) * KEYS * VOICES_PER_KEY)
                for a in (self.p_bank, self.p_hidden, self.p_w_hh, self.p_w_ih, self.p_w_out, self.p_gains):
                    a[span] = a[old]
            else:
                self._write_patches(span.start, patches)
            self.half_f[idle, H_AMPLITUDE] = amplitude
            self.half_f[idle, H_MASTER] = master
            self.half_i[idle, H_PIPE] = slot
            publish_word(self.sync, S_PUB, ((word >> 1) + 1) << 1 | idle)

    def _write_patches(self, base: int, patches) -> None:
        if len(patches) != KEYS:
            raise ValueError(f"patches for {KEYS} keys expected, got {len(patches)}")
        for midi, key in enumerate(patches):
            for v in range(VOICES_PER_KEY):
                k = base + midi * VOICES_PER_KEY + v
                patch = key[v] if key is not None and v < len(key) else None
                if patch is None:
                    self.p_bank[k] = -1
                    continue
                w = patch.weights
                h = w.hidden
                if h > HIDDEN_MAX:
                    raise ValueError(f"the live engine plays hidden sizes up to {HIDDEN_MAX}, not {h}")
                self.p_bank[k] = vk.BANK_IIR if patch.bank == "iir" else vk.BANK_RNN
                self.p_hidden[k] = h
                self.p_w_hh[k, :h, :h] = w.w_hh
                self.p_w_ih[k, :h] = w.w_ih
                self.p_w_out[k, :h] = w.w_out
                self.p_gains[k] = patch.gains

    def _slot_for(self, pipeline, active_slot: int, timeout: float) -> int:
        """The slot that holds ``pipeline``, installing it in the slot new notes do not use if need be."""
        for slot in (0, 1):
            if self.pipelines[slot] is pipeline:
                return slot
        slot = 0 if active_slot < 0 else 1 - active_slot
        if self.pipelines[slot] is not None:
            publish_word(self.sync, S_FADE0 + slot, 1)  # the callback fades it out within a block
            seen = int(self.cb_i[C_CALLBACKS])
            self._wait(lambda: self.cb_i[C_CALLBACKS] >= seen + 2 and self.sync[S_BUSY0 + slot] == 0, timeout)
            publish_word(self.sync, S_FADE0 + slot, 0)
        self.pipes[slot] = pipeline.table
        self.pipelines[slot] = pipeline
        return slot

    def _wait(self, ready, timeout: float) -> None:
        """Wait until ``ready()`` while a callback runs (a stream that stalls longer is not reading)."""
        if not self.running:
            return
        deadline = time.perf_counter() + timeout
        while not ready() and time.perf_counter() < deadline:
            time.sleep(0.0005)

    # ---- recording (one writer thread) ---------------------------------------------------------

    def record_start(self) -> None:
        """Start copying every block the callback plays into the record ring (from the next block on)."""
        self.rec_i[REC_READ] = self.rec_i[REC_WRITE]  # the callback leaves both alone while recording is off
        self.rec_i[REC_DROPPED] = 0
        publish_word(self.rec_i, REC_ON, 1)

    def record_stop(self, timeout: float = 0.5) -> None:
        """Stop recording; returns once no block can still be writing into the ring (what it holds stays readable)."""
        publish_word(self.rec_i, REC_ON, 0)
        seen = self.callbacks
        self._wait(lambda: self.callbacks >= seen + 2, timeout)

    def read_recorded(self, dest: np.ndarray) -> int:
        """Move up to len(dest) recorded frames (oldest first) into dest (M, channels) float32; returns how many."""
        return int(read_recorded(self.rec, self.rec_i, dest))

    @property
    def recording(self) -> bool:
        """True while the callback copies its blocks into the record ring."""
        return bool(self.rec_i[REC_ON])

    @property
    def record_dropped(self) -> int:
        """Frames the callback could not record since :meth:`record_start` (the ring was full)."""
        return int(self.rec_i[REC_DROPPED])

    # ---- what readers see -------------------------------------------------------------------

    @property
    def output_latency(self) -> float:
        """Seconds from a block's start to its sound, used when the host gives no DAC times."""
        return float(self.cb_f[G_OUTLAT])

    @output_latency.setter
    def output_latency(self, seconds: float) -> None:
        self.cb_f[G_OUTLAT] = float(seconds)

    @property
    def callbacks(self) -> int:
        """Blocks processed."""
        return int(self.cb_i[C_CALLBACKS])

    @property
    def muted_blocks(self) -> int:
        """Blocks muted for NaN/Inf."""
        return int(self.cb_i[C_MUTED])

    @property
    def last_callback(self) -> float:
        """``now`` of the latest block (s)."""
        return float(self.cb_f[G_LAST])

    @property
    def callback_thread(self) -> int:
        """Kernel thread id of the thread that runs the callback (0 until it ran)."""
        return int(self.sync[S_THREAD])

    def active_voices(self) -> int:
        """Voices sounding in both pipelines."""
        return sum(p.renderer.active_voices for p in self.pipelines if p is not None)

    def voices_stolen(self) -> int:
        """Voices stolen in both pipelines."""
        return sum(p.renderer.stats.voices_stolen for p in self.pipelines if p is not None)

    def read_scope(self, out: np.ndarray) -> int:
        """Copy the newest ``len(out)`` output samples (mono, device rate, oldest first) into out; returns how
        many were copied (fewer right after start)."""
        pos = int(self.cb_i[C_SCOPE_POS])
        n = min(len(out), SCOPE_SIZE, pos)
        if n <= 0:
            return 0
        start = (pos - n) & (SCOPE_SIZE - 1)
        first = min(n, SCOPE_SIZE - start)
        out[:first] = self.scope[start:start + first]
        out[first:n] = self.scope[:n - first]
        return n

"""The block processor: the audio callback's state, and the writers' side of its hand-offs.

PortAudio calls the compiled callback (``pa_callback`` of :mod:`iirnn_core.rt.entries`, reached
through :mod:`iirnn_core.rt.library`, a numba ``@cfunc`` with PortAudio's ``PaStreamCallback`` signature)
on its own thread with ``userdata`` pointing at :attr:`BlockProcessor.table`, an int64 table of
the addresses and shapes of every numpy array it touches (two pipelines, the patch tables, the
event ring, counters, the scope ring; rows in :mod:`iirnn_core.rt.block_layout`). It runs
``process_block`` (:mod:`iirnn_core.rt.block_kernels`), the same compiled function the null output,
the tests and ``iirnn bench`` call through :meth:`BlockProcessor.process`, and that renders with the
same compiled voice and pipeline functions as ``iirnn render``. It never allocates, locks, logs,
waits or calls into Python. This module imports no numba.

Hand-offs, all lock-free for the callback:

- **Key events** (kind, key, velocity, time) go into a single-producer/single-consumer ring:
  ``push_event`` writes the slot, then publishes the write index with a release store;
  the callback reads the write index with an acquire load, consumes what is due this block
  and publishes its read index the same way. Producer threads (GUI, MIDI, CLI) are serialised
  by a Python lock that the callback never sees; a full ring drops the new event and counts it.
- **Patches** (what each key plays: bank, weights, their spectral radius, gains, a sample voice's step, for
  every key;
  impulse height; master gain; the room's wet mix; the release T60 key releases damp to; which
  pipeline new notes use) live in two halves. A writer fills the half the callback
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

**When the callback does not answer.** A writer waits at most :data:`HANDOFF_TIMEOUT` for an
acknowledgement (``SEEN`` or ``BUSY``), longer than the output supervisor lets a stream start or
stall before it closes it (PortAudio joins the callback thread on close) and drives the same
processor from its null output, which answers. Whoever drives the callback says so with
:meth:`BlockProcessor.drive` (taken under the writers' lock, so a writer never sees the callback
start half-way through a hand-off) and :meth:`BlockProcessor.stop_driving` (after the callback
can no longer run: a waiting writer may then go on). A writer that still times out changes
nothing: it neither rewrites the unacknowledged half nor replaces the slot (the retired
pipeline stays referenced), logs one warning, counts it in :attr:`BlockProcessor.handoff_timeouts`
and raises :class:`OutputNotAnswering`.

The callback owns ``CB_I``/``CB_F`` (current and retiring slot, gain and wet ramps, counters), the
accounting arrays and the master stage's state (room, limiter: :class:`~iirnn_core.synth.master.MasterStage`);
Python only reads them (aligned 8-byte loads, never torn on x86-64 or ARM64).
"""

from __future__ import annotations

import logging
import mmap
import threading
import time

import numpy as np

from iirnn_core.rt import library as rt
from iirnn_core.synth.accounting import Accounting
from iirnn_core.synth.master import MasterStage, check_wet
from iirnn_core.rt.block_layout import (C_CALLBACKS, C_CHANNELS, C_CUR, C_FADING, C_MUTED, C_RETIRING, C_SCOPE_POS,  # noqa: F401
                           EVENT_RING, G_COUNT, G_GAIN, G_HOSTLAT, G_LAST, G_OUTLAT, G_RATE, H_AMPLITUDE,
                           H_FLOATS, H_MASTER, H_PIPE, H_RELEASE, H_ROOM, HIDDEN_MAX, KEYS,
                           NOTE_OFF, NOTE_ON, PANIC, RECORD_FRAMES, REC_DROPPED, REC_ON, REC_READ, REC_WRITE,
                           S_BUSY0, S_FADE0, S_PUB, S_SEEN, S_THREAD, SCOPE_SIZE, VOICES_PER_KEY)
from iirnn_core.rt.pipeline_layout import PIPE_ROWS
from iirnn_core.rt.tables import table_row
from iirnn_core.rt.voice_layout import BANK_IIR, BANK_RNN, BANK_SAMPLE

log = logging.getLogger(__name__)

_BANKS = {"iir": BANK_IIR, "rnn": BANK_RNN, "sample": BANK_SAMPLE}
"""A patch's bank by name (:class:`~iirnn_core.synth.renderer.VoicePatch`) as the compiled voices number it."""

HANDOFF_TIMEOUT = 6.0
"""Seconds a writer waits for the callback to acknowledge a hand-off: longer than the supervisor's
start and stall timeouts (``iirnn_core.audio.supervisor``), after which the stream is closed and
the null output answers instead."""


def lazy_zeros(shape: tuple[int, ...]) -> np.ndarray:
    """A float64 array of zeros whose memory is backed page by page (4 kB) only where it is written: an anonymous
    map of its own. (numpy asks the system for 2 MB pages for an array this large, and every 2 MB touched is
    then resident.) The array keeps its map alive; its address never moves."""
    size = int(np.prod(shape)) * 8
    return np.frombuffer(mmap.mmap(-1, size), dtype=np.float64).reshape(shape)


class OutputNotAnswering(RuntimeError):
    """The callback did not acknowledge a hand-off within :data:`HANDOFF_TIMEOUT`: nothing was changed."""


class BlockProcessor:
    """The state arrays of one output stream (``device_rate`` Hz, ``blocksize`` frames, ``channels``) and
    the writer's side of the hand-offs described in the module docstring.

    The patch weight tables hold every voice of both halves at ``HIDDEN_MAX`` (64) states: ``p_w_hh`` is
    (512, 64, 64) float64, 16.8 MB of zeros (:func:`lazy_zeros`) whose 4 kB pages are backed only as the
    writers touch them: each patch's H x H corner, one page a patch up to 8 states (0.9 MB measured for a
    model of the whole keyboard in both halves), its whole 32 kB at 64 (4.8 MB). They are not sized by the model in use: the callback reads
    them by the addresses in :attr:`table`, and replacing them on a model change would need a hand-off of
    their own (several words of a table row, which the callback reads unsynchronised) to save what an
    unwritten page does not cost anyway."""

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
        self.p_w_hh = lazy_zeros((n, HIDDEN_MAX, HIDDEN_MAX))  # 16.8 MB, backed as far as the nets reach
        self.p_w_ih = np.zeros((n, HIDDEN_MAX))
        self.p_w_out = np.zeros((n, HIDDEN_MAX))
        self.p_gains = np.zeros((n, self.channels))
        self.p_radius = np.zeros(n)
        self.p_step = np.zeros(n)
        self.half_f = np.zeros((2, H_FLOATS))
        self.half_f[:, H_RELEASE] = np.inf  # ring on until a publish says otherwise
        self.half_i = np.full((2, 1), -1, dtype=np.int64)
        self.sync = np.zeros(8, dtype=np.int64)
        self.ring = np.zeros(2, dtype=np.int64)
        self.ev_i = np.zeros((EVENT_RING, 2), dtype=np.int64)
        self.ev_f = np.zeros((EVENT_RING, 2))
        self.cb_i = np.zeros(8, dtype=np.int64)
        self.cb_i[[C_CUR, C_RETIRING, C_FADING]] = -1
        self.cb_i[C_CHANNELS] = self.channels
        self.cb_f = np.zeros(G_COUNT)
        self.cb_f[G_RATE], self.cb_f[G_OUTLAT] = self.device_rate, float(output_latency)
        self.cb_f[G_GAIN] = 1.0  # the master gain ramps from full scale to the first published master
        self.scope = np.zeros(SCOPE_SIZE)
        record_frames = RECORD_FRAMES if record_frames is None else int(record_frames)
        if record_frames < 1 or record_frames & (record_frames - 1):
            raise ValueError(f"the record ring must hold a power of two frames, not {record_frames}")
        self.rec = np.zeros((record_frames, self.channels), dtype=np.float32)  # pages mapped only when written
        self.rec_i = np.zeros(4, dtype=np.int64)
        self.master = MasterStage(self.device_rate, self.channels)  # room and limiter, at the device rate
        arrays = (self.pipes, self.p_bank, self.p_hidden, self.p_w_hh, self.p_w_ih, self.p_w_out, self.p_gains,
                  self.half_f, self.half_i, self.sync, self.ring, self.ev_i, self.ev_f, self.cb_i, self.cb_f,
                  self.acc.ints, self.acc.floats, self.acc.latencies, self.scope, self.rec, self.rec_i,
                  self.master.table, self.p_radius, self.p_step)
        self.table = np.array([table_row(a) for a in arrays], dtype=np.int64)
        self.running = False  # True while an output may call the callback (drive / stop_driving)
        self.events_dropped = 0
        self.handoff_timeouts = 0
        self._producer = threading.Lock()
        self._writer = threading.Lock()

    # ---- the callback's side, for Python callers (null output, tests) -------------------------

    def process(self, out: np.ndarray, frames: int, now: float, current: float, dac: float,
                underflow: bool) -> None:
        """Run ``process_block`` on out (>= frames, C) float32: the same code PortAudio calls."""
        rt.process(self.table, out, int(frames), float(now), float(current), float(dac), bool(underflow))

    @property
    def callback_address(self) -> int:
        """Address of the compiled PortAudio callback."""
        return rt.address("pa_callback")

    @property
    def user_data(self) -> int:
        """The ``userdata`` PortAudio hands the callback: the address of :attr:`table`."""
        return self.table.ctypes.data

    # ---- events (any thread) ---------------------------------------------------------------

    def push(self, kind: int, midi: int, velocity: float, when: float) -> bool:
        """Queue one event for the callback; False (and counted) when the ring is full."""
        with self._producer:
            ok = rt.push(self.table, int(kind), int(midi), float(velocity), float(when))
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

    def publish(self, pipeline, patches, amplitude: float, master: float, room: float, release: float = np.inf,
                timeout: float = HANDOFF_TIMEOUT) -> None:
        """Make ``patches`` (KEYS entries: a tuple of VoicePatch, or None for a key that cannot sound) on
        ``pipeline``, with impulse height ``amplitude``, what new notes play, ``master`` gain and the room's
        wet mix ``room`` (0: no room .. 1; SettingError otherwise) what every block plays from the next on, and
        ``release`` (a 60 dB decay in seconds; inf: ring on) what key releases from then on damp to.
        ``patches=None`` keeps the patches in use. Waits (never the callback) until that is safe;
        :class:`OutputNotAnswering` (nothing changed) if the callback does not answer within ``timeout`` s."""
        room = check_wet(room)
        with self._writer:
            self._wait(lambda: self.sync[S_SEEN] == self.sync[S_PUB], timeout, "a patch change")
            word = int(self.sync[S_PUB])
            active, idle = word & 1, 1 - (word & 1)
            slot = self._slot_for(pipeline, int(self.half_i[active, H_PIPE]), timeout)
            span = slice(idle * KEYS * VOICES_PER_KEY, (idle + 1) * KEYS * VOICES_PER_KEY)
            if patches is None:
                self._copy_patches(active * KEYS * VOICES_PER_KEY, span.start)
            else:
                self._write_patches(span.start, patches)
            self.half_f[idle, H_AMPLITUDE] = amplitude
            self.half_f[idle, H_MASTER] = master
            self.half_f[idle, H_ROOM] = room
            self.half_f[idle, H_RELEASE] = release
            self.half_i[idle, H_PIPE] = slot
            rt.publish(self.sync, S_PUB, ((word >> 1) + 1) << 1 | idle)

    def _copy_patches(self, source: int, dest: int) -> None:
        """Copy the patches of the half at row ``source`` to the half at row ``dest``: each voice's weights only up
        to its hidden size, so the weight tables' pages are touched only as far as the nets in use reach."""
        count = KEYS * VOICES_PER_KEY
        for a in (self.p_bank, self.p_hidden, self.p_gains, self.p_radius, self.p_step):
            a[dest:dest + count] = a[source:source + count]
        for k in range(count):
            h = int(self.p_hidden[source + k]) if self.p_bank[source + k] >= 0 else 0
            self.p_w_hh[dest + k, :h, :h] = self.p_w_hh[source + k, :h, :h]
            self.p_w_ih[dest + k, :h] = self.p_w_ih[source + k, :h]
            self.p_w_out[dest + k, :h] = self.p_w_out[source + k, :h]

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
                self.p_bank[k] = _BANKS[patch.bank]
                self.p_hidden[k] = h
                self.p_w_hh[k, :h, :h] = w.w_hh
                self.p_w_ih[k, :h] = w.w_ih
                self.p_w_out[k, :h] = w.w_out
                self.p_gains[k] = patch.gains
                self.p_radius[k] = patch.radius
                self.p_step[k] = patch.step

    def _slot_for(self, pipeline, active_slot: int, timeout: float) -> int:
        """The slot that holds ``pipeline``, installing it in the slot new notes do not use if need be (the
        pipeline it replaces is dropped only once the callback has faded it and says it is not busy)."""
        for slot in (0, 1):
            if self.pipelines[slot] is pipeline:
                return slot
        slot = 0 if active_slot < 0 else 1 - active_slot
        if self.pipelines[slot] is not None:
            rt.publish(self.sync, S_FADE0 + slot, 1)  # the callback fades it out within a block
            seen = int(self.cb_i[C_CALLBACKS])
            try:
                self._wait(lambda: self.cb_i[C_CALLBACKS] >= seen + 2 and self.sync[S_BUSY0 + slot] == 0,
                           timeout, "a pipeline change")
            finally:
                rt.publish(self.sync, S_FADE0 + slot, 0)
        self.pipes[slot] = pipeline.table
        self.pipelines[slot] = pipeline
        return slot

    def _wait(self, ready, timeout: float, what: str) -> bool:
        """Wait until ``ready()`` while a callback may run; True at once when none can (:meth:`stop_driving`).
        After ``timeout`` s: logged, counted, :class:`OutputNotAnswering`."""
        deadline = time.perf_counter() + timeout
        while self.running and not ready():
            if time.perf_counter() > deadline:
                self.handoff_timeouts += 1
                log.warning("the audio callback did not answer %s within %g s; nothing was changed", what, timeout)
                raise OutputNotAnswering(f"the audio output did not answer within {timeout:g} s, so {what} "
                                         "was not made; try again")
            time.sleep(0.0005)
        return True

    # ---- who drives the callback ---------------------------------------------------------------

    def drive(self) -> None:
        """Say a callback may run from now on (before the stream or null output starts; its first block then
        records its thread id afresh). Taken under the writers' lock: a hand-off under way finishes first."""
        with self._writer:
            rt.publish(self.sync, S_THREAD, 0)
            self.running = True

    def stop_driving(self) -> None:
        """Say no callback can run any more (after the stream was closed or the null output joined)."""
        self.running = False

    # ---- recording (one writer thread) ---------------------------------------------------------

    def record_start(self) -> None:
        """Start copying every block the callback plays into the record ring (from the next block on)."""
        self.rec_i[REC_READ] = self.rec_i[REC_WRITE]  # the callback leaves both alone while recording is off
        self.rec_i[REC_DROPPED] = 0
        rt.publish(self.rec_i, REC_ON, 1)

    def record_stop(self, timeout: float = 0.5) -> None:
        """Stop recording; returns once no block can still be writing into the ring (what it holds stays readable)."""
        rt.publish(self.rec_i, REC_ON, 0)
        seen = self.callbacks
        deadline = time.perf_counter() + timeout
        while self.running and self.callbacks < seen + 2 and time.perf_counter() < deadline:
            time.sleep(0.0005)  # a stalled block may still copy one block later: it is counted, never torn

    def read_recorded(self, dest: np.ndarray) -> int:
        """Move up to len(dest) recorded frames (oldest first) into dest (M, channels) float32; returns how many."""
        return rt.read_recorded(self.table, dest)

    @property
    def recording(self) -> bool:
        """True while the callback copies its blocks into the record ring."""
        return bool(self.rec_i[REC_ON])

    @property
    def record_written(self) -> int:
        """Frames the callback has put in the record ring since this processor was made (its write index)."""
        return int(self.rec_i[REC_WRITE])

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
    def host_latency(self) -> float:
        """Seconds from a block's start to its sound as the host last said it (DAC time minus current time;
        PulseAudio's and pipewire-pulse's figure includes what the server queues), 0 where it says nothing."""
        return max(0.0, float(self.cb_f[G_HOSTLAT]))

    @property
    def limiter_reduction_db(self) -> float:
        """The most the limiter has reduced the level since this processor was made (dB; 0: it never acted)."""
        return self.master.reduction_db

    @property
    def lookahead_seconds(self) -> float:
        """The limiter's lookahead: every note sounds this much later (s)."""
        return self.master.lookahead / self.device_rate

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

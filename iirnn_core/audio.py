"""Live audio: a sounddevice output stream playing the shared renderer, with safety and honest accounting.

:class:`AudioEngine` plays keys (MIDI numbers) through ``sounddevice.OutputStream`` with a
callback. Any thread calls :meth:`~AudioEngine.note_on` / ``note_off`` / ``panic``: the event
(with its ``perf_counter`` time) goes into a ``collections.deque`` (append/popleft are atomic)
that the callback drains at the start of each block. Each impulse is placed at the sample of
the block that sounds one block period after its key event, so every note has the same
key-to-sound latency (small jitter) and that latency is measured per note from the callback's
``outputBufferDacTime``.

Voices run at the model rate (the seed's 8 kHz) in a :class:`~iirnn_core.pipeline.Pipeline`
(the shared :class:`~iirnn_core.renderer.Renderer` plus a streaming polyphase resampler to the
device rate). Everything the callback reads comes from one immutable :class:`_Snapshot`
(pipeline, a patch table of all 128 keys built outside the callback, amplitude, master gain)
swapped by one reference assignment: changing engine, Q, drive or model affects new notes
only, so nothing clicks; a change of model rate or hidden size gets a new pipeline while the
old one rings out. The callback never allocates arrays, locks, logs or waits.

With no usable device, or when the device dies mid-play, the engine keeps running on a
:class:`~iirnn_core.null_output.NullOutput` and says so in :attr:`AudioEngine.status_line`;
:meth:`AudioEngine.reopen` tries a device again.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import threading
import time
from dataclasses import dataclass

import numpy as np

from .accounting import Accounting
from .errors import one_line
from .notes import NoteError, midi_to_note
from .null_output import NullOutput
from .output_stage import add_ramped, finish_block, scale_ramped
from .pipeline import Pipeline
from .renderer import ENGINES, SynthSettings, patches_for
from .resonator import SettingError

NOTE_ON, NOTE_OFF, PANIC = 0, 1, 2
SCOPE_SIZE = 1 << 16
"""Scope ring length in device frames (1.4 s at 48 kHz)."""
MASTER_RAMP_SECONDS = 0.02
"""The master gain moves at most full scale per this many seconds (no zipper noise, no clicks)."""
START_TIMEOUT = 5.0
"""Seconds a freshly opened stream may take to run steadily (PulseAudio's first open takes 1-2 s)."""
STALL_SECONDS = 5.0
"""A running device whose callback stays away this long is taken as lost. (PulseAudio through ALSA
takes about 2 s to recover from an underrun: that is a dropout, counted, not a lost device.)"""
AUDIO_NICE = -10
"""Nice value asked for every thread of the audio process once a device plays (PortAudio's callback
thread, the ALSA pulse plugin's thread, and the Python threads that may hold the GIL the callback
needs): a busy machine then cannot keep them waiting past the device buffer. Processes started
later inherit it: a training child must set its own (higher) nice value."""
EVENT_QUEUE = 4096
"""Events waiting for the callback; beyond this the oldest are dropped (never blocks)."""


@dataclass(frozen=True)
class AudioConfig:
    """The output: ``device`` by name (None: the host's default), ``samplerate`` (Hz), ``blocksize``
    (frames per callback) and ``latency`` ('low', 'high' or seconds), as sounddevice takes it."""

    device: str | None = None
    samplerate: int = 48000
    blocksize: int = 128
    latency: str | float = "low"

    def __post_init__(self):
        if not (isinstance(self.samplerate, (int, float)) and math.isfinite(self.samplerate)
                and self.samplerate > 0 and float(self.samplerate).is_integer()):
            raise SettingError(f"device sample rate must be a whole positive number of Hz, got {self.samplerate}")
        if not (isinstance(self.blocksize, int) and 16 <= self.blocksize <= 8192):
            raise SettingError(f"block size must be 16..8192 frames, got {self.blocksize}")
        if isinstance(self.latency, str):
            if self.latency not in ("low", "high"):
                raise SettingError(f"latency must be 'low', 'high' or seconds, got {self.latency!r}")
        elif not (math.isfinite(self.latency) and 0 < self.latency < 2):
            raise SettingError(f"latency must be between 0 and 2 s, got {self.latency}")

    @property
    def period(self) -> float:
        """Block period in seconds."""
        return self.blocksize / self.samplerate


@dataclass(frozen=True)
class EngineStats:
    """Accounting since the current output started (see :mod:`iirnn_core.accounting`)."""

    underruns_timestamps: int
    underruns_wallclock: int
    muted_blocks: int
    callback_load_mean: float
    callback_load_max: float
    latency_ms_median: float
    null_output: bool
    device_name: str
    samplerate: int
    blocksize: int
    latency_ms_max: float = math.nan
    latency_ms_spread: float = math.nan
    notes: int = 0
    callbacks: int = 0
    underflow_flags: int = 0
    frames_lost_wallclock: float = 0.0
    output_latency_ms: float = math.nan
    active_voices: int = 0
    voices_stolen: int = 0
    callback_errors: int = 0
    priority_raised: bool = False

    def as_dict(self) -> dict:
        """Plain dict, JSON-ready (NaN, e.g. no latency measured yet, becomes None)."""
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class _Snapshot:
    """Everything the callback reads per block; replaced whole, never mutated."""

    pipeline: Pipeline
    patches: tuple  # 128 entries: tuple[VoicePatch, ...] for a key that can sound, else None
    amplitude: float
    master: float


def _sd():
    import sounddevice

    return sounddevice


_streams_open = 0  # streams this module holds open; PortAudio is re-scanned only when 0


def refresh_devices() -> None:
    """Re-scan the host's devices (PortAudio lists them once at start-up) if no stream is open."""
    if _streams_open:
        return
    sd = _sd()
    quiet_alsa()
    try:
        sd._terminate()
        sd._initialize()
    except Exception:  # noqa: BLE001 - a failed re-scan leaves the old list
        pass


_alsa_handler = None  # kept alive for as long as alsa-lib may call it


def quiet_alsa() -> None:
    """Stop alsa-lib printing "underrun occurred" and the like on stderr (the engine counts underruns
    itself and reports them in one place). Best effort; does nothing where there is no alsa-lib."""
    global _alsa_handler
    if _alsa_handler is not None:
        return
    try:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("asound")
        if name is None:
            return
        lib = ctypes.CDLL(name)
        handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                        ctypes.c_char_p)
        _alsa_handler = handler_type(lambda *args: None)
        lib.snd_lib_error_set_handler(_alsa_handler)
    except (OSError, AttributeError):
        pass


def _output_devices() -> list[dict]:
    sd = _sd()
    return [dict(d, index=i) for i, d in enumerate(sd.query_devices()) if d["max_output_channels"] > 0]


def list_output_devices() -> list[str]:
    """Names of the output devices the host offers now (empty when there are none)."""
    refresh_devices()
    try:
        return [d["name"] for d in _output_devices()]
    except Exception:  # noqa: BLE001 - no PortAudio, no devices
        return []


def default_output_device() -> str | None:
    """Name of the host's default output device, or None."""
    try:
        index = _sd().default.device[1]
        if index is None or index < 0:
            outs = _output_devices()
            return outs[0]["name"] if outs else None
        return _sd().query_devices(index)["name"]
    except Exception:  # noqa: BLE001
        return None


def find_output_device(name: str | None) -> dict:
    """The output device called ``name`` (exact, else the first containing it, case-insensitive);
    None: the default. Raises LookupError with one sentence when there is none."""
    outs = _output_devices()
    if not outs:
        raise LookupError("the host offers no output device")
    if name is None:
        name = default_output_device()
        if name is None:
            return outs[0]
    for d in outs:
        if d["name"] == name:
            return d
    for d in outs:
        if name.lower() in d["name"].lower():
            return d
    raise LookupError(f"no output device named {name!r} (have: {', '.join(d['name'] for d in outs)})")


def _thread_ids() -> set[int]:
    """Native ids of this process's threads (Linux; empty elsewhere)."""
    try:
        return {int(t) for t in os.listdir("/proc/self/task")}
    except (OSError, ValueError):
        return set()


def raise_thread_priority(thread_ids) -> bool:
    """Give these threads the nice value AUDIO_NICE; True if it was granted for all (root or RLIMIT_NICE).

    Measured here (2 cores, training in a child process on both): at nice 0 the ALSA pulse plugin
    underran several times a minute, each underrun costing about 2 s of silence while PulseAudio
    restarts the stream; with every thread of the audio process at -10 it did not. Real-time
    scheduling of the callback thread alone was worse (it starved the plugin's thread), and
    raising only the stream's threads was not enough: a Python thread holding the GIL the
    callback waits for must get the CPU too.
    """
    granted = bool(thread_ids)
    for tid in thread_ids:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, AUDIO_NICE)
        except (AttributeError, OSError):
            granted = False
    return granted


_warmed = False


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel the callback runs, outside the callback."""
    global _warmed
    if _warmed:
        return
    settings = SynthSettings(channels=2)
    pipe = Pipeline(settings.rate, 48000.0, 2, 1, settings.hidden, 128)
    out = np.zeros((128, 2), dtype=np.float32)
    scope = np.zeros(256)
    pipe.begin_block(128)
    for engine in ("iir", "rnn-analytic"):
        for note in ("A4", "C5"):  # the second steals the first: every kernel of the renderer runs once
            pipe.trigger(patches_for(engine, note, settings), settings.amplitude, 0, 69)
    mix = pipe.render(128)
    add_ramped(mix, mix, 1.0, 1.0)
    scale_ramped(mix, 1.0, 1.0)
    finish_block(mix, out, 1.0, 1.0, scope, 0)
    _warmed = True


class AudioEngine:
    """Keys in, sound out: see the module docstring. ``polyphony`` voices per bank (IIR, RNN)."""

    def __init__(self, cfg: AudioConfig = AudioConfig(), settings: SynthSettings = SynthSettings(),
                 engine: str = "iir", model=None, polyphony: int = 32):
        if not isinstance(cfg, AudioConfig):
            raise TypeError("cfg must be an AudioConfig")
        if not (isinstance(polyphony, int) and 1 <= polyphony <= 256):
            raise SettingError(f"polyphony must be 1..256 voices, got {polyphony}")
        self._cfg = cfg
        self._settings = settings
        self._engine = engine
        self._model = model
        self._polyphony = polyphony
        self._lock = threading.RLock()  # serialises the setters and device changes; the callback never takes it
        self._events: collections.deque = collections.deque(maxlen=EVENT_QUEUE)
        self._scope = np.zeros(SCOPE_SIZE)
        self._scope_pos = 0
        self._graveyard: collections.deque = collections.deque()
        self._output = None
        self._null = True
        self._device_name = ""
        self._output_latency = cfg.period
        self._channels = 2
        self._rate = float(cfg.samplerate)
        self._acc = Accounting(cfg.samplerate, cfg.blocksize)
        self._callbacks_total = 0
        self._callback_errors = 0
        self._muted_blocks = 0
        self._reset_request = False
        self._priority_raised = False
        self._steady = False
        self._last_callback = 0.0
        self._supervisor: threading.Thread | None = None
        self._closing = threading.Event()
        self._clock = time.perf_counter  # the engine's time base (s); tests may substitute a fake clock
        self._reset_callback_state()
        self._snap = self._build(engine, settings, model, 1.0)
        self._gain = 1.0
        self.status_line = "Audio is not started."

    # ---- the immutable snapshot -------------------------------------------------------------

    def _reset_callback_state(self) -> None:
        """Callback-owned state; only touched while no callback can run."""
        self._pipe: Pipeline | None = None
        self._retiring: Pipeline | None = None
        self._fading: Pipeline | None = None
        self._panic_pending = False

    def _build(self, engine: str, settings: SynthSettings, model, master: float) -> _Snapshot:
        """A new snapshot for these parameters (patch table of all keys, pipeline reused when it fits)."""
        if engine not in ENGINES:
            raise SettingError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
        if not isinstance(settings, SynthSettings):
            raise TypeError("settings must be a SynthSettings")
        trained = engine == "rnn-trained" or (engine == "ab" and settings.ab_twin == "rnn-trained")
        if trained and model is None:
            raise SettingError("the rnn-trained engine needs a trained model (load or train one first)")
        hidden = max(settings.hidden, model.hidden if trained else 0)
        voice_settings = dataclasses.replace(settings, channels=self._channels)
        key = (float(settings.rate), self._rate, self._channels, self._polyphony, hidden, self._cfg.blocksize)
        old = getattr(self, "_snap", None)
        if old is not None and old.pipeline.key == key:
            pipeline = old.pipeline
        else:
            pipeline = Pipeline(*key)
        patches, first_error = [], None
        for midi in range(128):
            try:
                patches.append(patches_for(engine, midi_to_note(midi), voice_settings, model if trained else None))
            except (SettingError, NoteError, KeyError, ValueError) as exc:
                patches.append(None)
                first_error = first_error or exc
        if all(p is None for p in patches):
            raise SettingError(f"no key can sound with these settings: {one_line(first_error)}")
        return _Snapshot(pipeline, tuple(patches), float(settings.amplitude), float(master))

    @property
    def engine(self) -> str:
        """The engine new notes use."""
        return self._engine

    @property
    def settings(self) -> SynthSettings:
        """The settings new notes use."""
        return self._settings

    @property
    def model(self):
        """The trained model (or None)."""
        return self._model

    @property
    def config(self) -> AudioConfig:
        """The output configuration in use (after fallbacks and rollbacks)."""
        return self._cfg

    @property
    def master(self) -> float:
        """Master volume 0..1."""
        return self._snap.master

    def playable(self, midi: int) -> bool:
        """True if key ``midi`` sounds with the current engine, settings and model."""
        return 0 <= midi < 128 and self._snap.patches[midi] is not None

    def set_engine(self, name: str) -> None:
        """'iir' | 'rnn-analytic' | 'rnn-trained' | 'ab' for new notes; SettingError if impossible (nothing changes)."""
        with self._lock:
            snap = self._build(name, self._settings, self._model, self._snap.master)
            self._engine = name
            self._snap = snap

    def set_settings(self, settings: SynthSettings) -> None:
        """New Q, drive, model rate, amplitude, ... for new notes; SettingError if impossible (nothing changes)."""
        with self._lock:
            snap = self._build(self._engine, settings, self._model, self._snap.master)
            self._settings = settings
            self._snap = snap

    def set_model(self, model) -> None:
        """Swap in a trained model (an immutable TrainedModel) for new notes by one reference assignment."""
        with self._lock:
            snap = self._build(self._engine, self._settings, model, self._snap.master)
            self._model = model
            self._snap = snap

    def set_master(self, volume: float) -> None:
        """Master volume 0..1 (linear gain), ramped in the callback over about 20 ms."""
        volume = float(volume)
        if not math.isfinite(volume):
            raise SettingError(f"master volume must be a number 0..1, got {volume}")
        with self._lock:
            self._snap = dataclasses.replace(self._snap, master=min(1.0, max(0.0, volume)))

    # ---- events (any thread, never blocks) ---------------------------------------------------

    def note_on(self, midi: int, velocity: float = 1.0, when: float | None = None) -> None:
        """Strike key ``midi`` (0..127) with ``velocity`` 0..1 (impulse = amplitude * velocity; 0 releases).

        ``when`` is the key's ``time.perf_counter()`` time (default: now); latency is measured from it.
        """
        midi = int(midi)
        velocity = float(velocity)
        if not 0 <= midi <= 127:
            raise NoteError(f"MIDI note must be 0..127, got {midi}")
        if not math.isfinite(velocity):
            raise SettingError(f"velocity must be a number 0..1, got {velocity}")
        if velocity <= 0.0:
            self.note_off(midi)
            return
        self._events.append((NOTE_ON, midi, min(velocity, 1.0), self._clock() if when is None else when))

    def note_off(self, midi: int) -> None:
        """Release key ``midi``: its voices ring on (a resonator's tail) and are stolen first."""
        self._events.append((NOTE_OFF, int(midi), 0.0, self._clock()))

    def panic(self) -> None:
        """Every voice off at once (faded over one block, so it does not click)."""
        self._events.append((PANIC, 0, 0.0, self._clock()))

    # ---- the callback ------------------------------------------------------------------------

    def callback(self, outdata, frames, time_info, status) -> None:
        """The sounddevice callback (also driven by the null output and by tests): fills outdata (frames, C)
        float32 with the next block. Never raises, allocates arrays, locks, logs or waits."""
        now = self._clock()
        try:
            self._fill(outdata, frames, time_info, status, now)
        except Exception:  # noqa: BLE001 - the audio must go on; counted and reported by stats()
            outdata.fill(0)
            self._callback_errors += 1
        self._callbacks_total += 1
        self._last_callback = now
        self._acc.block_done(self._clock() - now, frames)

    def _fill(self, outdata, frames, time_info, status, now) -> None:
        acc = self._acc
        if self._reset_request:
            acc.reset()
            self._reset_request = False
        rate = self._rate
        current, dac = time_info.currentTime, time_info.outputBufferDacTime
        if dac > 0.0 and current > 0.0:
            dac_now, stamp = now + (dac - current), dac
        else:
            dac_now, stamp = now + self._output_latency, now
        acc.block_started(now, stamp, frames, bool(status) and bool(status.output_underflow))

        snap = self._snap
        pipe = snap.pipeline
        if pipe is not self._pipe:
            self._switch_pipeline(pipe)
        pipe.begin_block(frames)
        retiring = self._retiring
        if retiring is not None:
            retiring.begin_block(frames)
        self._drain_events(snap, pipe, retiring, frames, rate, now, dac_now)

        muted_before = pipe.renderer.stats.muted_blocks
        mix = pipe.render(frames)
        if retiring is not None:
            add_ramped(retiring.render(frames), mix, 1.0, 1.0)
            if not retiring.sounding:
                self._graveyard.append(retiring)
                self._retiring = None
        fading = self._fading
        if fading is not None:
            fading.begin_block(frames)
            add_ramped(fading.render(frames), mix, 1.0, 0.0)
            self._graveyard.append(fading)
            self._fading = None
        if self._panic_pending:
            scale_ramped(mix, 1.0, 0.0)
            pipe.silence()
            if self._retiring is not None:
                self._graveyard.append(self._retiring)
                self._retiring = None
            self._panic_pending = False

        gain = self._gain
        step = frames / (MASTER_RAMP_SECONDS * rate)
        target = snap.master
        new_gain = target if abs(target - gain) <= step else (gain + step if target > gain else gain - step)
        self._gain = new_gain
        bad = finish_block(mix, outdata, gain, new_gain, self._scope, self._scope_pos)
        self._scope_pos += frames
        if bad or pipe.renderer.stats.muted_blocks != muted_before:
            self._muted_blocks += 1

    def _switch_pipeline(self, pipe: Pipeline) -> None:
        """A new pipeline (model rate or hidden size changed): the old one rings out; an older one fades."""
        old = self._pipe
        self._pipe = pipe
        if old is None or not old.sounding:
            return
        if self._retiring is not None:
            # A third pipeline while one still rings: the oldest fades out within this block.
            self._fading = self._retiring
        self._retiring = old

    def _drain_events(self, snap, pipe, retiring, frames, rate, now, dac_now) -> None:
        events = self._events
        block_start = now - frames / rate  # an event is heard one block period after it happened
        block_end = now
        while events:
            event = events.popleft()
            kind, midi = event[0], event[1]
            if kind == NOTE_ON:
                when = event[3]
                if when > block_end:  # scheduled for a later block
                    events.appendleft(event)
                    return
                patches = snap.patches[midi]
                if patches is None:
                    continue
                frame = int((when - block_start) * rate + 0.5)
                frame = 0 if frame < 0 else (frames - 1 if frame >= frames else frame)
                landed = pipe.trigger(patches, snap.amplitude * event[2], frame, midi)
                if landed < 0.0:  # this block renders no model frame: keep it for the next
                    events.appendleft(event)
                    return
                self._acc.note_latency(dac_now + landed / rate - when)
            elif kind == NOTE_OFF:
                pipe.renderer.release(midi)
                if retiring is not None:
                    retiring.renderer.release(midi)
            else:
                self._panic_pending = True
                return

    # ---- outputs ------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the configured device once (falls back to a paced null output, never raises for device trouble)."""
        with self._lock:
            if self._output is None:
                self._closing.clear()
                self._open(self._cfg, previous=None)
            if self._supervisor is None:
                self._supervisor = threading.Thread(target=self._supervise, name="iirnn-audio-supervisor",
                                                    daemon=True)
                self._supervisor.start()

    def reopen(self, cfg: AudioConfig) -> bool:
        """Change device, rate or block size. On failure the previous output is restored (or, failing that,
        the null output); returns True if ``cfg`` is now in use. Never raises for device trouble."""
        if not isinstance(cfg, AudioConfig):
            raise TypeError("cfg must be an AudioConfig")
        with self._lock:
            previous = self._cfg
            self._stop_output()
            if self._open(cfg, previous=previous):
                return True
            return False

    def _configure(self, cfg: AudioConfig, channels: int) -> None:
        """Size everything for ``cfg`` (no callback runs now)."""
        warm_up()
        self._cfg = cfg
        self._rate = float(cfg.samplerate)
        self._channels = channels
        self._acc = Accounting(cfg.samplerate, cfg.blocksize)
        self._reset_callback_state()
        self._snap = self._build(self._engine, self._settings, self._model, self._snap.master)

    def _open(self, cfg: AudioConfig, previous: AudioConfig | None) -> bool:
        """Open ``cfg`` on a device; on failure roll back to ``previous`` or run the null output."""
        try:
            self._open_device(cfg)
            return True
        except Exception as exc:  # noqa: BLE001 - device trouble becomes one status line
            reason = one_line(exc)
        if previous is not None and previous != cfg:
            try:
                self._open_device(previous)
                self.status_line = (f"Could not open {cfg.device or 'the default device'}: {reason}; "
                                    f"still playing on {self._device_name}.")
                return False
            except Exception:  # noqa: BLE001
                pass
        self._start_null(cfg, f"No audio device: {reason}; playing silently on a null output.")
        return False

    def _open_device(self, cfg: AudioConfig) -> None:
        global _streams_open
        sd = _sd()
        refresh_devices()
        info = find_output_device(cfg.device)
        channels = min(2, int(info["max_output_channels"]))
        self._configure(cfg, channels)
        stream = sd.OutputStream(device=info["index"], samplerate=cfg.samplerate, blocksize=cfg.blocksize,
                                 channels=channels, dtype="float32", latency=cfg.latency,
                                 callback=self.callback)
        _streams_open += 1
        try:
            self._steady = False
            stream.start()
            self._wait_steady(cfg)
            self._priority_raised = raise_thread_priority(_thread_ids())
        except Exception:
            self._close_stream(stream)
            raise
        self._output = stream
        self._null = False
        self._device_name = info["name"]
        self._output_latency = float(stream.latency)
        self._reset_request = True
        self._steady = True
        self.status_line = (f"Playing on {info['name']} at {cfg.samplerate} Hz, {cfg.blocksize}-frame blocks, "
                            f"{1000 * stream.latency:.1f} ms output latency.")

    def _wait_steady(self, cfg: AudioConfig) -> None:
        """Wait until callbacks arrive at the block rate (PulseAudio pauses 1-2 s after a first open)."""
        deadline = time.perf_counter() + START_TIMEOUT
        window = max(0.05, 8 * cfg.period)
        need = max(2, int(0.5 * window / cfg.period))
        good = 0
        while time.perf_counter() < deadline:
            before = self._callbacks_total
            time.sleep(window)
            good = good + 1 if self._callbacks_total - before >= need else 0
            if good >= 2:
                return
        raise RuntimeError(f"the stream did not run within {START_TIMEOUT:g} s")

    def _start_null(self, cfg: AudioConfig, message: str) -> None:
        self._configure(cfg, 2)
        output = NullOutput(self.callback, cfg.samplerate, cfg.blocksize, 2)
        self._output = output
        self._priority_raised = False
        self._null = True
        self._device_name = "null output"
        self._output_latency = output.latency
        self._reset_request = True
        output.start()
        self._steady = True
        self.status_line = message

    @staticmethod
    def _close_stream(stream) -> None:
        global _streams_open
        try:
            stream.abort()
        except Exception:  # noqa: BLE001 - a vanished device may fail to abort
            pass
        try:
            stream.close()
        except Exception:  # noqa: BLE001
            pass
        _streams_open = max(0, _streams_open - 1)

    def _stop_output(self) -> None:
        output, self._output = self._output, None
        self._steady = False
        if output is None:
            return
        if isinstance(output, NullOutput):
            output.stop()
        else:
            self._close_stream(output)

    def _supervise(self) -> None:
        """Every 0.2 s: free retired pipelines; if the device stopped, move to the null output."""
        while not self._closing.wait(0.2):
            while self._graveyard:
                self._graveyard.popleft()
            output = self._output
            if output is None or self._null or not self._steady:
                continue
            stalled = time.perf_counter() - self._last_callback > max(STALL_SECONDS, 20 * self._cfg.period)
            try:
                inactive = not output.active
            except Exception:  # noqa: BLE001
                inactive = True
            if stalled or inactive:
                with self._lock:
                    if self._output is output:
                        name = self._device_name
                        self._stop_output()
                        what = f"went silent for {STALL_SECONDS:g} s" if stalled else "stopped (unplugged?)"
                        self._start_null(self._cfg, f"Audio device {name} {what}; "
                                                    "playing silently on a null output.")

    def close(self) -> None:
        """Stop the output and the supervisor; the engine can be started again."""
        self._closing.set()
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.join(timeout=2.0)
        with self._lock:
            self._stop_output()
            self.status_line = "Audio is closed."

    def __enter__(self) -> "AudioEngine":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- what the window and the CLI read -------------------------------------------------------

    @property
    def is_null_output(self) -> bool:
        """True while playing on the null output."""
        return self._null

    def stats(self) -> EngineStats:
        """Accounting of the current output since it started."""
        acc = self._acc
        latencies = acc.latencies_seconds() * 1000.0
        pipe = self._snap.pipeline
        return EngineStats(
            underruns_timestamps=acc.underruns_timestamps,
            underruns_wallclock=acc.underruns_wallclock,
            muted_blocks=self._muted_blocks,
            callback_load_mean=acc.load_mean,
            callback_load_max=acc.load_max,
            latency_ms_median=float(np.median(latencies)) if latencies.size else math.nan,
            null_output=self._null,
            device_name=self._device_name,
            samplerate=int(self._cfg.samplerate),
            blocksize=int(self._cfg.blocksize),
            latency_ms_max=float(latencies.max()) if latencies.size else math.nan,
            latency_ms_spread=float(np.ptp(latencies)) if latencies.size else math.nan,
            notes=acc.notes,
            callbacks=acc.callbacks,
            underflow_flags=acc.underflow_flags,
            frames_lost_wallclock=float(acc.frames_lost),
            output_latency_ms=1000.0 * self._output_latency,
            active_voices=pipe.renderer.active_voices,
            voices_stolen=pipe.renderer.stats.voices_stolen,
            callback_errors=self._callback_errors,
            priority_raised=self._priority_raised,
        )

    def latencies_ms(self) -> np.ndarray:
        """Key-to-sound latency of the newest notes (ms, at most 8192), oldest first within the ring."""
        return self._acc.latencies_seconds() * 1000.0

    def read_scope(self, out: np.ndarray) -> int:
        """Copy the newest ``len(out)`` output samples (mono mix, device rate, oldest first) into out; returns
        how many were copied (fewer right after start)."""
        pos = self._scope_pos
        n = min(len(out), SCOPE_SIZE, pos)
        if n <= 0:
            return 0
        start = (pos - n) & (SCOPE_SIZE - 1)
        first = min(n, SCOPE_SIZE - start)
        out[:first] = self._scope[start:start + first]
        out[first:n] = self._scope[:n - first]
        return n

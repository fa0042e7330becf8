"""Live audio: the compiled block processor on a PortAudio stream, with a supervisor and honest accounting.

:class:`AudioEngine` plays keys (MIDI numbers). Any thread calls :meth:`~AudioEngine.note_on` /
``note_off`` / ``panic``: the event, stamped with ``time.perf_counter()``, goes into the lock-free
ring of a :class:`~iirnn_core.synth.block_processor.BlockProcessor`. PortAudio calls the processor's
compiled callback on its own thread: it never takes the GIL, so a busy GUI or a Python thread
holding the GIL cannot make the audio drop out. Each impulse is placed at the sample of the
block that sounds one block period after its key event, so every note has the same latency,
measured per note from PortAudio's DAC times.

Changing engine, Q, drive, model, master gain or room builds a patch table for all 128 keys here, off
the audio thread, and publishes it into the processor's idle half: new notes use it, sounding
notes keep their weights, the master gain and the room's wet mix ramp to their new values over
20 ms, nothing clicks. After the master gain, a peak limiter (0.5 ms lookahead, ceiling -0.3 dBFS)
keeps every sample below full scale (:mod:`iirnn_core.synth.master`). The release T60 (the dampers,
``settings.release``) travels in the same half: a key released after the publish is damped by it. A new
model rate or hidden size gets a new pipeline while the old one rings out.

The engine builds patch tables and reports :meth:`AudioEngine.stats`; an
:class:`~iirnn_core.audio.supervisor.OutputSupervisor` opens the device (by name, with rollback),
falls back to a paced null output when there is none or the device dies, and raises the callback
thread's priority; :mod:`iirnn_core.audio.devices` finds devices and opens the compiled stream.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from iirnn_core.synth.block_processor import (NOTE_OFF, NOTE_ON, PANIC, SCOPE_SIZE, BlockProcessor,  # noqa: F401 - re-exported
                                               OutputNotAnswering)
from iirnn_core.audio.devices import find_output_device, list_output_devices, refresh_devices  # noqa: F401 - re-exported
from iirnn_core.errors import one_line
from iirnn_core.dsp.notes import NoteError, midi_to_note
from iirnn_core.audio.supervisor import OutputSupervisor
from iirnn_core.audio.dropout_causes import DropoutCauses
from iirnn_core.synth.master import check_wet
from iirnn_core.synth.pipeline import Pipeline, pipeline_key
from iirnn_core.synth.renderer import ENGINES, SynthSettings, patches_for, sample_for
from iirnn_core.dsp.resonator import SettingError, check_release
from iirnn_core.models.what_plays import uses_trained_model

log = logging.getLogger(__name__)

_KEEP = object()
"""``configure(model=_KEEP)``: the model stays as it is (None is a real choice: no model)."""


@dataclass(frozen=True)
class AudioConfig:
    """The output: ``device`` by name (None: the host's default), ``samplerate`` (Hz), ``blocksize``
    (frames per callback) and ``latency`` ('low', 'high' or seconds), as sounddevice takes it. The default
    5 ms host buffer is safe because the callback never waits for the GIL; with 128-frame blocks at
    48 kHz a key sounds about 9 ms after it is struck. ``cpus_awake``: while notes sound on a device,
    ask the kernel to keep idle CPUs from halting (:mod:`iirnn_core.audio.cpu_wakeup`; where allowed)."""

    device: str | None = None
    samplerate: int = 48000
    blocksize: int = 128
    latency: str | float = 0.005
    cpus_awake: bool = True

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
        if not isinstance(self.cpus_awake, bool):
            raise SettingError(f"cpus_awake must be True or False, got {self.cpus_awake!r}")

    @property
    def period(self) -> float:
        """Block period in seconds."""
        return self.blocksize / self.samplerate


@dataclass(frozen=True)
class EngineStats:
    """Accounting since the current output started (see :mod:`iirnn_core.synth.accounting`)."""

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
    priority: str = "normal"
    events_dropped: int = 0
    cpu_wakeup: str = "off"
    audio_path: str = ""
    """How the device is reached ("PulseAudio", "pipewire-pulse", "PipeWire's JACK"; "" on the null output)."""
    handoff_timeouts: int = 0
    """Changes refused because the callback did not acknowledge a hand-off in time (nothing was changed)."""
    output_events: tuple = ()
    """The output's losses and returns since start, one sentence each (the supervisor's ``events``)."""
    dropout_cause: str = ""
    """What made recent dropouts, where it can be seen, in a few words (:mod:`iirnn_core.audio.dropout_causes`)."""
    limiter_reduction_db: float = 0.0
    """The most the master limiter reduced the level since the output started (dB; 0: it never acted)."""
    room: float = 0.0
    """The room's wet mix (0: no room)."""

    def as_dict(self) -> dict:
        """Plain dict, JSON-ready (NaN, e.g. no latency measured yet, becomes None)."""
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in dataclasses.asdict(self).items()}


_warmed = False


def warm_up() -> None:
    """Load (or compile) every compiled function the engine runs, once, before a stream opens: the
    first key then costs no compilation on the GUI thread, nor the null output's first block."""
    global _warmed
    if _warmed:
        return
    _warmed = True
    engine = AudioEngine(AudioConfig(blocksize=128), SynthSettings(channels=2), "ab")
    out = np.zeros((128, 2), dtype=np.float32)
    for note in (69, 72):
        engine.note_on(note, when=0.0)
    engine.panic()
    for _ in range(3):
        engine.callback(out, 128, None, None)


class AudioEngine:
    """Keys in, sound out: see the module docstring. ``polyphony`` voices per bank (IIR, RNN); ``room`` the small
    room's wet mix (0: none .. 1)."""

    def __init__(self, cfg: AudioConfig = AudioConfig(), settings: SynthSettings = SynthSettings(),
                 engine: str = "iir", model=None, polyphony: int = 32, room: float = 0.0):
        if not isinstance(cfg, AudioConfig):
            raise TypeError("cfg must be an AudioConfig")
        if not (isinstance(polyphony, int) and 1 <= polyphony <= 256):
            raise SettingError(f"polyphony must be 1..256 voices, got {polyphony}")
        self._cfg = cfg
        self._settings = settings
        self._engine = engine
        self._model = model
        self._polyphony = polyphony
        self._master = 1.0
        self._room = check_wet(room)
        self._lock = threading.RLock()  # serialises the setters and device changes; the callback never takes it
        self._callback_errors = 0
        self._clock = time.perf_counter  # the engine's time base (s); tests may substitute a fake clock
        self._processor = BlockProcessor(cfg.samplerate, cfg.blocksize, 2, cfg.period)
        self._patches = self._apply(engine, settings, model)
        self._out = OutputSupervisor(self._lock, self._new_processor, self.callback)
        self._causes = DropoutCauses()

    # ---- patches -----------------------------------------------------------------------------

    def _apply(self, engine: str, settings: SynthSettings, model) -> tuple:
        """Build the patch table for these parameters and publish it (SettingError: nothing changes)."""
        if engine not in ENGINES:
            raise SettingError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
        if not isinstance(settings, SynthSettings):
            raise TypeError("settings must be a SynthSettings")
        trained = uses_trained_model(engine, settings)
        if trained and model is None:
            raise SettingError("the rnn-trained engine needs a trained model (load or train one first)")
        proc = self._processor
        hidden = max(settings.hidden, model.hidden if trained else 0)
        voice_settings = dataclasses.replace(settings, channels=proc.channels)
        patches, first_error = [], None
        for midi in range(128):
            try:
                patches.append(patches_for(engine, midi_to_note(midi), voice_settings, model if trained else None))
            except (SettingError, NoteError, KeyError, ValueError) as exc:
                patches.append(None)
                first_error = first_error or exc
        if all(p is None for p in patches):
            raise SettingError(f"no key can sound with these settings: {one_line(first_error)}")
        sample = sample_for(engine, voice_settings, model if trained else None)  # a learned sound's recording
        shape = (float(settings.rate), proc.device_rate, proc.channels, self._polyphony, hidden, proc.blocksize)
        key = pipeline_key(*shape, sample)
        pipeline = (next((p for p in proc.pipelines if p is not None and p.key == key), None)
                    or Pipeline(*shape, sample=sample))
        try:
            proc.publish(pipeline, patches, float(settings.amplitude), self._master, self._room,
                         float(settings.release))
        except (ValueError, OutputNotAnswering) as exc:
            raise SettingError(one_line(exc)) from None
        return tuple(patches)

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
        return self._master

    @property
    def room(self) -> float:
        """The small room's wet mix (0: no room .. 1)."""
        return self._room

    @property
    def pipeline(self) -> Pipeline:
        """The pipeline new notes go to."""
        return self._processor.pipeline_in_use()

    @property
    def processor(self) -> BlockProcessor:
        """The block processor of the current output."""
        return self._processor

    def playable(self, midi: int) -> bool:
        """True if key ``midi`` sounds with the current engine, settings and model."""
        return 0 <= midi < 128 and self._patches[midi] is not None

    def configure(self, engine: str | None = None, settings: SynthSettings | None = None, model=_KEEP,
                  master: float | None = None, room: float | None = None) -> None:
        """Change any of engine, settings, model, master volume and the room's wet mix at once: one patch table,
        one publish, for new notes (master and room for every block; no patch table when only the levels or the
        release change). SettingError if the combination is impossible (nothing changes)."""
        engine = self._engine if engine is None else engine
        settings = self._settings if settings is None else settings
        model = self._model if model is _KEEP else model
        if master is not None:
            master = float(master)
            if not math.isfinite(master):
                raise SettingError(f"master volume must be a number 0..1, got {master}")
        room = None if room is None else check_wet(room)
        with self._lock:
            if (engine == self._engine and model is self._model
                    and dataclasses.replace(settings, release=self._settings.release) == self._settings):
                self._publish_levels(self._master if master is None else master,
                                     self._room if room is None else room, float(settings.release))
                return
            previous = self._master, self._room
            if master is not None:
                self._master = min(1.0, max(0.0, master))
            if room is not None:
                self._room = room
            try:
                self._patches = self._apply(engine, settings, model)
            except Exception:
                self._master, self._room = previous
                raise
            self._engine, self._settings, self._model = engine, settings, model

    def set_engine(self, name: str) -> None:
        """'iir' | 'rnn-analytic' | 'rnn-trained' | 'ab' for new notes; SettingError if impossible (nothing changes)."""
        self.configure(engine=name)

    def set_settings(self, settings: SynthSettings) -> None:
        """New Q, drive, model rate, amplitude, ... for new notes; SettingError if impossible (nothing changes)."""
        self.configure(settings=settings)

    def set_model(self, model) -> None:
        """Swap in a trained model (an immutable TrainedModel) for new notes."""
        self.configure(model=model)

    def set_master(self, volume: float) -> None:
        """Master volume 0..1 (linear gain), ramped in the callback over about 20 ms."""
        volume = float(volume)
        if not math.isfinite(volume):
            raise SettingError(f"master volume must be a number 0..1, got {volume}")
        with self._lock:
            self._publish_levels(volume, self._room, float(self._settings.release))

    def set_release(self, seconds: float) -> None:
        """Dampers: keys released from now on fall 60 dB in ``seconds`` (at least ``RELEASE_MIN``; ``RING_ON``,
        infinite: they ring on with their Q). Published to the callback with the patch half, as the master
        gain is (no patch is rebuilt); SettingError if impossible (nothing changes)."""
        release = check_release(seconds)
        with self._lock:
            self._publish_levels(self._master, self._room, release)

    def _publish_levels(self, master: float, room: float, release: float) -> None:
        """Publish master volume ``master`` (clamped to 0..1), the room's wet mix ``room`` and ``release`` (checked)
        with the patches in use (under the engine's lock); SettingError if the callback does not answer (nothing
        changes)."""
        proc = self._processor
        master = min(1.0, max(0.0, master))
        try:
            proc.publish(proc.pipeline_in_use(), None, float(self._settings.amplitude), master, room, release)
        except OutputNotAnswering as exc:
            raise SettingError(one_line(exc)) from None
        self._master, self._room = master, room
        self._settings = dataclasses.replace(self._settings, release=release)

    def set_room(self, wet: float) -> None:
        """The small room's wet mix, 0 (no room) .. 1, ramped in the callback over about 20 ms (SettingError for
        anything else; nothing changes)."""
        wet = check_wet(wet)
        with self._lock:
            self._publish_levels(self._master, wet, float(self._settings.release))

    # ---- events (any thread, never blocks the callback) ---------------------------------------

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
        self._processor.push(NOTE_ON, midi, min(velocity, 1.0), self._clock() if when is None else float(when))
        self._out.wakeup.sound()

    def note_off(self, midi: int) -> None:
        """Release key ``midi``: its voices are stolen first and fall 60 dB in ``settings.release`` seconds
        (the dampers; with ``RING_ON`` they ring on, a resonator's tail)."""
        self._processor.push(NOTE_OFF, int(midi), 0.0, self._clock())

    def panic(self) -> None:
        """Every voice off at once (faded over one block, so it does not click)."""
        self._processor.push(PANIC, 0, 0.0, self._clock())

    # ---- the callback, called from Python (null output, tests) ---------------------------------

    def callback(self, outdata, frames, time_info, status) -> None:
        """Fill outdata (frames, C) float32 with the next block through the compiled block processor (the
        code PortAudio calls directly on a device). ``time_info`` may be None (no host times)."""
        try:
            current = time_info.currentTime if time_info is not None else 0.0
            dac = time_info.outputBufferDacTime if time_info is not None else 0.0
            underflow = bool(status) and bool(status.output_underflow)
            self._processor.process(outdata, frames, self._clock(), current, dac, underflow)
        except Exception:  # noqa: BLE001 - the audio must go on; counted and reported by stats()
            outdata.fill(0)
            self._callback_errors += 1

    # ---- outputs (the supervisor opens, watches and replaces them) ---------------------------------

    def start(self) -> None:
        """Open the configured device once (falls back to a paced null output, never raises for device trouble)."""
        warm_up()
        self._out.start(self._cfg)

    def reopen(self, cfg: AudioConfig) -> bool:
        """Change device, rate or block size. On failure the previous output is restored (or, failing that,
        the null output); returns True if ``cfg`` is now in use. Never raises for device trouble."""
        if not isinstance(cfg, AudioConfig):
            raise TypeError("cfg must be an AudioConfig")
        return self._out.reopen(cfg, self._cfg)

    def _new_processor(self, cfg: AudioConfig, channels: int, output_latency: float) -> BlockProcessor:
        """The block processor for an output of ``cfg`` with ``channels`` (called with no callback running): the
        one in use when rate, block size and channels fit (its voices ring on in the new output), else a fresh
        one with the current patches."""
        proc = self._processor
        if (proc.device_rate == float(cfg.samplerate) and proc.blocksize == cfg.blocksize
                and proc.channels == channels):
            proc.output_latency = output_latency
            self._cfg = cfg
            return proc
        self._processor = BlockProcessor(cfg.samplerate, cfg.blocksize, channels, output_latency)
        self._patches = self._apply(self._engine, self._settings, self._model)
        self._cfg = cfg
        return self._processor

    def close(self) -> None:
        """Stop the output and its watch; the engine can be started again."""
        self._out.close()

    def __enter__(self) -> "AudioEngine":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def status_line(self) -> str:
        """One sentence on the output: where it plays, or why it plays silently."""
        return self._out.status_line

    @property
    def supervisor(self) -> OutputSupervisor:
        """What opens, watches and replaces the output."""
        return self._out

    # ---- what the window and the CLI read -------------------------------------------------------

    @property
    def is_null_output(self) -> bool:
        """True while playing on the null output."""
        return self._out.is_null

    def stats(self) -> EngineStats:
        """Accounting of the current output since it started."""
        proc = self._processor
        acc = proc.acc
        latencies = acc.latencies_seconds() * 1000.0
        return EngineStats(
            underruns_timestamps=acc.underruns_timestamps,
            underruns_wallclock=acc.underruns_wallclock,
            muted_blocks=proc.muted_blocks,
            callback_load_mean=acc.load_mean,
            callback_load_max=acc.load_max,
            latency_ms_median=float(np.median(latencies)) if latencies.size else math.nan,
            null_output=self._out.is_null,
            device_name=self._out.device_name,
            samplerate=int(self._cfg.samplerate),
            blocksize=int(self._cfg.blocksize),
            latency_ms_max=float(latencies.max()) if latencies.size else math.nan,
            latency_ms_spread=float(np.ptp(latencies)) if latencies.size else math.nan,
            notes=acc.notes,
            callbacks=acc.callbacks,
            underflow_flags=acc.underflow_flags,
            frames_lost_wallclock=float(acc.frames_lost),
            output_latency_ms=1000.0 * proc.output_latency,
            active_voices=proc.active_voices(),
            voices_stolen=proc.voices_stolen(),
            callback_errors=self._callback_errors,
            priority=self._out.priority,
            events_dropped=proc.events_dropped,
            cpu_wakeup=self._out.wakeup.state,
            handoff_timeouts=proc.handoff_timeouts,
            audio_path=self._out.path,
            output_events=tuple(self._out.events),
            dropout_cause=self._causes.tick(max(acc.underruns_timestamps, acc.underruns_wallclock),
                                            self._out.is_null, self._out.wakeup.state),
            limiter_reduction_db=proc.limiter_reduction_db,
            room=self._room,
        )

    def latencies_ms(self) -> np.ndarray:
        """Key-to-sound latency of the newest notes (ms, at most 8192), oldest first within the ring."""
        return self._processor.acc.latencies_seconds() * 1000.0

    def read_scope(self, out: np.ndarray) -> int:
        """Copy the newest ``len(out)`` output samples (mono mix, device rate, oldest first) into out; returns
        how many were copied (fewer right after start)."""
        return self._processor.read_scope(out)

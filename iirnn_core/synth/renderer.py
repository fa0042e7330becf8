"""The block renderer: voices of each engine, impulses at exact sample offsets, mixing.

One code path for live audio, ``iirnn render``, the benchmarks and the tests. A
:class:`Renderer` owns three :class:`VoiceBank` s (IIR resonators, RNN twins, and sample voices that play a
learned sound's recording, A/B's left voice beside the learned net) of preallocated voice slots;
:meth:`Renderer.trigger` places an impulse at a sample offset of the next block,
:meth:`Renderer.render_block` advances every sounding voice and mixes them into ``out``
(frames, channels), through the compiled entry points of :mod:`iirnn_core.rt.library` (the live callback
runs the same compiled functions on the same arrays). Nothing in ``render_block`` allocates; the
per-key :class:`VoicePatch` es are built beforehand by :func:`patches_for`. The level is set after the
voices, by the master stage (:mod:`iirnn_core.synth.master`: room, master gain, peak limiter), which
:func:`render_notes` runs as the live output does.

Dampers: :meth:`Renderer.release` damps a key's voices so they fall 60 dB in the renderer's
release T60 (seconds; ``RING_ON``, infinite, leaves them ringing with the key's Q): each voice's
poles move to the release radius over a few milliseconds (:mod:`iirnn_core.rt.voice_kernels`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from iirnn_core.rt import library as rt
from iirnn_core.rt import voice_layout as vl
from iirnn_core.rt.tables import table_row
from iirnn_core.synth.master import MasterStage
from iirnn_core.synth.resample import rate_ratio
from iirnn_core.dsp.weights import RNNWeights, analytic_weights, check_drive, spectral_radius
from iirnn_core.dsp.notes import canonical, note_to_midi, midi_to_hz
from iirnn_core.dsp.resonator import (RING_ON, SettingError, check_amplitude, check_q, check_rate, check_release,
                                      resonator)

ENGINES = ("iir", "rnn-analytic", "rnn-trained", "ab")
"""Engine names: the reference filter, the twin with computed or trained weights, and A/B
(IIR on the left channel, an RNN twin on the right; with a learned sound's net as the twin, the recording
itself on the left)."""

UNTRAINED = ("silent", "analytic")
"""What a trained twin plays for a key its model lacks: nothing, or the analytic twin."""

VOICE_PEAK = 0.25
"""Peak level (full scale = 1) of one full-velocity voice after loudness compensation."""

RETIRE_LEVEL = 10.0 ** (-90.0 / 20.0)
"""A voice whose block peak (after its gain) falls below -90 dBFS is retired."""

DEFAULT_RELEASE = 0.3
"""Release T60 (s) by default: piano-like dampers. A released key falls 60 dB in 0.3 s unless it already
decays faster (at the default Q 0.995 and 8 kHz its own T60 is 0.17 s, so nothing changes there);
the sustain pedal holds keys; ``RING_ON`` is the old behaviour, every tail ringing with its Q."""


@dataclass(frozen=True)
class SynthSettings:
    """What every voice shares: model ``rate`` (samples/s), pole radius ``q``, ``drive`` of the
    analytic twin, impulse ``amplitude`` at full velocity, ``hidden`` size of the analytic twin,
    output ``channels`` (1 or 2), ``raw`` (unity gains, no master stage: the seed's convention) and
    ``ab_twin``: the RNN engine heard on the right channel in A/B; ``untrained``: what a trained twin plays
    for a key its model lacks (a key not trained yet): 'silent' (it cannot sound) or 'analytic' (the
    analytic twin); ``release``: the T60 in seconds a released key's dampers bring it down in (at least
    ``RELEASE_MIN``; ``RING_ON``, infinite: no dampers)."""

    rate: float = 8000.0
    q: float = 0.995
    drive: float = 1.0
    amplitude: float = 0.1
    hidden: int = 3
    channels: int = 1
    raw: bool = False
    ab_twin: str = "rnn-analytic"
    untrained: str = "silent"
    release: float = DEFAULT_RELEASE

    def __post_init__(self):
        check_q(self.q)
        check_release(self.release)
        check_drive(self.drive)
        check_rate(self.rate)
        check_amplitude(self.amplitude)
        if self.channels not in (1, 2):
            raise SettingError(f"channels must be 1 or 2, got {self.channels}")
        if self.ab_twin not in ("rnn-analytic", "rnn-trained"):
            raise SettingError(f"the A/B twin must be rnn-analytic or rnn-trained, got {self.ab_twin}")
        if self.untrained not in UNTRAINED:
            raise SettingError(f"untrained keys must be {' or '.join(UNTRAINED)}, got {self.untrained}")


@dataclass(frozen=True)
class VoicePatch:
    """How one key sounds in one bank: ``bank`` ('iir', 'rnn' or 'sample'), its recurrence weights
    (``w_hh`` (H, H), ``w_ih`` (H,), ``w_out`` (H,); a sample voice's are one silent state, unused), per-channel
    output ``gains`` (C,), and for a sample voice its ``step``: source samples of the recording a frame."""

    bank: str
    weights: RNNWeights
    gains: np.ndarray
    step: float = 0.0

    @cached_property
    def radius(self) -> float:
        """The spectral radius of ``w_hh`` (its largest pole's magnitude): what a released voice's damper scales
        down to the release radius. The key's Q for the IIR and the analytic twin; a trained net's own; 1 for a
        sample voice (its envelope falls by the release radius a frame). NaN for
        weights that are not finite (such a voice is dropped as soon as it sounds)."""
        if self.bank == "sample":
            return 1.0
        w_hh = self.weights.w_hh
        return spectral_radius(w_hh) if np.all(np.isfinite(w_hh)) else math.nan


def _voice_gain(freq: float, settings: SynthSettings) -> float:
    """Loudness compensation: unity when raw, else ``sin(w) * VOICE_PEAK / amplitude``."""
    if settings.raw:
        return 1.0
    return math.sin(2.0 * math.pi * freq / settings.rate) * VOICE_PEAK / settings.amplitude


def _channel_gains(gain: float, settings: SynthSettings, side: int | None) -> np.ndarray:
    """Gains (C,) for a voice heard on both channels (``side=None``), left (0) or right (1)."""
    gains = np.full(settings.channels, gain)
    if side is not None and settings.channels == 2:
        gains[1 - side] = 0.0
    return gains


def _sound_gain(model, settings: SynthSettings) -> float:
    """A learned sound's voice gain: its net rings at the recording's level, peak 1 raw, else ``VOICE_PEAK``."""
    return 1.0 if settings.raw else VOICE_PEAK * model.amplitude / settings.amplitude


def _table_ratio(sound, rate: float) -> tuple[int, int] | None:
    """(L, M): the recording is resampled by L/M to ``rate`` before voices read it, when ``rate`` is below its own
    (else None: read as it is, and so when the ratio is not one of whole rates)."""
    if rate >= sound.rate:
        return None
    try:
        return rate_ratio(sound.rate, rate)
    except SettingError:
        return None


def recording_table(sound, rate: float) -> tuple[np.ndarray, float]:
    """The table (S,) float64 sample voices at ``rate`` Hz read for ``sound``, and its rate (Hz): the recording as
    it is, or, when ``rate`` is below the recording's, resampled to ``rate`` through an anti-alias low-pass
    (``scipy.signal.resample_poly``, onset kept at sample 0), so that at least the learned key puts nothing above
    the synth's Nyquist. Keys above it may still alias the recording's top partials (no further band-limiting)."""
    ratio = _table_ratio(sound, rate)
    target = np.ascontiguousarray(sound.target, dtype=np.float64)
    if ratio is None:
        return target, float(sound.rate)
    from scipy.signal import resample_poly

    return np.ascontiguousarray(resample_poly(target, *ratio)), float(rate)


def sample_patch(freq: float, settings: SynthSettings, model, side: int | None) -> VoicePatch:
    """The voice that plays ``model.sound``'s recording for a key of ``freq`` Hz at ``settings.rate``: it reads
    ``(freq / pitch) * (table rate / rate)`` samples of :func:`recording_table` a frame (the recording's rate, or
    ``rate`` where the table was resampled to it), and its gains are the net's over the impulse height the net
    learned with (``model.sound.amplitude``), so both sound at the same level for any impulse."""
    sound = model.sound
    table_rate = settings.rate if _table_ratio(sound, settings.rate) else sound.rate
    step = (freq / sound.pitch) * (table_rate / settings.rate)
    if not (math.isfinite(step) and step > 0):
        raise SettingError(f"cannot play the recording at {freq} Hz, {settings.rate} Hz rate")
    gains = _channel_gains(_sound_gain(model, settings) / sound.amplitude, settings, side)
    return VoicePatch("sample", RNNWeights(np.zeros((1, 1)), np.zeros(1), np.zeros(1)), gains, step)


def plays_recording(engine: str, settings: SynthSettings, model) -> bool:
    """True if ``engine`` plays ``model``'s learned recording: A/B with the trained twin, the model holding a sound."""
    return (engine == "ab" and settings.ab_twin == "rnn-trained" and model is not None
            and model.sound is not None)


def sample_for(engine: str, settings: SynthSettings, model) -> np.ndarray | None:
    """The table (S,) float64 the sample voices of ``engine`` read (:func:`recording_table` of ``model.sound`` at
    ``settings.rate``), or None when it plays no recording."""
    if not plays_recording(engine, settings, model):
        return None
    return recording_table(model.sound, settings.rate)[0]


def iir_weights(k1: float, k2: float) -> RNNWeights:
    """The resonator in state-space form for the linear bank: state ``(y[n], y[n-1])``."""
    return RNNWeights(np.array([[k1, k2], [1.0, 0.0]]), np.array([1.0, 0.0]), np.array([1.0, 0.0]))


def patches_for(engine: str, note: str, settings: SynthSettings, model=None) -> tuple[VoicePatch, ...]:
    """The voices one key starts in ``engine`` (one voice, or two for 'ab').

    ``model`` (a :class:`iirnn_core.models.modelfile.TrainedModel`) is needed for 'rnn-trained'; it must
    hold the key and match the settings' rate and Q, else SettingError says which. In A/B with the trained twin,
    a model holding a learned sound puts the recording itself on the left (:func:`sample_patch`), beside its net.
    """
    if engine not in ENGINES:
        raise SettingError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    name = canonical(note)
    freq = midi_to_hz(note_to_midi(name))
    res = resonator(freq, settings.q, settings.rate)
    gain = _voice_gain(freq, settings)

    def one(kind: str, side: int | None) -> VoicePatch:
        gains = _channel_gains(gain, settings, side)
        if kind == "iir":
            return VoicePatch("iir", iir_weights(res.k1, res.k2), gains)
        if kind == "rnn-analytic":
            return VoicePatch("rnn", analytic_weights(res, settings.hidden, settings.drive), gains)
        if model is None:
            raise SettingError("the rnn-trained engine needs a model file (--model FILE)")
        if name not in model.keys and settings.untrained == "analytic":  # not trained yet: the analytic twin
            return VoicePatch("rnn", analytic_weights(res, settings.hidden, settings.drive), gains)
        if model.sound is not None:  # a learned sound: the net rings at the recording's level, peak 1 raw
            gains = _channel_gains(_sound_gain(model, settings), settings, side)
        return VoicePatch("rnn", model.weights_for(name, settings.rate, settings.q), gains)

    if engine == "ab":
        twin = one(settings.ab_twin, 1)
        if plays_recording(engine, settings, model):
            return (sample_patch(freq, settings, model, 0), twin)
        return (one("iir", 0), twin)
    return (one(engine, None),)


class VoiceBank:
    """Preallocated slots for up to ``max_voices`` voices of one recurrence (hidden size ``hidden``).

    Sounding voices are packed in slots ``0..count-1``. Per voice: weights, state, an excitation
    buffer for the next block, gains, the key it plays (``note``), whether it was released and
    its last block peak (``level``, after gain). The count lives in the renderer's control row
    ``ctl[index]``; the compiled functions of :mod:`iirnn_core.rt.voice_kernels` do the work.
    """

    def __init__(self, hidden: int, max_voices: int, block_max: int, channels: int, ctl: np.ndarray, index: int):
        self.hidden = hidden
        self.max_voices = max_voices
        self._ctl, self._index = ctl, index
        v = max_voices
        self.w_hh = np.zeros((hidden, hidden, v))
        self.w_ih = np.zeros((hidden, v))
        self.w_out = np.zeros((hidden, v))
        self.h = np.zeros((hidden, v))
        self.scratch = np.zeros((hidden, v))
        self.gains = np.zeros((channels, v))
        self.x = np.zeros((block_max, v))
        self.y = np.zeros((block_max, v))
        self.ints = np.zeros((vl.INT_ROWS, v), dtype=np.int64)  # rows: note, released, frames to wait (INT_*)
        self.floats = np.zeros((vl.FLOAT_ROWS, v))  # rows: level, radius, damper, its target and step, ... (FL_*)
        self.peaks = np.zeros(v)

    def table_rows(self) -> list[list[int]]:
        """Its rows of the renderer's array table, in :mod:`~iirnn_core.rt.voice_kernels` order."""
        return [table_row(a) for a in (self.w_hh, self.w_ih, self.w_out, self.h, self.scratch, self.gains,
                                       self.x, self.y, self.ints, self.floats, self.peaks)]

    @property
    def count(self) -> int:
        """Sounding voices (slots ``0..count-1``)."""
        return int(self._ctl[self._index])

    @property
    def notes(self) -> np.ndarray:
        """Key (MIDI number, or any int id) of each slot; valid for slots ``0..count-1``."""
        return self.ints[0]

    @property
    def levels(self) -> np.ndarray:
        """Last block peak of each slot (after gain); valid for slots ``0..count-1``."""
        return self.floats[vl.FL_LEVEL]

    @property
    def dampers(self) -> np.ndarray:
        """Damper factor of each slot (1: undamped; a released voice's moves to release radius / its radius)."""
        return self.floats[vl.FL_DAMP]


@dataclass
class RenderStats:
    """What the renderer counted: blocks rendered, blocks muted for NaN/Inf, voices started/stolen."""

    blocks: int = 0
    muted_blocks: int = 0
    voices_started: int = 0
    voices_stolen: int = 0


class Renderer:
    """Voices of every bank, mixed into blocks of up to ``block_max`` frames at ``settings.rate``.

    ``max_voices`` is the polyphony of each bank; ``rnn_hidden`` the largest hidden size an RNN
    voice may have (smaller ones are zero-padded, which leaves their output unchanged).
    ``retire_level`` is the block peak below which a voice stops (0 keeps every voice to the end).
    ``guard``: a block holding NaN or Inf is muted and counted (off: the seed's plain sum).
    ``rate`` (Hz) is the rate it renders at (what a release T60 is counted in) and ``release`` the T60 in
    seconds :meth:`release` damps keys to (``RING_ON``: no dampers). ``sample`` (S,) is the recording its sample
    voices read (fixed for its life; default none: one silent sample).
    Its arrays are listed in :attr:`table` (int64, ``voice_layout.RENDERER_ROWS`` rows), which the
    compiled functions, the live callback's included, work on.
    """

    def __init__(self, channels: int = 1, max_voices: int = 32, rnn_hidden: int = 3,
                 block_max: int = 4096, guard: bool = True, retire_level: float = RETIRE_LEVEL,
                 rate: float = SynthSettings.rate, release: float = RING_ON, sample: np.ndarray | None = None):
        self.channels = channels
        self.block_max = block_max
        self.release_seconds = check_release(release)
        self.ctl = np.zeros(vl.CTL_SIZE, dtype=np.int64)
        self.ctl[vl.CTL_GUARD] = int(guard)
        self.params = np.zeros(vl.PARAM_SIZE)
        self.params[[vl.PARAM_RETIRE, vl.PARAM_RATE]] = retire_level, check_rate(rate)
        self.banks = {
            "iir": VoiceBank(2, max_voices, block_max, channels, self.ctl, vl.BANK_IIR),
            "rnn": VoiceBank(rnn_hidden, max_voices, block_max, channels, self.ctl, vl.BANK_RNN),
            "sample": VoiceBank(1, max_voices, block_max, channels, self.ctl, vl.BANK_SAMPLE),
        }
        self.sample = np.zeros(1) if sample is None else np.array(sample, dtype=np.float64)  # its own copy
        if self.sample.ndim != 1 or len(self.sample) == 0:
            raise ValueError(f"a recording is a non-empty 1-D array, not {self.sample.shape}")
        self.table = np.array(sum((self.banks[b].table_rows() for b in ("iir", "rnn", "sample")), [])
                              + [table_row(self.sample), table_row(self.ctl), table_row(self.params)],
                              dtype=np.int64)

    @property
    def stats(self) -> RenderStats:
        """What it counted so far."""
        c = self.ctl
        return RenderStats(int(c[vl.CTL_BLOCKS]), int(c[vl.CTL_MUTED]), int(c[vl.CTL_STARTED]), int(c[vl.CTL_STOLEN]))

    @property
    def active_voices(self) -> int:
        """Number of sounding voices in every bank."""
        return int(self.ctl[vl.BANK_IIR] + self.ctl[vl.BANK_RNN] + self.ctl[vl.BANK_SAMPLE])

    def trigger(self, patches: tuple[VoicePatch, ...], amplitude: float, offset: int = 0, note: int = -1) -> None:
        """Start ``patches`` (one key) with an impulse of ``amplitude`` at frame ``offset`` of the next block."""
        if not 0 <= offset < self.block_max:
            raise ValueError(f"offset {offset} outside a block of at most {self.block_max} frames")
        for patch in patches:
            bank = self.banks[patch.bank]
            w = patch.weights
            if w.hidden > bank.hidden:
                raise SettingError(f"a voice with {w.hidden} hidden states needs a larger bank ({bank.hidden})")
            rt.start_voice(self.table, bank._index, w.hidden, w.w_hh, w.w_ih, w.w_out, patch.gains,
                           float(amplitude), int(offset), int(note), patch.radius, float(patch.step))

    def release(self, note: int) -> None:
        """Release ``note``: its voices are stolen first and their dampers bring them down 60 dB in
        :attr:`release_seconds` (with ``RING_ON`` they ring on, a resonator's tail)."""
        rt.release_note(self.table, int(note), self.release_seconds)

    def silence(self) -> None:
        """Stop every voice at once (panic)."""
        rt.silence_voices(self.table)

    def render_block(self, out: np.ndarray) -> None:
        """Overwrite out (N, C) float64, N <= block_max, with the next N frames of the mix: the plain sum of the
        voices. With the guard on, a block with NaN or Inf is muted and counted.
        """
        rt.render_voices(self.table, out)

    def render(self, frames: int, block: int = 128) -> np.ndarray:
        """Render ``frames`` frames in blocks of ``block``; returns (frames, C) float64 (offline use)."""
        out = np.zeros((frames, self.channels))
        for start in range(0, frames, block):
            self.render_block(out[start:start + block])
        return out


def render_notes(engine: str, notes: list[str], settings: SynthSettings, seconds: float,
                 model=None, block: int = 128, stage: MasterStage | None = None,
                 hold: float | None = None) -> np.ndarray:
    """Every note struck at sample 0 with an impulse of ``settings.amplitude``; (frames, C) float64.

    The keys are held to the end, or released after ``hold`` seconds (their dampers then bring them down
    in ``settings.release``). This is ``iirnn render``: with ``settings.raw`` the plain sum of the voices
    (unity gains, no master stage), otherwise what the live synth plays: the voices through ``stage`` (a
    :class:`~iirnn_core.synth.master.MasterStage` at ``settings.rate``, whose room and limiter reduction the
    caller may read; default a new one, no room) at master gain 1, its lookahead removed (notes start at
    sample 0).
    """
    if not (math.isfinite(seconds) and seconds > 0):
        raise SettingError(f"duration must be positive, got {seconds} s")
    if hold is not None and not (math.isfinite(hold) and hold >= 0):
        raise SettingError(f"the keys must be held 0 or more seconds, got {hold} s")
    frames = int(round(seconds * settings.rate))
    held = frames if hold is None else min(frames, int(round(hold * settings.rate)))
    hidden = max([settings.hidden] + ([model.hidden] if model is not None else []))
    renderer = Renderer(settings.channels, max_voices=max(len(notes), 1), rnn_hidden=hidden,
                        block_max=block, guard=not settings.raw,
                        retire_level=0.0 if settings.raw else RETIRE_LEVEL, rate=settings.rate,
                        release=settings.release, sample=sample_for(engine, settings, model))
    midis = [note_to_midi(note) for note in notes]
    for note, midi in zip(notes, midis):
        renderer.trigger(patches_for(engine, note, settings, model), settings.amplitude, 0, midi)
    out = np.zeros((frames, settings.channels))
    start = 0
    while start < frames:
        if start == held:
            for midi in midis:
                renderer.release(midi)
        stop = min(start + block, frames, held if start < held else frames)  # a block ends where the keys go up
        renderer.render_block(out[start:stop])
        start = stop
    return finish(out, settings, stage, block)


def finish(audio: np.ndarray, settings: SynthSettings, stage: MasterStage | None, block: int = 128) -> np.ndarray:
    """Offline ``audio`` (frames, C) float64 at ``settings.rate`` after the voices: unchanged when raw, else
    through ``stage`` (default: a new :class:`~iirnn_core.synth.master.MasterStage` without room), delay
    compensated (:meth:`~iirnn_core.synth.master.MasterStage.finish`)."""
    if settings.raw:
        if stage is not None and stage.room > 0:
            raise SettingError("a raw render is the plain sum of the voices: it has no room")
        return audio
    if stage is None:
        stage = MasterStage(settings.rate, settings.channels)
    if stage.rate != float(settings.rate) or stage.channels != audio.shape[1]:
        raise ValueError(f"a master stage of {stage.channels} channels at {stage.rate:g} Hz cannot finish "
                         f"{audio.shape[1]} channels at {settings.rate:g} Hz")
    return stage.finish(audio, block)

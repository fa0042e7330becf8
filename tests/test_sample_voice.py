"""A/B with a learned sound: the recording itself on the left (a sample voice, resampled by 4-point cubic Hermite
interpolation), the learned net on the right, at the same level, through the one code path of the live callback and
``iirnn render``. The sound here is made by hand: a decaying 440 Hz sine at 16 kHz, and a one-block net that rings
it (its linear anchor, nearly linear at these small states)."""

import dataclasses
import math

import mido
import numpy as np
import pytest

from iirnn_core.audio.engine import AudioConfig, AudioEngine
from iirnn_core.midi.ports import MidiInput
from iirnn_core.models.modelfile import model_for_sound
from iirnn_core.models.sound import LearnedSound
from iirnn_core.synth.renderer import VOICE_PEAK, SynthSettings, patches_for, render_notes, sample_for
from test_audio_callback import BLOCK, Driver
from test_dampers import envelope, fall_time

SOUND_RATE, PITCH = 16000.0, 440.0
RADIUS = 10.0 ** (-3.0 / (8.0 * SOUND_RATE))
"""The recording's own decay: 60 dB in 8 s, slow beside every release tested here."""
THETA = 2.0 * math.pi * PITCH / SOUND_RATE
SECONDS = 1.0


def decaying_sine(t: np.ndarray) -> np.ndarray:
    """The recording at times ``t`` (s) from its onset, before its peak is normalised."""
    return RADIUS ** (t * SOUND_RATE) * np.sin(2.0 * math.pi * PITCH * t)


PEAK = float(np.abs(decaying_sine(np.arange(int(SECONDS * SOUND_RATE)) / SOUND_RATE)).max())


def make_sound(scale: float = 1.0) -> LearnedSound:
    """The sound: the recording (peak 1, times ``scale``) and a net of one rotation block that rings it when struck
    with the impulse height 0.1 (input 0.001 into the first state, output 10000 / PEAK from the second)."""
    target = scale * decaying_sine(np.arange(int(SECONDS * SOUND_RATE)) / SOUND_RATE) / PEAK
    return LearnedSound(SOUND_RATE, PITCH, "A4", np.array([RADIUS]), np.array([THETA]), np.array([[0.001, 0.0]]),
                        np.array([[0.0, scale * 10000.0 / PEAK]]), 0.1, target)


@pytest.fixture(scope="module")
def model():
    return model_for_sound(make_sound())


def ab(rate: float = SOUND_RATE, **kw) -> SynthSettings:
    return SynthSettings(rate=rate, channels=2, ab_twin="rnn-trained", **kw)


def pitch_of(y: np.ndarray, rate: float) -> float:
    """The frequency (Hz) of the strongest FFT bin of y (Hann window, zero-padded 8 times), refined parabolically."""
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y)), 8 * len(y)))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1:k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / (8 * len(y))


def test_ab_plays_the_recording_on_the_left_and_the_net_on_the_right_at_one_level(model):
    settings = ab()
    y = render_notes("ab", ["A4"], settings, 0.5, model)
    target = model.sound.target[:len(y)]
    # left = target * (impulse / the net's impulse) * the net's gain: VOICE_PEAK * target at full velocity
    np.testing.assert_allclose(y[:, 0], VOICE_PEAK * target, rtol=0, atol=1e-12)
    net = render_notes("rnn-trained", ["A4"], dataclasses.replace(settings, channels=1), 0.5, model)[:, 0]
    np.testing.assert_array_equal(y[:, 1], net)  # the net, as the trained engine plays it alone
    np.testing.assert_allclose(y[:, 1], y[:, 0], rtol=0, atol=1e-3 * VOICE_PEAK)  # it rings the recording
    assert abs(np.abs(y[:, 0]).max() / np.abs(y[:, 1]).max() - 1.0) < 1e-3


@pytest.mark.parametrize("amplitude, velocity", [(0.1, 1.0), (0.3, 1.0), (0.1, 0.5)])
def test_the_recording_scales_with_the_impulse_as_the_net_does(model, amplitude, velocity):
    """Raw (unity gains): the net's output scales with the impulse over the height it learned with; so does the
    recording's: left = target * amplitude * velocity / sound.amplitude."""
    settings = ab(amplitude=amplitude, raw=True)
    left, right = (p for p in patches_for("ab", "A4", settings, model))
    assert left.bank == "sample" and right.bank == "rnn" and left.step == 1.0
    from iirnn_core.synth.renderer import Renderer

    renderer = Renderer(2, rnn_hidden=model.hidden, block_max=128, rate=SOUND_RATE, sample=model.sound.target,
                        retire_level=0.0)
    renderer.trigger((left, right), amplitude * velocity, 5, 69)
    y = renderer.render(4000)
    expected = model.sound.target[:4000 - 5] * amplitude * velocity / model.sound.amplitude
    assert np.all(y[:5] == 0.0)  # the key sounds from its onset (frame 5), sample 0 of the recording there
    np.testing.assert_allclose(y[5:, 0], expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(y[5:, 1], expected, rtol=0, atol=2e-3 * np.abs(expected).max())


@pytest.mark.parametrize("rate, note, freq", [(24000.0, "A4", PITCH), (16000.0, "C5", 523.2511),
                                             (12000.0, "A4", PITCH), (8000.0, "E4", 329.6276)])
def test_a_fractional_step_is_the_recording_resampled(model, rate, note, freq):
    """Read at a fractional step (2/3 of a sample a frame at 24 kHz, 1.19 for C5; at 12 and 8 kHz from the
    recording resampled to the synth's rate first) the left channel is the decaying sine transposed to the key, at
    the synth's rate: within 0.2 % of its peak (cubic Hermite at 36 samples a period), the first 2 ms (where the
    anti-alias filter smooths the onset) within 5 %."""
    y = render_notes("ab", [note], ab(rate), 0.5, model)[:, 0]
    t = np.arange(len(y)) / rate * freq / PITCH  # the recording's time at each frame
    expected = VOICE_PEAK * decaying_sine(t) / PEAK
    err = np.abs(y - expected) / VOICE_PEAK
    onset = int(0.002 * rate)
    assert err[onset:].max() < 2e-3 and err[:onset].max() < 5e-2, (err[onset:].max(), err[:onset].max())
    assert abs(pitch_of(y, rate) / freq - 1.0) < 1e-3


def test_a_recording_above_the_synths_rate_does_not_alias():
    """A partial the 8 kHz synth cannot hold (5 kHz in a 16 kHz recording) is filtered out of the table, not folded
    to 3 kHz; the partial it can hold (440 Hz) plays at its level."""
    n = np.arange(int(SECONDS * SOUND_RATE))
    target = np.sin(THETA * n) + 0.5 * np.sin(2 * math.pi * 5000.0 / SOUND_RATE * n)
    sound = dataclasses.replace(make_sound(), target=target / np.abs(target).max())
    y = render_notes("ab", ["A4"], ab(8000.0, raw=True), 0.5, model_for_sound(sound))[:, 0]
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / 8000.0)
    at = (lambda f: spectrum[np.abs(freqs - f) < 20].max())
    assert at(3000.0) < 1e-3 * at(PITCH)
    assert abs(np.abs(y).max() - 1.0 / np.abs(target).max()) < 0.02


@pytest.mark.parametrize("note, freq", [("A4", 440.0), ("A5", 880.0), ("A3", 220.0), ("E5", 659.2551)])
def test_other_keys_play_the_recording_transposed(model, note, freq):
    y = render_notes("ab", [note], ab(), 0.5, model)
    assert abs(pitch_of(y[:, 0], SOUND_RATE) / freq - 1.0) < 1e-3
    assert abs(pitch_of(y[:, 1], SOUND_RATE) / freq - 1.0) < 1e-3  # the net plays the same key
    # read twice as fast an octave up: its samples are the recording's every other sample
    if note == "A5":
        np.testing.assert_allclose(y[:2000, 0], VOICE_PEAK * model.sound.target[:4000:2], rtol=0, atol=1e-12)


@pytest.mark.parametrize("release", [0.1, 0.3])
def test_a_released_recording_falls_60_db_in_the_release_t60(model, release):
    hold = 0.2
    settings = ab(release=release)
    y = render_notes("ab", ["A4"], settings, hold + 1.5 * release + 0.05, model, hold=hold)
    released = int(round(hold * SOUND_RATE))
    for c in (0, 1):  # the recording as the net: both fall in the release T60
        seconds, before = fall_time(y[:, c], released, SOUND_RATE)
        assert before > 0.1 and seconds is not None and 0.9 * release <= seconds <= 1.1 * release, (c, seconds)
    held = render_notes("ab", ["A4"], settings, hold + 0.1, model)
    np.testing.assert_array_equal(held[:released], y[:released])  # the same up to the release
    step = np.abs(np.diff(y[released - 50:released + 50, 0])).max()
    assert step < 1.05 * np.abs(np.diff(y[released - 200:released, 0])).max()  # no click: a short ramp
    assert np.all(y[-int(0.02 * SOUND_RATE):, 0] == 0.0)  # below -90 dBFS it retired


def test_the_recording_ends_and_its_voice_retires(model):
    """Past the recording's end the left is silent, even raw (no retire level): the voice has ended."""
    from iirnn_core.synth.renderer import Renderer

    settings = ab(raw=True)
    renderer = Renderer(2, rnn_hidden=model.hidden, block_max=128, rate=SOUND_RATE, sample=model.sound.target,
                        retire_level=0.0)
    renderer.trigger(patches_for("ab", "A5", settings, model)[:1], 0.1, 0, 81)
    y = renderer.render(int(0.6 * SOUND_RATE))
    end = len(model.sound.target) // 2  # read two samples a frame
    assert np.abs(y[end - 10:end - 2, 0]).max() > 0.01
    assert np.all(y[end + 1:] == 0.0) and renderer.active_voices == 0


def test_a_model_without_a_sound_keeps_the_iir_on_the_left(model):
    plain = dataclasses.replace(model, sound=None)
    settings = ab(q=plain.q)
    assert sample_for("ab", settings, plain) is None and sample_for("ab", settings, model) is not None
    assert patches_for("ab", "A4", settings, plain)[0].bank == "iir"
    y = render_notes("ab", ["A4"], settings, 0.2, plain)
    iir = render_notes("iir", ["A4"], dataclasses.replace(settings, channels=1), 0.2)[:, 0]
    np.testing.assert_array_equal(y[:, 0], iir)
    # and the analytic twin beside a learned sound's model leaves the IIR on the left too
    analytic = dataclasses.replace(settings, ab_twin="rnn-analytic")
    assert patches_for("ab", "A4", analytic, model)[0].bank == "iir" and sample_for("ab", analytic, model) is None


def test_the_live_callback_plays_what_render_renders_bit_for_bit(model):
    """Device rate = model rate: the compiled callback's blocks are iirnn render's, key released included."""
    settings = ab(release=0.2)
    eng = AudioEngine(AudioConfig(samplerate=16000, blocksize=BLOCK), settings, "ab", model=model)
    drv = Driver(eng)
    eng.note_on(69, when=drv.clock.t - BLOCK / 16000)
    held = [drv.block_at(16000) for _ in range(40)]
    eng.note_off(69)  # handled at the start of the next block
    played = np.concatenate(held + [drv.block_at(16000) for _ in range(60)])
    lookahead = eng.processor.master.lookahead
    expected = render_notes("ab", ["A4"], settings, 100 * BLOCK / 16000, model, hold=40 * BLOCK / 16000)
    assert np.abs(played[:, 0]).max() > 0.2
    np.testing.assert_array_equal(played[lookahead:], expected[:-lookahead].astype(np.float32))


def test_a_new_recording_leaves_the_sounding_one_ringing(model):
    """A model with another recording gets a pipeline of its own: the key already sounding reads its recording
    on in the old one, sample for sample, and new keys play the new recording."""
    settings = ab()
    eng = AudioEngine(AudioConfig(samplerate=16000, blocksize=BLOCK), settings, "ab", model=model)
    drv = Driver(eng)
    eng.note_on(69, when=drv.clock.t - BLOCK / 16000)
    first = [drv.block_at(16000) for _ in range(10)]
    old_pipeline = eng.pipeline
    eng.set_model(model_for_sound(make_sound(scale=0.5)))
    assert eng.pipeline is not old_pipeline and eng.processor.pipelines.count(old_pipeline) == 1
    played = np.concatenate(first + [drv.block_at(16000) for _ in range(20)])
    lookahead = eng.processor.master.lookahead
    expected = render_notes("ab", ["A4"], settings, 30 * BLOCK / 16000, model)
    np.testing.assert_array_equal(played[lookahead:, 0], expected[:-lookahead, 0].astype(np.float32))
    eng.note_on(81, when=drv.clock.t - BLOCK / 16000)  # A5 with the new recording: two voices more
    drv.block_at(16000)
    assert eng.stats().active_voices == 4


def test_the_pedal_holds_the_recording_and_its_release_fades_it(model):
    eng = AudioEngine(AudioConfig(samplerate=16000, blocksize=BLOCK), ab(release=0.1), "ab", model=model)
    drv, midi = Driver(eng), MidiInput(eng)

    def play(blocks):
        return np.concatenate([drv.block_at(16000) for _ in range(blocks)])

    midi.handle(mido.Message("control_change", control=64, value=127))
    midi.handle(mido.Message("note_on", note=69, velocity=127))
    before = play(12)
    midi.handle(mido.Message("note_off", note=69))  # held by the pedal
    y = np.concatenate([before, play(50)])
    assert envelope(y[:, 0], SOUND_RATE)[-200] > 0.5 * envelope(y[:, 0], SOUND_RATE)[len(before) - 200]
    midi.handle(mido.Message("control_change", control=64, value=0))  # the pedal lifts: damped now
    seconds, _ = fall_time(np.concatenate([y, play(30)])[:, 0], len(y), SOUND_RATE)
    assert seconds is not None and 0.09 <= seconds <= 0.11
    play(20)
    assert eng.stats().active_voices == 0


def test_the_library_plays_the_recording_as_numba_does(model):
    """The ahead-of-time library (which ``./run`` builds) renders sample voices exactly as numba does."""
    from test_rt_library import backend, library_functions, numba_functions

    settings = ab(12000.0, release=0.1)
    with backend(library_functions()):
        a = render_notes("ab", ["A4", "C6"], settings, 0.3, model, hold=0.1)
    with backend(numba_functions()):
        b = render_notes("ab", ["A4", "C6"], settings, 0.3, model, hold=0.1)
    assert np.abs(a[:, 0]).max() > 0.1
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("step", [-1.0, math.nan, math.inf])
def test_a_sample_voice_with_an_impossible_step_never_starts(step):
    """Straight through the library: a step that could read outside the recording starts nothing."""
    from iirnn_core.rt import library as rt
    from iirnn_core.rt.voice_layout import BANK_SAMPLE
    from iirnn_core.synth.renderer import Renderer

    renderer = Renderer(1, block_max=64, sample=np.ones(100))
    one = np.zeros((1, 1))
    with pytest.raises(ValueError, match="step"):
        rt.start_voice(renderer.table, BANK_SAMPLE, 1, one, one[0], one[0], np.ones(1), 0.1, 0, 69, 1.0, step)
    rt.start_voice(renderer.table, BANK_SAMPLE, 1, one, one[0], one[0], np.ones(1), 0.1, 3, 69, 1.0, 40.0)
    y = renderer.render(64, 64)[:, 0]
    assert renderer.active_voices == 0 and np.all(y[:3] == 0) and np.all(y[3:6] == 0.1) and np.all(y[6:] == 0)


def test_a_midi_file_plays_the_recording_as_render_does(model):
    """``iirnn render --midi``'s renderer: full velocity, released at 0.2 s, the same samples as render_notes."""
    from iirnn_core.midi.file import render_midi
    from test_dampers import midi_events

    settings = ab(release=0.1)
    events = [(t, msg.copy(velocity=127) if msg.type == "note_on" else msg) for t, msg in midi_events(0.2, False)]
    y, missing = render_midi(events, "ab", settings, 0.3, model)
    expected = render_notes("ab", ["A4"], settings, len(y) / SOUND_RATE, model, hold=0.2)
    assert missing == [] and np.abs(y[:, 0]).max() > 0.2
    np.testing.assert_array_equal(y, expected)

"""The block renderer: exactness against the references, block-size invariance, offsets, voices, safety."""

import dataclasses

import numpy as np
import pytest

from iirnn_core.training.network import RNNWeights, analytic_weights, run_torch_rnn, snr_db
from iirnn_core.dsp.notes import note_to_hz, note_to_midi
from iirnn_core.synth.renderer import (RETIRE_LEVEL, Renderer, SynthSettings, VoicePatch, patches_for, render_notes)
from iirnn_core.dsp.resonator import SettingError, impulse, impulse_response, resonator

RAW = SynthSettings(raw=True)


def _render_one(patches, frames, block, offset=0, amplitude=0.1, channels=1):
    r = Renderer(channels, max_voices=4, block_max=block, guard=False, retire_level=0.0)
    r.trigger(patches, amplitude, offset)
    return r.render(frames, block)


@pytest.mark.parametrize("block", [1, 7, 64, 128, 1000, 4800])
def test_iir_equals_lfilter_for_any_block_size(block):
    y = _render_one(patches_for("iir", "A4", RAW), 4800, block)[:, 0]
    ref = impulse_response(resonator(440.0, 0.995, 8000))
    assert np.max(np.abs(y - ref)) / np.max(np.abs(ref)) < 1e-12


@pytest.mark.parametrize("block", [1, 13, 128, 4800])
@pytest.mark.parametrize("drive", [1.0, 0.1])
def test_rnn_equals_one_nn_rnn_call_for_any_block_size(block, drive):
    settings = SynthSettings(raw=True, drive=drive)
    y = _render_one(patches_for("rnn-analytic", "A4", settings), 4800, block)[:, 0]
    ref = run_torch_rnn(analytic_weights(resonator(440.0, 0.995, 8000), drive=drive), impulse(4800))
    assert np.linalg.norm(y - ref) / np.linalg.norm(ref) <= 1e-5
    assert np.linalg.norm(y - ref) / np.linalg.norm(ref) <= 1e-12  # in fact float64-exact


def test_trained_like_random_net_equals_nn_rnn_across_blocks():
    rng = np.random.default_rng(7)
    w = RNNWeights(rng.standard_normal((3, 3)) * 0.5, rng.standard_normal(3), rng.standard_normal(3))
    patch = (VoicePatch("rnn", w, np.ones(1)),)
    ref = run_torch_rnn(w, impulse(999))
    for block in (1, 10, 333):
        y = _render_one(patch, 999, block)[:, 0]
        assert np.linalg.norm(y - ref) / np.linalg.norm(ref) < 1e-12


@pytest.mark.parametrize("engine", ["iir", "rnn-analytic"])
@pytest.mark.parametrize("offset", [0, 1, 37, 127])
def test_impulse_lands_at_exact_sample_offset(engine, offset):
    patches = patches_for(engine, "C5", RAW)
    base = _render_one(patches, 512, 128, offset=0)[:, 0]
    shifted = _render_one(patches, 512, 128, offset=offset)[:, 0]
    assert np.all(shifted[:offset] == 0.0)
    assert shifted[offset] != 0.0
    np.testing.assert_allclose(shifted[offset:], base[:512 - offset], rtol=1e-12, atol=1e-15)


def test_many_voices_sum_and_match_separate_renders():
    notes = ["C4", "E4", "G4", "B4", "D5"]
    together = render_notes("iir", notes, RAW, 0.3)[:, 0]
    separate = sum(render_notes("iir", [n], RAW, 0.3)[:, 0] for n in notes)
    np.testing.assert_allclose(together, separate, rtol=1e-12, atol=1e-14)


def test_live_mode_compensates_loudness_and_limits():
    settings = SynthSettings()  # not raw
    peaks = []
    for note in ("C4", "A4", "C6"):
        y = render_notes("iir", [note], settings, 0.3)[:, 0]
        peaks.append(np.max(np.abs(y)))
    # raw peaks differ by the factor sin(w); compensated ones stay within 3 dB of each other
    assert max(peaks) / min(peaks) < 1.42
    loud = render_notes("iir", [f"C{o}" for o in (4, 5)] * 1 + ["E4", "G4", "E5", "G5"],
                        SynthSettings(amplitude=0.5), 0.2)
    assert np.max(np.abs(loud)) < 1.0


def test_ab_puts_iir_left_and_rnn_right():
    settings = SynthSettings(channels=2, raw=True, drive=0.01)
    y = render_notes("ab", ["A4"], settings, 0.3)
    np.testing.assert_allclose(y[:, 0], render_notes("iir", ["A4"], SynthSettings(raw=True), 0.3)[:, 0])
    assert snr_db(y[:, 0], y[:, 1]) > 60  # the twin at small drive matches the IIR
    assert not np.array_equal(y[:, 0], y[:, 1])


def test_voices_retire_below_minus_90_dbfs():
    r = Renderer(1, max_voices=4, block_max=256)
    r.trigger(patches_for("iir", "A4", SynthSettings()), 0.1, 0, note_to_midi("A4"))
    out = np.zeros((256, 1))
    blocks = 0
    while r.active_voices and blocks < 1000:
        r.render_block(out)
        blocks += 1
    assert r.active_voices == 0
    # Q 0.995 falls 90 dB (from about -12 dBFS) in about 1.3 T60 = 1800 samples: a handful of blocks
    assert 5 <= blocks <= 12
    assert np.max(np.abs(out)) < RETIRE_LEVEL


def test_polyphony_limit_steals_the_quietest_voice():
    r = Renderer(1, max_voices=3, block_max=64)
    settings = SynthSettings()
    out = np.zeros((64, 1))
    for i, (note, amp) in enumerate([("C4", 0.1), ("E4", 0.001), ("G4", 0.1)]):
        r.trigger(patches_for("iir", note, settings), amp, 0, note_to_midi(note))
    r.render_block(out)
    r.trigger(patches_for("iir", "C5", settings), 0.1, 0, note_to_midi("C5"))
    bank = r.banks["iir"]
    assert bank.count == 3
    assert sorted(bank.notes[:3].tolist()) == sorted(note_to_midi(n) for n in ("C4", "G4", "C5"))
    assert r.stats.voices_stolen == 1


def test_released_voices_are_stolen_first():
    r = Renderer(1, max_voices=2, block_max=64)
    settings = SynthSettings()
    out = np.zeros((64, 1))
    r.trigger(patches_for("iir", "C4", settings), 0.001, 0, 60)  # quiet, held
    r.trigger(patches_for("iir", "E4", settings), 0.1, 0, 64)    # loud, released
    r.render_block(out)
    r.release(64)
    r.trigger(patches_for("iir", "G4", settings), 0.1, 0, 67)
    assert sorted(r.banks["iir"].notes[:2].tolist()) == [60, 67]


def test_nan_weights_mute_the_voice_not_the_synth():
    r = Renderer(1, max_voices=4, block_max=64)
    bad = RNNWeights(np.full((3, 3), np.nan), np.ones(3), np.ones(3))
    r.trigger((VoicePatch("rnn", bad, np.ones(1)),), 0.1, 0, 1)
    r.trigger(patches_for("iir", "A4", SynthSettings()), 0.1, 0, 69)
    out = np.zeros((64, 1))
    r.render_block(out)
    assert np.all(np.isfinite(out)) and np.max(np.abs(out)) > 0.01
    assert r.active_voices == 1  # the NaN voice was dropped


def test_silence_is_panic():
    r = Renderer(1, max_voices=4, block_max=64)
    r.trigger(patches_for("iir", "A4", SynthSettings()), 0.1, 0, 69)
    r.silence()
    out = np.ones((64, 1))
    r.render_block(out)
    assert r.active_voices == 0 and np.all(out == 0)


def test_trained_engine_needs_a_model():
    with pytest.raises(SettingError):
        patches_for("rnn-trained", "A4", SynthSettings())
    with pytest.raises(SettingError):
        patches_for("organ", "A4", SynthSettings())


def test_render_pitch_at_48k():
    settings = SynthSettings(rate=48000, q=0.9999, raw=True)
    y = render_notes("rnn-analytic", ["A4"], SynthSettings(rate=48000, q=0.9999, raw=True, drive=0.1), 1.0)[:, 0]
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y)), 4 * len(y)))
    assert np.argmax(spectrum) * 48000 / (4 * len(y)) == pytest.approx(note_to_hz("A4"), abs=1.0)
    assert settings.rate == 48000


def test_a_key_the_model_lacks_plays_the_analytic_twin_or_nothing():
    from iirnn_core.models.modelfile import DEFAULT_MODEL_PATH, load_model

    shipped = load_model(DEFAULT_MODEL_PATH)
    model = dataclasses.replace(shipped, keys={n: k for n, k in shipped.keys.items() if n != "A2"})  # lacks A2
    analytic = patches_for("rnn-analytic", "A2", SynthSettings())[0].weights
    fallback = patches_for("rnn-trained", "A2", SynthSettings(untrained="analytic"), model)[0].weights
    np.testing.assert_array_equal(fallback.w_hh, analytic.w_hh)
    assert patches_for("rnn-trained", "A4", SynthSettings(untrained="analytic"), model)[0].weights \
        is model.keys["A4"].weights  # a trained key keeps its net
    with pytest.raises(SettingError, match="has no key A2"):
        patches_for("rnn-trained", "A2", SynthSettings(), model)  # 'silent', the default: it cannot sound
    with pytest.raises(SettingError):
        SynthSettings(untrained="loud")

"""Learning a sound (iirnn_core.training.learn, ``iirnn learn``): the kernel's Jacobian is right, a synthetic modal
note is learned at least as well as the linear fit and its partials are found, the learned sound transposes exactly
to every key and round-trips through its model file, it renders on keys across octaves, and bad input is one line
with nothing written."""

import json
import math

import numpy as np
import pytest
import soundfile

from iirnn_core.cli import main
from iirnn_core.dsp.modal import fit_modes
from iirnn_core.dsp.resonator import SettingError
from iirnn_core.dsp.spectral import snr_db, stft_distance
from iirnn_core.models.modelfile import ModelFileError, load_model, model_for_sound, model_from_dict, save_model
from iirnn_core.synth.renderer import SynthSettings, render_notes
from iirnn_core.training import learn as L
from iirnn_core.training import sound_kernels as sk

RATE_IN = 44100.0
PARTIALS = [(440.0, 1.5, 0.6, -1.4), (1210.0, 0.5, 0.25, -1.9), (2640.0, 0.2, 0.1, -1.6)]
"""(frequency Hz, T60 s, amplitude, phase): a mallet-like A4 whose overtones are not harmonic, starting near 0
(as a struck bar does; a sudden jump would ring the resampler's filter before the onset, which no causal net
can play)."""


def modal_note(partials=PARTIALS, seconds=1.2, delay=0.05, rate=RATE_IN, beat_hz=0.0, noise_db=None, seed=3):
    """A struck note at ``rate``: silence for ``delay`` s, then the damped partials (the first beating at
    ``beat_hz`` against a twin 0.3 as loud when given: two close modes, as a detuned string pair)."""
    n = np.arange(int((seconds - delay) * rate))
    x = np.zeros(len(n))
    for f, t60, a, phase in partials:
        r = 10 ** (-3 / (t60 * rate))
        x += a * r ** n * np.cos(2 * np.pi * f / rate * n + phase)
    if beat_hz:
        f, t60, a, _ = partials[0]
        x += 0.3 * a * (10 ** (-3 / (0.7 * t60 * rate))) ** n * np.cos(2 * np.pi * (f + beat_hz) / rate * n)
    x = np.concatenate([np.zeros(int(delay * rate)), x])
    if noise_db is not None:
        x += np.random.default_rng(seed).normal(0, 10 ** (noise_db / 20) * np.abs(x).max(), len(x))
    return x


def write(path, x, rate=RATE_IN, channels=1):
    soundfile.write(str(path), np.tile(x[:, None], (1, channels)) * 0.5, int(rate))
    return str(path)


def test_the_kernels_jacobian_is_the_derivative_of_its_output():
    rng = np.random.default_rng(0)
    m = 3
    radii, angles = np.array([0.999, 0.99, 0.97]), np.array([0.2, 1.1, 2.5])
    params = sk.to_params(radii, angles, rng.normal(0, 2, (m, 2)), rng.normal(0, 1, (m, 2)))
    x = np.zeros(400)
    x[0], x[7] = 0.3, -0.2  # big enough for tanh to bend
    y, jac = sk.forward(params, x, want_jac=True)
    for j in range(params.size):
        step = 1e-6 * max(1.0, abs(params[j]))
        up, down = params.copy(), params.copy()
        up[j] += step
        down[j] -= step
        numeric = (sk.forward(up, x)[0] - sk.forward(down, x)[0]) / (2 * step)
        np.testing.assert_allclose(jac[:, j], numeric, atol=1e-6 * np.abs(numeric).max() + 1e-9)
    back = sk.from_params(params)
    np.testing.assert_allclose(back[0], radii, rtol=1e-12)
    np.testing.assert_allclose(back[1], angles)


def test_the_losss_gradient_is_the_derivative_of_the_loss():
    prep = L.prepare(modal_note(), RATE_IN, seconds=0.3)
    params = L.initial_blocks(fit_modes(prep.target, prep.rate, 6), 6, prep.rate, np.random.default_rng(0))
    params = params + np.random.default_rng(1).normal(0, 1e-3, params.size)
    x = np.zeros(len(prep.target))
    x[0] = L.AMPLITUDE
    loss = L.Loss(prep.target, prep.rate)
    y, jac = sk.forward(params, x, want_jac=True)
    _, g, value = loss.normal_equations(y, jac)
    assert value == pytest.approx(loss.value(y), rel=1e-12)
    for j in (0, 1, 7, 16):
        step = 1e-6 * max(1.0, abs(params[j]))
        up, down = params.copy(), params.copy()
        up[j] += step
        down[j] -= step
        numeric = (loss.value(sk.forward(up, x)[0]) - loss.value(sk.forward(down, x)[0])) / (2 * step)
        assert 2 * g[j] == pytest.approx(numeric, rel=1e-3, abs=1e-9)


def test_a_synthetic_note_is_found_and_learned_at_least_as_well_as_the_linear_fit():
    learned = L.learn(modal_note(noise_db=-70), RATE_IN, hidden=6, seconds=1.0, budget=60.0, max_steps=25)
    rep, sound = learned.sound.report, learned.sound
    assert rep["pitch_hz"] == pytest.approx(440.0, rel=0.01) and sound.note == "A4"
    assert rep["onset_s"] == pytest.approx(0.05, abs=0.002)
    for f, t60, _a, _p in PARTIALS:  # every partial found: frequency within 0.2 %, T60 within 5 %
        k = int(np.argmin(np.abs(sound.frequencies - f)))
        assert sound.frequencies[k] == pytest.approx(f, rel=2e-3)
        t60_found = -3 / (sound.rate * math.log10(sound.radii[k]))
        assert t60_found == pytest.approx(t60, rel=0.05)
    assert rep["snr_db"] >= rep["linear_snr_db"] - 0.01 and rep["snr_db"] > 40
    assert rep["stft_db"] <= rep["linear_stft_db"] + 0.01
    assert rep["snr_db"] == pytest.approx(snr_db(learned.net, sound.target), abs=1e-3)
    assert rep["stft_db"] == pytest.approx(stft_distance(learned.net, sound.target, sound.rate), abs=1e-3)


def test_the_network_beats_the_linear_fit_on_a_note_the_fit_cannot_hold():
    # H = 4 for three partials and a beating pair: the linear fit's poles come from the start only; the net's
    # refinement fits them over the whole note
    learned = L.learn(modal_note(beat_hz=3.0), RATE_IN, hidden=4, seconds=1.0, budget=60.0, max_steps=25)
    rep = learned.sound.report
    assert rep["snr_db"] >= rep["linear_snr_db"] + 3.0, rep
    assert rep["stft_db"] <= rep["linear_stft_db"], rep
    assert rep["steps"] >= 1


def test_a_learned_sound_transposes_exactly_and_keeps_its_decay_per_second():
    sound = L.learn(modal_note(), RATE_IN, hidden=6, seconds=0.5, budget=60.0, max_steps=10).sound
    model = model_for_sound(sound)
    assert model.sound is sound and model.hidden == 6 and "A0" in model.keys and "C8" in model.keys
    a4 = model.weights_for("A4", sound.rate, 0.9)
    a5 = model.weights_for("A5", 48000.0, 0.5)  # any rate and Q
    for k in range(3):
        z4 = np.linalg.eigvals(a4.w_hh[2 * k:2 * k + 2, 2 * k:2 * k + 2])
        z5 = np.linalg.eigvals(a5.w_hh[2 * k:2 * k + 2, 2 * k:2 * k + 2])
        f4 = np.abs(np.angle(z4[0])) * sound.rate / (2 * np.pi)
        f5 = np.abs(np.angle(z5[0])) * 48000 / (2 * np.pi)
        assert f5 == pytest.approx(2 * f4, rel=1e-9)  # an octave up, whatever the rate
        assert abs(z5[0]) ** 48000 == pytest.approx(abs(z4[0]) ** sound.rate, rel=1e-9)  # decay per second
    np.testing.assert_array_equal(a5.w_ih, a4.w_ih)
    c8 = model.weights_for("C8", sound.rate, 0.9)  # 4186 Hz x 2640/440: above 8 kHz, left out
    top = int(np.argmax(sound.frequencies))
    assert np.all(c8.w_hh[2 * top:2 * top + 2] == 0) and np.all(c8.w_out[2 * top:2 * top + 2] == 0)


def test_a_learned_sound_round_trips_through_its_file_and_bad_sections_are_one_line(tmp_path):
    sound = L.learn(modal_note(), RATE_IN, hidden=4, seconds=0.3, budget=60.0, max_steps=3).sound
    path = tmp_path / "s.json"
    save_model(model_for_sound(sound, {"learned_from": "x.wav"}), path)
    back = load_model(path)
    assert back.sound is not None and back.metadata == {"learned_from": "x.wav"}
    np.testing.assert_allclose(back.sound.radii, sound.radii, rtol=0)
    np.testing.assert_allclose(back.sound.angles, sound.angles, rtol=0)
    np.testing.assert_allclose(back.sound.target, sound.target, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(back.weights_for("C5", 16000.0, 0.9).w_hh, sound.weights_for_note("C5", 16000.0).w_hh)
    data = json.loads(path.read_text())
    for edit, words in ((lambda d: d["sound"]["blocks"][0].update(radius=1.0), "radius must be below 1"),
                        (lambda d: d["sound"].update(blocks=[]), "sound.blocks"),
                        (lambda d: d["config"].update(hidden=8), "states"),
                        (lambda d: d["sound"]["blocks"][1].update(w_out=[1.0]), "w_out"),
                        (lambda d: d["sound"].pop("target"), "target")):
        bad = json.loads(json.dumps(data))
        edit(bad)
        with pytest.raises(ModelFileError, match=words) as err:
            model_from_dict(bad, "bad.json")
        assert "\n" not in str(err.value)


def test_a_learned_sound_renders_on_keys_across_three_octaves(tmp_path, capsys):
    wav = write(tmp_path / "note.wav", modal_note(beat_hz=3.0), channels=2)
    out = tmp_path / "sound.json"
    assert main(["learn", wav, "--hidden", "6", "--out", str(out), "--budget", "3", "--pitch", "A4", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["out"] == str(out) and report["hidden"] == 6 and report["snr_db"] >= report["linear_snr_db"]
    model = load_model(out)
    settings = SynthSettings(rate=48000.0, q=0.995, raw=True)
    for note, ratio in (("A3", 0.5), ("A4", 1.0), ("A5", 2.0)):
        y = render_notes("rnn-trained", [note], settings, seconds=0.5, model=model)[:, 0]
        spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
        peak = np.fft.rfftfreq(len(y), 1 / 48000.0)[np.argmax(spectrum)]
        assert peak == pytest.approx(440.0 * ratio, rel=0.01)
        assert 0.5 < np.abs(y).max() < 2.0  # the recording's level: peak 1 at the learned key, raw
    y4 = render_notes("rnn-trained", ["A4"], SynthSettings(rate=16000.0, raw=True), seconds=1.0, model=model)[:, 0]
    assert snr_db(y4[:len(model.sound.target)], model.sound.target) == pytest.approx(report["snr_db"], abs=0.5)


@pytest.mark.parametrize("make, words", [
    (lambda p: (p.write_bytes(b"not a sound at all" * 100), str(p))[1], "not a sound file"),
    (lambda p: write(p, np.zeros(44100)), "silent"),
    (lambda p: write(p, modal_note(seconds=0.06, delay=0.02)), "ms long after its onset"),
    (lambda p: write(p, np.random.default_rng(0).normal(0, 0.3, 44100)), "no clear pitch"),
    (lambda p: write(p, np.full(601 * 1000, 0.1), rate=1000), "601 s long"),
])
def test_bad_recordings_are_one_line_and_write_nothing(tmp_path, capsys, make, words):
    path = make(tmp_path / "in.wav")
    out = tmp_path / "sound.json"
    out.write_text("earlier file")
    assert main(["learn", path, "--hidden", "8", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1, err
    assert out.read_text() == "earlier file"


@pytest.mark.parametrize("args, words", [
    (["--hidden", "7"], "even hidden size"), (["--hidden", "66"], "even hidden size"),
    (["--seconds", "0"], "0.05 to 10 s"), (["--pitch", "H9"], "neither a note name"),
    (["--pitch", "3"], "between 20 and 5000 Hz"), (["--budget", "0"], "--budget"), (["--rate", "100"], "--rate"),
])
def test_impossible_settings_are_one_line(tmp_path, capsys, args, words):
    wav = write(tmp_path / "note.wav", modal_note(seconds=0.3))
    out = tmp_path / "sound.json"
    assert main(["learn", wav, "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_a_pitch_given_overrides_the_one_found():
    prep = L.prepare(modal_note(), RATE_IN, pitch=L.parse_pitch("A3"))
    assert prep.pitch == pytest.approx(220.0)
    assert L.parse_pitch("261.5") == 261.5 and L.parse_pitch(None) is None
    with pytest.raises(SettingError):
        L.check_hidden(3)


def test_render_plays_a_learned_sound_at_its_own_rate_and_export_takes_a_key_to_the_seed(tmp_path, capsys):
    import scipy.io.wavfile
    import torch

    sound = L.learn(modal_note(), RATE_IN, hidden=4, seconds=0.3, budget=60.0, max_steps=3).sound
    path = tmp_path / "s.json"
    save_model(model_for_sound(sound), path)
    out = tmp_path / "c5.wav"
    assert main(["render", str(out), "--engine", "rnn-trained", "--model", str(path), "--notes", "C5", "--raw",
                 "--seconds", "0.2"]) == 0
    rate, audio = scipy.io.wavfile.read(out)
    assert rate == 16000 and np.abs(audio).max() > 0.3
    net = tmp_path / "c5.pt"
    assert main(["export", str(path), "--key", "C5", "--torch", str(net)]) == 0
    state = torch.load(net, weights_only=True)
    assert state["rnn.weight_hh_l0"].shape == (4, 4)
    np.testing.assert_allclose(state["rnn.weight_hh_l0"].numpy(), sound.weights_for_note("C5", 16000.0).w_hh,
                               rtol=1e-6, atol=1e-7)
    assert "C5" in capsys.readouterr().out


def test_a_block_louder_than_the_note_is_penalised_with_the_right_gradient():
    rng = np.random.default_rng(5)
    params = sk.to_params(np.array([0.99, 0.98]), np.array([0.3, 1.0]), rng.normal(0, 40, (2, 2)),
                          rng.normal(0, 1, (2, 2)))
    r, jac = L.block_penalty(params)
    peaks = L.AMPLITUDE * np.linalg.norm(params.reshape(2, 6)[:, 2:4], axis=1) * \
        np.linalg.norm(params.reshape(2, 6)[:, 4:6], axis=1)
    np.testing.assert_allclose(r, L.PENALTY * np.maximum(peaks - L.BLOCK_PEAK_MAX, 0))
    assert np.any(r > 0)
    for j in range(params.size):
        up, down = params.copy(), params.copy()
        up[j] += 1e-7
        down[j] -= 1e-7
        np.testing.assert_allclose(jac[:, j], (L.block_penalty(up)[0] - L.block_penalty(down)[0]) / 2e-7,
                                   atol=1e-6)
    sound = L.learn(modal_note(beat_hz=3.0), RATE_IN, hidden=12, seconds=1.0, budget=60.0, max_steps=30).sound
    own = sound.amplitude * np.linalg.norm(sound.w_ih, axis=1) * np.linalg.norm(sound.w_out, axis=1)
    assert np.all(own <= L.BLOCK_PEAK_MAX + 0.05)  # no loud blocks cancelling each other

"""The hidden size H as a choice: training any H from 2 to 64 (dense up to 16, modal above), model files of any H,
and a trained net of H states played by ``iirnn render``, the live callback and the benchmark."""

import dataclasses

import numpy as np
import pytest
import torch

from iirnn_core.cli import main
from iirnn_core.dsp.notes import note_to_hz
from iirnn_core.dsp.resonator import SettingError, impulse, impulse_response, resonator
from iirnn_core.dsp.weights import RNNWeights, rotation_weights, snr_db, spectral_radius
from iirnn_core.rt.block_layout import HIDDEN_MAX
from iirnn_core.models.modelfile import KeyModel, TrainedModel, load_model, model_from_dict, save_model
from iirnn_core.training import kernels as tk
from iirnn_core.training.lm import LMOptimizer
from iirnn_core.training.network import RNNNet, run_torch_rnn
from iirnn_core.training.optimizer import pole_theta
from iirnn_core.training.problem import spectral_radii, stabilised, target_pole
from iirnn_core.training.run import TrainConfig, Training, train_model
from test_audio_callback import BLOCK, Driver

MIN_SNR_DB = 40.0
"""What every trained key must reach (measured by rendering), as the seed's three states do
(``tests/test_training.py``)."""


def target_of(note="A4", q=0.995, seconds=0.6, rate=8000.0, amplitude=0.1):
    return impulse_response(resonator(note_to_hz(note), q, rate), seconds, amplitude)


def random_modal(hidden, seed=0, scale=0.6):
    return np.random.default_rng(seed).normal(size=tk.n_params(hidden, True)) * scale


# ---- the modal form ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("hidden", [2, 5, 8, 20])
def test_modal_form_is_the_block_diagonal_dense_net_bit_for_bit(hidden):
    theta = random_modal(hidden, hidden)
    assert len(theta) == 4 * hidden - (hidden % 2)
    w_hh, w_ih, w_out = tk.unpack(theta, hidden, modal=True)
    off_blocks = np.ones((hidden, hidden), dtype=bool)
    for first, size, _ in tk.modal_blocks(hidden):
        off_blocks[first:first + size, first:first + size] = False
    assert np.all(w_hh[off_blocks] == 0.0) and np.count_nonzero(w_hh) == len(tk.parts(hidden, True)[0])
    np.testing.assert_array_equal(tk.pack(w_hh, w_ih, w_out, modal=True), theta)
    x = impulse(300, 0.1) + np.random.default_rng(1).normal(size=300) * 0.05
    y_modal, y_dense = np.zeros(300), np.zeros(300)
    tk.forward(theta, hidden, x, y_modal, True)
    tk.forward(tk.pack(w_hh, w_ih, w_out), hidden, x, y_dense)
    np.testing.assert_array_equal(y_modal, y_dense)
    np.testing.assert_allclose(y_dense, run_torch_rnn(RNNWeights(w_hh, w_ih, w_out), x), rtol=1e-12, atol=1e-15)
    target = target_of(seconds=300 / 8000.0)
    assert tk.sse(theta, hidden, x, target, 300, True) == tk.sse(tk.pack(w_hh, w_ih, w_out), hidden, x, target, 300)
    if hidden > 2:  # two states are one block: any W_hh is block-diagonal
        dense = w_hh.copy()
        dense[0, -1] = 0.5
        with pytest.raises(ValueError, match="block-diagonal"):
            tk.pack(dense, w_ih, w_out, modal=True)


@pytest.mark.parametrize("hidden", [3, 6])
def test_modal_normal_equations_match_autograd_through_nn_rnn(hidden):
    n = 150
    theta = random_modal(hidden, 10 + hidden, 0.5)
    x = impulse(n, 0.1) + np.random.default_rng(2).normal(size=n) * 0.05
    target = target_of(seconds=n / 8000.0)
    p_all = tk.n_params(hidden, True)
    jtj, jtr = np.zeros((p_all, p_all)), np.zeros(p_all)
    loss = tk.normal_equations(theta, hidden, x, target, n, jtj, jtr, True)
    # where each modal parameter sits in the dense vector: the modal Jacobian is those columns of the dense one
    marks = tk.pack(*tk.unpack(np.arange(1.0, p_all + 1), hidden, True))
    positions = np.array([np.flatnonzero(marks == p + 1)[0] for p in range(p_all)])
    dense = tk.pack(*tk.unpack(theta, hidden, True))
    np.testing.assert_array_equal(dense[positions], theta)

    def outputs(t):
        hh = hidden * hidden
        net = RNNNet(hidden).double()
        params = {"rnn.weight_hh_l0": t[:hh].reshape(hidden, hidden),
                  "rnn.weight_ih_l0": t[hh:hh + hidden].reshape(-1, 1), "fo.weight": t[hh + hidden:].reshape(1, -1)}
        return torch.func.functional_call(net, params, (torch.as_tensor(x).reshape(-1, 1, 1),)).reshape(-1)

    jac = torch.autograd.functional.jacobian(outputs, torch.tensor(dense)).numpy()[:, positions]
    residual = outputs(torch.tensor(dense)).detach().numpy() - target
    assert loss == pytest.approx(float(np.sum(residual ** 2)), rel=1e-12)
    np.testing.assert_allclose(jtr, jac.T @ residual, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(jtj, jac.T @ jac, rtol=1e-9, atol=1e-12)


def test_modal_spectral_radius_and_stabilising_are_the_dense_matrixs():
    hidden = 7
    thetas = np.stack([random_modal(hidden, s, 1.0) for s in range(4)])
    dense = [tk.unpack(t, hidden, True)[0] for t in thetas]
    np.testing.assert_allclose(spectral_radii(thetas, hidden, True), [spectral_radius(w) for w in dense], rtol=1e-12)
    unstable = thetas[np.argmax(spectral_radii(thetas, hidden, True))]
    assert spectral_radii(unstable[None], hidden, True)[0] > 1.0
    fixed = stabilised(unstable, hidden, True)
    assert spectral_radius(tk.unpack(fixed, hidden, True)[0]) == pytest.approx(1.0 - 1e-7, abs=1e-12)
    _, u_idx, v_idx = tk.parts(hidden, True)
    np.testing.assert_array_equal(fixed[u_idx], unstable[u_idx])
    np.testing.assert_array_equal(fixed[v_idx], unstable[v_idx])
    for first, size, o in tk.modal_blocks(hidden):  # each block on its own: the stable ones keep their poles
        block = unstable[o:o + size * size]
        if spectral_radius(block.reshape(size, size)) < 1.0:
            np.testing.assert_array_equal(fixed[o:o + size * size], block)
        else:
            assert spectral_radius(fixed[o:o + size * size].reshape(size, size)) == pytest.approx(1.0 - 1e-7)


# ---- the pole start ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("note, q, rate", [("A0", 0.995, 8000.0), ("A4", 0.999, 8000.0), ("C8", 0.9, 48000.0)])
def test_target_pole_reads_the_resonators_pole_off_the_waveform(note, q, rate):
    w = 2 * np.pi * note_to_hz(note) / rate
    assert abs(target_pole(target_of(note, q, 0.1, rate)) - q * np.exp(1j * w)) < 1e-9


@pytest.mark.parametrize("hidden, modal", [(2, False), (3, False), (8, False), (16, False), (20, True), (64, True)])
def test_a_pole_start_already_sounds_like_its_target(hidden, modal):
    """Linearised, the rotation's response is the target; tanh at states of 0.01, 3e-5 below the identity at
    every step, shortens its decay a little (57 dB here); training takes the rest."""
    target = target_of("E5")
    theta = pole_theta(hidden, target, 0.1, 0.01, np.random.default_rng(0), modal)
    assert len(theta) == tk.n_params(hidden, modal)
    y = np.zeros(len(target))
    tk.forward(theta, hidden, impulse(len(target), 0.1), y, modal)
    assert snr_db(target, y) > 50.0
    w_hh = tk.unpack(theta, hidden, modal)[0]
    poles = np.linalg.eigvals(w_hh)
    assert np.min(np.abs(poles - 0.995 * np.exp(2j * np.pi * note_to_hz("E5") / 8000.0))) < 1e-9
    assert np.all(np.sort(np.abs(poles))[:-2] <= 0.5 + 1e-9)  # every other state decays fast


def test_rotation_weights_ring_like_the_resonator_and_keep_their_states_small():
    res = resonator(note_to_hz("A1"), 0.999, 8000.0)
    w = rotation_weights(0.999, 2 * np.pi * note_to_hz("A1") / 8000.0, 5, level=0.001)
    x = impulse(4000, 0.1)
    target = impulse_response(res, 0.5, 0.1)
    assert snr_db(target, run_torch_rnn(w, x)) > 80.0
    with pytest.raises(SettingError, match="at least 2"):
        rotation_weights(0.9, 1.0, 1)


# ---- training any H ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("hidden", [1, 65, 2.0, True, "8"])
def test_an_impossible_hidden_size_is_one_setting_error(hidden):
    with pytest.raises(SettingError, match=f"hidden size must be an integer from 2 to {HIDDEN_MAX}"):
        TrainConfig(notes=["A4"], hidden=hidden)


def test_the_best_optimizer_switches_to_the_modal_form_above_16_and_bounds_its_memory():
    dense = Training(TrainConfig(notes=["A4", "C5"], hidden=16, seconds=0.05)).optimizer
    modal = Training(TrainConfig(notes=["A4", "C5"], hidden=17, seconds=0.05)).optimizer
    assert not dense.modal and modal.modal
    assert dense.thetas.shape[1] == 16 * 16 + 32 and modal.thetas.shape[1] == 4 * 17 - 1
    three = Training(TrainConfig(notes=["A4"], seconds=0.05)).optimizer
    assert three.step_work == LMOptimizer.STEP_WORK and three.carry  # the seed's H: as ever
    assert dense.step_work < LMOptimizer.STEP_WORK  # a step costs about the same time at any H
    many = Training(TrainConfig(notes=["A0..B7"], hidden=16, seconds=0.05)).optimizer
    assert not many.carry and len(many.thetas) == len(many.config.notes) * LMOptimizer.STARTS
    assert many.jtjs.nbytes <= LMOptimizer.CARRY_BYTES / 10  # only the rows of one step


def test_computing_the_normal_equations_afresh_each_step_gives_the_same_nets(monkeypatch):
    """Where the normal equations of every net do not fit, each step computes them again: bit for bit the same."""
    config = TrainConfig(notes=["C4", "A5"], hidden=5, seconds=0.03)
    kept = Training(config)
    list(kept.run())
    monkeypatch.setattr(LMOptimizer, "CARRY_BYTES", 0)
    afresh = Training(config)
    assert kept.optimizer.carry and not afresh.optimizer.carry
    list(afresh.run())
    assert afresh.steps_done == kept.steps_done
    for a, b in zip(kept.weights(), afresh.weights()):
        np.testing.assert_array_equal(a.w_hh, b.w_hh)
        np.testing.assert_array_equal(a.w_out, b.w_out)


@pytest.mark.parametrize("hidden", [2, 5])
def test_best_converges_from_random_starts_at_small_hidden_sizes(hidden):
    model = train_model(TrainConfig(notes=["C4", "A5"], hidden=hidden, seconds=0.1))
    assert model.hidden == hidden
    for key in model.keys.values():
        assert key.weights.w_hh.shape == (hidden, hidden) and spectral_radius(key.weights.w_hh) < 1.0
        assert key.snr_db >= MIN_SNR_DB, (hidden, key.note, key.snr_db)


@pytest.mark.slow
@pytest.mark.parametrize("hidden", [8, 12, 16])
def test_best_converges_from_random_starts_up_to_16_dense_states(hidden):
    model = train_model(TrainConfig(notes=["C4", "A5"], hidden=hidden, seconds=0.1))
    assert all(k.snr_db >= MIN_SNR_DB for k in model.keys.values()), [k.snr_db for k in model.keys.values()]


@pytest.mark.parametrize("hidden", [17, 24])
def test_best_trains_modal_nets_from_random_starts(hidden):
    """Random modal starts: banks of resonators spread over the band (reliable to about 32 states; at 64 the
    pole start is the one to use, below)."""
    model = train_model(TrainConfig(notes=["C4", "A5"], hidden=hidden, seconds=0.1))
    assert all(k.snr_db >= MIN_SNR_DB for k in model.keys.values()), [k.snr_db for k in model.keys.values()]


@pytest.mark.parametrize("hidden", [24, 64])
def test_best_trains_modal_nets_from_the_pole_start(hidden):
    model = train_model(TrainConfig(notes=["C4", "A5"], hidden=hidden, seconds=0.1, init="pole"))
    for key in model.keys.values():
        assert key.weights.w_hh.shape == (hidden, hidden)
        assert key.snr_db >= MIN_SNR_DB, (hidden, key.note, key.snr_db)
        w = tk.pack(key.weights.w_hh, key.weights.w_ih, key.weights.w_out, modal=True)  # block-diagonal
        assert len(w) == tk.n_params(hidden, True)


@pytest.mark.parametrize("optimizer", ["adam", "randdir"])
def test_the_seeds_optimizers_train_any_hidden_size_dense(optimizer):
    config = TrainConfig(notes=["A4"], hidden=20, seconds=0.05, optimizer=optimizer, steps=3, init="pole")
    training = Training(config)
    events = list(training.run())
    assert events[-1].done and events[-1].snr_db[0] > MIN_SNR_DB  # the pole start is already close
    w = training.weights()[0]
    assert w.w_hh.shape == (20, 20) and np.count_nonzero(w.w_hh[2:, 2:]) > 100  # dense: not block-diagonal


def test_a_modal_best_run_refuses_a_dense_warm_model_in_one_line():
    dense = bench_like_model(20)
    with pytest.raises(SettingError, match="warm-start it with adam or randdir"):
        Training(TrainConfig(notes=["A4"], hidden=20, init="warm", warm_model=dense, seconds=0.05))


def bench_like_model(hidden, notes=("A4",), rate=8000.0, q=0.995):
    """A model whose nets are dense (a rotation at each key's pole mixed by a random orthogonal matrix)."""
    rng = np.random.default_rng(hidden)
    keys = {}
    for note in notes:
        w = rotation_weights(q, 2 * np.pi * note_to_hz(note) / rate, hidden)
        mix = np.linalg.qr(rng.standard_normal((hidden, hidden)))[0]
        keys[note] = KeyModel(note, note_to_hz(note), RNNWeights(mix @ w.w_hh @ mix.T, mix @ w.w_ih, mix @ w.w_out),
                              50.0)
    return TrainedModel(rate=rate, q=q, seconds=0.6, amplitude=0.1, hidden=hidden, drive=1.0, optimizer="test",
                        init="pole", steps=0, train_seconds=0.0, seed=0, keys=keys)


# ---- model files ------------------------------------------------------------------------------------------


def test_model_files_hold_any_hidden_size_up_to_64(tmp_path):
    model = bench_like_model(HIDDEN_MAX, ("A4", "C5"))
    save_model(model, tmp_path / "m.json")
    loaded = load_model(tmp_path / "m.json")
    assert loaded.hidden == HIDDEN_MAX and loaded.to_dict()["version"] == 1
    np.testing.assert_array_equal(loaded.keys["C5"].weights.w_hh, model.keys["C5"].weights.w_hh)
    data = model.to_dict()
    data["config"]["hidden"] = HIDDEN_MAX + 1
    with pytest.raises(Exception, match=f"config.hidden must be an integer from 1 to {HIDDEN_MAX}"):
        model_from_dict(data, "big.json")
    data = model.to_dict()
    data["keys"][0]["weights"]["w_ih"] = data["keys"][0]["weights"]["w_ih"][:-1]
    with pytest.raises(Exception, match="expected"):
        model_from_dict(data, "short.json")


def test_a_model_whose_keys_differ_in_size_is_saved_padded_and_sounds_the_same(tmp_path):
    small, big = bench_like_model(3, ("A4",)), bench_like_model(8, ("C5",))
    mixed = dataclasses.replace(small, hidden=8, keys={**small.keys, **big.keys})  # as a snapshot merged into a model
    save_model(mixed, tmp_path / "mixed.json")
    loaded = load_model(tmp_path / "mixed.json")
    assert loaded.keys["A4"].weights.w_hh.shape == (8, 8)
    x = impulse(800, 0.1)
    np.testing.assert_allclose(run_torch_rnn(loaded.keys["A4"].weights, x), run_torch_rnn(small.keys["A4"].weights, x),
                               rtol=1e-12, atol=1e-15)


# ---- iirnn train --hidden, and playing what it wrote ----------------------------------------------------------


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.parametrize("hidden", ["1", "65", "eight"])
def test_iirnn_train_refuses_an_impossible_hidden_size_in_one_line(tmp_path, capsys, hidden):
    assert main(["train", "--notes", "A4", "--hidden", hidden, "--out", str(tmp_path / "m.json")]) == 2
    line = one_line(capsys.readouterr().err)
    assert "hidden" in line or "invalid int value" in line
    assert not (tmp_path / "m.json").exists()


@pytest.fixture(scope="module")
def trained_h8(tmp_path_factory):
    """`iirnn train --hidden 8` on two keys: the model file it wrote."""
    out = tmp_path_factory.mktemp("h8") / "h8.json"
    assert main(["train", "--notes", "A4", "E5", "--hidden", "8", "--seconds", "0.1", "--out", str(out),
                 "--json"]) == 0
    return out


def test_iirnn_train_hidden_writes_a_model_of_that_size(trained_h8, capsys):
    model = load_model(trained_h8)
    assert model.hidden == 8 and model.notes == ["A4", "E5"]
    assert all(k.weights.w_hh.shape == (8, 8) and k.snr_db >= MIN_SNR_DB for k in model.keys.values())


def test_iirnn_render_plays_an_h8_model_as_the_torch_network_does(trained_h8, tmp_path, capsys):
    import scipy.io.wavfile

    wav = tmp_path / "a4.wav"
    assert main(["render", str(wav), "--engine", "rnn-trained", "--model", str(trained_h8), "--notes", "A4",
                 "--seconds", "0.3", "--raw", "--release", "off"]) == 0
    rate, audio = scipy.io.wavfile.read(wav)
    weights = load_model(trained_h8).keys["A4"].weights
    expected = run_torch_rnn(weights, impulse(len(audio), 0.1))  # the seed's nn.RNN, float64
    assert rate == 8000 and np.abs(expected).max() > 0.05
    np.testing.assert_allclose(audio, expected, rtol=0, atol=1e-6 * np.abs(expected).max())  # float32 WAV


def test_the_live_callback_plays_an_h8_model_as_render_and_torch_do(trained_h8):
    from iirnn_core.audio.engine import AudioConfig, AudioEngine
    from iirnn_core.synth.renderer import SynthSettings, patches_for, render_notes

    model = load_model(trained_h8)
    settings = SynthSettings(channels=2, release=float("inf"))
    eng = AudioEngine(AudioConfig(samplerate=8000, blocksize=BLOCK), settings, "rnn-trained", model=model)
    assert eng.pipeline.renderer.banks["rnn"].hidden == 8
    drv = Driver(eng)
    drv.clock.t += 0.5
    eng.note_on(69, when=drv.clock.t - BLOCK / 8000)
    played = np.concatenate([drv.block_at(8000) for _ in range(20)])
    lookahead = eng.processor.master.lookahead
    expected = render_notes("rnn-trained", ["A4"], settings, 20 * BLOCK / 8000, model)
    np.testing.assert_array_equal(played[lookahead:], expected[:-lookahead].astype(np.float32))
    gain = patches_for("rnn-trained", "A4", settings, model)[0].gains[0]
    torch_y = run_torch_rnn(model.keys["A4"].weights, impulse(len(played) - lookahead, 0.1))
    assert eng.stats().limiter_reduction_db == 0.0  # below the ceiling the level passes untouched
    sounding = np.flatnonzero(played[lookahead:, 0])[-1] + 1  # then the voice retires, below -90 dBFS
    assert sounding > 1500 and np.abs(gain * torch_y[sounding:]).max() < 10 ** (-90 / 20)
    np.testing.assert_allclose(played[lookahead:lookahead + sounding, 0] / gain, torch_y[:sounding], rtol=0,
                               atol=1e-6 * np.abs(torch_y).max())


def test_the_ab_twin_plays_an_h8_model_beside_the_iir(trained_h8):
    from iirnn_core.audio.engine import AudioConfig, AudioEngine
    from iirnn_core.synth.renderer import SynthSettings, render_notes

    model = load_model(trained_h8)
    settings = SynthSettings(channels=2, ab_twin="rnn-trained")
    eng = AudioEngine(AudioConfig(samplerate=8000, blocksize=BLOCK), settings, "ab", model=model)
    drv = Driver(eng)
    eng.note_on(76, when=drv.clock.t - BLOCK / 8000)  # E5
    played = np.concatenate([drv.block_at(8000) for _ in range(10)])
    lookahead = eng.processor.master.lookahead
    expected = render_notes("ab", ["E5"], settings, 10 * BLOCK / 8000, model)
    np.testing.assert_array_equal(played[lookahead:], expected[:-lookahead].astype(np.float32))
    iir = render_notes("iir", ["E5"], dataclasses.replace(settings, channels=1), 10 * BLOCK / 8000)[:, 0]
    twin = render_notes("rnn-trained", ["E5"], dataclasses.replace(settings, channels=1), 10 * BLOCK / 8000, model)
    np.testing.assert_allclose(expected[:, 0], iir, atol=1e-12)  # the IIR on the left
    np.testing.assert_allclose(expected[:, 1], twin[:, 0], atol=1e-12)  # the 8-state twin on the right
    assert snr_db(iir, twin[:, 0]) >= MIN_SNR_DB


def test_the_live_engine_plays_64_states_and_keeps_them_across_level_changes():
    """Patch tables for HIDDEN_MAX: a 64-state net plays live, and a level-only change (the patches copied from
    one half to the other, each net only as far as its size) changes none of it."""
    from iirnn_core.audio.engine import AudioConfig, AudioEngine
    from iirnn_core.synth.renderer import SynthSettings, render_notes

    model = bench_like_model(HIDDEN_MAX, ("A4", "C5"))
    settings = SynthSettings(q=0.995, channels=2)
    eng = AudioEngine(AudioConfig(samplerate=8000, blocksize=BLOCK), settings, "rnn-trained", model=model)
    for level in (0.5, 1.0):  # each publish copies the patches into the other half
        eng.configure(master=level)
    drv = Driver(eng)
    drv.blocks(8)  # the master gain ramps back to 1
    eng.note_on(72, when=drv.clock.t - BLOCK / 8000)
    played = np.concatenate([drv.block_at(8000) for _ in range(10)])
    lookahead = eng.processor.master.lookahead
    expected = render_notes("rnn-trained", ["C5"], settings, 10 * BLOCK / 8000, model)
    assert np.abs(expected).max() > 0.05
    np.testing.assert_array_equal(played[lookahead:], expected[:-lookahead].astype(np.float32))


def test_a_net_larger_than_the_live_engine_takes_is_one_line():
    from iirnn_core.audio.engine import AudioConfig, AudioEngine
    from iirnn_core.synth.renderer import SynthSettings

    too_big = bench_like_model(HIDDEN_MAX + 2)
    with pytest.raises(SettingError, match=f"hidden sizes up to {HIDDEN_MAX}"):
        AudioEngine(AudioConfig(samplerate=8000, blocksize=128), SynthSettings(), "rnn-trained", model=too_big)


# ---- the benchmark ------------------------------------------------------------------------------------------


def test_the_benchmarks_trained_nets_are_dense_and_ring_at_their_keys_poles():
    from iirnn_core.commands.bench import BENCH_Q, FIRST_KEY, bench_model
    from iirnn_core.dsp.notes import midi_to_hz, midi_to_note

    model = bench_model(16, 4)
    assert model.hidden == 16 and len(model.keys) == 4
    for i in range(4):
        w = model.keys[midi_to_note(FIRST_KEY + i)].weights
        assert np.count_nonzero(np.abs(w.w_hh) > 1e-12) > 16 * 16 * 0.9  # dense
        poles = np.linalg.eigvals(w.w_hh)
        pole = BENCH_Q * np.exp(2j * np.pi * midi_to_hz(FIRST_KEY + i) / 8000.0)
        assert np.min(np.abs(poles - pole)) < 1e-9 and spectral_radius(w.w_hh) == pytest.approx(BENCH_Q)


@pytest.mark.parametrize("hidden", [8, 64])
def test_the_benchmarks_trained_rows_run_through_the_live_callback(hidden):
    from iirnn_core.commands.bench import bench_model, live_block_load

    assert live_block_load("rnn-trained", 32, 48000, 128, 0.01, model=bench_model(hidden, 32)) > 0

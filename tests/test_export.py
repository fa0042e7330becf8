"""Back to the seed: ``iirnn export`` and File > Export network... write a state dict the seed's own class loads.

The seed's ``RNNnet`` and ``signal2pytorch`` are copied below word for word from the seed script (Gerald
Schuller, June 2020, "Simple program for using a recurrent neural network in pytorch as an IIR filter"; its
class ``RNNnet`` and its function ``signal2pytorch``), with the module globals they read set as the seed sets
them. The exported file is loaded into it with ``torch.load(..., weights_only=True)`` and a strict
``load_state_dict``, run on an impulse of the project's height (0.1) the seed's way, and compared with
``iirnn render --raw`` of the same key and engine (the seed's convention: unity gain, no limiter).
"""

import os
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.io.wavfile
import torch
import torch.nn as nn
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QWidget

from iirnn_core.cli import main
from iirnn_core.dsp.notes import NoteError, note_range, note_to_hz
from iirnn_core.dsp.resonator import SettingError, resonator
from iirnn_core.dsp.weights import analytic_weights
from iirnn_core.models.modelfile import DEFAULT_MODEL_PATH, KeyModel, TrainedModel, load_model, save_model
from iirnn_core.models.what_plays import what_plays
from iirnn_core.synth.renderer import SynthSettings
from iirnn_core.training.export import SEED_NAMES, analytic_net, export_job, trained_net
from iirnn_core.training import worker
from test_app_window import make_window, model_path, trainer  # noqa: F401 - the window's fixtures

# ---- the seed's own code (the seed script, verbatim), and the globals it reads -----------------------------------
infeatures = 1  # samples per input time step
hiddensize = 3  # number of hidden states, the memory elements
outputs = 1  # 1 samples per output time step
numlayers = 1  # number of layers of the network
batch = 1  # number of audio signals for training
device = 'cpu'


class RNNnet(nn.Module):
    def __init__(self, infeatures, hiddensize, outputs):
        super(RNNnet, self).__init__()
        # Define the model.
        self.rnn = nn.RNN(input_size=infeatures, hidden_size=hiddensize, num_layers=numlayers, bias=False)
        #forward layer for output
        self.fo = nn.Linear(hiddensize, outputs, bias=False)

    def forward(self, x):
        h_0 = torch.zeros(numlayers, batch, hiddensize).to(device)
        out, hn = self.rnn(x, h_0)
        #Output is simply the hidden state of the last layer (if more than 1 layer)
        out = self.fo(out) #e.g. used to just keep first output
        return out


def signal2pytorch(x):
    #Function to convert a signal vector x, like a mono audio signal, into a 3-d Tensor that Pytorch expects,
    #https://pytorch.org/docs/stable/nn.html
    #Argument x: a 1-d signal as numpy array
    #output: 3-d Pytorch Tensor.
    #for RNN Input: (siglen,batch,features)
    X = np.expand_dims(x, axis=-1) #add batch dimension (here only 1 )
    X = np.expand_dims(X, axis=-1) #add features dimension (here only 1 )
    X=torch.from_numpy(X)
    X=X.type(torch.Tensor)
    return X
# ---- end of the seed's code ---------------------------------------------------------------------------------------

AMPLITUDE = 0.1
"""The project's impulse height (``iirnn render --amplitude``'s default, the window's at full velocity)."""

TOLERANCE = 1e-4
"""The seed's float32 net against the renderer's float64 recurrence (its WAV float32): the largest difference over
the whole response, relative to the response's peak. Rounding the weights to float32 (up to 6e-8 of each) moves
the poles a little, so the tone drifts in phase over its decay, the more the longer it rings (Q near 1) and the
lower the key. Measured over 11 cases (shipped keys A0..B7; analytic twins up to Q 0.9995 and 48 kHz): at most
3.5e-5 (the analytic C2 at Q 0.999), 5.2e-6 for a trained key, 1.5e-6 for the shipped C4. A net with a wrong or
misplaced weight is off by the order of the peak."""


def seed_response(path, frames: int) -> np.ndarray:
    """The seed's way: its RNNnet(1, H, 1) with the file's weights (weights_only, strict), on an impulse of
    AMPLITUDE at sample 0, ``frames`` long; (frames,) float64."""
    state = torch.load(path, weights_only=True)
    rnn = RNNnet(infeatures, hiddensize, outputs).to(device)
    rnn.load_state_dict(state)  # strict: exactly the seed's names and shapes
    ximp = np.zeros(frames)  # make impulse with a desired sequence length
    ximp[0] = AMPLITUDE  # impulse at the beginning
    outsig = rnn(signal2pytorch(ximp)).detach()
    with warnings.catch_warnings():  # numpy 2 asks tensors for a copy keyword; the seed's np.array is fine here
        warnings.simplefilter("ignore", DeprecationWarning)
        outsig = np.array(outsig)  # turn into numpy array
    return outsig[:, 0, 0].astype(np.float64)


def rendered(tmp_path, *args) -> np.ndarray:
    """``iirnn render --raw`` of one key (the seed's convention); (frames,) float64."""
    out = tmp_path / "render.wav"
    assert main(["render", str(out), "--raw", "--amplitude", str(AMPLITUDE), *args]) == 0
    _, y = scipy.io.wavfile.read(out)
    return y.astype(np.float64)


def assert_same_response(seed: np.ndarray, render: np.ndarray) -> None:
    assert seed.shape == render.shape
    peak = np.max(np.abs(render))
    assert peak > 0.05  # a tone, not silence
    assert np.max(np.abs(seed - render)) <= TOLERANCE * peak


def only_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def small_model(notes="A4..C5", rate=8000.0, q=0.995) -> TrainedModel:
    """A model file's content from analytic weights at drive 0.5 (no training needed)."""
    keys = {n: KeyModel(n, note_to_hz(n), analytic_weights(resonator(note_to_hz(n), q, rate), 3, 0.5), 40.0)
            for n in note_range(notes)}
    return TrainedModel(rate=rate, q=q, seconds=0.6, amplitude=0.1, hidden=3, drive=1.0, optimizer="analytic",
                        init="analytic", steps=0, train_seconds=0.0, seed=0, keys=keys)


# ---- iirnn export ---------------------------------------------------------------------------------------------------
def test_a_trained_key_of_the_shipped_model_plays_in_the_seeds_class_as_iirnn_renders_it(tmp_path, capsys):
    net = tmp_path / "c4.pt"
    assert main(["export", str(DEFAULT_MODEL_PATH), "--key", "C4", "--torch", str(net)]) == 0
    line = only_line(capsys.readouterr().out)
    assert str(net) in line and "C4" in line and "trained" in line and "H 3" in line
    state = torch.load(net, weights_only=True)
    assert type(state) is dict and list(state) == list(SEED_NAMES)
    assert [tuple(t.shape) for t in state.values()] == [(3, 3), (3, 1), (1, 3)]
    assert all(t.dtype == torch.float32 for t in state.values())
    weights = load_model(DEFAULT_MODEL_PATH).keys["C4"].weights  # exactly the model's, rounded to float32
    for name, value in zip(SEED_NAMES, (weights.w_hh, weights.w_ih[:, None], weights.w_out[None, :])):
        assert torch.equal(state[name], torch.tensor(value, dtype=torch.float32)), name

    render = rendered(tmp_path, "--engine", "rnn-trained", "--notes", "C4")
    assert_same_response(seed_response(net, len(render)), render)


def test_the_shipped_model_is_the_default_and_sharps_flats_name_one_key(tmp_path, capsys):
    flat, sharp = tmp_path / "db5.pt", tmp_path / "cs5.pt"
    assert main(["export", "--key", "Db5", "--torch", str(flat)]) == 0
    assert "C#5" in only_line(capsys.readouterr().out)
    assert main(["export", str(DEFAULT_MODEL_PATH), "--key", "C#5", "--torch", str(sharp)]) == 0
    a, b = torch.load(flat, weights_only=True), torch.load(sharp, weights_only=True)
    assert all(torch.equal(a[name], b[name]) for name in SEED_NAMES)


def test_the_analytic_twin_plays_in_the_seeds_class_as_iirnn_renders_it(tmp_path, capsys):
    net = tmp_path / "a4.pt"
    settings = ["--q", "0.999", "--rate", "16000", "--drive", "0.5"]
    assert main(["export", "--analytic", "--key", "A4", *settings, "--torch", str(net)]) == 0
    line = only_line(capsys.readouterr().out)
    assert "analytic twin" in line and "16000 Hz" in line and "Q 0.999" in line and "drive 0.5" in line

    render = rendered(tmp_path, "--engine", "rnn-analytic", "--notes", "A4", *settings)
    assert len(render) == 9600  # 0.6 s at 16 kHz
    assert_same_response(seed_response(net, len(render)), render)


def test_the_analytic_twin_at_the_seeds_settings_is_the_seeds_computed_net(tmp_path):
    """The seed's own assignment (shifted diagonal, first row k1, k2, 0; a 1 in and out) at 440 Hz, 8 kHz, Q 0.995."""
    net = tmp_path / "a4.pt"
    assert main(["export", "--analytic", "--key", "A4", "--torch", str(net)]) == 0
    state = torch.load(net, weights_only=True)
    omega = 2 * np.pi * 440.0 / 8000
    k1, k2 = 2 * 0.995 * np.cos(omega), -0.995 ** 2
    expected_hh = torch.diag(torch.ones(hiddensize - 1), diagonal=-1)
    expected_hh[0, :] = torch.tensor([k1, k2, 0.0])
    assert torch.equal(state["rnn.weight_hh_l0"], expected_hh)
    assert torch.equal(state["rnn.weight_ih_l0"], torch.tensor([[1.0], [0.0], [0.0]]))
    assert torch.equal(state["fo.weight"], torch.tensor([[1.0, 0.0, 0.0]]))


@pytest.mark.parametrize("args, code, words", [
    (["MODEL", "--key", "C4"], 2, "the model has no key C4 (it has A4..C5)"),
    (["MODEL", "--key", "H4"], 2, "unknown note 'H4'"),
    (["--analytic", "--key", "X#9"], 2, "unknown note"),
    (["--analytic", "--key", "C8"], 2, "Nyquist"),
    (["--analytic", "--key", "A4", "--q", "1.0"], 2, "Q must be"),
    (["--analytic", "--key", "A4", "--drive", "0"], 2, "drive must be"),
    (["--analytic", "MODEL", "--key", "A4"], 2, "takes no MODEL.json"),
    (["MODEL", "--key", "A4", "--q", "0.99"], 2, "--q: only with --analytic"),
    (["missing.json", "--key", "A4"], 2, "does not exist"),
    (["BROKEN", "--key", "A4"], 1, "broken.json is not an iirnn model file"),
    (["MODEL", "--key", "A4", "--torch", "no/such/folder/net.pt"], 1, "cannot write no/such/folder/net.pt"),
    (["MODEL", "--key", "A4", "--torch", "a_folder"], 1, "cannot write a_folder"),
    (["MODEL", "--key", "A4", "--torch", "model.json/net.pt"], 1, "cannot write model.json/net.pt"),
    (["MODEL", "--key", "A4", "--torch", " "], 2, "--torch needs a file name"),
    (["MODEL", "--torch", "net.pt"], 2, "required: --key"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, args, code, words):
    monkeypatch.chdir(tmp_path)
    save_model(small_model(), "model.json")
    (tmp_path / "broken.json").write_bytes(b"\x00\x01 not a model")
    (tmp_path / "a_folder").mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    args = [{"MODEL": "model.json", "BROKEN": "broken.json"}.get(a, a) for a in args]
    if "--torch" not in args:
        args += ["--torch", "net.pt"]
    assert main(["export", *args]) == code
    captured = capsys.readouterr()
    assert words in only_line(captured.err) and captured.out == ""
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no file, not even a partial one


def test_a_failed_write_leaves_an_earlier_file_as_it_was(tmp_path, monkeypatch, capsys):
    net = tmp_path / "net.pt"
    net.write_bytes(b"the earlier file")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    assert main(["export", "--analytic", "--key", "A4", "--torch", str(net)]) == 1
    assert only_line(capsys.readouterr().err) == f"iirnn: cannot write {net}: No space left on device"
    assert net.read_bytes() == b"the earlier file" and sorted(p.name for p in tmp_path.iterdir()) == ["net.pt"]


# ---- which net the window exports -----------------------------------------------------------------------------------
def playing(engine, model, q=0.995, untrained="analytic", drive=0.7, ab_twin="rnn-trained"):
    settings = SynthSettings(rate=8000.0, q=q, drive=drive, channels=2, untrained=untrained, ab_twin=ab_twin)
    return what_plays(engine, settings, model)


def test_the_window_exports_the_net_that_sounds_for_the_key():
    from app.export_control import net_to_export

    model = small_model()
    trained = model.keys["A4"].weights
    twin = analytic_weights(resonator(440.0, 0.995, 8000.0), 3, 0.7)

    def exported(engine, note="A4", with_model=model, **kw):
        return net_to_export(note, engine, playing(engine, with_model, **kw), with_model, "m.json")

    assert np.array_equal(exported("rnn-trained").weights.w_hh, trained.w_hh)
    assert exported("rnn-trained").what == "trained (m.json, 8000 Hz, Q 0.995)"
    assert np.array_equal(exported("ab").weights.w_ih, trained.w_ih)  # A/B with the trained twin
    assert np.array_equal(exported("iir").weights.w_ih, trained.w_ih)  # the IIR has no net: the model's
    for engine, kw in (("rnn-analytic", {}), ("ab", {"ab_twin": "rnn-analytic"}), ("iir", {"with_model": None}),
                       ("rnn-trained", {"q": 0.999})):  # the model does not fit Q 0.999: the analytic twin sounds
        net = exported(engine, **kw)
        expected = twin if "q" not in kw else analytic_weights(resonator(440.0, 0.999, 8000.0), 3, 0.7)
        assert net.what.startswith("analytic twin") and np.array_equal(net.weights.w_ih, expected.w_ih), engine
        assert np.array_equal(net.weights.w_hh, expected.w_hh)
    assert exported("rnn-trained", "C4").what.startswith("analytic twin")  # a key it lacks plays the analytic twin
    assert exported("iir", "C4").what.startswith("analytic twin")  # the IIR's twin where the model has no net
    with pytest.raises(SettingError, match="no key C4"):
        exported("rnn-trained", "C4", untrained="silent")  # ... or nothing
    with pytest.raises(NoteError):
        exported("rnn-analytic", "A#")


# ---- File > Export network... ---------------------------------------------------------------------------------------
class InProcessTrainer:
    """The trainer process's job code (worker._run_job), run at once in this process: submit, take, forget."""

    alive = True
    restarts = 0

    def __init__(self):
        self.answers = {}
        self.submitted = []

    def ensure_running(self):
        return False

    def submit(self, payload):
        job = len(self.submitted) + 1
        self.submitted.append(payload)
        self.answers[job] = []
        worker._run_job(payload, lambda kind, body: self.answers[job].append((kind, body)), lambda: False, 0.0)
        return job

    def take(self, job):
        out, self.answers[job] = self.answers.get(job, []), []
        return out

    def forget(self, job):
        self.answers.pop(job, None)


def make_control(qtbot, trainer, last_key=None, model=None, engine="rnn-trained", untrained="analytic"):
    from app.export_control import ExportControl, net_to_export

    parent = QWidget()
    qtbot.addWidget(parent)
    menu = QMenu(parent)
    model = small_model() if model is None else model
    now = playing(engine, model, untrained=untrained)
    control = ExportControl(menu, trainer, lambda note: net_to_export(note, engine, now, model, "m.json"),
                            lambda: last_key, lambda: False, parent)
    lines = []
    control.message.connect(lines.append)
    return menu, control, lines


def test_file_export_network_asks_key_and_file_and_the_trainer_writes_it(qtbot, tmp_path, monkeypatch):
    trainer = InProcessTrainer()
    menu, control, lines = make_control(qtbot, trainer, last_key=72)  # C5 was played last
    asked = []
    monkeypatch.setattr(QInputDialog, "getText", lambda parent, title, label, echo, text: (asked.append(text)
                                                                                          or ("Bb4", True)))
    target = tmp_path / "bb4.pt"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda parent, title, name, filters: (str(target), ""))
    action = [a for a in menu.actions() if a.text() == "&Export network..."]
    assert len(action) == 1
    with qtbot.waitSignal(control.done, timeout=5000) as done:
        action[0].trigger()
    assert done.args == [True] and asked == ["C5"] and not control.pending
    assert lines[0] == f"Exporting A#4, trained (m.json, 8000 Hz, Q 0.995), to {target}..."
    assert lines[-1] == f"Exported A#4, trained (m.json, 8000 Hz, Q 0.995), H 3, to {target}: " \
                        "the seed's RNNnet(1, 3, 1) loads it."
    state = torch.load(target, weights_only=True)
    rnn = RNNnet(infeatures, hiddensize, outputs)
    rnn.load_state_dict(state)
    np.testing.assert_allclose(rnn.rnn.weight_ih_l0.detach().numpy()[:, 0], small_model().keys["A#4"].weights.w_ih)


def test_file_export_network_says_why_not_in_one_line(qtbot, tmp_path, monkeypatch):
    trainer = InProcessTrainer()
    menu, control, lines = make_control(qtbot, trainer, untrained="silent")
    offered = []
    answers = iter([("H4", True), ("C4", True), ("A4", False), ("A4", True)])
    monkeypatch.setattr(QInputDialog, "getText",
                        lambda parent, title, label, echo, text: offered.append(text) or next(answers))
    files = iter([str(tmp_path / "no such folder" / "a4.pt")])
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (next(files), ""))
    for _ in range(3):  # an unknown note; a key the model lacks (silent); cancelled: no file is asked for
        control.choose()
    assert offered == ["A4"] * 3 and not trainer.submitted
    assert lines == ["Network not exported: unknown note 'H4' (expected a name like A4, C#5 or Db5)",
                     "Network not exported: the model has no key C4 (it has A4..C5)"]
    with qtbot.waitSignal(control.done, timeout=5000) as done:
        control.choose()  # a folder that does not exist: the trainer's one line
    assert done.args == [False]
    assert lines[-1] == f"Network not exported: cannot write {tmp_path / 'no such folder' / 'a4.pt'}: " \
                        "No such file or directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_export_whose_trainer_ended_says_so(qtbot, tmp_path):
    trainer = SimpleNamespace(alive=True, restarts=0, ensure_running=lambda: False, submit=lambda payload: 7,
                              take=lambda job: [], forget=lambda job: None)
    _, control, lines = make_control(qtbot, trainer)
    control.start(analytic_net("A4", 8000.0, 0.995, 1.0), str(tmp_path / "a4.pt"))
    trainer.restarts = 1  # it died and was started again (by a training job): the new one never heard of this
    with qtbot.waitSignal(control.done, timeout=5000) as done:
        pass
    assert done.args == [False] and "the training process ended first" in lines[-1] and not control.pending


def test_the_trainers_export_job_is_plain_data_both_ways(tmp_path):
    net = trained_net(small_model(), "A4", "m.json")
    answer = export_job({**net.to_dict(), "path": str(tmp_path / "a4.pt")})
    assert answer == {"path": str(tmp_path / "a4.pt"), "note": "A4", "hidden": 3, "what": net.what}
    state = torch.load(tmp_path / "a4.pt", weights_only=True)
    np.testing.assert_allclose(state["rnn.weight_hh_l0"].numpy(), net.weights.w_hh, rtol=1e-7)


@pytest.mark.slow
def test_the_real_trainer_process_writes_the_file(qtbot, tmp_path):
    """The window's way end to end: a TrainingWorker process (torch loaded there, never here in the window)."""
    from iirnn_core.training.worker import TrainingWorker

    trainer = TrainingWorker()
    trainer.start()
    try:
        _, control, lines = make_control(qtbot, trainer)
        target = tmp_path / "c5.pt"
        with qtbot.waitSignal(control.done, timeout=120000) as done:
            control.start(trained_net(small_model(), "C5", "m.json"), str(target))
        assert done.args == [True], lines
        rnn = RNNnet(infeatures, hiddensize, outputs)
        rnn.load_state_dict(torch.load(target, weights_only=True))
    finally:
        trainer.close()


def test_the_windows_file_menu_exports_the_key_last_picked(make_window, qtbot, tmp_path, monkeypatch):
    """In the real window (on its null output), with the analytic twin selected: the key offered is the one last
    picked, the net is the twin at the controls' Q and drive, and the window's trainer process writes it."""
    window = make_window()
    window.sound.set_engine("rnn-analytic")
    window.flush_sound()
    window.pick_key("C5")
    offered = []
    monkeypatch.setattr(QInputDialog, "getText", lambda parent, title, label, echo, text: (offered.append(text)
                                                                                          or (text, True)))
    target = tmp_path / "c5.pt"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(target), ""))
    action = [a for a in window.menuBar().actions()[0].menu().actions() if a.text() == "&Export network..."]
    with qtbot.waitSignal(window.export_control.done, timeout=120000) as done:
        action[0].trigger()
    settings = window.selected_settings()
    assert done.args == [True] and offered == ["C5"]
    twin = f"analytic twin ({settings.rate:g} Hz, Q {settings.q:g}, drive {settings.drive:g})"
    assert window.statusBar().currentMessage().startswith(f"Exported C5, {twin}, H 3, to {target}")
    expected = analytic_weights(resonator(note_to_hz("C5"), settings.q, settings.rate), 3, settings.drive)
    state = torch.load(target, weights_only=True)
    np.testing.assert_allclose(state["rnn.weight_hh_l0"].numpy(), expected.w_hh, rtol=1e-7)
    np.testing.assert_allclose(state["rnn.weight_ih_l0"].numpy()[:, 0], expected.w_ih, rtol=1e-7)

"""File > Learn a sound... in the window: a recorded note learned in the trainer process becomes the model in use,
plays on every key at its own rate, and is drawn against its recording; bad input is one line; Stop cancels it.

The note is synthetic (a few damped partials at 44.1 kHz, written as a WAV with soundfile). The trainer's job code
runs in this process where the export tests do the same (:class:`ThreadedTrainer`); the window's tests use the
window's real trainer process (their ``window`` marker comes from ``make_window``).
"""

import json
import math
import threading

import numpy as np
import pytest
import soundfile
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from iirnn_core.dsp.notes import note_to_midi
from iirnn_core.models.modelfile import load_model, model_from_dict
from iirnn_core.training import worker
from test_app_window import make_window, model_path, trainer  # noqa: F401 - the window's fixtures
from test_app_no_torch import SCRIPT as WINDOW_SCRIPT
from test_export import InProcessTrainer

RATE = 44100
PARTIALS = ((1.0, 1.0, 0.5), (0.5, 2.0, 0.3), (0.3, 3.0, 0.2), (0.2, 4.0, 0.12))
"""(amplitude, multiple of the pitch, decay time constant in s) of the synthetic note's partials."""
BUDGET = 20.0
"""The learning's budget (s): a cap; the synthetic note is learned in a few steps, about 2 s on a quiet machine."""


def write_note(path, pitch=261.63, seconds=1.3, lead=0.05, rate=RATE):
    """A modal note (damped partials of ``pitch`` Hz) after ``lead`` s of silence, peak 0.5, as a WAV at ``path``."""
    t = np.arange(int(seconds * rate)) / rate
    note = sum(a * np.exp(-t / tau) * np.sin(2 * np.pi * k * pitch * t) for a, k, tau in PARTIALS)
    x = np.concatenate([np.zeros(int(lead * rate)), 0.5 * note / np.max(np.abs(note))])
    soundfile.write(str(path), x, rate)
    return path


def data(curve):
    """The points a curve holds (x, y), not the downsampled, clipped view it paints."""
    return curve.xData, curve.yData


def run_job(payload, should_stop=lambda: False):
    """worker._run_job on ``payload``: the messages (kind, body) it sent."""
    sent = []
    worker._run_job(payload, lambda kind, body: sent.append((kind, body)), should_stop, 0.0)
    return sent


class ThreadedTrainer(InProcessTrainer):
    """The trainer process's job code (worker._run_job) run in a thread of this process, so a job can be cancelled
    while it learns, as :class:`~iirnn_core.training.worker.TrainingWorker` allows."""

    def __init__(self):
        super().__init__()
        self.threads, self.cancelled, self.lock = [], set(), threading.Lock()

    def submit(self, payload):
        job = len(self.submitted) + 1
        self.submitted.append(payload)
        self.answers[job] = []

        def send(kind, body):
            with self.lock:
                self.answers[job].append((kind, body))

        thread = threading.Thread(target=worker._run_job, args=(payload, send, lambda: job in self.cancelled, 0.0))
        thread.start()
        self.threads.append(thread)
        return job

    def cancel(self, job):
        self.cancelled.add(job)

    def take(self, job):
        with self.lock:
            return super().take(job)

    def join(self):
        for thread in self.threads:
            thread.join(120)


@pytest.fixture(scope="module")
def note_file(tmp_path_factory):
    return write_note(tmp_path_factory.mktemp("learn") / "modal C4.wav")


@pytest.fixture(scope="module")
def learned_answer(note_file):
    """The trainer's answer for the synthetic note, H 8: (progress bodies, result body). The budget is a cap that
    leaves a busy machine time for the first step (the run ends in a few steps, when the loss stops moving)."""
    sent = run_job({"learn": {"path": str(note_file), "hidden": 8, "seconds": 1.0, "pitch": None, "budget": BUDGET}})
    assert sent[-1][0] == "result", sent[-1]
    return [body for kind, body in sent if kind == "progress"], sent[-1][1]


# ---- the trainer's job -----------------------------------------------------------------------------------------------
def test_the_trainers_learn_job_answers_plain_data(learned_answer):
    progress, body = learned_answer
    json.dumps(body, allow_nan=False)  # plain JSON data, no pickle of objects
    model = model_from_dict(body["model"], "the answer")
    sound = model.sound
    assert sound is not None and sound.hidden == 8 and sound.note == "C4" and abs(sound.pitch - 261.63) < 2.0
    assert len(body["net"]) == len(body["linear"]) == len(sound.target) == 16000  # 1 s at 16 kHz
    assert all(math.isfinite(v) for v in body["net"] + body["linear"])
    steps = [p["step"] for p in progress]
    assert steps and steps == list(range(1, len(steps) + 1)) and steps[-1] == sound.report["steps"]
    assert all(p["loss"] > 0 for p in progress)
    assert sound.report["snr_db"] > 10.0  # the net sounds like the note it learned


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_text("not a sound at all") and p, "is not a sound file"),
    (lambda p: soundfile.write(str(p), np.zeros(RATE), RATE) or p, "is silent"),
    (lambda p: soundfile.write(str(p), 0.5 * np.sin(np.arange(400) * 0.1), RATE) or p, "ms long after its onset"),
    (lambda p: soundfile.write(str(p), np.random.default_rng(1).normal(0, 0.2, RATE), RATE) or p, "no clear pitch"),
    (lambda p: soundfile.write(str(p), np.full(601 * 1000, 0.1), 1000, subtype="PCM_16") or p,  # 601 s, 1.2 MB
     "is 601 s long; a note of at most 600 s is wanted"),
])
def test_bad_input_is_one_error_line(tmp_path, make, words):
    path = make(tmp_path / "bad.wav")
    sent = run_job({"learn": {"path": str(path), "hidden": 8, "seconds": 1.0, "pitch": None, "budget": 1.0}})
    assert [kind for kind, _ in sent] == ["error"], sent
    assert words in sent[0][1] and "\n" not in sent[0][1]


def test_the_learn_control_rounds_an_odd_hidden_size_up():
    from app.learn_control import learn_hidden

    assert learn_hidden(16) == (16, "")
    assert learn_hidden(15) == (16, "Hidden 15 is odd: learning with 16 (2 states per partial)")
    assert learn_hidden(3)[0] == 4 and learn_hidden(64) == (64, "") and learn_hidden(1)[0] == 2


# ---- the control and the views, without the window -------------------------------------------------------------------
def make_control(qtbot, trainer, hidden=8, busy=False):
    from app.learn_control import LearnControl

    parent = QWidget()
    qtbot.addWidget(parent)
    menu = QMenu(parent)
    control = LearnControl(menu, trainer, lambda: (hidden, BUDGET), lambda: busy, parent)
    lines, steps, results = [], [], []
    control.message.connect(lines.append)
    control.progress.connect(lambda step, loss: steps.append((step, loss)))
    control.learned.connect(results.append)
    return menu, control, lines, steps, results


def test_file_learn_a_sound_asks_for_a_file_and_the_trainer_learns_it(qtbot, note_file, monkeypatch):
    trainer = ThreadedTrainer()
    menu, control, lines, steps, results = make_control(qtbot, trainer, hidden=7)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: (str(note_file), ""))
    action = [a for a in menu.actions() if a.text() == "&Learn a sound..."]
    assert len(action) == 1
    with qtbot.waitSignal(control.done, timeout=120000) as done:
        action[0].trigger()
    assert done.args == [True] and control.learning is None
    assert trainer.submitted[0]["learn"]["hidden"] == 8  # odd 7 rounded up, and said so
    assert lines[0] == "Hidden 7 is odd: learning with 8 (2 states per partial). Learning modal C4.wav with H 8..."
    result = results[0]
    assert result.model.sound.hidden == 8 and result.describe() == "modal C4.wav, learned (H 8)"
    assert lines[-1].startswith("Learned modal C4.wav: C4 (") and "Network SNR" in lines[-1] and \
        "linear fit SNR" in lines[-1]
    assert steps and steps[-1][0] == result.model.sound.report["steps"]


def test_a_bad_file_or_a_busy_panel_is_one_line(qtbot, tmp_path):
    trainer = ThreadedTrainer()
    _, control, lines, _, results = make_control(qtbot, trainer)
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with qtbot.waitSignal(control.done, timeout=30000) as done:
        control.start(str(bad))
    assert done.args == [False] and lines[-1].startswith(f"Not learned: {bad} is not a sound file") and not results
    assert not control.start(str(tmp_path / "missing.wav")) and lines[-1].endswith("missing.wav: no such file.")
    _, busy, busy_lines, _, _ = make_control(qtbot, trainer, busy=True)
    assert not busy.start(str(bad)) and busy_lines == ["Not learned: notes.txt: a training run is under way; "
                                                       "stop it first."]
    assert len(trainer.submitted) == 1


def test_learning_can_be_cancelled(qtbot, note_file):
    trainer = ThreadedTrainer()
    _, control, lines, _, results = make_control(qtbot, trainer)
    control.start(str(note_file))
    control.cancel()
    with qtbot.waitSignal(control.done, timeout=120000) as done:
        pass
    trainer.join()
    assert done.args == [False] and not results and control.learning is None
    assert lines[-1] == "Learning of modal C4.wav stopped; the model in use stays."


def test_the_window_renders_the_net_the_trainer_learned(learned_answer):
    """An opened sound file has no responses with it: the window's process renders the net (no torch), and it is
    the network the trainer learned."""
    from app.comparison import sound_comparison, sound_response

    _, body = learned_answer
    model = model_from_dict(body["model"], "the answer")
    net = sound_response(model)
    np.testing.assert_allclose(net, body["net"], rtol=1e-6, atol=1e-9)
    comparison = sound_comparison(model)
    assert len(comparison.linear) == 0 and len(comparison.net_db) == len(comparison.freqs) > 0
    assert comparison.poles.shape == (8,) and np.all(np.abs(comparison.poles) < 1)


def test_the_sound_view_draws_recording_network_linear_fit_and_poles(qtbot, learned_answer):
    from app.comparison import sound_comparison
    from app.plots import SoundView

    _, body = learned_answer
    view = SoundView()
    qtbot.addWidget(view)
    model = model_from_dict(body["model"], "the answer")
    view.show_sound(sound_comparison(model, np.array(body["net"]), np.array(body["linear"])))
    for name in ("target", "net", "linear"):
        onset, whole, spectrum = (data(curve) for curve in view.curves[name])
        assert 0 < len(onset[0]) < len(whole[0]) == 16000 and onset[0][-1] < 0.2
        assert len(spectrum[0]) > 0 and all(np.all(np.isfinite(y)) for _, y in (onset, whole, spectrum))
    np.testing.assert_array_equal(data(view.curves["target"][1])[1], model.sound.target)
    x, y = data(view.pole_curve)
    assert len(x) == 8 and np.allclose(np.hypot(x, y), np.tile(model.sound.radii, 2))
    assert view.caption.text().startswith("modal C4.wav: C4")
    view.clear()
    x = data(view.curves["net"][1])[0]
    assert (x is None or len(x) == 0) and view.comparison is None


def test_a_file_dropped_on_the_training_panel_asks_to_learn_it(qtbot, note_file):
    from app.training_panel import TrainingPanel

    panel = TrainingPanel(lambda: (8000, 0.995, None))
    qtbot.addWidget(panel)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(note_file))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    with qtbot.waitSignal(panel.sound_dropped, timeout=1000) as dropped:
        panel.dropEvent(event)
    assert dropped.args == [str(note_file)]
    panel.show_learning("modal C4.wav")
    panel.learning_progress(1, 0.5)
    panel.learning_progress(2, 0.25)
    assert len(panel.curves) == 2 and panel.stop_button.isEnabled() and not panel.start_button.isEnabled()
    assert not panel.start() and "still being learned" in panel.status_label.text()
    with qtbot.waitSignal(panel.learn_stop_requested, timeout=1000):
        panel.stop()
    panel.learning_ended()
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()


# ---- the window --------------------------------------------------------------------------------------------------
def test_the_window_learns_a_sound_plays_it_in_three_octaves_and_draws_it(make_window, qtbot, note_file, tmp_path):
    window = make_window()
    window.sound.set_values("iir", 0.995, 0.1, 100, 0.8, 8000)
    window.flush_sound()
    window.training.budget_spin.setValue(BUDGET)
    window.training.hidden_spin.setValue(7)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(note_file))])
    with qtbot.waitSignal(window.learn_control.done, timeout=180000) as done:
        window.training.dropEvent(QDropEvent(QPointF(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
        assert window.training.learning == "modal C4.wav" and window.training.stop_button.isEnabled()
        assert window.note_on(note_to_midi("A4"), 100)  # the keys play while it learns
        window.note_off(note_to_midi("A4"))
    assert done.args == [True], window.statusBar().currentMessage()
    model = window.model
    assert model.sound is not None and model.hidden == 8
    assert window.model_control.source == "modal C4.wav, learned (H 8)"
    assert window.sound.engine == "rnn-trained" and window.effective_engine() == "rnn-trained"
    assert window.sound.rate == 16000 and window.engine.settings.rate == 16000.0 and window.engine.model is model
    line = window.training.status_label.text()
    assert line.startswith("Learned modal C4.wav") and "Network SNR" in line and line == \
        window.statusBar().currentMessage()
    assert len(window.training.curves) == model.sound.report["steps"]  # one loss point per step
    assert window.training.start_button.isEnabled() and not window.training.stop_button.isEnabled()
    # the plots: the learned-sound tab, recording and network
    assert window.plot_tabs.currentWidget() is window.sound_view
    for name in ("target", "net", "linear"):
        x, y = data(window.sound_view.curves[name][1])
        assert len(x) == 16000 and np.all(np.isfinite(y))
    # three octaves sound through the window's key path
    before = window.engine.stats().notes
    for note in ("C3", "C4", "C5"):
        assert window.note_on(note_to_midi(note), 100)
    qtbot.waitUntil(lambda: window.engine.stats().notes == before + 3, timeout=5000)
    scope = np.zeros(1 << 14)
    assert window.engine.read_scope(scope) > 0 and np.abs(scope).max() > 0.01
    for note in ("C3", "C4", "C5"):
        window.note_off(note_to_midi(note))
    # saved and opened again like any model: it plays and is drawn (its net rendered here)
    saved = tmp_path / "learned.json"
    assert window.save_model_file(str(saved))
    assert load_model(saved).sound.report == model.sound.report
    window.sound.set_values("iir", 0.995, 0.1, 100, 0.8, 8000)
    window.flush_sound()
    assert window.open_model_file(str(saved))
    assert window.model.sound is not None and window.sound.engine == "rnn-trained" and window.sound.rate == 16000
    assert window.plot_tabs.currentWidget() is window.sound_view
    x, y = data(window.sound_view.curves["net"][1])
    assert len(x) == 16000 and np.all(np.isfinite(y)) and data(window.sound_view.curves["linear"][1])[0] is None


def test_a_bad_file_in_the_window_is_one_line_and_the_model_stays(make_window, qtbot, tmp_path, monkeypatch):
    window = make_window()
    model, engine = window.model, window.sound.engine
    bad = tmp_path / "silence.wav"
    soundfile.write(str(bad), np.zeros(RATE), RATE)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: (str(bad), ""))
    with qtbot.waitSignal(window.learn_control.done, timeout=120000) as done:
        window.learn_control.action.trigger()
    assert done.args == [False]
    line = window.statusBar().currentMessage()
    assert line.startswith(f"Not learned: {bad} is silent") and "\n" not in line
    assert window.training.status_label.text() == line
    assert window.model is model and window.sound.engine == engine and window.engine.model is model
    assert not window.plot_tabs.isTabEnabled(window.plot_tabs.indexOf(window.sound_view))
    assert window.training.start_button.isEnabled() and window.training.learning is None


def test_stop_cancels_learning_in_the_window(make_window, qtbot, note_file):
    window = make_window()
    model = window.model
    window.training.budget_spin.setValue(30.0)
    assert window.learn_control.start(str(note_file))
    with qtbot.waitSignal(window.learn_control.done, timeout=180000) as done:
        window.training.stop_button.click()
    assert done.args == [False] and window.model is model
    assert window.statusBar().currentMessage() == "Learning of modal C4.wav stopped; the model in use stays."
    assert window.training.start_button.isEnabled()


def test_the_screenshot_can_learn_a_sound_first(note_file, tmp_path, capsys):
    from app.screenshot import parse_args

    args = parse_args([str(tmp_path / "shot.png"), "12", "--learn", str(note_file), "--hidden", "8"])
    assert (args.out, args.seconds, args.learn, args.hidden) == (tmp_path / "shot.png", 12.0, note_file, 8)
    assert parse_args([str(tmp_path / "shot.png")]).learn is None
    assert parse_args([str(tmp_path / "shot.png"), "--learn", str(tmp_path / "none.wav")]) is None
    assert capsys.readouterr().err.strip().endswith("none.wav: no such file")


def test_the_window_learns_and_plays_a_sound_without_importing_torch_or_numba(note_file):
    """test_app_no_torch's window, learning a sound instead of training keys: the learning is the trainer's, the
    plots render the learned net through the compiled library, and the learned sound plays."""
    import os
    import subprocess
    import sys

    script = WINDOW_SCRIPT.replace('window.training.keys_edit.setText("A4")\nassert window.training.start()\n',
                            'assert window.learn_control.start(sys.argv[1])\n')
    script = script.replace("while window.training.is_running", "while window.learn_control.learning")
    script = script.replace("window.close()", "print(window.model.sound is not None, window.engine.engine, "
                                              "window.engine.settings.rate)\nwindow.close()")
    assert script.count("learn_control") == 2 and "print(window.model.sound" in script
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", script, str(note_file)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-8:] == ["library", "False", "False", "trained", "False", "True", "rnn-trained",
                                        "16000.0"], proc.stdout + proc.stderr[-1000:]


def test_ab_says_the_recording_plays_left_beside_a_trained_twin(qtbot, learned_answer):
    from app.sound_panel import ENGINE_LABELS, SoundPanel

    panel = SoundPanel()
    qtbot.addWidget(panel)
    ab = panel.engine_box.findData("ab")
    panel.show_model(model_from_dict(learned_answer[1]["model"]), "note.wav")
    panel.ab_twin_box.setCurrentIndex(panel.ab_twin_box.findData("rnn-trained"))
    assert panel.engine_box.itemText(ab) == "A/B: recording left, RNN right"
    panel.ab_twin_box.setCurrentIndex(panel.ab_twin_box.findData("rnn-analytic"))
    assert panel.engine_box.itemText(ab) == ENGINE_LABELS["ab"]  # the analytic twin plays beside the IIR
    panel.ab_twin_box.setCurrentIndex(panel.ab_twin_box.findData("rnn-trained"))
    panel.show_model(None, "")
    assert panel.engine_box.itemText(ab) == ENGINE_LABELS["ab"]


def test_a_runs_snapshot_is_not_mixed_with_a_learned_sounds_keys(qtbot, learned_answer):
    from types import SimpleNamespace

    from PySide6.QtCore import QObject

    from app.model_controller import ModelController
    from iirnn_core.models.modelfile import KeyModel, TrainedModel
    from iirnn_core.synth.renderer import SynthSettings
    from iirnn_core.dsp.weights import rotation_weights

    configured = []
    parent = QObject()
    settings = SynthSettings(rate=16000.0, q=0.995)
    window = SimpleNamespace(
        sound=SimpleNamespace(engine="rnn-trained", set_trained_available=lambda _on: None,
                              show_model=lambda _m, _s: None),
        sound_control=SimpleNamespace(selected_settings=lambda: settings,
                                      playing=lambda snap: SimpleNamespace(reason="", engine="rnn-trained",
                                                                           settings=settings)),
        engine=SimpleNamespace(configure=lambda engine, s, snap: configured.append(snap)),
        plot_control=SimpleNamespace(redraw=lambda: None), statusBar=lambda: None)
    control = ModelController.__new__(ModelController)
    QObject.__init__(control, parent)
    control.window, control.model, control.source, control.snapshot_playing = window, None, "", None
    control.model = model_from_dict(learned_answer[1]["model"])
    key = KeyModel("A4", 440.0, rotation_weights(0.995, 2 * math.pi * 440 / 16000, 8), 50.0)
    snapshot = TrainedModel(rate=16000.0, q=0.995, seconds=0.6, amplitude=0.1, hidden=8, drive=1.0, optimizer="best",
                            init="random", steps=1, train_seconds=0.1, seed=0, keys={"A4": key})
    control.play_snapshot(snapshot)
    assert configured and set(configured[-1].keys) == {"A4"}  # the run's key alone, not the sound's 88

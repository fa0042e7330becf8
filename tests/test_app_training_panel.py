"""The training panel's hidden size (offscreen, no window): the spin box, what a run trains, and the pole plot of
a net of any size."""

import numpy as np
import pytest

from app.comparison import compare
from app.training_panel import TrainingChoice, TrainingPanel
from iirnn_core.dsp.notes import note_to_hz
from iirnn_core.dsp.weights import RNNWeights, rotation_weights
from iirnn_core.rt.block_layout import HIDDEN_MAX
from iirnn_core.training.config import HIDDEN_MIN
from iirnn_core.models.modelfile import KeyModel, TrainedModel
from iirnn_core.synth.renderer import SynthSettings


class Job:
    """A job that records its config and ends at once with nothing (the panel's poller finds it done)."""

    made = []
    is_running = False
    snapshots, snapshot, result, error = 0, None, None, None

    def __init__(self, config):
        self.config = config
        Job.made.append(self)

    def start(self):
        pass

    def poll(self):
        return []

    def cancel(self):
        pass

    def terminate(self):
        pass


def model_of(hidden, note="A4", rate=8000.0, q=0.995):
    """A one-key model of ``hidden`` states: a rotation at the key's pole mixed by a random orthogonal matrix."""
    w = rotation_weights(q, 2 * np.pi * note_to_hz(note) / rate, hidden)
    mix = np.linalg.qr(np.random.default_rng(hidden).standard_normal((hidden, hidden)))[0]
    keys = {note: KeyModel(note, note_to_hz(note), RNNWeights(mix @ w.w_hh @ mix.T, mix @ w.w_ih, mix @ w.w_out),
                           50.0)}
    return TrainedModel(rate=rate, q=q, seconds=0.6, amplitude=0.1, hidden=hidden, drive=1.0, optimizer="test",
                        init="pole", steps=0, train_seconds=0.0, seed=0, keys=keys)


@pytest.fixture
def panel(qtbot):
    Job.made.clear()
    warm = model_of(3)
    widget = TrainingPanel(lambda: (8000.0, 0.995, warm), Job)
    qtbot.addWidget(widget)
    return widget


def test_the_hidden_spin_box_runs_from_2_to_64_and_starts_at_3(panel):
    assert (panel.hidden_spin.minimum(), panel.hidden_spin.maximum()) == (HIDDEN_MIN, HIDDEN_MAX) == (2, 64)
    assert panel.choice().hidden == 3 == panel.make_config().hidden
    panel.set_values("A4 C5", "best", "pole", 10.0, 24)
    assert panel.choice() == TrainingChoice("A4 C5", "best", "pole", 10.0, 24)
    panel.hidden_spin.setValue(99)  # typed beyond the range: held at 64
    assert panel.choice().hidden == 64


def test_a_run_trains_the_panels_hidden_size(panel, qtbot):
    panel.set_values("A4 C5", "best", "random", 10.0, 12)
    assert panel.start()
    (job,) = Job.made
    assert job.config.hidden == 12 and job.config.notes == ("A4", "C5") and job.config.init == "random"
    assert "12 hidden" in panel.status_label.text()
    qtbot.waitUntil(lambda: not panel.is_running, timeout=5000)  # it ended with nothing: the model in use stays


def test_a_warm_start_from_a_model_of_another_size_is_refused_in_one_line(panel):
    messages = []
    panel.message.connect(messages.append)
    panel.set_values("A4", "best", "warm", 10.0, 8)
    assert not panel.start()
    assert messages == ["Training not started: the warm model has hidden size 3, not 8"]
    assert Job.made == []


@pytest.mark.parametrize("hidden", [2, 8, 64])
def test_the_pole_plot_shows_every_eigenvalue_of_a_trained_net(hidden):
    model = model_of(hidden)
    comparison = compare("A4", SynthSettings(), "rnn-trained", model)
    assert comparison.twin == "rnn-trained" and len(comparison.rnn_poles) == hidden
    np.testing.assert_allclose(np.sort_complex(comparison.rnn_poles),
                               np.sort_complex(np.linalg.eigvals(model.keys["A4"].weights.w_hh)), atol=1e-12)
    assert np.min(np.abs(comparison.rnn_poles - comparison.iir_poles[0])) < 1e-9  # it rings at the IIR's pole

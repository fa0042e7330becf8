"""The one rule for what sounds: engine, twin, model, and why a selection falls back."""

import pytest

from iirnn_core.models.modelfile import DEFAULT_MODEL_PATH, load_model
from iirnn_core.synth.renderer import SynthSettings
from iirnn_core.dsp.resonator import SettingError
from iirnn_core.models.what_plays import model_fits, uses_trained_model, what_plays

MODEL = load_model(DEFAULT_MODEL_PATH)  # 8 kHz, Q 0.995


def test_a_fitting_model_plays_as_selected():
    for engine, settings in (("rnn-trained", SynthSettings()), ("ab", SynthSettings(ab_twin="rnn-trained"))):
        p = what_plays(engine, settings, MODEL)
        assert (p.engine, p.twin, p.model, p.reason) == (engine, "rnn-trained", MODEL, "")
        assert p.settings == settings and uses_trained_model(p.engine, p.settings)


@pytest.mark.parametrize("settings, model, why", [
    (SynthSettings(q=0.999), MODEL, "Q 0.995"),
    (SynthSettings(rate=16000.0), MODEL, "8000 Hz"),
    (SynthSettings(), None, "no trained model"),
])
def test_a_trained_twin_without_a_fitting_model_plays_the_analytic_twin_and_says_why(settings, model, why):
    p = what_plays("rnn-trained", settings, model)
    assert (p.engine, p.twin, p.model) == ("rnn-analytic", "rnn-analytic", None) and why in p.reason
    ab = what_plays("ab", SynthSettings(q=settings.q, rate=settings.rate, ab_twin="rnn-trained"), model)
    assert (ab.engine, ab.settings.ab_twin, ab.twin, ab.model) == ("ab", "rnn-analytic", "rnn-analytic", None)
    assert why in ab.reason


def test_engines_without_a_trained_twin_are_untouched():
    for engine, twin in (("iir", "rnn-analytic"), ("rnn-analytic", "rnn-analytic"), ("ab", "rnn-analytic")):
        p = what_plays(engine, SynthSettings(q=0.9), None)
        assert (p.engine, p.twin, p.model, p.reason) == (engine, twin, None, "")
    with pytest.raises(SettingError):
        what_plays("organ", SynthSettings(), None)


def test_one_tolerance_for_everyone():
    assert model_fits(MODEL, 8000.0 * (1 + 1e-12), 0.995 + 1e-12) == ""
    assert model_fits(MODEL, 8000.0, 0.995 + 1e-6) != ""
    with pytest.raises(SettingError, match="trained at 8000 Hz, Q 0.995"):
        MODEL.weights_for("A4", 8000.0, 0.995 + 1e-6)  # the model file asks the same rule

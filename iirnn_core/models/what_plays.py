"""One rule for what actually sounds: which engine, which RNN twin and which model, and why not the selection.

A trained model belongs to the rate and Q it was trained at (:func:`model_fits`, one tolerance for
everyone). :func:`what_plays` applies the rule to a selected engine, the synth settings and the
model at hand: a trained twin without a fitting model falls back to the analytic twin, and the
result says why. The window, the comparison plots, the model files, the CLI and the audio engine
all decide through these two functions.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from iirnn_core.synth.renderer import ENGINES, SynthSettings
from iirnn_core.dsp.resonator import SettingError

RATE_TOLERANCE = 1e-9
"""Relative tolerance on the model rate (Hz)."""
Q_TOLERANCE = 1e-9
"""Absolute tolerance on Q."""


def model_fits(model, rate: float, q: float) -> str:
    """"" if ``model`` (a TrainedModel) can play at ``rate`` (Hz) and ``q``, else one sentence why not."""
    if model is None:
        return "no trained model is loaded"
    if getattr(model, "sound", None) is not None:  # a learned sound transposes to any rate; Q is its own
        return ""
    if math.isclose(float(rate), float(model.rate), rel_tol=RATE_TOLERANCE) and \
            math.isclose(float(q), float(model.q), rel_tol=0.0, abs_tol=Q_TOLERANCE):
        return ""
    return (f"the model was trained at {float(model.rate):g} Hz, Q {float(model.q):g}; "
            f"the synth runs at {float(rate):g} Hz, Q {float(q):g}")


def uses_trained_model(engine: str, settings: SynthSettings) -> bool:
    """True if ``engine`` with ``settings`` plays a trained net (the trained engine, or A/B with the trained twin)."""
    return engine == "rnn-trained" or (engine == "ab" and settings.ab_twin == "rnn-trained")


@dataclass(frozen=True)
class Playing:
    """What sounds: ``engine`` and ``settings`` to play with (``settings.ab_twin`` already resolved), the
    RNN ``twin`` heard beside or instead of the IIR ('rnn-analytic' | 'rnn-trained'), the ``model`` the
    trained twin plays (None when it plays none), and ``reason``: why the selection fell back ("" if not)."""

    engine: str
    settings: SynthSettings
    twin: str
    model: object
    reason: str = ""


def what_plays(selected: str, settings: SynthSettings, model) -> Playing:
    """Apply the rule to the ``selected`` engine: a trained twin without a model that fits ``settings``
    plays the analytic twin instead, and ``reason`` says why."""
    if selected not in ENGINES:
        raise SettingError(f"unknown engine {selected!r} (choose from {', '.join(ENGINES)})")
    twin = selected if selected in ("rnn-analytic", "rnn-trained") else (
        settings.ab_twin if selected == "ab" else "rnn-analytic")
    if twin != "rnn-trained":
        return Playing(selected, settings, twin, None)
    reason = model_fits(model, settings.rate, settings.q)
    if not reason:
        return Playing(selected, settings, twin, model)
    engine = "rnn-analytic" if selected == "rnn-trained" else selected
    return Playing(engine, dataclasses.replace(settings, ab_twin="rnn-analytic"), "rnn-analytic", None, reason)

"""Training the seed's network, one per key, so its impulse response imitates the IIR target.

The trainer sees only the input (an impulse of ``amplitude``) and each key's target waveform
(the IIR impulse response, ``seconds`` long at ``rate``); never k1, k2 or the note. Three
optimizers (``TrainConfig.optimizer``), each in a module of its own (:mod:`.adam`, :mod:`.randdir`,
:mod:`.lm`; their base :mod:`.optimizer`, the data they share :mod:`.problem`):

- ``"adam"``: the seed's loop, faithfully: ``network.RNNNet`` with PyTorch's default init, float32,
  ``torch.optim.Adam`` at its default lr, summed MSE over the whole target, one step per epoch,
  500 epochs.
- ``"randdir"``: the seed author's method of random directions (gradient-free): random subsets
  of about 8 weights perturbed with shrinking Gaussian noise, line search on success, per-weight
  deviations adapted; 1500 iterations.
  The loss is evaluated by the fused float64 forward of :mod:`.kernels`.
- ``"best"`` (default): Levenberg-Marquardt with exact forward-mode Jacobians
  (:func:`.kernels.normal_equations`), many random starts per key run in parallel,
  and a curriculum over length: fit the first 64 samples, then double the length, keeping the
  better half of the starts each time, up to the whole target.

``train`` is a generator of :class:`Progress` (checks ``should_stop`` between steps);
``train_model`` runs it and returns a :class:`~iirnn_core.models.modelfile.TrainedModel` whose per-key SNR is
measured by rendering the model through the renderer, not taken from the training loss.

Reproducibility: the same config and seed give the same weights bit for bit on any x86-64 CPU,
whatever its vector width (the kernels of :mod:`.kernels` fix every rounding). Chosen over
"equal within a tolerance" by the numbers: a last-bit difference in the normal equations sent one
key of the piano to a different net (weights apart by 100 %, SNR by 7.7 dB, both nets good), so no
tolerance on weights holds across CPUs; fixing the rounding cost no measurable training time.
What is left to the platform is the C library's ``tanh`` (glibc picks some maths code by CPU
feature: a CPU without FMA may differ); there, and on other architectures, the promise is each key's quality.
"""

from __future__ import annotations

import time
from typing import Callable, Iterator

from iirnn_core.dsp.notes import note_to_hz
from iirnn_core.dsp.weights import RNNWeights, snr_db
from iirnn_core.models.modelfile import KeyModel, TrainedModel
from iirnn_core.training.adam import AdamOptimizer
from iirnn_core.training.config import INITS, OPTIMIZERS, Progress, TrainConfig  # noqa: F401 - re-exported
from iirnn_core.training.lm import LMOptimizer
from iirnn_core.training.optimizer import Optimizer
from iirnn_core.training.problem import iir_targets, make_problem
from iirnn_core.training.randdir import RandDirOptimizer


_OPTIMIZERS = {"best": LMOptimizer, "adam": AdamOptimizer, "randdir": RandDirOptimizer}


class Training:
    """One training run: ``run()`` yields :class:`Progress`; afterwards ``weights()`` are the best nets."""

    def __init__(self, config: TrainConfig):
        self.config = config
        self.problem = make_problem(config)
        self.optimizer: Optimizer = _OPTIMIZERS[config.optimizer](self.problem)
        self.steps_done = 0
        self.elapsed = 0.0

    @property
    def total_steps(self) -> int:
        """Steps of a full run: ``config.steps`` or the optimizer's default."""
        return self.config.steps if self.config.steps is not None else self.optimizer.default_steps()

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> Iterator[Progress]:
        """Step until the optimizer's steps (or ``config.steps``), the budget, or ``should_stop()``."""
        cfg = self.config
        total = self.total_steps
        start = time.perf_counter()
        notes = tuple(cfg.notes)
        while self.steps_done < total and not self.optimizer.finished and not should_stop():
            for part in self.optimizer.step_parts(should_stop):
                if part < 1.0:  # within a long step (adam's epoch over many keys): the curve moves too
                    self.elapsed = time.perf_counter() - start
                    losses = self.optimizer.full_losses()
                    yield Progress(self.steps_done + part, self.elapsed, notes, tuple(float(l) for l in losses),
                                   self.problem.snr(losses), False)
            self.steps_done += 1
            self.elapsed = time.perf_counter() - start
            over = cfg.budget is not None and self.elapsed >= cfg.budget
            done = over or self.steps_done >= total or self.optimizer.finished
            losses = self.optimizer.full_losses()
            yield Progress(self.steps_done, self.elapsed, notes, tuple(float(l) for l in losses),
                           self.problem.snr(losses), done)
            if over:
                break
        self.elapsed = time.perf_counter() - start

    def weights(self) -> list[RNNWeights]:
        """The best net of every key (in ``config.notes`` order)."""
        return self.optimizer.weights()


def train(config: TrainConfig, should_stop: Callable[[], bool] = lambda: False) -> Iterator[Progress]:
    """Train every key of ``config``; yields one :class:`Progress` per step (the last has ``done`` unless stopped)."""
    yield from Training(config).run(should_stop)


def measure_snr(model: TrainedModel, note: str) -> float:
    """SNR (dB) of ``note`` rendered from ``model`` through the renderer against the IIR target."""
    from iirnn_core.synth.renderer import SynthSettings, render_notes

    settings = SynthSettings(rate=model.rate, q=model.q, amplitude=model.amplitude, raw=True)
    rendered = render_notes("rnn-trained", [note], settings, model.seconds, model)[:, 0]
    target = iir_targets([note], model.q, model.rate, model.amplitude, len(rendered))[0]
    return snr_db(target, rendered)


def build_model(config: TrainConfig, weights: list[RNNWeights], steps: int, train_seconds: float,
                metadata: dict | None = None) -> TrainedModel:
    """A :class:`TrainedModel` of ``weights`` (per ``config.notes``) with every key's SNR measured by rendering."""
    model = model_of(config, weights, [float("nan")] * len(weights), steps, train_seconds, metadata)
    for note, key in model.keys.items():
        model.keys[note] = KeyModel(note, key.freq, key.weights, file_snr(measure_snr(model, note)))
    return model


def file_snr(db: float) -> float:
    """An SNR (dB) as a model file holds it: clamped to +-300 dB, NaN (not measured) as -300."""
    return float(min(max(db, -300.0), 300.0)) if db == db else -300.0


def model_of(config: TrainConfig, weights: list[RNNWeights], snr_dbs, steps: int, train_seconds: float,
             metadata: dict | None = None) -> TrainedModel:
    """A :class:`TrainedModel` of ``weights`` (per ``config.notes``) with the given SNRs (dB) as they are."""
    keys = {note: KeyModel(note, note_to_hz(note), w, db) for note, w, db in zip(config.notes, weights, snr_dbs)}
    return TrainedModel(rate=float(config.rate), q=float(config.q), seconds=float(config.seconds),
                        amplitude=float(config.amplitude), hidden=config.hidden, drive=1.0,
                        optimizer=config.optimizer, init=config.init, steps=int(steps),
                        train_seconds=float(train_seconds), seed=int(config.seed), keys=keys,
                        metadata=dict(metadata or {}))


def train_model(config: TrainConfig, on_progress: Callable[[Progress], None] | None = None,
                should_stop: Callable[[], bool] | None = None) -> TrainedModel:
    """Train and return the model (the best nets so far when stopped early), SNR measured by rendering."""
    training = Training(config)
    for progress in training.run(should_stop or (lambda: False)):
        if on_progress is not None:
            on_progress(progress)
    stopped = training.steps_done < training.total_steps and not training.optimizer.finished
    return build_model(config, training.weights(), training.steps_done, training.elapsed,
                       run_metadata(stopped_early=stopped))


def run_metadata(**extra) -> dict:
    """Metadata of a model file: the program, the UTC creation time and ``extra`` items."""
    return {"program": "iirnn-synth", "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra}

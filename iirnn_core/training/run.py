"""Training the seed's network, one per key, so its impulse response imitates the IIR target.

The trainer sees only the input (an impulse of ``amplitude``) and each key's target waveform
(the IIR impulse response, ``seconds`` long at ``rate``); never k1, k2 or the note. Three
optimizers (``TrainConfig.optimizer``):

- ``"adam"``: the seed's loop, faithfully: ``model.RNNNet`` with PyTorch's default init, float32,
  ``torch.optim.Adam`` at its default lr, summed MSE over the whole target, one step per epoch,
  500 epochs.
- ``"randdir"``: the seed author's method of random directions (gradient-free): random subsets of about 8 weights perturbed with shrinking
  Gaussian noise, line search on success, per-weight deviations adapted; 1500 iterations.
  The loss is evaluated by the fused float64 forward of :mod:`training_kernels`.
- ``"best"`` (default): Levenberg-Marquardt with exact forward-mode Jacobians
  (:func:`training_kernels.normal_equations`), many random starts per key run in parallel,
  and a curriculum over length: fit the first 64 samples, then double the length, keeping the
  better half of the starts each time, up to the whole target.

``train`` is a generator of :class:`Progress` (checks ``should_stop`` between steps);
``train_model`` runs it and returns a :class:`modelfile.TrainedModel` whose per-key SNR is
measured by rendering the model through the renderer, not taken from the training loss.

Reproducibility: the same config and seed give the same weights bit for bit on any x86-64 CPU,
whatever its vector width (the kernels of :mod:`training_kernels` fix every rounding). Chosen over
"equal within a tolerance" by the numbers: a last-bit difference in the normal equations sent one
key of the piano to a different net (weights apart by 100 %, SNR by 7.7 dB, both nets good), so no
tolerance on weights holds across CPUs; fixing the rounding cost no measurable training time.
Elsewhere (another architecture or C library ``tanh``) the promise is each key's quality.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from iirnn_core.training import kernels as tk
from iirnn_core.training.config import INITS, OPTIMIZERS, Progress, TrainConfig  # noqa: F401 - re-exported
from iirnn_core.dsp.weights import RNNWeights, snr_db
from iirnn_core.models.modelfile import KeyModel, TrainedModel
from iirnn_core.dsp.notes import note_to_hz
from iirnn_core.dsp.resonator import impulse, resonator


MAX_RADIUS = 1.0 - 1e-7
"""A trained ``W_hh`` must have a spectral radius below 1 (model files require it); a net that
ends at 1 or above is scaled down to this radius (the fidelity measured afterwards says what it
cost). Targets need radii up to Q, so this sits just below 1."""

ADAM_EPOCHS = 500
RANDDIR_ITERATIONS = 1500


@dataclass
class _Problem:
    """The data every optimizer sees: ``x`` (K, N) inputs, ``targets`` (K, N), their energies (K,)."""

    config: TrainConfig
    x: np.ndarray
    targets: np.ndarray
    energy: np.ndarray = field(init=False)

    def __post_init__(self):
        self.energy = np.sum(self.targets**2, axis=1)

    def snr(self, losses: np.ndarray) -> tuple:
        """Training SNR (dB) per key for summed squared errors ``losses`` (K,)."""
        out = []
        for e, l in zip(self.energy, losses):
            out.append(float("inf") if l == 0 else (10.0 * math.log10(e / l) if math.isfinite(l) else float("-inf")))
        return tuple(out)


def make_problem(config: TrainConfig) -> _Problem:
    """Inputs and IIR targets (K, N) of every key of ``config``."""
    n = config.length
    x = np.tile(impulse(n, config.amplitude), (len(config.notes), 1))
    return _Problem(config, x, iir_targets(config.notes, config.q, config.rate, config.amplitude, n))


def iir_targets(notes, q: float, rate: float, amplitude: float, length: int) -> np.ndarray:
    """The IIR's impulse responses (K, ``length``) of ``notes`` (names) at pole radius ``q`` and
    ``rate`` (samples/s) for an impulse of ``amplitude``: what ``resonator.impulse_response``
    gives (to rounding), computed by a compiled kernel."""
    coefficients = [resonator(note_to_hz(name), q, rate) for name in notes]
    return tk.impulse_responses(np.array([c.k1 for c in coefficients], dtype=np.float64),
                                np.array([c.k2 for c in coefficients], dtype=np.float64),
                                float(amplitude), int(length))


def stabilised(theta: np.ndarray, hidden: int) -> np.ndarray:
    """``theta`` (P,), with ``W_hh`` scaled down to :data:`MAX_RADIUS` if its spectral radius is 1 or more."""
    hh = hidden * hidden
    radius = float(np.max(np.abs(np.linalg.eigvals(theta[:hh].reshape(hidden, hidden)))))
    if radius < 1.0:
        return theta
    out = theta.copy()
    out[:hh] *= MAX_RADIUS / radius
    return out


def spectral_radii(thetas: np.ndarray, hidden: int) -> np.ndarray:
    """Spectral radius of ``W_hh`` of every row of ``thetas`` (S, P); NaN rows give inf."""
    hh = hidden * hidden
    w = thetas[:, :hh].reshape(-1, hidden, hidden)
    out = np.full(len(thetas), np.inf)
    ok = np.all(np.isfinite(w), axis=(1, 2))
    if np.any(ok):
        out[ok] = np.max(np.abs(np.linalg.eigvals(w[ok])), axis=1)
    return out


def _warm_theta(config: TrainConfig, note: str) -> np.ndarray | None:
    """The warm model's parameters for ``note`` (P,), or None when it lacks the key."""
    model = config.warm_model
    if config.init != "warm" or model is None or note not in model.keys:
        return None
    w = model.keys[note].weights
    return tk.pack(w.w_hh, w.w_ih, w.w_out)


def _torch_default_theta(hidden: int, generator) -> np.ndarray:
    """PyTorch's default init of the seed's net: every weight uniform in +-1/sqrt(H) (nn.RNN and Linear)."""
    import torch

    bound = 1.0 / math.sqrt(hidden)
    w = torch.empty(tk.n_params(hidden), dtype=torch.float64).uniform_(-bound, bound, generator=generator)
    return w.numpy()


class Optimizer:
    """Base of the optimizers: holds the problem, the best parameters per key and their losses."""

    def __init__(self, problem: _Problem):
        self.problem = problem
        self.config = problem.config
        self.hidden = self.config.hidden
        self.best = np.zeros((len(self.config.notes), tk.n_params(self.hidden)))
        self.best_loss = np.full(len(self.config.notes), np.inf)

    def default_steps(self) -> int:
        """How many steps a full run takes (at most)."""
        raise NotImplementedError

    @property
    def finished(self) -> bool:
        """True once the optimizer has nothing left to do (before its steps run out)."""
        return False

    def step(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """One step for every key; updates ``best`` and ``best_loss``. Optimizers whose step is long
        (adam: one epoch per key) check ``should_stop`` between keys."""
        raise NotImplementedError

    def step_parts(self, should_stop: Callable[[], bool] = lambda: False) -> Iterator[float]:
        """One step, yielding the fraction of it done whenever part of it is (at least once, 1.0 at the end);
        an optimizer whose step is long reports its parts, so progress moves within a step."""
        self.step(should_stop)
        yield 1.0

    def full_losses(self) -> np.ndarray:
        """Summed squared error of every key's best net over the whole target (K,)."""
        losses = np.zeros(len(self.best))
        keys = np.arange(len(self.best))
        tk.sse_many(self.best, keys, self.hidden, self.problem.x, self.problem.targets,
                    self.config.length, losses)
        return losses

    def weights(self) -> list[RNNWeights]:
        """Each key's best net (spectral radius below 1)."""
        out = []
        for theta in self.best:
            w_hh, w_ih, w_out = tk.unpack(stabilised(theta, self.hidden), self.hidden)
            out.append(RNNWeights(w_hh, w_ih, w_out))
        return out


class AdamOptimizer(Optimizer):
    """The seed's loop per key: float32 ``RNNNet``, PyTorch default init, Adam (default lr), summed MSE."""

    def __init__(self, problem: _Problem):
        super().__init__(problem)
        import torch

        from iirnn_core.training.network import RNNNet, signal_to_torch

        self.torch = torch
        gen = torch.Generator().manual_seed(self.config.seed)
        self.nets, self.opts, self.inputs, self.targets = [], [], [], []
        self.loss_fn = torch.nn.MSELoss(reduction="sum")
        for k, note in enumerate(self.config.notes):
            theta = _warm_theta(self.config, note)
            if theta is None:
                theta = _torch_default_theta(self.hidden, gen)
            net = RNNNet.from_weights(RNNWeights(*tk.unpack(theta, self.hidden)), torch.float32)
            self.nets.append(net)
            self.opts.append(torch.optim.Adam(net.parameters()))
            self.inputs.append(signal_to_torch(problem.x[k]))
            self.targets.append(signal_to_torch(problem.targets[k]))
            self.best[k] = theta

    def default_steps(self) -> int:
        """500 epochs, as the seed."""
        return ADAM_EPOCHS

    def step(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """One epoch per key: forward, summed MSE, backward, Adam step (the seed's loop body)."""
        for _ in self.step_parts(should_stop):
            pass

    def step_parts(self, should_stop: Callable[[], bool] = lambda: False) -> Iterator[float]:
        """The epoch key by key: yields the fraction of the keys done after each key's Adam step."""
        count = len(self.nets)
        for k, (net, opt) in enumerate(zip(self.nets, self.opts)):
            if k and should_stop():
                return
            pred = net(self.inputs[k])
            loss = self.loss_fn(pred, self.targets[k])
            value = float(loss.item())
            if math.isfinite(value) and value < self.best_loss[k]:  # a diverged (NaN) net never becomes best
                w = net.to_weights()
                self.best[k] = tk.pack(w.w_hh, w.w_ih, w.w_out)
                self.best_loss[k] = value
            opt.zero_grad()
            loss.backward()
            opt.step()
            yield (k + 1) / count


class RandDirOptimizer(Optimizer):
    """The method of random directions (Schuller's ``optimrandomdir``), one iteration per key per step."""

    START_SCALE = 0.1
    END_SCALE = 0.0
    SUBSET = 8.0

    def __init__(self, problem: _Problem):
        super().__init__(problem)
        import torch

        gen = torch.Generator().manual_seed(self.config.seed)
        self.rng = np.random.default_rng(self.config.seed)
        p_all = tk.n_params(self.hidden)
        self.fraction = min(1.0, self.SUBSET / p_all)
        self.dev = np.ones((len(self.config.notes), p_all))
        self.iteration = 0
        for k, note in enumerate(self.config.notes):
            theta = _warm_theta(self.config, note)
            self.best[k] = theta if theta is not None else _torch_default_theta(self.hidden, gen)
            self.best_loss[k] = self._loss(k, self.best[k])

    def _loss(self, k: int, theta: np.ndarray) -> float:
        value = tk.sse(theta, self.hidden, self.problem.x[k], self.problem.targets[k], self.config.length)
        return value if math.isfinite(value) else math.inf

    def default_steps(self) -> int:
        """1500 iterations, as the seed calls it."""
        return RANDDIR_ITERATIONS

    def step(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """One random-directions iteration per key."""
        total = self.config.steps or RANDDIR_ITERATIONS
        m = self.iteration
        scale = max((self.START_SCALE - self.END_SCALE) * (1.0 - m / total) ** 2 + self.END_SCALE, 1e-4)
        for k in range(len(self.best)):
            mask = self.rng.random(self.best.shape[1]) < self.fraction
            if not np.any(mask):
                continue
            direction = mask * self.rng.normal(size=self.best.shape[1]) * scale * self.dev[k]
            base, best = self.best[k], self.best_loss[k]
            loss = self._loss(k, base + direction)
            if not loss < best:
                continue
            factor = 1.0
            for grow in (2.0 ** i for i in range(1, 9)):  # line search outwards ...
                trial = self._loss(k, base + grow * direction)
                if not trial < loss:
                    break
                loss, factor = trial, grow
            if factor == 1.0:
                for shrink in (0.5 ** i for i in range(1, 6)):  # ... or inwards
                    trial = self._loss(k, base + shrink * direction)
                    if not trial < loss:
                        break
                    loss, factor = trial, shrink
            update = factor * direction
            self.best[k] = base + update
            self.best_loss[k] = loss
            size = np.abs(update)
            mean = float(np.mean(size[mask]))
            if mean > 0:
                self.dev[k] += mask * (-0.1 * self.dev[k] + 0.1 * size / mean * self.fraction)
                np.maximum(self.dev[k], 1e-2, out=self.dev[k])
        self.iteration += 1


class LMOptimizer(Optimizer):
    """Multi-start Levenberg-Marquardt with a curriculum over length (the ``best`` optimizer).

    Every key starts ``STARTS`` nets drawn at random: ``W_hh`` entries N(0, 1/H) for half of them,
    the identity plus N(0, ``IDENTITY_SPREAD``^2/H) for the other half (the near-identity init of
    recurrent nets, which slow, low keys need); ``w_ih`` and ``w_out`` N(0, 1), then scaled by the
    target's own gain (its peak over the impulse height): ``w_ih`` down and ``w_out`` up, so that the
    hidden state peaks near ``STATE_LEVELS`` (log-spaced over the starts) instead of saturating tanh
    (a low key rings up to about 1/sin(w) times its impulse: 280 times at A0 and 48 kHz).

    The stages fit the first 64, 128, ... samples at 8 kHz (8, 16, ... ms at any rate; doubling
    while at most half the target), then the whole target: up to ``FIRST_STAGE_ITERATIONS`` LM
    iterations in the first stage, half as many in each next one but at least ``STAGE_ITERATIONS``
    (``FINAL_ITERATIONS`` for the last; the short first stages are cheap, and slow keys need many
    iterations there). A net stops early once an iteration gains less than the fraction ``TOL``. After
    each stage each key keeps the better half of its starts (never fewer
    than ``FINALISTS``), stable nets (spectral radius < 1) ranked before unstable ones. A step is
    about ``STEP_WORK`` sample-iterations (a few iterations of every net, or one iteration of the
    next rows when one of all would be more), so progress arrives tens of times a second for any
    number of keys.
    """

    STARTS = 32
    FIRST_LENGTH = 64
    FIRST_STAGE_ITERATIONS = 100
    STAGE_ITERATIONS = 20
    FINAL_ITERATIONS = 40
    FINALISTS = 2
    STEP_WORK = 250_000
    LAMBDA0 = 1e-2
    TOL = 1e-5
    IDENTITY_SPREAD = 0.1
    STATE_LEVELS = (0.01, 0.3)

    def __init__(self, problem: _Problem):
        super().__init__(problem)
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        p_all, h = tk.n_params(self.hidden), self.hidden
        hh = h * h
        levels = np.geomspace(*self.STATE_LEVELS, self.STARTS)
        rows, keys = [], []
        for k, note in enumerate(cfg.notes):
            starts = rng.normal(size=(self.STARTS, p_all))
            starts[:, :hh] /= math.sqrt(h)
            starts[1::2, :hh] = np.eye(h).ravel() + self.IDENTITY_SPREAD * starts[1::2, :hh]
            gain = float(np.max(np.abs(problem.targets[k]))) / cfg.amplitude
            scale = (levels / gain)[:, None]
            starts[:, hh:hh + h] *= scale
            starts[:, hh + h:] /= scale
            warm = _warm_theta(cfg, note)
            if warm is not None:
                starts[0] = warm
            rows.append(starts)
            keys.append(np.full(self.STARTS, k))
        self.thetas = np.concatenate(rows)
        self.keys = np.concatenate(keys).astype(np.int64)
        count = len(self.keys)
        self.lambdas = np.full(count, self.LAMBDA0)
        self.losses = np.full(count, np.inf)
        self.jtjs = np.zeros((count, p_all, p_all))
        self.jtrs = np.zeros((count, p_all))
        self.fresh = np.zeros(count, dtype=np.uint8)
        # the first stage spans the same time at every rate (64 samples at 8 kHz: 8 ms)
        lengths, n = [], max(8, int(round(self.FIRST_LENGTH * cfg.rate / 8000.0)))
        while n <= cfg.length // 2:
            lengths.append(n)
            n *= 2
        lengths.append(cfg.length)
        self.schedule = [(length, self.FINAL_ITERATIONS if i == len(lengths) - 1
                          else max(self.STAGE_ITERATIONS, self.FIRST_STAGE_ITERATIONS >> i))
                         for i, length in enumerate(lengths)]
        self.stage, self.stage_done, self._cursor, self._measure_cursor = 0, 0, 0, 0
        self._plan = self._plan_steps()
        self._update_best()

    def _nets_at(self, stage: int) -> int:
        """How many nets run in ``stage`` (each stage halves them, down to the finalists)."""
        per_key = self.STARTS
        for _ in range(stage):
            per_key = max(min(self.FINALISTS, per_key), per_key // 2)
        return per_key * len(self.config.notes)

    def _stage_steps(self, stage: int) -> int:
        """Steps ``stage`` takes at most: whole iterations of every net per step while they fit in
        ``STEP_WORK`` sample-iterations, else one iteration of the next rows per step."""
        length, iterations = self.schedule[stage]
        rows = self._nets_at(stage)
        if length * rows <= self.STEP_WORK:
            return -(-iterations // (self.STEP_WORK // (length * rows)))
        return iterations * -(-rows // max(1, self.STEP_WORK // length))

    def _plan_steps(self) -> int:
        """Number of steps of the whole schedule (at most)."""
        return sum(self._stage_steps(i) for i in range(len(self.schedule)))

    def default_steps(self) -> int:
        """Steps of the whole curriculum (fewer when the nets converge early)."""
        return self._plan

    @property
    def finished(self) -> bool:
        """The last stage is done."""
        return self.stage == len(self.schedule) - 1 and self.stage_done >= self.schedule[-1][1]

    @property
    def length(self) -> int:
        """Length (samples) of the current curriculum stage."""
        return self.schedule[self.stage][0]

    def step(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """About ``STEP_WORK`` sample-iterations of LM at the current length: a few iterations of every
        net, or one iteration of the next rows; at a stage's end, prune and lengthen."""
        length, iterations = self.schedule[self.stage]
        rows = len(self.thetas)
        if self._cursor == 0 and length * rows <= self.STEP_WORK:
            first, last = 0, rows
            count = min(self.STEP_WORK // (length * rows), iterations - self.stage_done)
        else:
            first, last = self._cursor, min(rows, self._cursor + max(1, self.STEP_WORK // length))
            count = 1
        part = slice(first, last)
        tk.lm_steps(self.thetas[part], self.lambdas[part], self.keys[part], self.hidden, self.problem.x,
                    self.problem.targets, length, count, self.losses[part], self.jtjs[part], self.jtrs[part],
                    self.fresh[part], self.TOL)
        self._cursor = 0 if last == rows else last
        if self._cursor == 0:
            self.stage_done += count
        if np.all(self.fresh == 2):  # every net has converged at this length
            self.stage_done, self._cursor = iterations, 0
        touched = np.unique(self.keys[part])
        if self.stage_done >= iterations and self.stage + 1 < len(self.schedule):
            self._prune()
            self.stage += 1
            self.stage_done = 0
            self.fresh[:] = 0  # a longer target: new normal equations, bold steps again
            self.lambdas[:] = np.maximum(self.lambdas, self.LAMBDA0)
            touched = None
        self._update_best(touched)

    def _ranking(self, idx: np.ndarray, losses: np.ndarray, radii: np.ndarray) -> np.ndarray:
        """``idx`` ordered best first: stable before unstable, then by loss (NaN last)."""
        bad = ~(radii[idx] < 1.0)
        loss = np.where(np.isfinite(losses[idx]), losses[idx], np.inf)
        return idx[np.lexsort((loss, bad))]

    def _prune(self) -> None:
        """Keep each key's better half, judged on the next stage's length (how well a fit extrapolates)."""
        radii = spectral_radii(self.thetas, self.hidden)
        ahead = np.zeros(len(self.keys))
        tk.sse_many(self.thetas, self.keys, self.hidden, self.problem.x, self.problem.targets,
                    self.schedule[self.stage + 1][0], ahead)
        keep = []
        for k in range(len(self.config.notes)):
            idx = np.flatnonzero(self.keys == k)
            order = self._ranking(idx, ahead, radii)
            keep.append(order[:max(min(self.FINALISTS, len(order)), len(order) // 2)])
        keep = np.concatenate(keep)
        for name in ("thetas", "keys", "lambdas", "losses", "jtjs", "jtrs", "fresh"):
            setattr(self, name, getattr(self, name)[keep].copy())

    def _update_best(self, keys: np.ndarray | None = None) -> None:
        """Choose the best net at the current stage (stable nets first) of ``keys`` (None: every key), and
        measure the whole-target loss of about ``STEP_WORK / 4`` samples' worth of keys, in turn (all of
        them at a stage's end and at the finish): progress shows each key's loss as last measured."""
        every = np.arange(len(self.config.notes))
        measure_all = keys is None
        keys = every if keys is None else keys
        radii = np.full(len(self.thetas), np.inf)
        rows = np.flatnonzero(np.isin(self.keys, keys))
        radii[rows] = spectral_radii(self.thetas[rows], self.hidden)
        for k in keys:
            self.best[k] = self.thetas[self._ranking(np.flatnonzero(self.keys == k), self.losses, radii)[0]]
        if measure_all or self.finished:
            measure = every
        else:
            n = max(1, min(len(every), self.STEP_WORK // (4 * self.config.length)))
            measure = (self._measure_cursor + np.arange(n)) % len(every)
            self._measure_cursor = int(measure[-1] + 1) % len(every)
        losses = np.zeros(len(measure))
        tk.sse_many(self.best[measure], measure, self.hidden, self.problem.x, self.problem.targets,
                    self.config.length, losses)
        self.best_loss[measure] = losses

    def full_losses(self) -> np.ndarray:
        """Whole-target loss of each key's chosen net, as last measured (all of them at the finish)."""
        return self.best_loss.copy()


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

"""The optimizers' common base: each key's best parameters and loss, and the starting points.

An optimizer steps every key of a :class:`~iirnn_core.training.problem.Problem` (``step`` or, for
long steps, ``step_parts``), keeps ``best`` (K, P) and ``best_loss`` (K,), and hands back each
key's net with a spectral radius below 1 (:meth:`Optimizer.weights`). Starting points: PyTorch's default
init, a warm model's nets (:func:`warm_theta`) or a net ringing at the target's own pole (:func:`pole_theta`).
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np

from iirnn_core.dsp.resonator import SettingError
from iirnn_core.dsp.weights import RNNWeights, rotation_weights
from iirnn_core.training import kernels as tk
from iirnn_core.training.config import TrainConfig
from iirnn_core.training.problem import MAX_RADIUS, Problem, stabilised, target_pole

POLE_EXTRA_RADIUS = 0.5
"""Spectral radius of the extra states of a pole start (they decay fast and barely sound)."""
POLE_EXTRA_SCALE = 1e-3
"""Input and output weights of a pole start's extra states, relative to those of its resonating block."""
POLE_LEVEL = 0.01
"""Peak of a pole start's states (tanh(0.01) is 0.01 to 3e-5): tanh's linear range."""


def warm_theta(config: TrainConfig, note: str, modal: bool = False) -> np.ndarray | None:
    """The warm model's parameters for ``note`` (P,, dense or ``modal``), or None when it lacks the key;
    SettingError when a modal optimizer is given a net that is not block-diagonal."""
    model = config.warm_model
    if config.init != "warm" or model is None or note not in model.keys:
        return None
    w = model.keys[note].weights
    try:
        return tk.pack(w.w_hh, w.w_ih, w.w_out, modal)
    except ValueError:
        raise SettingError(f"the warm model's {note} has a dense W_hh; the best optimizer trains "
                           f"{config.hidden} hidden states block-diagonal (2x2 blocks): warm-start it with "
                           "adam or randdir") from None


def pole_theta(hidden: int, target: np.ndarray, amplitude: float, level: float, rng: np.random.Generator,
               modal: bool = False) -> np.ndarray:
    """A net (P,, dense or ``modal``) whose first two states ring at the pole of ``target`` (N,; an impulse
    response to an impulse of ``amplitude``): :func:`~iirnn_core.dsp.weights.rotation_weights` at the pole
    :func:`~iirnn_core.training.problem.target_pole` reads off the target, its states peaking at ``level``
    (linearised, its response is the target itself; tanh, a little below the identity at every step, shortens
    its decay a little: 57 dB SNR at level 0.01 on E5 at Q 0.995, what training then takes away). The other states
    (H > 2) decay at :data:`POLE_EXTRA_RADIUS` with input and output weights :data:`POLE_EXTRA_SCALE` times the
    block's (drawn from ``rng``; modal: 2x2 blocks only): they barely change the output and give the
    optimizer something to use."""
    pole = target_pole(target)
    angle = min(max(abs(float(np.angle(pole))), 1e-6), math.pi - 1e-6)
    w = rotation_weights(min(abs(pole), MAX_RADIUS), angle, hidden, level, amplitude)
    w_hh, w_ih, w_out = w.w_hh, w.w_ih, w.w_out
    extra = hidden - 2
    if extra > 0:
        block = rng.normal(size=(extra, extra))
        if modal:  # only the 2x2 blocks (and a last 1x1) of the extra states
            mask = np.zeros((extra, extra), dtype=bool)
            for first in range(0, extra, 2):
                mask[first:first + 2, first:first + 2] = True
            block[~mask] = 0.0
        block *= POLE_EXTRA_RADIUS / max(float(np.max(np.abs(np.linalg.eigvals(block)))), 1e-12)
        w_hh[2:, 2:] = block
        w_ih[2:] = POLE_EXTRA_SCALE * w_ih[0] * rng.normal(size=extra)
        w_out[2:] = POLE_EXTRA_SCALE * abs(w_out[0]) * rng.normal(size=extra)
    return tk.pack(w_hh, w_ih, w_out, modal)


def torch_default_theta(hidden: int, generator) -> np.ndarray:
    """PyTorch's default init of the seed's net: every weight uniform in +-1/sqrt(H) (nn.RNN and Linear)."""
    import torch

    bound = 1.0 / math.sqrt(hidden)
    w = torch.empty(tk.n_params(hidden), dtype=torch.float64).uniform_(-bound, bound, generator=generator)
    return w.numpy()


class Optimizer:
    """Base of the optimizers: holds the problem, the best parameters per key and their losses."""

    modal = False
    """Whether the parameters are in the modal form (block-diagonal ``W_hh``) instead of dense."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.config = problem.config
        self.hidden = self.config.hidden
        self.best = np.zeros((len(self.config.notes), tk.n_params(self.hidden, self.modal)))
        self.best_loss = np.full(len(self.config.notes), np.inf)

    def initial_theta(self, k: int, note: str, rng: np.random.Generator, level: float = POLE_LEVEL):
        """Key ``k`` (``note``)'s start as the config's init says: a pole start (:func:`pole_theta`, states peaking
        at ``level``, extra states drawn from ``rng``), the warm model's net, or None (init 'random', or a key the
        warm model lacks: the optimizer's own random start)."""
        cfg = self.config
        if cfg.init == "pole":
            return pole_theta(self.hidden, self.problem.targets[k], cfg.amplitude, level, rng, self.modal)
        return warm_theta(cfg, note, self.modal)

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
                    self.config.length, losses, self.modal)
        return losses

    def weights(self) -> list[RNNWeights]:
        """Each key's best net (spectral radius below 1)."""
        out = []
        for theta in self.best:
            w_hh, w_ih, w_out = tk.unpack(stabilised(theta, self.hidden, self.modal), self.hidden, self.modal)
            out.append(RNNWeights(w_hh, w_ih, w_out))
        return out

"""The optimizers' common base: each key's best parameters and loss, and the starting points.

An optimizer steps every key of a :class:`~iirnn_core.training.problem.Problem` (``step`` or, for
long steps, ``step_parts``), keeps ``best`` (K, P) and ``best_loss`` (K,), and hands back each
key's net with a spectral radius below 1 (:meth:`Optimizer.weights`).
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np

from iirnn_core.dsp.weights import RNNWeights
from iirnn_core.training import kernels as tk
from iirnn_core.training.config import TrainConfig
from iirnn_core.training.problem import Problem, stabilised


def warm_theta(config: TrainConfig, note: str) -> np.ndarray | None:
    """The warm model's parameters for ``note`` (P,), or None when it lacks the key."""
    model = config.warm_model
    if config.init != "warm" or model is None or note not in model.keys:
        return None
    w = model.keys[note].weights
    return tk.pack(w.w_hh, w.w_ih, w.w_out)


def torch_default_theta(hidden: int, generator) -> np.ndarray:
    """PyTorch's default init of the seed's net: every weight uniform in +-1/sqrt(H) (nn.RNN and Linear)."""
    import torch

    bound = 1.0 / math.sqrt(hidden)
    w = torch.empty(tk.n_params(hidden), dtype=torch.float64).uniform_(-bound, bound, generator=generator)
    return w.numpy()


class Optimizer:
    """Base of the optimizers: holds the problem, the best parameters per key and their losses."""

    def __init__(self, problem: Problem):
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

"""The seed author's method of random directions (gradient-free), one iteration per key per step."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from iirnn_core.training import kernels as tk
from iirnn_core.training.optimizer import Optimizer, torch_default_theta
from iirnn_core.training.problem import Problem

RANDDIR_ITERATIONS = 1500
"""Iterations of a full run, as the seed author calls it."""


class RandDirOptimizer(Optimizer):
    """The method of random directions (Schuller's ``optimrandomdir``), one iteration per key per step."""

    START_SCALE = 0.1
    END_SCALE = 0.0
    SUBSET = 8.0

    def __init__(self, problem: Problem):
        super().__init__(problem)
        import torch

        gen = torch.Generator().manual_seed(self.config.seed)
        self.rng = np.random.default_rng(self.config.seed)
        p_all = tk.n_params(self.hidden)
        self.fraction = min(1.0, self.SUBSET / p_all)
        self.dev = np.ones((len(self.config.notes), p_all))
        self.iteration = 0
        for k, note in enumerate(self.config.notes):
            theta = self.initial_theta(k, note, self.rng)
            self.best[k] = theta if theta is not None else torch_default_theta(self.hidden, gen)
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

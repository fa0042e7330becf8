"""The seed's own training loop, per key: torch ``RNNNet`` in float32, Adam at its default lr, summed MSE
(PyTorch's default init unless the config asks for a warm or a pole start)."""

from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np

from iirnn_core.dsp.weights import RNNWeights
from iirnn_core.training import kernels as tk
from iirnn_core.training.optimizer import Optimizer, torch_default_theta
from iirnn_core.training.problem import Problem

ADAM_EPOCHS = 500
"""Epochs of a full run, as the seed trains."""


class AdamOptimizer(Optimizer):
    """The seed's loop per key: float32 ``RNNNet``, PyTorch default init, Adam (default lr), summed MSE."""

    def __init__(self, problem: Problem):
        super().__init__(problem)
        import torch

        from iirnn_core.training.network import RNNNet, signal_to_torch

        self.torch = torch
        gen = torch.Generator().manual_seed(self.config.seed)
        rng = np.random.default_rng(self.config.seed)
        self.nets, self.opts, self.inputs, self.targets = [], [], [], []
        self.loss_fn = torch.nn.MSELoss(reduction="sum")
        for k, note in enumerate(self.config.notes):
            theta = self.initial_theta(k, note, rng)
            if theta is None:
                theta = torch_default_theta(self.hidden, gen)
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

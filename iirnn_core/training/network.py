"""The seed's network in torch: ``nn.RNN(1, H, bias=False)`` (tanh) + ``Linear(H, 1, bias=False)``.

Its numpy weights (and everything that needs no torch) are in :mod:`iirnn_core.dsp.weights`, re-exported
here. Per time step: ``h[n] = tanh(W_hh @ h[n-1] + w_ih * x[n])``, ``y[n] = w_out @ h[n]``.
Analytic weights make the hidden state a delay line: ``W_hh`` is a shift matrix whose first
row is ``[k1, k2, 0, ...]``, ``w_ih = [1, 0, ...]``, ``w_out = [1, 0, ...]``.
**Drive** ``d`` scales ``w_ih`` by ``d`` and ``w_out`` by ``1/d``: small ``d`` keeps tanh in its
linear range (the twin matches the IIR), large ``d`` adds tanh colour; ``d = 1`` is the seed.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from iirnn_core.dsp.weights import RNNWeights, analytic_weights, check_drive, snr_db, spectral_radius  # noqa: F401 - re-exported


class RNNNet(nn.Module):
    """The seed's ``RNNnet``: ``nn.RNN(1, H, bias=False)`` then ``Linear(H, 1, bias=False)``.

    ``forward`` takes ``x`` of shape (seq_len, batch, 1) and returns (seq_len, batch, 1),
    starting from a zero hidden state, exactly as the seed does.
    """

    def __init__(self, hidden: int = 3):
        super().__init__()
        self.rnn = nn.RNN(input_size=1, hidden_size=hidden, num_layers=1, bias=False)
        self.fo = nn.Linear(hidden, 1, bias=False)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
        """Output (seq_len, batch, 1) for input (seq_len, batch, 1); ``h0`` (1, batch, H) or zeros."""
        out, _ = self.rnn(x, h0)
        return self.fo(out)

    @classmethod
    def from_weights(cls, weights: RNNWeights, dtype: torch.dtype = torch.float32) -> "RNNNet":
        """A network holding ``weights`` (in ``dtype``)."""
        net = cls(weights.hidden).to(dtype)
        with torch.no_grad():
            net.rnn.weight_hh_l0.copy_(torch.as_tensor(weights.w_hh))
            net.rnn.weight_ih_l0.copy_(torch.as_tensor(weights.w_ih).reshape(-1, 1))
            net.fo.weight.copy_(torch.as_tensor(weights.w_out).reshape(1, -1))
        return net

    def to_weights(self) -> RNNWeights:
        """The network's weights as float64 numpy arrays."""
        with torch.no_grad():
            return RNNWeights(
                self.rnn.weight_hh_l0.detach().double().numpy().copy(),
                self.rnn.weight_ih_l0.detach().double().numpy().reshape(-1).copy(),
                self.fo.weight.detach().double().numpy().reshape(-1).copy(),
            )


def signal_to_torch(x: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The seed's ``signal2pytorch``: a 1-d signal (N,) as a (N, 1, 1) tensor."""
    return torch.as_tensor(np.asarray(x), dtype=dtype).reshape(-1, 1, 1)


def run_torch_rnn(weights: RNNWeights, x: np.ndarray, dtype: torch.dtype = torch.float64) -> np.ndarray:
    """The seed's way: one ``nn.RNN`` call over the whole signal ``x`` (N,); returns y (N,) float64."""
    net = RNNNet.from_weights(weights, dtype)
    with torch.no_grad():
        return net(signal_to_torch(x, dtype)).double().numpy().reshape(-1)

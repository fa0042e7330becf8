"""Fused kernels against numpy, torch.nn.RNN and scipy."""

import numpy as np
import pytest
import scipy.signal
import torch

from iirnn_core.rt import bank_kernels as kernels
from iirnn_core.training.network import RNNWeights, run_torch_rnn


def _elementwise(fn):
    """``fn`` (a compiled scalar function) applied to each element of an array, inside compiled code (where the
    voice loops call it)."""
    from numba import njit

    @njit
    def apply(a, out):
        for i in range(a.shape[0]):
            out[i] = fn(a[i])

    def run(x):
        out = np.empty_like(x)
        apply(x, out)
        return out

    return run


def _vectorised_tanh(x):
    return _elementwise(kernels.fast_tanh)(x)


def test_fast_tanh_matches_numpy_everywhere():
    x = np.concatenate([np.linspace(-30, 30, 400001), np.logspace(-300, 1.5, 20000), -np.logspace(-300, 1.5, 20000),
                        [0.0, -0.0, 0.625, -0.625, 20.0, 1e300, -1e300]])
    got = _vectorised_tanh(x)
    ref = np.tanh(x)
    assert np.max(np.abs(got - ref)) < 1e-14
    nz = ref != 0
    assert np.max(np.abs(got[nz] - ref[nz]) / np.abs(ref[nz])) < 1e-13
    assert np.all(np.abs(got) <= 1.0)


def undamped(voices):
    """A bank kernel's damper arrays (factor, target, step) for ``voices`` voices whose keys are held."""
    return np.ones(voices), np.ones(voices), np.zeros(voices)


def _bank(weights_list, x):
    """Run advance_rnn_bank over voices (one RNNWeights each) and x (N, V); returns y (N, V)."""
    hidden = max(w.hidden for w in weights_list)
    v = len(weights_list)
    w_hh = np.zeros((hidden, hidden, v))
    w_ih = np.zeros((hidden, v))
    w_out = np.zeros((hidden, v))
    for i, w in enumerate(weights_list):
        p = w.padded(hidden)
        w_hh[:, :, i], w_ih[:, i], w_out[:, i] = p.w_hh, p.w_ih, p.w_out
    h = np.zeros((hidden, v))
    y = np.zeros_like(x)
    kernels.advance_rnn_bank(w_hh, w_ih, w_out, h, np.zeros((hidden, v)), x, y, v, *undamped(v))
    return y


@pytest.mark.parametrize("hidden", [3, 4, 8])
def test_rnn_bank_matches_nn_rnn_on_random_nets(hidden):
    rng = np.random.default_rng(hidden)
    weights = [RNNWeights(rng.standard_normal((hidden, hidden)) * 0.6, rng.standard_normal(hidden),
                          rng.standard_normal(hidden)) for _ in range(5)]
    x = rng.standard_normal((700, 5))
    y = _bank(weights, x)
    for i, w in enumerate(weights):
        ref = run_torch_rnn(w, x[:, i])
        assert np.linalg.norm(y[:, i] - ref) / np.linalg.norm(ref) < 1e-12
        ref32 = run_torch_rnn(w, x[:, i], dtype=torch.float32)
        assert np.linalg.norm(y[:, i] - ref32) / np.linalg.norm(ref32) < 1e-5


def test_iir_bank_matches_lfilter():
    k1, k2 = 1.8, -0.95
    x = np.random.default_rng(3).standard_normal((1000, 1))
    w_hh = np.array([[k1, k2], [1.0, 0.0]]).reshape(2, 2, 1)
    h = np.zeros((2, 1))
    y = np.zeros_like(x)
    kernels.advance_iir_bank(w_hh, np.array([[1.0], [0.0]]), np.array([[1.0], [0.0]]), h, np.zeros((2, 1)), x, y, 1,
                             *undamped(1))
    np.testing.assert_allclose(y[:, 0], scipy.signal.lfilter([1], [1, -k1, -k2], x[:, 0]), rtol=1e-10, atol=1e-12)


def test_the_guard_passes_finite_blocks_of_any_level_untouched():
    out = np.linspace(-5, 5, 1001).reshape(-1, 1).copy()  # the level is the master limiter's, not the voices'
    before = out.copy()
    assert kernels.mute_if_not_finite(out) == 0
    np.testing.assert_array_equal(out, before)


def test_the_guard_mutes_a_block_with_nan_or_inf():
    for bad in (np.nan, np.inf, -np.inf):
        out = np.full((16, 2), 0.3)
        out[5, 1] = bad
        assert kernels.mute_if_not_finite(out) == 1
        assert np.all(out == 0.0)


def test_quietest_voice_prefers_released():
    levels = np.array([0.1, 0.5, 0.01, 0.3])
    assert kernels.quietest_voice(levels, np.array([0, 0, 0, 0]), 4) == 2
    assert kernels.quietest_voice(levels, np.array([0, 1, 0, 1]), 4) == 3


def test_tanh_small_is_fast_tanh_bit_for_bit_in_its_range():
    x = np.concatenate([np.linspace(-0.6249999, 0.6249999, 200001), np.logspace(-300, -0.21, 5000),
                        -np.logspace(-300, -0.21, 5000), [0.0, -0.0]])
    assert np.all(np.abs(x) < kernels.SMALL)
    np.testing.assert_array_equal(_elementwise(kernels.tanh_small)(x), _vectorised_tanh(x))


def _modal_voices(hidden, voices, level, seed=0):
    """``voices`` nets of 2x2 rotation-decay blocks on the diagonal (a learned sound's form), input ``level``."""
    rng = np.random.default_rng(seed)
    nets = []
    for _ in range(voices):
        w_hh = np.zeros((hidden, hidden))
        for i in range(0, hidden - 1, 2):
            r, a = rng.uniform(0.95, 0.9995), rng.uniform(0.05, 3.0)
            w_hh[i:i + 2, i:i + 2] = r * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        if hidden % 2:
            w_hh[-1, -1] = 0.9
        nets.append(RNNWeights(w_hh, rng.normal(0, level, hidden), rng.normal(0, 1, hidden)))
    return nets


@pytest.mark.parametrize("hidden, level", [(8, 1e-3), (16, 1.0), (7, 0.5)])
def test_block_diagonal_nets_take_the_short_path_and_compute_what_the_dense_path_does(hidden, level):
    nets = _modal_voices(hidden, 5, level)
    x = np.zeros((600, 5))
    x[0] = 1.0
    x[300, 2] = 3.0  # a voice struck hard again: states past tanh's rational range
    blocks = _bank(nets, x)
    # one weight outside the blocks, too small to change anything, makes the whole bank take the dense path
    first = nets[0]
    w_hh = first.w_hh.copy()
    w_hh[0, hidden - 1] = 1e-300
    dense = _bank([RNNWeights(w_hh, first.w_ih, first.w_out)] + nets[1:], x)
    np.testing.assert_allclose(blocks, dense, rtol=1e-12, atol=1e-14 * np.abs(dense).max())
    for v, net in enumerate(nets):  # and both are the network itself
        ref = run_torch_rnn(net, x[:, v])
        np.testing.assert_allclose(blocks[:, v], ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())

"""The seed's network, analytic weights and drive, checked against the IIR filter."""

import numpy as np
import pytest
import torch

from iirnn_core.training.network import RNNNet, RNNWeights, analytic_weights, run_torch_rnn, snr_db, spectral_radius
from iirnn_core.dsp.resonator import SettingError, impulse, impulse_response, resonator

SEED = resonator(440.0, 0.995, 8000)  # the seed's case: 8 kHz, 440 Hz, Q 0.995, 0.6 s, impulse 0.1


def test_analytic_weights_are_the_seeds_matrices():
    w = analytic_weights(SEED)
    expected = np.array([[SEED.k1, SEED.k2, 0.0], [1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(w.w_hh, expected)
    np.testing.assert_array_equal(w.w_ih, [1, 0, 0])
    np.testing.assert_array_equal(w.w_out, [1, 0, 0])


def test_seed_analytic_case_reproduced():
    """d = 1 is the seed exactly: tanh saturates, 7.4 dB against the IIR; first samples equal."""
    y = impulse_response(SEED)
    yhat = run_torch_rnn(analytic_weights(SEED), impulse(len(y)), dtype=torch.float32)
    assert snr_db(y, yhat) == pytest.approx(7.4, abs=0.1)
    np.testing.assert_allclose(yhat[0], np.tanh(0.1), rtol=1e-6)


@pytest.mark.parametrize("drive, low, high", [(1.0, 7.3, 7.6), (0.3, 20.3, 20.8), (0.1, 37.8, 38.5), (0.01, 60.0, 80.0)])
def test_drive_sweep(drive, low, high):
    y = impulse_response(SEED)
    yhat = run_torch_rnn(analytic_weights(SEED, drive=drive), impulse(len(y)))
    assert low <= snr_db(y, yhat) <= high


def test_drive_monotonic_fidelity():
    y = impulse_response(SEED)
    snrs = [snr_db(y, run_torch_rnn(analytic_weights(SEED, drive=d), impulse(len(y)))) for d in (2.0, 1.0, 0.3, 0.03)]
    assert snrs == sorted(snrs)


def test_hidden_size_larger_than_three_changes_nothing():
    x = impulse(1000)
    np.testing.assert_allclose(run_torch_rnn(analytic_weights(SEED, hidden=5), x), run_torch_rnn(analytic_weights(SEED), x),
                               rtol=1e-12, atol=1e-15)
    with pytest.raises(SettingError):
        analytic_weights(SEED, hidden=2)


def test_weights_round_trip_through_the_module():
    rng = np.random.default_rng(1)
    w = RNNWeights(rng.standard_normal((3, 3)), rng.standard_normal(3), rng.standard_normal(3))
    back = RNNNet.from_weights(w, torch.float64).to_weights()
    np.testing.assert_array_equal(back.w_hh, w.w_hh)
    np.testing.assert_array_equal(back.w_ih, w.w_ih)
    np.testing.assert_array_equal(back.w_out, w.w_out)


def test_padding_keeps_output():
    w = analytic_weights(SEED, drive=0.5)
    x = impulse(300)
    np.testing.assert_allclose(run_torch_rnn(w.padded(6), x), run_torch_rnn(w, x), rtol=1e-12, atol=1e-15)


def test_spectral_radius_of_the_analytic_net_is_q():
    assert spectral_radius(analytic_weights(SEED).w_hh) == pytest.approx(0.995)


def test_snr_edge_cases():
    y = np.array([1.0, -1.0])
    assert snr_db(y, y) == float("inf")
    assert snr_db(y, np.array([np.nan, 0.0])) == float("-inf")
    assert snr_db(y, 0.9 * y) == pytest.approx(20.0)

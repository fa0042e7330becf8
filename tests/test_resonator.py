"""The reference resonator: coefficients, decay time and the seed's filter."""

import math

import numpy as np
import pytest
import scipy.signal

from iirnn_core.dsp.resonator import (SettingError, impulse, impulse_response, q_from_t60, reference_filter, resonator,
                                  resonator_t60, t60_from_q)


def test_coefficients_are_the_seeds():
    res = resonator(440.0, 0.995, 8000)
    w = 2 * math.pi * 440 / 8000
    assert res.k1 == pytest.approx(2 * 0.995 * math.cos(w))
    assert res.k2 == pytest.approx(-0.995**2)


def test_t60_and_q_round_trip_and_worked_figures():
    # at rate 1 the answer is in samples: q ** n falls 60 dB (to 1e-3) at n = 3 / -log10(q)
    assert t60_from_q(0.995, 1.0) == pytest.approx(1378, abs=1)
    assert t60_from_q(0.999, 1.0) == pytest.approx(6904, abs=1)
    q = q_from_t60(0.25, 48000)
    assert t60_from_q(q, 48000) == pytest.approx(0.25)
    assert resonator_t60(440, 0.25, 48000).q == pytest.approx(q)


def test_impulse_response_decays_60db_in_t60():
    res = resonator(440.0, 0.995, 8000)
    y = impulse_response(res, seconds=1.0)
    n60 = int(t60_from_q(0.995, 8000) * 8000)
    early = np.max(np.abs(y[:200]))
    late = np.max(np.abs(y[n60 - 20:n60 + 20]))
    assert 20 * np.log10(late / early) == pytest.approx(-60, abs=1.5)


def test_pitch_is_the_key():
    res = resonator(440.0, 0.999, 8000)
    y = impulse_response(res, seconds=2.0)
    spectrum = np.abs(np.fft.rfft(y, 8 * len(y)))
    peak_hz = np.argmax(spectrum) * 8000 / (8 * len(y))
    assert peak_hz == pytest.approx(440, abs=1.0)


def test_reference_filter_is_lfilter():
    res = resonator(330.0, 0.99, 16000)
    x = np.random.default_rng(0).standard_normal(500)
    expected = scipy.signal.lfilter([1], [1, -res.k1, -res.k2], x)
    np.testing.assert_allclose(reference_filter(res, x), expected, rtol=1e-12, atol=1e-14)


def test_peak_is_about_amp_over_sin_w():
    for f in (262.0, 440.0, 1046.0):
        res = resonator(f, 0.995, 8000)
        peak = np.max(np.abs(impulse_response(res, amplitude=0.1)))
        assert peak * res.loudness_gain == pytest.approx(0.1, rel=0.35)


@pytest.mark.parametrize("q", [1.0, 1.5, 0.0, -0.2, float("nan")])
def test_impossible_q(q):
    with pytest.raises(SettingError):
        resonator(440, q, 8000)


def test_frequency_above_nyquist():
    with pytest.raises(SettingError):
        resonator(5000, 0.99, 8000)


def test_impulse_shape():
    x = impulse(4, 0.1)
    assert x.tolist() == [0.1, 0.0, 0.0, 0.0]

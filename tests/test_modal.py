"""Modal analysis of a recorded note (iirnn_core.dsp.modal): a synthetic modal sound with known partials is
recovered, the partials become an RNN that rings the same, transposition is exact, and bad recordings get one line."""

import math

import numpy as np
import pytest
import soundfile

from iirnn_core.dsp.modal import Modes, estimate_pitch, find_onset, fit_modes, load_mono, modes_to_weights
from iirnn_core.dsp.resonator import SettingError

RATE = 8000.0
PARTIALS = [(440.0, 1.2, 0.5, 0.3), (1716.0, 0.4, 0.2, -1.1), (4048.0 * 0.75, 0.15, 0.08, 2.0)]
"""(frequency Hz, T60 s, amplitude, phase rad): a marimba-like note, its overtones at about 3.9 and 6.9 times."""


def modal_note(rate: float = RATE, seconds: float = 1.0, partials=PARTIALS, delay_s: float = 0.0,
               noise_db: float | None = None, seed: int = 1) -> np.ndarray:
    """The sum of the damped partials from ``delay_s`` on, with white noise ``noise_db`` below the peak."""
    n = np.arange(int(seconds * rate))
    x = np.zeros(len(n))
    for f, t60, a, phase in partials:
        r = 10 ** (-3 / (t60 * rate))
        x += a * r ** n * np.cos(2 * np.pi * f / rate * n + phase)
    start = int(delay_s * rate)
    x = np.concatenate([np.zeros(start), x])[:len(n)]
    if noise_db is not None:
        x += np.random.default_rng(seed).normal(0, np.abs(x).max() * 10 ** (noise_db / 20), len(x))
    return x


def linear_rnn(w, x):
    """The network's recursion without tanh (what it is while the states stay small)."""
    h = np.zeros(w.hidden)
    y = np.empty(len(x))
    for n, v in enumerate(x):
        h = w.w_hh @ h + w.w_ih * v
        y[n] = w.w_out @ h
    return y


def test_the_partials_of_a_synthetic_note_are_recovered():
    x = modal_note(noise_db=-60.0)
    modes = fit_modes(x[:2000], RATE, order=6)
    assert len(modes) == 3
    for (f, t60, a, phase), fz, tz, c in zip(PARTIALS, modes.frequencies, modes.t60, modes.amplitudes):
        assert fz == pytest.approx(f, rel=1e-3)            # frequency within 0.1 %
        assert tz == pytest.approx(t60, rel=0.05)          # decay within 5 % (noise 60 dB down)
        assert abs(c) == pytest.approx(a, rel=0.02)        # amplitude within 2 %
        assert abs(np.angle(c * np.exp(-1j * phase))) < 0.02  # phase within 0.02 rad
    residual = x[:2000] - modes.response(2000)
    noise = x[:2000] - modal_note()[:2000]
    assert np.sum(residual ** 2) <= np.sum(noise ** 2)  # what is left is the noise, no more: the fit took the note
    assert 10 * math.log10(np.sum(x[:2000] ** 2) / np.sum(residual ** 2)) > 45


def test_the_network_rings_as_the_partials_and_stays_linear():
    modes = fit_modes(modal_note()[:2000], RATE, order=6)
    w = modes_to_weights(modes, amplitude=0.1, hidden=8, drive=0.05)
    assert w.hidden == 8 and np.all(w.w_hh[6:] == 0) and np.all(w.w_out[6:] == 0)
    x = np.zeros(4000)
    x[0] = 0.1
    y = linear_rnn(w, x)
    np.testing.assert_allclose(y, modes.response(4000), atol=1e-12 * np.abs(y).max() + 1e-15)
    states = np.zeros(w.hidden)
    worst = 0.0
    for v in x[:200]:
        states = w.w_hh @ states + w.w_ih * v
        worst = max(worst, np.abs(states).max())
    assert worst <= 0.05 + 1e-12  # tanh of states this small is linear to 0.1 %
    eig = np.sort_complex(np.linalg.eigvals(w.w_hh[:6, :6]))
    np.testing.assert_allclose(np.sort_complex(np.concatenate([modes.poles, modes.poles.conj()])), eig, atol=1e-12)


def test_transposition_scales_every_angle_keeps_every_decay_and_drops_what_passes_nyquist():
    modes = fit_modes(modal_note()[:2000], RATE, order=6)
    up = modes.transposed(2.0)
    assert len(up) == 2  # 3 * 1716 Hz... the third partial (3036 Hz) would be at 6072 Hz, above 4 kHz
    np.testing.assert_allclose(up.frequencies, 2 * modes.frequencies[:2], rtol=1e-12)
    np.testing.assert_allclose(up.t60, modes.t60[:2], rtol=1e-12)
    at_48k = modes.transposed(1.0, rate=48000.0)
    np.testing.assert_allclose(at_48k.frequencies, modes.frequencies, rtol=1e-12)
    np.testing.assert_allclose(at_48k.t60, modes.t60, rtol=1e-9)
    with pytest.raises(SettingError):
        modes.transposed(0.0)


def test_onset_and_pitch_of_a_note_after_silence():
    x = modal_note(delay_s=0.2, noise_db=-70.0)
    onset = find_onset(x, RATE)
    assert abs(onset - int(0.2 * RATE)) <= int(0.001 * RATE)
    assert estimate_pitch(x[onset:], RATE) == pytest.approx(440.0, rel=0.005)
    harmonic = [(220.0 * k, 0.8, 0.5 / k, 0.0) for k in range(1, 7)]  # a plucked string
    assert estimate_pitch(modal_note(partials=harmonic, rate=16000.0), 16000.0) == pytest.approx(220.0, rel=0.005)


def test_bad_recordings_get_one_line(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all")
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(8000), 8000)
    noise = np.random.default_rng(0).normal(0, 0.1, 8000)
    for path, words in ((text, "not a sound file"), (silent, "silent"), (tmp_path / "missing.wav", "not a sound")):
        with pytest.raises(SettingError, match=words) as info:
            load_mono(str(path))
        assert "\n" not in str(info.value)
    with pytest.raises(SettingError, match="no clear pitch"):
        estimate_pitch(noise, 8000.0)
    with pytest.raises(SettingError, match="at least 2 hidden states"):
        fit_modes(noise, 8000.0, order=1)
    with pytest.raises(SettingError, match="too few"):
        fit_modes(noise[:10], 8000.0, order=8)
    stereo = tmp_path / "stereo.flac"
    soundfile.write(stereo, np.stack([modal_note(), -0.5 * modal_note()], axis=1), int(RATE))
    x, rate = load_mono(str(stereo))
    assert rate == RATE and np.allclose(x, 0.25 * modal_note(), atol=1e-4)  # FLAC is 16-bit: the mean, to 1e-4
    with pytest.raises(SettingError, match="long"):
        load_mono(str(stereo), max_seconds=0.5)


def test_an_empty_fit_has_no_partials():
    empty = Modes(np.zeros(0, complex), np.zeros(0, complex), RATE)
    assert len(empty) == 0 and not np.any(empty.response(10))
    assert modes_to_weights(empty, 0.1, hidden=2).hidden == 2

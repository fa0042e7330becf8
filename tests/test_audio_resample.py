"""The streaming resampler: exact pitch, continuity across blocks, image rejection, impulse placement."""

import numpy as np
import pytest

from iirnn_core.synth.resample import StreamingResampler, rate_ratio
from iirnn_core.dsp.resonator import SettingError


def stream(resampler, signal, block_sizes):
    """Feed ``signal`` (n, C) through ``resampler`` in blocks of the given output sizes; returns (outputs, inputs used)."""
    outs, used = [], 0
    for n_out in block_sizes:
        n_in = resampler.inputs_needed(n_out)
        resampler.input_view(n_in)[:] = signal[used:used + n_in]
        used += n_in
        out = np.zeros((n_out, signal.shape[1]))
        resampler.process(n_in, out)
        outs.append(out)
    return np.concatenate(outs), used


@pytest.mark.parametrize("rate_out", [48000, 44100, 8000])
def test_sine_pitch_and_shape_exact(rate_out):
    rate_in, freq = 8000, 440.0
    r = StreamingResampler(rate_in, rate_out, 1, 128)
    x = np.sin(2 * np.pi * freq * np.arange(40000) / rate_in)[:, None]
    y, used = stream(r, x, [128] * 300)
    assert abs(used - 300 * 128 * rate_in / rate_out) <= 1  # consumes input at exactly the rate ratio
    t = (np.arange(len(y)) - r.group_delay_frames) / rate_out
    ideal = np.sin(2 * np.pi * freq * t)
    err = y[200:, 0] - ideal[200:]
    assert np.sqrt(np.mean(err ** 2)) < 1e-3  # better than -60 dB against the ideal band-limited tone


def test_block_boundaries_are_invisible():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6000, 2))
    one, _ = stream(StreamingResampler(8000, 44100, 2, 4096), x, [4096] * 4)
    sizes = list(rng.integers(1, 300, size=100))
    many, _ = stream(StreamingResampler(8000, 44100, 2, 4096), x, sizes)
    n = min(len(one), len(many))
    np.testing.assert_allclose(many[:n], one[:n], rtol=0, atol=1e-12)


def test_images_are_rejected():
    rate_in, rate_out, freq = 8000, 48000, 440.0
    r = StreamingResampler(rate_in, rate_out, 1, 128)
    x = np.sin(2 * np.pi * freq * np.arange(12000) / rate_in)[:, None]
    y, _ = stream(r, x, [128] * 500)
    seg = y[1000:1000 + 48000, 0] * np.hanning(48000)
    spec = np.abs(np.fft.rfft(seg))
    freqs = np.fft.rfftfreq(len(seg), 1 / rate_out)
    tone = spec[np.abs(freqs - freq) < 5].max()
    image = spec[np.abs(freqs - (rate_in - freq)) < 5].max()
    assert 20 * np.log10(image / tone) < -60


@pytest.mark.parametrize("rate_out", [48000, 44100])
def test_impulse_lands_where_announced(rate_out):
    r = StreamingResampler(8000, rate_out, 1, 128)
    outs, announced = [], None
    for block in range(12):
        n_in = r.inputs_needed(128)
        view = r.input_view(n_in)
        view[:] = 0.0
        if block == 5:
            index = r.input_for_frame(70)
            view[index, 0] = 1.0
            announced = 5 * 128 + r.frame_of_input(index)
            # the model frame chosen is the one nearest before device frame 70 (one model period = rate_out/8000)
            assert 0 <= 70 - (r.frame_of_input(index) - r.group_delay_frames) < rate_out / 8000
        out = np.zeros((128, 1))
        r.process(n_in, out)
        outs.append(out[:, 0])
    assert abs(np.argmax(np.concatenate(outs)) - announced) <= 1.0


def test_ratio_checks():
    assert rate_ratio(8000, 48000) == (6, 1)
    assert rate_ratio(8000, 44100) == (441, 80)
    with pytest.raises(SettingError):
        rate_ratio(8000.5, 48000)
    with pytest.raises(SettingError):
        rate_ratio(7919, 48017)


def test_kaiser_lowpass_is_scipys_firwin():
    import scipy.signal

    from iirnn_core.synth.resample import kaiser_lowpass

    for taps, cutoff in ((96, 1 / 6), (441 * 16, 1 / 441), (33, 0.5)):
        np.testing.assert_allclose(kaiser_lowpass(taps, cutoff, 7.0),
                                   scipy.signal.firwin(taps, cutoff, window=("kaiser", 7.0)), rtol=1e-10, atol=1e-15)

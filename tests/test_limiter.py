"""The master peak limiter, offline through the shared output stage (``iirnn render``'s path, the callback's kernel).

Offline renders compensate the limiter's lookahead (notes start on the sample they were struck); the
callback delays by it (tests/test_audio_callback.py checks both against each other sample for sample).
"""

import re

import numpy as np
import pytest
import scipy.io.wavfile

from iirnn_core.cli import main
from iirnn_core.dsp.notes import parse_notes
from iirnn_core.rt.master_layout import LIMITER_CEILING_DB
from iirnn_core.synth.master import MasterStage
from iirnn_core.synth.renderer import Renderer, SynthSettings, patches_for, render_notes

CEILING = 10 ** (LIMITER_CEILING_DB / 20)
SAFE = 10 ** (-0.1 / 20)
"""The brief's bound: no sample at or over -0.1 dBFS."""


def longest_run_at_the_top(y: np.ndarray) -> int:
    """The longest run of equal consecutive samples within 1 % of the ceiling (a clamp makes long ones)."""
    longest, run = 0, 0
    for i in range(1, len(y)):
        run = run + 1 if (y[i] == y[i - 1] and abs(y[i]) >= 0.99 * CEILING) else 0
        longest = max(longest, run + 1 if run else 0)
    return longest


@pytest.mark.parametrize("engine", ["iir", "rnn-analytic"])
def test_32_low_notes_at_full_velocity_stay_below_the_ceiling_unclamped(tmp_path, capsys, engine):
    out = tmp_path / "chord.wav"
    assert main(["render", str(out), "--engine", engine, "--notes", "A0..E3"]) == 0  # 32 keys, amplitude 0.1 each
    line = capsys.readouterr().out.strip()
    _, y = scipy.io.wavfile.read(out)
    peak = np.abs(y).max()
    assert 0.9 * CEILING < peak <= CEILING < SAFE
    assert longest_run_at_the_top(y) < 2  # nothing pinned at one value
    match = re.fullmatch(rf"iirnn: wrote {re.escape(str(out))}: 0\.6 s at 8000 Hz, peak (-?[\d.]+) dBFS, "
                         r"limiter reduced up to ([\d.]+) dB", line)
    assert match, line
    assert float(match.group(1)) == pytest.approx(20 * np.log10(peak), abs=0.006)
    assert float(match.group(2)) > 3.0
    # The plain sum would reach several times full scale: the limiter, not a clamp, brought it down.
    plain = render_notes(engine, parse_notes(["A0..E3"]), SynthSettings(), 0.6, stage=MasterStage(8000.0, 1))
    np.testing.assert_array_equal(plain.astype(np.float32)[:, 0], y)  # the command renders what render_notes does


def test_a_quiet_note_passes_bit_for_bit():
    settings = SynthSettings()
    stage = MasterStage(settings.rate, 1)
    limited = render_notes("iir", ["A4"], settings, 0.6, stage=stage)
    renderer = Renderer(1, max_voices=1)
    renderer.trigger(patches_for("iir", "A4", settings), settings.amplitude, 0, 69)
    plain = renderer.render(len(limited))
    assert 0.1 < np.abs(plain).max() < CEILING
    np.testing.assert_array_equal(limited, plain)  # onsets on their sample: the lookahead is compensated
    assert stage.reduction_db == 0.0


def test_an_instantaneous_jump_to_far_over_full_scale_never_passes_the_ceiling():
    rate = 48000.0
    t = np.arange(4800) / rate
    for height in (1.0, 4.0, 100.0):
        x = np.zeros((9600, 2))
        x[4800:, 0] = height * np.cos(2 * np.pi * 1000 * t)  # starts at its peak, from silence
        x[4800:, 1] = -height * np.cos(2 * np.pi * 1000 * t)
        x[3000, 1] = height  # and a lone impulse before it
        stage = MasterStage(rate, 2)
        y = stage.finish(x.copy(), block=128)
        assert np.abs(y).max() <= CEILING
        assert np.abs(y[4800:]).max() > 0.99 * CEILING  # limited to the ceiling, not muted
        assert y[3000, 1] == pytest.approx(CEILING)
        assert stage.reduction_db == pytest.approx(20 * np.log10(height / CEILING), abs=1e-9)


def test_the_gain_ramps_down_over_the_lookahead_and_releases_smoothly():
    rate = 48000.0
    stage = MasterStage(rate, 1)
    lookahead = stage.lookahead
    x = np.full((96000, 1), 0.5)
    x[24000:24100] = 2.0  # a 2 ms step to twice full scale
    gain = stage.finish(x.copy())[:, 0] / x[:, 0]
    assert np.all(gain[:24000 - lookahead] == 1.0)
    ramp = gain[24000 - lookahead:24001]  # down from the moment the step enters the delay...
    assert np.all(np.diff(ramp) < 0) and ramp[-1] == pytest.approx(CEILING / 2.0)  # ...to the target as it leaves
    assert np.all(np.diff(ramp) == pytest.approx((CEILING / 2.0 - 1.0) / (lookahead + 1)))  # a straight ramp
    assert np.all(gain[24000:24100] == pytest.approx(CEILING / 2.0))
    release = gain[24100:40000]
    assert np.all(np.diff(release) >= 0) and np.abs(np.diff(release)).max() < 0.01  # no jump back
    assert np.all(gain[80000:] == 1.0)  # back to exactly unity: the audio passes bit for bit again


@pytest.mark.parametrize("block", [1, 7, 100, 4096])
def test_any_block_size_gives_the_same_samples(block):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9000, 2)) * np.linspace(0.1, 3.0, 9000)[:, None]
    reference = MasterStage(44100.0, 2).finish(x.copy(), block=128)
    np.testing.assert_array_equal(MasterStage(44100.0, 2).finish(x.copy(), block=block), reference)
    assert np.abs(reference).max() <= CEILING


def test_a_block_with_nan_or_inf_is_muted_and_counted():
    stage = MasterStage(8000.0, 2)
    loud = np.full((64, 2), 3.0)
    for bad in (np.nan, np.inf):
        block = loud.copy()
        block[10, 1] = bad
        assert stage.process(block) is True
        assert np.all(block == 0.0)
    assert stage.muted_blocks == 2
    after = loud.copy()
    assert stage.process(after) is False
    assert np.all(np.isfinite(after)) and np.abs(after).max() <= CEILING


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 44100, 48000, 88200, 96000, 192000])
def test_the_lookahead_is_half_a_millisecond_in_whole_frames(rate):
    stage = MasterStage(float(rate), 2)
    assert 0.0005 <= stage.lookahead / rate < 0.0005 + 1 / rate


def test_master_gain_comes_before_the_limiter():
    stage = MasterStage(8000.0, 1)
    x = np.full((400, 1), 1.5)
    stage.process(x, 0.5, 0.5)  # 0.75 after the gain: under the ceiling, untouched
    assert x[stage.lookahead:].max() == 0.75 and stage.reduction_db == 0.0

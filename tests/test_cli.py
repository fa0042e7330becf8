"""The ``iirnn`` command: render, bench and one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.io.wavfile
import scipy.signal

from iirnn_core.cli import main
from iirnn_core.dsp.notes import note_to_hz
from iirnn_core.dsp.resonator import impulse, resonator


def run_cli(*args):
    """Run ``iirnn`` in a fresh interpreter, as a person would; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "iirnn_core.cli", *args], capture_output=True, text=True, timeout=300)


def test_render_raw_iir_is_lfilter(tmp_path):
    out = tmp_path / "a4.wav"
    assert main(["render", str(out), "--engine", "iir", "--notes", "A4", "C5", "--raw"]) == 0
    rate, y = scipy.io.wavfile.read(out)
    assert rate == 8000 and y.dtype == np.float32 and y.ndim == 1 and len(y) == 4800
    x = impulse(4800, 0.1)
    expected = sum(scipy.signal.lfilter([1], [1, -r.k1, -r.k2], x)
                   for r in (resonator(note_to_hz(n), 0.995, 8000) for n in ("A4", "C5")))
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-7)


def test_render_options_rate_q_seconds_amplitude_drive(tmp_path):
    out = tmp_path / "x.wav"
    args = ["render", str(out), "--engine", "rnn-analytic", "--notes", "E4", "--rate", "16000", "--q", "0.999",
            "--seconds", "0.25", "--amplitude", "0.05", "--drive", "0.001", "--raw"]
    assert main(args) == 0
    rate, y = scipy.io.wavfile.read(out)
    assert rate == 16000 and len(y) == 4000
    res = resonator(note_to_hz("E4"), 0.999, 16000)
    ref = scipy.signal.lfilter([1], [1, -res.k1, -res.k2], impulse(4000, 0.05))
    assert 10 * np.log10(np.sum(ref**2) / np.sum((y - ref) ** 2)) > 80


def test_render_trained_without_model_plays_the_shipped_model(tmp_path):
    out = tmp_path / "a4.wav"
    assert main(["render", str(out), "--engine", "rnn-trained", "--notes", "A4", "--raw"]) == 0
    rate, y = scipy.io.wavfile.read(out)
    spectrum = np.abs(np.fft.rfft(y, 1 << 18))
    assert rate == 8000 and abs(np.argmax(spectrum) * rate / (1 << 18) - 440.0) < 1.0


def test_render_without_raw_is_limited_and_compensated(tmp_path):
    out = tmp_path / "chord.wav"
    assert main(["render", str(out), "--notes", "C4..C6", "--amplitude", "1.0"]) == 0
    _, y = scipy.io.wavfile.read(out)
    assert 0.5 < np.max(np.abs(y)) <= 1.0


@pytest.mark.parametrize("args, words", [
    (["render", "o.wav", "--notes", "H4"], "unknown note"),
    (["render", "o.wav", "--notes", "A4", "--q", "1.0"], "Q must be"),
    (["render", "o.wav", "--notes", "A4", "--seconds", "-1"], "duration must be positive"),
    (["render", "o.wav", "--notes", "A4", "--engine", "rnn-trained", "--model", "missing.json"], "does not exist"),
    (["render", "o.wav", "--notes", "C2", "--engine", "rnn-trained", "--rate", "16000"], "trained at 8000 Hz"),
    (["render", "o.wav", "--notes", "A4", "--drive", "0"], "drive must be"),
    (["render", "o.wav", "--notes", "C8", "--rate", "8000"], "Nyquist"),
    (["render", "o.wav", "--engine", "organ", "--notes", "A4"], "invalid choice"),
    (["render", "o.wav"], "required"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_give_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args, words):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert words in lines[0]
    assert "Traceback" not in err
    assert not (tmp_path / "o.wav").exists()


def test_bench_json_has_every_row(capsys):
    assert main(["bench", "--json", "--seconds", "0.05"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {tuple(sorted(r)) for r in rows} == {("block", "engine", "load", "rate", "voices")}
    engines = {(r["engine"], r["voices"]) for r in rows}
    for engine in ("iir", "rnn-analytic", "live-iir", "live-rnn-analytic", "seed-nn.RNN"):
        for voices in (1, 8, 32, 64):
            assert (engine, voices) in engines
    assert ("live-rnn-analytic+room", 64) in engines  # the callback with the room on (and the limiter, always in)
    for hidden in (8, 16, 32, 64):  # trained twins of H states, dense W_hh, through the callback
        assert (f"live-rnn-trained-h{hidden}", 32) in engines
    assert all(r["rate"] == 48000 and r["block"] == 128 and r["load"] > 0 for r in rows)


def test_help_lists_commands():
    proc = run_cli("--help")  # the one test that runs the command itself: the others call main() in this process
    assert proc.returncode == 0 and proc.stderr == ""  # nothing printed on the way in: main's line is all one sees
    assert "render" in proc.stdout and "bench" in proc.stdout

"""``iirnn train`` end to end on tiny runs, and ``iirnn render`` from what it wrote."""

import json
import subprocess
import sys

import pytest

from iirnn_core.cli import main
from iirnn_core.models.modelfile import load_model


def run_cli(*args, cwd=None):
    """Run ``iirnn`` in a fresh interpreter, as a person would."""
    return subprocess.run([sys.executable, "-m", "iirnn_core.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def one_line(stderr: str) -> str:
    lines = [l for l in stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_train_writes_exactly_at_out_and_prints_a_table(tmp_path, capsys):
    out = tmp_path / "sub" / "my model"  # no extension: written exactly there
    out.parent.mkdir()
    assert main(["train", "--notes", "A4", "C5", "--seconds", "0.1", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.parent.iterdir()) == ["my model"]
    model = load_model(out)
    assert model.notes == ["A4", "C5"] and model.seconds == 0.1 and model.optimizer == "best"
    lines = captured.out.strip().splitlines()
    assert lines[0].split() == ["note", "Hz", "SNR", "dB"]
    row = lines[1].split()
    assert row[0] == "A4" and float(row[1]) == 440.0 and float(row[2]) == pytest.approx(model.keys["A4"].snr_db, abs=0.05)
    assert f"wrote {out}" in lines[-1]
    assert "step" in captured.err  # the tqdm bar


def test_train_json_summary_and_render_from_the_model(tmp_path, capsys):
    out = tmp_path / "m.json"
    proc = run_cli("train", "--notes", "A4", "--optimizer", "adam", "--steps", "3", "--seconds", "0.05",
                   "--seed", "4", "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["optimizer"] == "adam" and summary["steps"] == 3 and summary["keys"][0]["note"] == "A4"
    model = load_model(out)
    assert model.seed == 4 and model.keys["A4"].snr_db == pytest.approx(summary["min_snr_db"])

    wav = tmp_path / "a4.wav"
    assert main(["render", str(wav), "--engine", "rnn-trained", "--model", str(out), "--notes", "A4"]) == 0
    assert wav.stat().st_size > 0
    capsys.readouterr()
    assert main(["render", str(tmp_path / "d4.wav"), "--engine", "rnn-trained", "--model", str(out),
                 "--notes", "D4"]) == 2
    assert one_line(capsys.readouterr().err) == "iirnn: the model has no key D4 (it has A4)"
    assert main(["render", str(tmp_path / "q.wav"), "--engine", "rnn-trained", "--model", str(out), "--notes", "A4",
                 "--q", "0.999"]) == 2
    assert one_line(capsys.readouterr().err) == ("iirnn: the model was trained at 8000 Hz, Q 0.995; "
                                                 "the synth runs at 8000 Hz, Q 0.999")


def test_warm_start_from_a_model_file(tmp_path, capsys):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["train", "--notes", "A4", "--seconds", "0.1", "--out", str(first)]) == 0
    capsys.readouterr()
    assert main(["train", "--notes", "A4", "--seconds", "0.1", "--init", "warm", "--model", str(first),
                 "--optimizer", "randdir", "--steps", "5", "--out", str(second), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["init"] == "warm" and summary["min_snr_db"] > 30.0


@pytest.mark.parametrize("extra, words", [
    (["--init", "warm"], "--init warm needs --model"),
    (["--model", "m.json"], "--model is only used with --init warm"),
    (["--optimizer", "sgd"], "invalid choice"),
    (["--q", "1.5"], "Q must be"),
    (["--budget", "-1"], "budget"),
    (["--init", "warm", "--model", "missing.json"], "does not exist"),
])
def test_bad_arguments_are_one_line_exit_2(tmp_path, monkeypatch, capsys, extra, words):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--notes", "A4", "--out", "out.json", *extra]) == 2
    assert words in one_line(capsys.readouterr().err)
    assert not (tmp_path / "out.json").exists()


def test_out_in_a_missing_folder_or_a_folder_is_exit_2(tmp_path, capsys):
    assert main(["train", "--notes", "A4", "--out", str(tmp_path / "nope" / "m.json")]) == 2
    assert "does not exist" in one_line(capsys.readouterr().err)
    assert main(["train", "--notes", "A4", "--out", str(tmp_path)]) == 2
    assert "is a folder" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize("content", [b"", b"\x80\x04garbage", b'{"format": "iirnn-model", "version": 1'])
def test_a_bad_model_file_is_one_line_exit_1_and_nothing_is_written(tmp_path, monkeypatch, capsys, content):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    assert main(["train", "--notes", "A4", "--init", "warm", "--model", str(bad), "--out", "out.json"]) == 1
    assert "bad.json" in one_line(capsys.readouterr().err)
    assert main(["render", "o.wav", "--engine", "rnn-trained", "--model", str(bad), "--notes", "A4"]) == 1
    assert "bad.json" in one_line(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]

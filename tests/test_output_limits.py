"""Output that is valid on paper but too large: `iirnn render` and `iirnn play` refuse, before any work, audio longer
than --max-seconds (one hour by default) and a WAV larger than the free space of its filesystem, in one line."""

import contextlib
import math

import mido
import numpy as np
import pytest
import scipy.io.wavfile

from full_disk import small_filesystem
from iirnn_core.cli import main
from iirnn_core.commands import limits, render
from iirnn_core.midi.file import midi_frames, read_midi

MIB = 1 << 20


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def write_one_note(path, ticks):
    """A MIDI file whose one note (A4) lasts ``ticks`` ticks (480 a beat at 120 bpm: 960 ticks a second)."""
    mid = mido.MidiFile(ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", note=69, velocity=90),
                                      mido.Message("note_off", note=69, time=ticks)]))
    mid.save(path)


@pytest.fixture
def no_work(monkeypatch):
    """Rendering or opening an audio engine fails the test: a refusal must come before any work."""
    def work(*args, **kwargs):
        raise AssertionError("the work started")

    from iirnn_core.audio import engine

    for module, name in ((render, "render_midi"), (render, "render_notes"), (engine, "AudioEngine")):
        monkeypatch.setattr(module, name, work)


def test_a_midi_file_of_hours_is_refused_in_one_line_before_rendering(tmp_path, capsys, no_work):
    """One note of 10^8 ticks: 28.9 h, once a 3.3 GB WAV written without a word."""
    path, out = tmp_path / "long.mid", tmp_path / "out.wav"
    write_one_note(path, 10 ** 8)
    assert main(["render", str(out), "--midi", str(path)]) == 2
    line = one_line(capsys)
    assert line.startswith(f"iirnn render: {out} (from {path}) would be 104167.") and "(28.94 h)" in line
    assert "more than the limit of 3600 s; --max-seconds S raises it" in line
    assert not out.exists()


@pytest.mark.parametrize("command", [["render", "{out}", "--notes", "A4"], ["play", "--notes", "A4"],
                                     ["play", "--notes", "A4", "--record", "{out}"],
                                     ["play", "--midi-in", "any port", "--record", "{out}"]])
def test_seconds_over_the_limit_are_refused_before_any_work(tmp_path, capsys, no_work, command):
    out = tmp_path / "out.wav"
    args = [a.format(out=out) for a in command]
    assert main([*args, "--seconds", "3600.5"]) == 2
    line = one_line(capsys)
    assert line.startswith(f"iirnn {args[0]}: ") and "3600.5 s of audio" in line
    assert "limit of 3600 s; --max-seconds S raises it" in line and not out.exists()
    assert main([*args, "--seconds", "2", "--max-seconds", "1.5"]) == 2
    assert "more than the limit of 1.5 s" in one_line(capsys)
    assert main([*args, "--seconds", "2", "--max-seconds", "nan"]) == 2
    assert "--max-seconds must be positive" in one_line(capsys)


def test_max_seconds_raises_the_limit(tmp_path, capsys):
    path, out = tmp_path / "song.mid", tmp_path / "song.wav"
    write_one_note(path, 2880)  # 3 s, and a 0.6 s tail
    assert main(["render", str(out), "--midi", str(path), "--max-seconds", "3.5"]) == 2
    assert "3.6 s of audio" in one_line(capsys) and not out.exists()
    assert main(["render", str(out), "--midi", str(path), "--max-seconds", "3.7"]) == 0
    rate, y = scipy.io.wavfile.read(out)
    assert rate == 8000 and len(y) == midi_frames(read_midi(str(path)), 8000, 0.6) == 28800


def test_past_a_raised_limit_the_work_starts(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(render, "render_notes", lambda *args, **kwargs: calls.append(args[3]) or np.zeros((8, 1)))
    out = tmp_path / "long.wav"
    assert main(["render", str(out), "--notes", "A4", "--seconds", "5000", "--max-seconds", "inf"]) == 0
    assert calls == [5000.0] and out.exists()


@contextlib.contextmanager
def small_disk(tmp_path, monkeypatch, size):
    """A folder on a filesystem of ``size`` bytes: a tmpfs where one can be mounted, else a folder whose free space
    the limits read as ``size`` minus what the folder holds."""
    folder = tmp_path / "disk"
    with small_filesystem(folder, size) as mounted:
        if not mounted:
            folder.mkdir()
            monkeypatch.setattr(limits, "free_bytes",
                                lambda where: size - sum(p.stat().st_size for p in folder.iterdir()))
        yield folder


def test_a_render_larger_than_the_free_space_is_refused(tmp_path, capsys, monkeypatch):
    with small_disk(tmp_path, monkeypatch, 1 * MIB) as folder:
        out = folder / "big.wav"
        assert main(["render", str(out), "--notes", "A4", "--seconds", "60"]) == 1  # 1.8 MiB at 8 kHz
        line = one_line(capsys)
        assert line == f"iirnn render: {out} would take 1.8 MiB; {folder} has 1.0 MiB free", line
        assert not out.exists()
        assert main(["render", str(out), "--notes", "A4", "--seconds", "20"]) == 0  # 625 KiB
        assert main(["render", str(out), "--notes", "A4", "--seconds", "25"]) == 0  # replaces it: its space counts
        assert scipy.io.wavfile.read(out)[1].shape == (200000,)


def test_a_recording_larger_than_the_free_space_is_refused_before_the_audio_starts(tmp_path, capsys, monkeypatch,
                                                                                    no_work):
    with small_disk(tmp_path, monkeypatch, 2 * MIB) as folder:
        out = folder / "take.wav"
        assert main(["play", "--notes", "A4", "--seconds", "1", "--record", str(out)]) == 1
        line = one_line(capsys)
        assert line == (f"iirnn play: {out} would take 375.1 KiB; {folder} has 2.0 MiB free, and a recording leaves "
                        "64.0 MiB free"), line
        assert not out.exists()


def test_a_length_that_is_not_known_passes_the_check():
    limits.check_seconds("play", "the take", math.inf, 3600.0)  # --midi-in until Ctrl-C: the recorder stops it
    with pytest.raises(limits.UsageError):
        limits.check_seconds("play", "the take", 3601.0, 3600.0)

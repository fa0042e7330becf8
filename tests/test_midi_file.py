"""``iirnn render --midi``: a melody with a tempo change, checked note by note (onset sample, pitch);
sustain as live; one-line errors for missing and broken files."""

import mido
import numpy as np
import pytest
import scipy.io.wavfile

from iirnn_core.cli import main
from iirnn_core.midi.file import read_midi, render_midi
from iirnn_core.dsp.notes import midi_to_hz, note_to_midi
from iirnn_core.synth.renderer import SynthSettings

TPB = 480
TEMPO_CHANGE_TICK = 4 * TPB + 240  # between two notes' ticks: the time math must split a delta
TEMPI = ((0, 500000), (TEMPO_CHANGE_TICK, 375000))  # 120 bpm, then 160 bpm
MELODY = [  # (note, start tick, length in ticks, velocity)
    ("C4", 0, 480, 100), ("E4", 480, 480, 80), ("G4", 960, 240, 127), ("C5", 1440, 600, 60),
    ("A4", 2160, 480, 110), ("F4", 2880, 480, 90), ("D5", 3360, 240, 70), ("B4", 3840, 960, 120),
]


def seconds_at(tick):
    """Wall time of ``tick`` under TEMPI, computed here (not by mido)."""
    t, last_tick, tempo = 0.0, 0, TEMPI[0][1]
    for change_tick, change_tempo in TEMPI[1:]:
        if tick <= change_tick:
            break
        t += (change_tick - last_tick) * tempo / 1e6 / TPB
        last_tick, tempo = change_tick, change_tempo
    return t + (tick - last_tick) * tempo / 1e6 / TPB


def write_melody(path):
    """A type 1 file: tempo map in track 0, the melody in track 1 (a velocity-0 note-on ends one note)."""
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    tempo_track = mido.MidiTrack()
    last = 0
    for tick, tempo in TEMPI:
        tempo_track.append(mido.MetaMessage("set_tempo", tempo=tempo, time=tick - last))
        last = tick
    events = []
    for i, (note, start, length, velocity) in enumerate(MELODY):
        midi = note_to_midi(note)
        events.append((start, 1, mido.Message("note_on", note=midi, velocity=velocity)))
        end = mido.Message("note_on", note=midi, velocity=0) if i == 3 else mido.Message("note_off", note=midi)
        events.append((start + length, 0, end))
    events.sort(key=lambda e: (e[0], e[1]))
    track, last = mido.MidiTrack(), 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - last))
        last = tick
    mid.tracks += [tempo_track, track]
    mid.save(path)


def onsets(y, expected, threshold):
    """First sample at or above ``threshold`` within 5 ms either side of each expected sample (-1: none)."""
    found = []
    for e in expected:
        lo = max(e - 40, 0)
        window = np.abs(y[lo:e + 41]) >= threshold
        found.append(lo + int(np.argmax(window)) if window.any() else -1)
    return found


def peak_hz(segment, rate):
    spectrum = np.abs(np.fft.rfft(segment * np.hanning(len(segment)), 1 << 19))
    k = int(np.argmax(spectrum))
    a, b, c = np.log(spectrum[k - 1:k + 2] + 1e-30)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / (1 << 19)  # parabolic peak


@pytest.mark.parametrize("engine, rate", [("iir", 8000), ("rnn-analytic", 16000)])
def test_melody_renders_every_note_at_its_sample_with_its_pitch(tmp_path, engine, rate):
    path, out = tmp_path / "melody.mid", tmp_path / "melody.wav"
    write_melody(path)
    assert main(["render", str(out), "--midi", str(path), "--engine", engine, "--rate", str(rate),
                 "--drive", "0.3", "--seconds", "0.5"]) == 0
    got_rate, y = scipy.io.wavfile.read(out)
    y = y.astype(np.float64)
    assert got_rate == rate
    starts = [int(round(seconds_at(start) * rate)) for _, start, _, _ in MELODY]
    ends = [seconds_at(start + length) for _, start, length, _ in MELODY]
    assert len(y) == int(round(max(ends) * rate)) + int(round(0.5 * rate))
    assert np.abs(y[:starts[0]]).max(initial=0.0) == 0.0
    found = onsets(y, starts, 1e-3)
    errors = [f - e for f, e in zip(found, starts)]
    assert all(abs(err) <= 1 for err in errors), f"onset errors (samples at {rate} Hz): {errors}"
    for i, (note, _, _, velocity) in enumerate(MELODY):
        end = starts[i + 1] if i + 1 < len(starts) else len(y)
        hz = peak_hz(y[found[i]:end], rate)
        want = midi_to_hz(note_to_midi(note))
        assert abs(hz / want - 1) < 0.01, f"{note}: {hz:.2f} Hz, expected {want:.2f}"
    if engine == "iir":  # linear, loudness-compensated: each note peaks at 0.25 x velocity / 127
        peaks = [np.abs(y[s:s + rate // 20]).max() for s in starts]
        np.testing.assert_allclose(peaks, [0.25 * v / 127 for *_, v in MELODY], rtol=0.05)


def test_read_midi_honours_tempo_changes(tmp_path):
    path = tmp_path / "melody.mid"
    write_melody(path)
    times = [t for t, msg in read_midi(str(path)) if msg.type == "note_on" and msg.velocity > 0]
    np.testing.assert_allclose(times, [seconds_at(start) for _, start, _, _ in MELODY], atol=1e-9)


def _stealing_events(pedal: bool):
    """Two voices only: X struck, Y struck later, Y released (the pedal down or not), then Z steals one."""
    x, y, z = (note_to_midi(n) for n in ("C4", "G4", "E5"))
    msgs = [(0.0, mido.Message("control_change", control=64, value=127 if pedal else 0)),
            (0.0, mido.Message("note_on", note=x, velocity=100)),
            (0.2, mido.Message("note_on", note=y, velocity=100)),
            (0.3, mido.Message("note_off", note=y)),
            (0.4, mido.Message("note_on", note=z, velocity=100))]
    return msgs, (x, y)


@pytest.mark.parametrize("pedal", [False, True])
def test_sustain_decides_which_voice_is_stolen_as_it_does_live(pedal):
    """A released key is stolen first; the pedal keeps it from being released, so the quietest (older) goes."""
    events, (x, y) = _stealing_events(pedal)
    settings = SynthSettings(q=0.9995)
    audio, silent = render_midi(events, "iir", settings, 0.5, polyphony=2)
    assert silent == []
    after = audio[int(0.45 * settings.rate):, 0]
    spectrum = np.abs(np.fft.rfft(after, 1 << 17))
    level = {n: spectrum[int(round(midi_to_hz(n) * (1 << 17) / settings.rate))] for n in (x, y)}
    kept, stolen = (y, x) if pedal else (x, y)
    assert level[kept] > 20 * level[stolen], level


def test_keys_that_cannot_sound_are_left_out_with_one_line(tmp_path, capsys):
    path, out = tmp_path / "high.mid", tmp_path / "high.wav"
    mid = mido.MidiFile()
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", note=69, velocity=90),
                                      mido.Message("note_on", note=120, velocity=90, time=10),
                                      mido.Message("note_off", note=120, time=100)]))
    mid.save(path)
    assert main(["render", str(out), "--midi", str(path)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "C9" in err[0] and "left out" in err[0]


@pytest.mark.parametrize("content, words", [
    (None, "does not exist"),
    (b"not a midi file at all", "not a readable MIDI file"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x00\x40\x00\x90", "not a readable MIDI file"),
    ("empty", "holds no notes"),
    ("type2", "not a readable MIDI file"),
])
def test_missing_or_broken_file_is_one_line_and_exit_2(tmp_path, capsys, content, words):
    path = tmp_path / "x.mid"
    if content == "empty":
        mido.MidiFile(tracks=[mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=400000)])]).save(path)
    elif content == "type2":
        mid = mido.MidiFile(type=2)
        mid.tracks += [mido.MidiTrack([mido.Message("note_on", note=60)]) for _ in range(2)]
        mid.save(path)
    elif content is not None:
        path.write_bytes(content)
    assert main(["render", str(tmp_path / "x.wav"), "--midi", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and err[0].startswith("iirnn"), err
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize("args", [[], ["--notes", "A4", "--midi", "x.mid"]])
def test_exactly_one_of_notes_and_midi(tmp_path, capsys, args):
    assert main(["render", str(tmp_path / "x.wav"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--notes" in err[0] and "--midi" in err[0]

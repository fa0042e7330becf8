"""Note names, frequencies and ranges."""

import pytest

from iirnn_core.dsp.notes import NoteError, canonical, midi_to_note, note_range, note_to_hz, note_to_midi, parse_notes


def test_a4_is_440_and_octaves_double():
    assert note_to_hz("A4") == 440.0
    assert note_to_hz("A5") == pytest.approx(880.0)
    assert note_to_hz("A3") == pytest.approx(220.0)


def test_middle_c_and_equal_temperament():
    assert note_to_midi("C4") == 60
    assert note_to_hz("C4") == pytest.approx(261.6255653, rel=1e-9)
    assert note_to_hz("A#4") / note_to_hz("A4") == pytest.approx(2 ** (1 / 12))


def test_sharps_and_flats_are_the_same_key():
    assert note_to_midi("C#5") == note_to_midi("Db5") == 73
    assert canonical("Db5") == "C#5"
    assert canonical("cb4") == "B3"


def test_midi_round_trip():
    for midi in range(0, 128):
        assert note_to_midi(midi_to_note(midi)) == midi


def test_range_c4_c6_has_25_keys():
    keys = note_range("C4..C6")
    assert len(keys) == 25
    assert keys[0] == "C4" and keys[-1] == "C6" and keys[1] == "C#4"


def test_parse_notes_mixes_names_and_ranges():
    assert parse_notes(["A4", "C5..D5"]) == ["A4", "C5", "C#5", "D5"]


@pytest.mark.parametrize("bad", ["H4", "A", "A#b4", "", "C10", "G#9", "C4..B3"])
def test_bad_names_raise_one_clear_error(bad):
    with pytest.raises(NoteError):
        note_range(bad)

"""The computer-keyboard mapping (pure logic): rows, octave shift, auto-repeat, release-all."""

from app.keymap import BOTTOM_ROW, MAX_SHIFT, MIN_SHIFT, TOP_ROW, KeyboardPlayer, key_labels, midi_for, semitone_of
from iirnn_core.dsp.notes import midi_to_note


def test_rows_cover_c4_to_c5_and_c5_to_c6():
    assert [midi_to_note(midi_for(c)) for c in BOTTOM_ROW] == [
        "C4", "C#4", "D4", "D#4", "E4", "F4", "F#4", "G4", "G#4", "A4", "A#4", "B4", "C5"]
    assert [midi_to_note(midi_for(c)) for c in TOP_ROW] == [
        "C5", "C#5", "D5", "D#5", "E5", "F5", "F#5", "G5", "G#5", "A5", "A#5", "B5", "C6"]


def test_acceptance_keys_and_unmapped_keys():
    assert (midi_for("q"), midi_for("z"), midi_for("e")) == (72, 60, 76)  # C5, C4, E5
    assert midi_for("Q") == 72  # shift or caps lock plays the same key
    for char in ("a", "1", "p", ".", " ", "", "zz"):
        assert semitone_of(char) is None and midi_for(char) is None


def test_octave_shift_moves_both_rows_and_is_clamped():
    assert midi_for("z", 1) == 72 and midi_for("i", -1) == 72
    player = KeyboardPlayer()
    for _ in range(10):
        player.shift_octave(1)
    assert player.shift == MAX_SHIFT
    for _ in range(20):
        player.shift_octave(-1)
    assert player.shift == MIN_SHIFT
    assert 0 <= midi_for("z", MIN_SHIFT) and midi_for("i", MAX_SHIFT) <= 127


def test_auto_repeat_never_retriggers():
    player = KeyboardPlayer()
    assert player.press("z") == 60
    assert player.press("z", auto_repeat=True) is None
    assert player.release("z", auto_repeat=True) is None  # X11 sends release+press pairs while repeating
    assert player.press("z") is None  # still held: no second strike
    assert player.release("z") == 60
    assert player.release("z") is None
    assert player.press("z") == 60


def test_release_ends_the_note_its_press_started_even_after_a_shift():
    player = KeyboardPlayer()
    assert player.press("e") == 76
    released, changed = player.shift_octave(1)
    assert released == [76] and changed
    assert player.release("e") is None  # already released by the shift
    assert player.press("e") == 88


def test_release_all_and_duplicate_note_from_both_rows():
    player = KeyboardPlayer()
    assert player.press(",") == 72
    assert player.press("q") is None  # C5 is already sounding from the bottom row
    assert player.press("x") == 62
    assert sorted(player.release_all()) == [62, 72]
    assert player.held_notes == []
    assert player.range_label() == "C4..C6"


def test_key_labels_name_the_key_each_note_plays_on():
    labels = key_labels()
    assert sorted(labels) == list(range(60, 85))  # C4..C6, every key once
    assert (labels[60], labels[61], labels[71], labels[72], labels[84]) == ("z", "s", "m", "q", "i")
    assert key_labels(-2) == {midi - 24: char for midi, char in labels.items()}

"""Computer-keyboard to MIDI mapping, as common virtual keyboards have it (pure logic, no Qt).

Two rows, each an octave and one key: the bottom row ``z s x d c v g b h n j m ,`` plays
C4..C5 and the top row ``q 2 w 3 e r 5 t 6 y 7 u i`` plays C5..C6 (at octave shift 0).
:class:`KeyboardPlayer` tracks which keys are held, so auto-repeat never retriggers, a release
ends exactly the note its press started (even after an octave shift) and everything held can be
released at once (focus loss, octave shift).
"""

from __future__ import annotations

BOTTOM_ROW = "zsxdcvgbhnjm,"
"""Characters of the bottom row, semitone 0..12 above the base note (C4 at shift 0)."""

TOP_ROW = "q2w3er5t6y7ui"
"""Characters of the top row, semitone 0..12 above the base note plus one octave (C5 at shift 0)."""

BASE_MIDI = 60
"""MIDI number of the bottom row's first key at octave shift 0 (C4)."""

MIN_SHIFT, MAX_SHIFT = -4, 3
"""Octave shifts allowed: every mapped key stays inside MIDI 0..127 (C0..C9 for the bottom row)."""


def semitone_of(char: str) -> int | None:
    """Semitones above the base note (0..24) that ``char`` plays, or None if it is not mapped."""
    char = char.lower()
    if len(char) != 1:
        return None
    if char in BOTTOM_ROW:
        return BOTTOM_ROW.index(char)
    if char in TOP_ROW:
        return 12 + TOP_ROW.index(char)
    return None


def midi_for(char: str, shift: int = 0) -> int | None:
    """MIDI number ``char`` plays at octave ``shift`` (``midi_for("q") == 72``), or None."""
    semitone = semitone_of(char)
    if semitone is None:
        return None
    return BASE_MIDI + 12 * shift + semitone


def key_labels(shift: int = 0) -> dict[int, str]:
    """MIDI number -> the computer key that plays it at octave ``shift`` (the top row's ``q`` wins on the shared
    C, e.g. C5 at shift 0)."""
    labels = {midi_for(char, shift): char for char in BOTTOM_ROW}
    labels.update({midi_for(char, shift): char for char in TOP_ROW})
    return labels


class KeyboardPlayer:
    """Held computer keys and the notes they sound; every method returns the MIDI numbers to act on.

    ``press(char, auto_repeat)`` returns the note to start (None for unmapped keys, auto-repeat or
    a key already held); ``release(char, auto_repeat)`` the note to end (None likewise);
    ``release_all()`` every sounding note; ``shift_octave(step)`` releases everything and moves the
    base by ``step`` octaves within ``MIN_SHIFT..MAX_SHIFT``.
    """

    def __init__(self, shift: int = 0):
        self.shift = max(MIN_SHIFT, min(MAX_SHIFT, int(shift)))
        self._held: dict[str, int] = {}

    @property
    def held_notes(self) -> list[int]:
        """MIDI numbers sounding from held keys, in press order."""
        return list(self._held.values())

    def press(self, char: str, auto_repeat: bool = False) -> int | None:
        """A key went down: the note to start, or None."""
        char = char.lower()
        if auto_repeat or char in self._held:
            return None
        midi = midi_for(char, self.shift)
        if midi is None:
            return None
        if midi in self._held.values():  # the same note from the other row: do not strike twice
            return None
        self._held[char] = midi
        return midi

    def release(self, char: str, auto_repeat: bool = False) -> int | None:
        """A key went up: the note to end (the one its press started), or None."""
        if auto_repeat:
            return None
        return self._held.pop(char.lower(), None)

    def release_all(self) -> list[int]:
        """Forget every held key; returns the notes to end."""
        notes = list(self._held.values())
        self._held.clear()
        return notes

    def shift_octave(self, step: int) -> tuple[list[int], bool]:
        """Move by ``step`` octaves; returns (notes to end, whether the shift changed)."""
        new = max(MIN_SHIFT, min(MAX_SHIFT, self.shift + int(step)))
        released = self.release_all()
        changed = new != self.shift
        self.shift = new
        return released, changed

    def range_label(self) -> str:
        """The notes the two rows cover now, e.g. ``"C4..C6"``."""
        low = BASE_MIDI + 12 * self.shift
        return f"C{low // 12 - 1}..C{low // 12 + 1}"

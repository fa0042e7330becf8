"""Note names <-> frequencies (equal temperament, A4 = 440 Hz) and keyboard ranges.

Names are a letter ``A``-``G``, an optional accidental (``#`` or ``b``) and an octave
number (``-1`` .. ``9``): ``A4``, ``C#5``, ``Db5``. MIDI numbers follow the usual
convention (C4 = 60, A4 = 69). Ranges are written ``LOW..HIGH`` and include both ends.
"""

from __future__ import annotations

import re

A4_HZ = 440.0
A4_MIDI = 69

_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_NAME_RE = re.compile(r"^([A-Ga-g])([#b]?)(-?\d)$")


class NoteError(ValueError):
    """A note name or range that cannot be read."""


def note_to_midi(name: str) -> int:
    """MIDI number of a note name: ``note_to_midi("A4") == 69``, ``"Db5"`` and ``"C#5"`` give 73."""
    m = _NAME_RE.match(name.strip())
    if not m:
        raise NoteError(f"unknown note {name!r} (expected a name like A4, C#5 or Db5)")
    letter, accidental, octave = m.groups()
    semitone = _LETTERS[letter.upper()] + {"": 0, "#": 1, "b": -1}[accidental]
    midi = (int(octave) + 1) * 12 + semitone
    if not 0 <= midi <= 127:
        raise NoteError(f"note {name!r} is outside the MIDI range C-1..G9")
    return midi


def midi_to_note(midi: int) -> str:
    """Note name of a MIDI number, spelled with sharps: ``midi_to_note(61) == "C#4"``."""
    if not 0 <= int(midi) <= 127:
        raise NoteError(f"MIDI number {midi} is outside 0..127")
    return f"{_SHARP_NAMES[midi % 12]}{midi // 12 - 1}"


def midi_to_hz(midi: float) -> float:
    """Frequency in Hz of a (possibly fractional) MIDI number, A4 = 440 Hz."""
    return A4_HZ * 2.0 ** ((midi - A4_MIDI) / 12.0)


def note_to_hz(name: str) -> float:
    """Frequency in Hz of a note name: ``note_to_hz("A4") == 440.0``."""
    return midi_to_hz(note_to_midi(name))


def canonical(name: str) -> str:
    """The sharp spelling of a note name: ``canonical("Db5") == "C#5"``."""
    return midi_to_note(note_to_midi(name))


def note_range(spec: str) -> list[str]:
    """Every note of a range ``"C4..C6"`` (both ends included) as sharp names; 25 keys for C4..C6."""
    if ".." not in spec:
        return [canonical(spec)]
    low, high = spec.split("..", 1)
    lo, hi = note_to_midi(low), note_to_midi(high)
    if hi < lo:
        raise NoteError(f"range {spec!r} runs downwards; write it low..high")
    return [midi_to_note(m) for m in range(lo, hi + 1)]


PIANO = "A0..C8"
"""The 88 keys of a piano."""
WHOLE_KEYBOARD = "whole keyboard"
"""What the training panel calls every piano key a rate allows."""


def piano_keys(rate: float) -> list[str]:
    """The piano's keys (A0..C8) below the Nyquist frequency of ``rate`` (Hz): A0..B7 at 8 kHz, all 88 above."""
    return [n for n in note_range(PIANO) if note_to_hz(n) < rate / 2.0]


def parse_notes(specs: list[str]) -> list[str]:
    """Expand a list of names and ranges (``["C4..E4", "A4"]``) into sharp names, keeping order."""
    notes: list[str] = []
    for spec in specs:
        notes.extend(note_range(spec))
    if not notes:
        raise NoteError("no notes given")
    return notes

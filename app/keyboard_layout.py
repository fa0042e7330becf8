"""Where the on-screen piano's keys lie and which of them are shown (pure geometry, no Qt).

Keys are counted in white keys: :func:`white_index` numbers the white keys from MIDI 0 (C-1) up, and
a black key takes the index of the white key below it (it sits on that key's right edge). The piano
shows a run of whole octaves of its instrument's keys (A0..C8 by default): as many as fit
:data:`MIN_WHITE_WIDTH` pixels a white key, never fewer than :data:`MIN_OCTAVES`, and every key once
they all fit; the keys are then stretched to the widget's width. :func:`centred_first` places that
run on a marked span (the keys the computer keyboard plays), :func:`follow` scrolls it by whole
octaves when the mark would leave it, and :class:`KeyLayout` turns it into rectangles (pixels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_BLACK = {1, 3, 6, 8, 10}
"""Semitones (within an octave) of the black keys."""

_WHITE_STEPS = (0, 2, 4, 5, 7, 9, 11)
"""Semitones (within an octave) of the white keys, C D E F G A B."""

BLACK_HEIGHT = 0.62
"""Black keys' length as a fraction of the white keys'."""

BLACK_WIDTH = 0.6
"""Black keys' width as a fraction of a white key's."""

MIN_WHITE_WIDTH = 36.0
"""Narrowest white key (pixels) the piano shows more octaves for; a widget too narrow for
:data:`MIN_OCTAVES` at this width gets narrower keys instead."""

MIN_OCTAVES = 2
"""Fewest whole octaves shown (the two the computer keyboard plays)."""

Span = tuple[int, int]
"""A range of keys, (lowest, highest) MIDI numbers, both included."""


def is_black(midi: int) -> bool:
    """Whether MIDI note ``midi`` is a black key."""
    return midi % 12 in _BLACK


def white_index(midi: int) -> int:
    """Index of ``midi``'s white key counted from C-1 (MIDI 0) = 0; a black key gives the white key below it."""
    octave, semitone = divmod(int(midi), 12)
    return 7 * octave + sum(step <= semitone for step in _WHITE_STEPS) - 1


def white_midi(index: int) -> int:
    """MIDI number of the white key with index ``index`` (the inverse of :func:`white_index` on white keys)."""
    octave, step = divmod(int(index), 7)
    return 12 * octave + _WHITE_STEPS[step]


def whites_that_fit(width: float, lowest: int, highest: int) -> int:
    """How many white keys of ``lowest..highest`` (white MIDI numbers) to show in ``width`` pixels: every one if
    they all fit :data:`MIN_WHITE_WIDTH`, else whole octaves (C to C, so ``7 * octaves + 1``), at least
    :data:`MIN_OCTAVES` of them (or all the instrument has)."""
    total = white_index(highest) - white_index(lowest) + 1
    fit = int(width // MIN_WHITE_WIDTH)
    if fit >= total:
        return total
    octaves = max(MIN_OCTAVES, (fit - 1) // 7)
    return min(total, 7 * octaves + 1)


def _clamp_first(first: int, count: int, lowest: int, highest: int) -> int:
    """``first`` moved just enough that ``count`` white keys from it stay on the instrument."""
    return max(white_index(lowest), min(first, white_index(highest) - count + 1))


def _mark_whites(mark: Span, lowest: int, highest: int) -> Span | None:
    """The white indices the mark covers on the instrument (its ends clipped to it), or None if it is all off it."""
    low, high = max(mark[0], lowest), min(mark[1], highest)
    if low > high:
        return None
    return white_index(low), white_index(high)


def centred_first(count: int, mark: Span | None, lowest: int, highest: int) -> int:
    """White index of the leftmost of ``count`` shown white keys, centred on ``mark`` (the middle of the instrument
    without one), starting on a C (the spare octave of an odd number goes below) unless the instrument's end
    comes first."""
    span = _mark_whites(mark, lowest, highest) if mark else None
    if span is None:
        span = (white_index(lowest), white_index(highest))
    start = math.floor((span[0] + span[1]) / 2 - (count - 1) / 2)
    start -= start % 7  # down to a C
    return follow(_clamp_first(start, count, lowest, highest), count, mark, lowest, highest)


def follow(first: int, count: int, mark: Span | None, lowest: int, highest: int) -> int:
    """``first`` (white index of the leftmost shown key) scrolled by whole octaves, onto a C, just far enough that
    ``mark`` (clipped to the instrument) is shown; unchanged if it already is or there is no mark."""
    span = _mark_whites(mark, lowest, highest) if mark else None
    if span is None:
        return first
    last = first + count - 1
    if span[0] < first:
        first = span[0] - span[0] % 7
    elif span[1] > last:
        first = span[1] - count + 1
        first += -first % 7  # up to a C
    return _clamp_first(first, count, lowest, highest)


@dataclass(frozen=True)
class KeyLayout:
    """``count`` white keys from white index ``first``, stretched over ``width`` x ``height`` pixels.

    Rectangles are ``(x, y, w, h)`` in pixels; keys left or right of the shown run get rectangles
    outside ``0..width`` (the same spacing), so nothing needs them to be shown.
    """

    first: int
    count: int
    width: float
    height: float

    @property
    def white_width(self) -> float:
        """Width of one white key (pixels)."""
        return self.width / self.count

    @property
    def shown(self) -> Span:
        """The shown keys, (lowest, highest) MIDI numbers; both are white keys."""
        return white_midi(self.first), white_midi(self.first + self.count - 1)

    def shows(self, midi: int) -> bool:
        """Whether key ``midi`` is drawn."""
        low, high = self.shown
        return low <= midi <= high

    def key_rect(self, midi: int) -> tuple[float, float, float, float]:
        """The key's rectangle ``(x, y, w, h)`` in pixels (white keys 1 pixel short of the bottom edge)."""
        width, height = self.white_width, self.height - 1
        left = (white_index(midi) - self.first) * width
        if not is_black(midi):
            return left, 0.0, width, height
        black = width * BLACK_WIDTH
        return left + width - black / 2, 0.0, black, height * BLACK_HEIGHT

    def key_at(self, x: float, y: float) -> int | None:
        """The shown key under pixel ``(x, y)`` (black keys lie on top of white ones), or None outside the keys."""
        if not (0 <= x < self.width and 0 <= y < self.height):
            return None
        white = white_midi(self.first + int(x // self.white_width))
        for black in (white + 1, white - 1):
            if is_black(black) and self.shows(black):
                bx, by, bw, bh = self.key_rect(black)
                if bx <= x < bx + bw and by <= y < by + bh:
                    return black
        return white

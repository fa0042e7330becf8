"""Short texts for people: one-line error messages and SNR figures."""

from __future__ import annotations

import math


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when empty)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def format_db(value: float) -> str:
    """An SNR for people: ``'38.0 dB'``, ``'identical'`` for +inf, ``'diverged'`` for -inf/NaN."""
    if math.isnan(value) or value == -math.inf:
        return "diverged"
    if value == math.inf:
        return "identical"
    return f"{value:.1f} dB"

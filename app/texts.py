"""Short texts for people: one-line error messages and SNR figures."""

from __future__ import annotations

import math

from iirnn_core.errors import one_line

__all__ = ["format_db", "one_line"]


def format_db(value: float) -> str:
    """An SNR for people: ``'38.0 dB'``, ``'identical'`` for +inf, ``'diverged'`` for -inf/NaN."""
    if math.isnan(value) or value == -math.inf:
        return "diverged"
    if value == math.inf:
        return "identical"
    return f"{value:.1f} dB"

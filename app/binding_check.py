"""A guard against a Qt binding that drops references to ``None`` (PySide6 6.12.0 on Python 3.11).

Measured here: with PySide6 6.12.0 on CPython 3.11, every call of a Qt method that returns
nothing (``QLabel.setObjectName``, ``QWidget.hide``, ``processEvents``) lowers ``None``'s
reference count by one; a window with live plots makes about a thousand such calls a second and
the interpreter aborts ("none_dealloc: deallocating None") within minutes. PySide6 6.11.3 does
not, and on Python 3.12+ ``None`` is immortal. pyproject.toml keeps the affected combination
out; this module detects it anyway (an older install, another environment) so the window can
say so and keep running.
"""

from __future__ import annotations

import ctypes
import sys

PROBE_CALLS = 200
"""Void Qt calls made to measure the drop."""

NONE_RESERVE = 1 << 40
"""References added to ``None`` when the binding drops them: at 10^4 drops a second, 3 years."""


def drops_none_references() -> bool:
    """True if calling a void Qt method lowers ``None``'s reference count (needs Qt imported)."""
    if sys.version_info >= (3, 12):
        return False  # None is immortal (PEP 683): nothing to drop
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(PROBE_CALLS):
        probe.setObjectName("probe")
    return before - sys.getrefcount(None) >= PROBE_CALLS // 2


def keep_none_alive() -> str:
    """If the binding drops references to None, add a large reserve; returns a status line ("" when fine).

    CPython < 3.12 keeps the reference count in the object's first field (``ob_refcnt``); adding
    to it is what ``Py_INCREF`` does, without holding memory for each reference.
    """
    if not drops_none_references():
        return ""
    import PySide6

    ctypes.c_ssize_t.from_address(id(None)).value += NONE_RESERVE
    return (f"PySide6 {PySide6.__version__} on Python {sys.version_info.major}.{sys.version_info.minor} "
            "drops references to None (worked around); install PySide6-Essentials<6.12.")

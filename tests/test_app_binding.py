"""The Qt binding keeps None alive (PySide6 6.12.0 on Python 3.11 does not; see app/binding_check.py)."""

import sys

from PySide6.QtWidgets import QLabel

from app import binding_check


def test_installed_binding_does_not_drop_none(qapp):
    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setObjectName("x")
        label.hide()
    assert before - sys.getrefcount(None) < 100  # a leaking binding loses 4000 here
    assert not binding_check.drops_none_references()
    assert binding_check.keep_none_alive() == ""


def test_reserve_is_added_when_the_binding_drops_none(qapp, monkeypatch):
    if sys.version_info >= (3, 12):
        return  # None is immortal: its reference count is fixed
    monkeypatch.setattr(binding_check, "drops_none_references", lambda: True)
    before = sys.getrefcount(None)
    note = binding_check.keep_none_alive()
    try:
        assert sys.getrefcount(None) - before >= binding_check.NONE_RESERVE
        assert "PySide6-Essentials<6.12" in note
    finally:
        import ctypes

        ctypes.c_ssize_t.from_address(id(None)).value -= binding_check.NONE_RESERVE

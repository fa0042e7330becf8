"""Linux is the platform built and tested: elsewhere the entry points stop with one line."""

import sys

from iirnn_core import cli
from iirnn_core.errors import unsupported_platform


def test_linux_is_supported_and_other_systems_are_named():
    assert unsupported_platform("linux") is None
    line = unsupported_platform("darwin")
    assert "Linux only" in line and "'darwin'" in line and "\n" not in line


def test_iirnn_on_another_system_says_one_line_and_fails(monkeypatch, capsys):
    monkeypatch.setattr(sys, "platform", "win32")
    assert cli.main(["devices"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "iirnn: iirnn-synth runs on Linux only (built and tested there); this system is 'win32'"


def test_the_window_on_another_system_says_one_line_and_fails(monkeypatch, capsys):
    from app.main import main

    monkeypatch.setattr(sys, "platform", "darwin")
    assert main([]) == 1
    assert capsys.readouterr().err.strip().endswith("this system is 'darwin'")

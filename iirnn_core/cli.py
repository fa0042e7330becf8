"""The ``iirnn`` command: one sub-command per module in :mod:`iirnn_core.commands`.

Errors reach the person as one line on stderr: exit code 2 for a bad argument or setting
(:class:`UsageError`, an unknown note, Q >= 1, ...), 1 for a failure (a broken model file,
no audio device). Set ``IIRNN_DEBUG=1`` to get the traceback instead, and the audio libraries' own lines
(PortAudio, ALSA, JACK; :mod:`iirnn_core.audio.stderr_log`), which otherwise stay off the terminal.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from iirnn_core.errors import Failure, UsageError, one_line, unsupported_platform

__all__ = ["COMMANDS", "Failure", "UsageError", "build_parser", "main"]

COMMANDS = ("render", "bench", "play", "devices", "train", "export", "learn")
"""Modules of :mod:`iirnn_core.commands`, each with ``add_parser(subparsers)`` and ``run(args)``."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit code 2."""

    def error(self, message):  # noqa: D102 - argparse hook
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The full ``iirnn`` parser with every sub-command registered."""
    parser = _Parser(prog="iirnn", description="iirnn-synth: an IIR resonator and its RNN twin.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"iirnn_core.commands.{name}").add_parser(sub)
    return parser


def _usage_errors() -> tuple[type[BaseException], ...]:
    from iirnn_core.dsp.notes import NoteError
    from iirnn_core.dsp.resonator import SettingError

    return (UsageError, NoteError, SettingError)


def main(argv: list[str] | None = None) -> int:
    """Run ``iirnn`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    import logging

    unsupported = unsupported_platform()
    if unsupported:
        print(f"iirnn: {unsupported}", file=sys.stderr)
        return 1
    from iirnn_core.audio import stderr_log

    stderr_log.install()  # PortAudio's, ALSA's and JACK's own lines go to the log, not the terminal

    logging.basicConfig(level=logging.ERROR, format="iirnn: %(name)s: %(message)s")  # warnings are the reports' job
    if os.environ.get("IIRNN_DEBUG"):
        logging.getLogger(stderr_log.LOGGER_NAME).setLevel(logging.DEBUG)  # ... unless debugging
    try:
        args = build_parser().parse_args(argv)
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("iirnn: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line for the person, the traceback only on request
        if os.environ.get("IIRNN_DEBUG"):
            raise
        code = 2 if isinstance(exc, _usage_errors()) else 1
        text = str(exc) if isinstance(exc, (UsageError, Failure)) or code == 2 else one_line(exc)
        if not text.startswith("iirnn"):
            text = f"iirnn: {text}"
        print(text.splitlines()[0] if text else "iirnn: failed", file=sys.stderr)
        return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Errors meant for a person: each carries one clear line; and the one platform check."""

import sys


class UsageError(Exception):
    """A bad command-line argument: one line for the person, exit code 2."""


class Failure(Exception):
    """Something that failed although the arguments were fine: one line, exit code 1."""


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message for a person (its type name when the message is empty)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def unsupported_platform(platform: str | None = None) -> str | None:
    """One line saying this system is not supported, or None on Linux, the one platform built and tested.

    The audio code relies on Linux: its clock id (``CLOCK_MONOTONIC`` = 1) and ``gettid`` in the
    compiled callback, ``/proc`` for thread ids, ``ld`` for the ahead-of-time library, and
    PulseAudio or JACK through PortAudio. The entry points (``iirnn``, ``iirnn-synth``) say so and stop.
    """
    platform = sys.platform if platform is None else platform
    if platform.startswith("linux"):
        return None
    return f"iirnn-synth runs on Linux only (built and tested there); this system is {platform!r}"

"""Errors meant for a person: each carries one clear line."""


class UsageError(Exception):
    """A bad command-line argument: one line for the person, exit code 2."""


class Failure(Exception):
    """Something that failed although the arguments were fine: one line, exit code 1."""


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message for a person (its type name when the message is empty)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

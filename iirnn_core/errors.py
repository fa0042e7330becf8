"""Errors meant for a person: each carries one clear line."""


class UsageError(Exception):
    """A bad command-line argument: one line for the person, exit code 2."""


class Failure(Exception):
    """Something that failed although the arguments were fine: one line, exit code 1."""

"""Errors shown to users."""


class SemcodecError(Exception):
    """A user-facing error: one line, no traceback."""

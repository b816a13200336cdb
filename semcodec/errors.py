"""Errors shown to users, and the exit code each maps to (documented in `semcodec --help` and the README)."""
from __future__ import annotations

import signal


class SemcodecError(Exception):
    """A user-facing runtime failure: one line, no traceback, exit code 1."""

    exit_code = 1


class UsageError(SemcodecError):
    """A bad option value or combination, found before any work starts: exit code 2 (as argparse's)."""

    exit_code = 2


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP arrived. A KeyboardInterrupt, so every cleanup path that handles Ctrl-C
    handles `kill`, `timeout` and a closed terminal the same way; the exit code is 128 + the signal number."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

"""The CLI's progress bars: tqdm on stderr, only when stderr is a terminal and -q was not given."""
from __future__ import annotations

import sys

from semcodec.progress import Bar, Progress


def _tqdm_bar(task: str, total: int | None, unit: str = "frame") -> Bar:
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=task, leave=False, file=sys.stderr)


def stderr_progress(quiet: bool) -> Progress | None:
    return None if quiet or not sys.stderr.isatty() else _tqdm_bar

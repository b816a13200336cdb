"""Progress reporting as a small protocol the front end supplies: the library never draws bars or prints.

A `Progress` is called with a task name, a total (None when unknown) and a unit, and returns a `Bar` that is
advanced and closed. `tqdm` satisfies `Bar` as it is; the CLI's factory makes tqdm bars on stderr.
"""
from __future__ import annotations

from typing import Protocol


class Bar(Protocol):
    def update(self, n: int = 1) -> object: ...

    def close(self) -> object: ...


class Progress(Protocol):
    def __call__(self, task: str, total: int | None, unit: str = "frame") -> Bar: ...


class _SilentBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def silent(task: str, total: int | None, unit: str = "frame") -> Bar:
    """The library default: no output."""
    return _SilentBar()


def bar(progress: Progress | None, task: str, total: int | None, unit: str = "frame") -> Bar:
    """A bar from `progress`, or a silent one when none is given."""
    return (progress or silent)(task, total or None, unit)

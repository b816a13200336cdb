"""Before any work starts: every path a run will write, checked against every input and every other output.

A command lists its inputs and its outputs (each with the option that named it); `check_outputs` refuses,
in the first second, any output that is an input (same resolved path or same inode), that two options
share, whose folder is missing or not writable, that is a folder where a file is wanted, or that exists
when the user did not ask to overwrite. Streams ('-', /dev/null, a FIFO) are written in place and are
exempt from the existence rule, but only one output may go to stdout.
"""
from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from semcodec.errors import SemcodecError, UsageError
from semcodec.io.writer import STDOUT, is_stream, partial_path, same_file

Overwrite = Literal["refuse", "overwrite", "skip"]
OutputKind = Literal["file", "dir"]


@dataclass(frozen=True)
class Output:
    """One path a run writes. `kind='dir'`: a folder the run fills (created if missing; its parent must
    exist); `owns` are the globs inside it that count as an existing result (e.g. 'frame*.jpg')."""

    option: str
    path: str
    kind: OutputKind = "file"
    owns: tuple[str, ...] = ()
    stream_ok: bool = True  # False: a container muxer needs a seekable regular file


class SkipExisting(Exception):
    """-n and an output exists: the run does nothing (exit 0, one line on stderr)."""

    def __init__(self, output: Output):
        super().__init__(f"{output.path} exists; skipped (-n)")
        self.output = output


def check_outputs(inputs: Sequence[str], outputs: Sequence[Output], overwrite: Overwrite = "refuse") -> None:
    """Raise UsageError / SemcodecError (or SkipExisting with overwrite='skip') before any work is done."""
    outputs = [o for o in outputs if o.path]
    inputs = [i for i in inputs if i]
    for i in inputs:  # a missing input is the first thing to say, before anything about outputs
        if not os.path.exists(i):
            raise SemcodecError(f"input not found: {i}")
    to_stdout = [o for o in outputs if o.path == STDOUT]
    if len(to_stdout) > 1:
        raise UsageError(f"{' and '.join(o.option for o in to_stdout)} cannot both write to stdout ('-')")
    for o in outputs:
        if is_stream(o.path):
            if not o.stream_ok:
                raise UsageError(f"{o.option} {o.path}: a video file needs a regular file path, not a stream")
            continue
        for i in inputs:
            if os.path.exists(i) and same_file(o.path, i) or os.path.abspath(o.path) == os.path.abspath(i):
                raise SemcodecError(f"output path is the input file {i}: {o.option} {o.path}")
    files = [o for o in outputs if not is_stream(o.path)]
    for n, a in enumerate(files):
        for b in files[n + 1:]:
            if os.path.abspath(a.path) == os.path.abspath(b.path) or same_file(a.path, b.path) \
                    or _inside(a, b) or _inside(b, a):
                raise UsageError(f"{a.option} and {b.option} name the same path: {a.path}")
    for o in files:
        _check_writable(o)
    for o in files:
        if _exists(o):
            if overwrite == "skip":
                raise SkipExisting(o)
            if overwrite == "refuse":
                raise SemcodecError(f"{o.option} {o.path} already exists; pass -y to overwrite (or -n to skip)")


def _inside(a: Output, b: Output) -> bool:
    """File output `a` would land inside folder output `b`."""
    if b.kind != "dir" or a.kind == "dir":
        return False
    return os.path.dirname(os.path.realpath(a.path)) == os.path.realpath(b.path)


def _name(o: Output) -> str:
    """'-o' -> 'output', '--report' -> 'report': for messages such as 'report folder does not exist'."""
    return "output" if o.option in ("-o", "--output") else o.option.lstrip("-")


def _exists(o: Output) -> bool:
    if o.kind == "file":
        return os.path.lexists(o.path)
    return any(glob.glob(os.path.join(glob.escape(o.path), pattern)) for pattern in o.owns)


def _check_writable(o: Output) -> None:
    path = os.path.abspath(o.path)
    if o.kind == "file":
        if os.path.isdir(path):
            raise SemcodecError(f"{o.option} {o.path} is a folder")
        folder = os.path.dirname(path)
    else:
        if os.path.exists(path) and not os.path.isdir(path):
            raise SemcodecError(f"{o.option} {o.path} exists and is not a folder")
        folder = path if os.path.isdir(path) else os.path.dirname(path)
    if not os.path.isdir(folder):
        raise SemcodecError(f"{_name(o)} folder does not exist: {folder}")
    # os.access says yes to root on a read-only mount: create (and remove) a real temp file instead
    try:
        probe = partial_path(os.path.join(folder, "probe"))
    except SemcodecError as exc:
        raise SemcodecError(f"{o.option}: {exc}") from None
    with contextlib.suppress(OSError):
        os.unlink(probe)


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


@contextlib.contextmanager
def all_or_nothing(outputs: Sequence[Output]):
    """A run's file outputs land together or not at all: if the run fails after some of them were renamed
    into place (the video is done, the report then hits a full disk), the ones this run put there are
    removed again, so a non-zero exit never leaves a fresh result at an output path."""
    paths = [o.path for o in outputs if o.path and o.kind == "file" and not is_stream(o.path)]
    before = {p: _identity(p) for p in paths}
    try:
        yield
    except BaseException:
        for p, ident in before.items():
            now = _identity(p)
            if now is not None and now != ident:
                with contextlib.suppress(OSError):
                    os.unlink(p)
        raise

"""Safe output: write to a temporary file beside the target, rename only when complete."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile

from semcodec.errors import SemcodecError

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}

# Audio codecs the MP4/MOV muxers take as they are; anything else is re-encoded to AAC (with a warning).
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac", "mp2"}


def container_format(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in CONTAINERS:
        raise SemcodecError(f"unsupported output type {ext or '(none)'}: use .mp4, .mov or .mkv")
    return CONTAINERS[ext]


def check_output_path(input_path: str, output_path: str) -> None:
    """Refuse outputs that would overwrite the input or cannot be written, before any work is done."""
    container_format(output_path)
    if os.path.abspath(output_path) == os.path.abspath(input_path) or (
        os.path.exists(output_path) and os.path.exists(input_path)
        and os.path.samefile(output_path, input_path)
    ):
        raise SemcodecError(f"output path is the input file: {output_path}")
    folder = os.path.dirname(os.path.abspath(output_path))
    if not os.path.isdir(folder):
        raise SemcodecError(f"output folder does not exist: {folder}")
    if os.path.isdir(output_path):
        raise SemcodecError(f"output path is a folder: {output_path}")


@contextlib.contextmanager
def atomic_output(output_path: str):
    """Yield a temporary path in the output's folder; rename it onto `output_path` on success, delete
    it on any failure, so a crash or Ctrl-C never leaves a half-written file at the output path."""
    folder = os.path.dirname(os.path.abspath(output_path))
    base, ext = os.path.splitext(os.path.basename(output_path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=f".partial{ext}", dir=folder)
    except OSError as exc:
        raise SemcodecError(f"cannot write to output folder {folder}: {exc.strerror}") from None
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the result should look like any new file
    try:
        yield tmp
        os.replace(tmp, output_path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(path: str, data: dict, indent: int = 2) -> None:
    """Write JSON atomically (temp file in the same folder, fsync, rename): a reader never sees half a file."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise SemcodecError(f"output folder does not exist: {folder}")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".partial", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=indent)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

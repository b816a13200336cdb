"""Safe output, the one place semcodec writes files.

Every file goes to a temporary name beside its target and is renamed only when complete and checked, so a
crash, a full disk or a signal never leaves half a file at an output path. Temporary names carry a fixed
marker and the writer's PID (`.NAME.semcodec-PID-XXXX.partial.EXT`), so a later run for the same output can
find and remove what a killed run (SIGKILL, power loss) left behind without touching a live run's file.
Streams are written, never replaced: `-` is stdout, and a character device or FIFO (/dev/null, a named
pipe) gets the bytes directly instead of having a regular file renamed over it.
"""
from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterator

from semcodec.errors import SemcodecError, UsageError

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}

# Audio codecs the MP4/MOV muxers take as they are; anything else is re-encoded to AAC (with a warning).
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac", "mp2"}
# FFmpeg's MOV muxer refuses Opus and FLAC ("only supported in MP4")
MOV_AUDIO = MP4_AUDIO - {"opus", "flac"}

STDOUT = "-"
PARTIAL_MARK = "semcodec"
_PARTIAL_RE = re.compile(r"\.semcodec-(\d+)-[^.]+\.partial")


def muxer_options(fmt: str) -> dict:
    """Options of every output container semcodec writes. +bitexact: no random Matroska segment UID, no creation
    time, so the file, not just the stream, is the same run after run. Matroska: timestamps are written as they
    are (FFmpeg's default shifts every stream so none is negative: copied AAC whose priming starts at -21 ms
    moved the video 21 ms later; Matroska blocks take negative times, and FFmpeg's own copy keeps them)."""
    opts = {"fflags": "+bitexact"}
    if fmt == "matroska":
        opts["avoid_negative_ts"] = "disabled"
    return opts


def container_format(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in CONTAINERS:
        raise UsageError(f"unsupported output type {ext or '(none)'}: use .mp4, .mov or .mkv")
    return CONTAINERS[ext]


def is_stream(path: str) -> bool:
    """True for stdout ('-') and for an existing character device, FIFO or socket: written in place."""
    if path == STDOUT:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def check_output_path(input_path: str, output_path: str) -> None:
    """Refuse a video output that would overwrite the input or cannot be written, before any work is done.
    (The CLI checks every output of a run against every input and every other output with
    `semcodec.io.outputs.check_outputs`; this is the library's own guard for direct callers.)"""
    container_format(output_path)
    if same_file(output_path, input_path):
        raise SemcodecError(f"output path is the input file: {output_path}")
    folder = os.path.dirname(os.path.abspath(output_path))
    if not os.path.isdir(folder):
        raise SemcodecError(f"output folder does not exist: {folder}")
    if os.path.isdir(output_path):
        raise SemcodecError(f"output path is a folder: {output_path}")


def same_file(a: str, b: str) -> bool:
    """The same file by resolved path (symlinks, '..', case as spelled) or by inode (hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def partial_path(output_path: str) -> str:
    """A fresh, unique temporary path beside `output_path` (created empty, mode by the umask)."""
    folder = os.path.dirname(os.path.abspath(output_path))
    base, ext = os.path.splitext(os.path.basename(output_path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.{PARTIAL_MARK}-{os.getpid()}-",
                                   suffix=f".partial{ext}", dir=folder)
    except OSError as exc:
        raise SemcodecError(f"cannot write to folder {folder}: {exc.strerror}") from None
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the result should look like any new file
    return tmp


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(output_path: str) -> list[str]:
    """Delete temporary files that a killed earlier run left beside `output_path` (their PID is gone)."""
    folder = os.path.dirname(os.path.abspath(output_path))
    base, ext = os.path.splitext(os.path.basename(output_path))
    removed = []
    for p in glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(base)}.{PARTIAL_MARK}-*.partial*")):
        m = _PARTIAL_RE.search(os.path.basename(p))
        if m and not _pid_alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                os.unlink(p)
                removed.append(p)
    return removed


def _fail(path: str, exc: OSError) -> SemcodecError:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason = "no space left on device"
    return SemcodecError(f"cannot write {path}: {reason}")


@contextlib.contextmanager
def atomic_output(output_path: str) -> Iterator[str]:
    """Yield a temporary path beside `output_path`; rename it onto `output_path` on success, delete it on any
    failure (exceptions, Ctrl-C, SIGTERM/SIGHUP raised as `Interrupted`), so no half-written file ever lands
    at the output path. A write error inside (a full disk) becomes a one-line SemcodecError."""
    remove_stale_partials(output_path)
    tmp = partial_path(output_path)
    try:
        try:
            yield tmp
        except OSError as exc:  # FFmpeg's write errors arrive as av.error.OSError subclasses
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG):
                # name the file that failed: the output, or a work file elsewhere (a full TMPDIR)
                where = exc.filename if exc.filename and exc.filename != tmp else output_path
                raise _fail(str(where), exc) from None
            raise
        try:
            os.replace(tmp, output_path)
        except OSError as exc:
            raise _fail(output_path, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is out: a short write (full disk) continues and then raises, never passes."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.ENOSPC, "short write")
        view = view[n:]


def write_bytes(path: str, data: bytes) -> None:
    """Write `data` to `path` completely or not at all: to stdout for '-', in place for a device or FIFO,
    else atomically (temp file, every byte checked, fsync, size checked, rename). Raises SemcodecError."""
    if path == STDOUT:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    if is_stream(path):
        try:
            fd = os.open(path, os.O_WRONLY)
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _fail(path, exc) from None
        return
    with atomic_output(path) as tmp:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
            try:
                _write_all(fd, data)
                os.fsync(fd)
                if os.fstat(fd).st_size != len(data):
                    raise OSError(errno.EIO, f"wrote {os.fstat(fd).st_size} of {len(data)} bytes")
            finally:
                os.close(fd)
        except OSError as exc:
            raise _fail(path, exc) from None


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str, data, indent: int = 2) -> None:
    """Write JSON atomically (or to stdout for '-'): a reader never sees half a file."""
    write_text(path, json.dumps(data, indent=indent) + "\n")

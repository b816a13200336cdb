"""One run per folder: an exclusive `fcntl.flock` on a lock file that names its owner's PID.

Chunked encodes lock their work folder, batch encodes their output folder and `bench` its results folder,
so a second run on the same folder fails at once with "... is already in use by PID N" instead of deleting or
overwriting the first one's files.
The lock is the kernel's: it dies with its process (even on SIGKILL), so a crashed run never blocks the
next one. The owner unlinks the lock file while it still holds the lock, and a new owner checks after
locking that the file it locked is still the one at the path, so a run that opened the old file just before
it was unlinked can never hold a lock alongside a third run that created a new one.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import time
from collections.abc import Iterator

from semcodec.errors import SemcodecError

log = logging.getLogger("semcodec")

LOCK_NAME = ".semcodec.lock"
_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)
_ATTEMPTS = 50  # a folder removed and recreated under us by finishing runs: try again this often


class FolderBusy(SemcodecError):
    """Another live process holds the lock on the folder."""

    def __init__(self, what: str, folder: str, pid: int | None):
        owner = f"PID {pid}" if pid else "another process"
        super().__init__(f"{what} {folder} is already in use by {owner}")
        self.folder, self.pid = folder, pid


def lock_path(folder: str) -> str:
    return os.path.join(folder, LOCK_NAME)


def _read_pid(fd: int) -> int | None:
    """The owner's PID from the lock file; it may be a moment from being written, so look a few times."""
    for _ in range(20):
        with contextlib.suppress(OSError, ValueError):
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            if text:
                return int(text)
        time.sleep(0.01)
    return None


def _same_file(fd: int, path: str) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _try_lock(folder: str, what: str) -> int | None:
    """Lock `folder` (created if missing): the lock file's fd, None to try again, FolderBusy if held."""
    try:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(lock_path(folder), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except (FileNotFoundError, FileExistsError):  # a finishing owner removed the folder meanwhile
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _read_pid(fd)
        os.close(fd)
        raise FolderBusy(what, folder, pid) from None
    except OSError as exc:
        if exc.errno not in _NO_LOCKS:
            os.close(fd)
            raise
        # a file system without locks (some network and FUSE mounts): run, as before there were locks
        log.warning("cannot lock %s %s (%s): nothing stops a second run from using it too", what, folder,
                    exc.strerror or exc)
    if not _same_file(fd, lock_path(folder)):  # we locked a file its owner unlinked on release
        os.close(fd)
        return None
    with contextlib.suppress(OSError):  # the PID is for the message only: a full disk must not stop the run
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def acquire(folder: str, what: str = "folder") -> int:
    """Take the lock on `folder`; returns the fd to pass to `release`. Raises FolderBusy or SemcodecError."""
    try:
        for _ in range(_ATTEMPTS):
            fd = _try_lock(folder, what)
            if fd is not None:
                return fd
    except OSError as exc:
        reason = "no space left on device" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise SemcodecError(f"cannot lock {what} {folder}: {reason}") from None
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise SemcodecError(f"cannot lock {what} {folder}: it is not a folder")
    raise SemcodecError(f"cannot lock {what} {folder}: it keeps being removed by another process")


def release(fd: int, folder: str) -> None:
    """Remove the lock file (only if it is still ours), then unlock: in that order, see the module doc."""
    with contextlib.suppress(OSError):
        if _same_file(fd, lock_path(folder)):
            os.unlink(lock_path(folder))
    with contextlib.suppress(OSError):
        os.close(fd)


@contextlib.contextmanager
def locked_folder(folder: str, what: str = "folder") -> Iterator[str]:
    """Hold the exclusive lock on `folder` for the body; yields the lock file's path (leave it in place)."""
    fd = acquire(folder, what)
    try:
        yield lock_path(folder)
    finally:
        release(fd, folder)

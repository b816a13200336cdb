"""Write chosen keyframes as full-size images (a second, sequential decode: robust on every container,
where seeking is not always frame-exact)."""
from __future__ import annotations

import contextlib
import io
import os

from semcodec.errors import SemcodecError
from semcodec.io.reader import DecodeStats, iter_packets_and_frames, open_input
from semcodec.io.writer import write_bytes


def save_keyframes(path: str, indices: list[int], folder: str) -> list[str]:
    """Save frames `indices` of `path` as JPEGs named by frame and time; return the file names.
    All or nothing: each image is encoded in memory and written by the atomic writer (a short write on a
    full disk is an error, never a truncated JPEG); on any failure the images of this call are removed."""
    created = not os.path.isdir(folder)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise SemcodecError(f"cannot create keyframes folder {folder}: {exc.strerror}") from None
    wanted = set(indices)
    written: list[str] = []
    try:
        with open_input(path) as container:
            for n, (_kind, frame) in enumerate((k, f) for k, f in iter_packets_and_frames(container, DecodeStats())
                                              if k == "video"):
                if n in wanted:
                    t = float(frame.time or 0.0)
                    name = f"frame{n:06d}_{int(t // 60):02d}m{t % 60:06.3f}s.jpg"
                    buf = io.BytesIO()
                    frame.to_image().save(buf, format="JPEG", quality=92)
                    write_bytes(os.path.join(folder, name), buf.getvalue())
                    written.append(name)
                    if len(written) == len(wanted):
                        break
    except BaseException:
        for name in written:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))
        if created:
            with contextlib.suppress(OSError):
                os.rmdir(folder)
        raise
    return written

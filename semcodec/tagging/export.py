"""Write chosen keyframes as full-size images (a second, sequential decode: robust on every container,
where seeking is not always frame-exact)."""
from __future__ import annotations

import os

from semcodec.errors import SemcodecError
from semcodec.io.reader import DecodeStats, iter_packets_and_frames, open_input


def save_keyframes(path: str, indices: list[int], folder: str) -> list[str]:
    """Save frames `indices` of `path` as JPEGs named by frame and time; return the file names."""
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise SemcodecError(f"cannot create keyframes folder {folder}: {exc.strerror}") from None
    wanted = set(indices)
    written = []
    with open_input(path) as container:
        for n, (kind, frame) in enumerate((k, f) for k, f in iter_packets_and_frames(container, DecodeStats())
                                          if k == "video"):
            if n in wanted:
                t = float(frame.time or 0.0)
                name = f"frame{n:06d}_{int(t // 60):02d}m{t % 60:06.3f}s.jpg"
                tmp = os.path.join(folder, "." + name + ".partial.jpg")
                frame.to_image().save(tmp, quality=92)
                os.replace(tmp, os.path.join(folder, name))
                written.append(name)
                if len(written) == len(wanted):
                    break
    return written

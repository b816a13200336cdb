"""A frame index of the input from its packets alone (no decoding): presentation timestamps in frame
order, which frames are keyframes, and how many bytes each frame took (a free complexity proxy)."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from fractions import Fraction

from semcodec.io.reader import open_input


@dataclass
class InputIndex:
    time_base: Fraction
    rate: Fraction
    pts: list = field(default_factory=list)  # presentation timestamps, frame order (time_base units)
    sizes: list = field(default_factory=list)  # compressed bytes of each frame (same order)
    keyframes: list = field(default_factory=list)  # frame indices of the input's keyframes
    last_duration: int = 0  # duration of the last frame, time_base units
    seekable: bool = True  # pts are unique and present: chunks seek instead of decoding from 0

    @property
    def frames(self) -> int:
        return len(self.pts)

    def frame_ticks(self) -> int:
        return max(1, int(round(1 / (float(self.rate) * float(self.time_base)))))

    def end_pts(self, frame: int) -> int:
        """Timestamp where frame `frame` (exclusive end) starts; the end of the video past the last."""
        if frame < len(self.pts):
            return self.pts[frame]
        return self.pts[-1] + (self.last_duration or self.frame_ticks())

    def seconds(self, start: int, end: int) -> float:
        return float((self.end_pts(end) - self.pts[start]) * self.time_base)


def scan(path: str) -> InputIndex:
    with open_input(path) as c:
        vs = c.streams.video[0]
        rate = Fraction(vs.average_rate or vs.guessed_rate or 25)
        rows = []
        for p in c.demux(vs):
            if p.size == 0 and p.pts is None:
                continue
            rows.append((p.pts, p.size, bool(p.is_keyframe), p.duration or 0))
        tb = Fraction(vs.time_base or Fraction(1, 90000))
    idx = InputIndex(tb, rate)
    if not rows or any(r[0] is None for r in rows) or len({r[0] for r in rows}) != len(rows):
        idx.seekable = False
        idx.sizes = [r[1] for r in rows]
        ticks = idx.frame_ticks()
        idx.pts = [i * ticks for i in range(len(rows))]
        idx.keyframes = [i for i, r in enumerate(rows) if r[2]]
        return idx
    rows.sort(key=lambda r: r[0])
    idx.pts = [r[0] for r in rows]
    idx.sizes = [r[1] for r in rows]
    idx.keyframes = [i for i, r in enumerate(rows) if r[2]]
    idx.last_duration = rows[-1][3] or idx.frame_ticks()
    return idx


def input_signature(path: str) -> dict:
    """Size, mtime and a hash of the first and last MiB: cheap, and enough to notice a changed input."""
    st = os.stat(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        if st.st_size > 2 << 20:
            f.seek(-(1 << 20), os.SEEK_END)
            h.update(f.read(1 << 20))
    return {"path": os.path.abspath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "head_tail_sha256": h.hexdigest()}


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

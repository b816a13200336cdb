"""Write chosen keyframes as full-size images (a second, sequential decode: robust on every container,
where seeking is not always frame-exact), shown as a player shows them: pixel aspect and rotation applied."""
from __future__ import annotations

import contextlib
import io
import os
from fractions import Fraction

import cv2
import numpy as np
from PIL import Image

from semcodec.errors import SemcodecError
from semcodec.io.reader import DecodeStats, iter_packets_and_frames, open_input
from semcodec.io.writer import write_bytes


def display(rgb: np.ndarray, rotation: int = 0, sar: Fraction | float | None = None) -> np.ndarray:
    """The picture as a player shows it: non-square pixels stretched to square ones (the width scaled by
    the sample aspect ratio, or the height where SAR < 1, so nothing is thrown away), then turned by the
    display matrix's rotation (degrees counterclockwise, as FFmpeg's autorotate does)."""
    h, w = rgb.shape[:2]
    if sar and float(sar) > 0 and abs(float(sar) - 1.0) > 1e-3:
        size = (int(round(w * float(sar))), h) if float(sar) > 1 else (w, int(round(h / float(sar))))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC)
    turns = int(round((rotation or 0) / 90)) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def keyframe_name(index: int, t: float) -> str:
    """frame000123_01m02.500s.jpg: the frame index and its time from the first frame."""
    return f"frame{index:06d}_{int(t // 60):02d}m{t % 60:06.3f}s.jpg"


def save_keyframes(path: str, frames: list[tuple[int, float]], folder: str, rotation: int = 0,
                   sar: Fraction | float | None = None) -> list[str]:
    """Save frames (index, seconds from the first frame) of `path` as JPEGs named by both (`keyframe_name`:
    the times of the tags JSON, so a stream without timestamps is named by index / rate), shown as a player
    would (`display`); return the file names. All or nothing: each image is encoded in memory and written
    by the atomic writer (a short write on a full disk is an error, never a truncated JPEG); on any failure
    the images of this call are removed."""
    created = not os.path.isdir(folder)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise SemcodecError(f"cannot create keyframes folder {folder}: {exc.strerror}") from None
    wanted = dict(frames)
    written: list[str] = []
    try:
        with open_input(path) as container:
            for n, (_kind, frame) in enumerate((k, f) for k, f in iter_packets_and_frames(container, DecodeStats())
                                              if k == "video"):
                if n in wanted:
                    name = keyframe_name(n, wanted[n])
                    buf = io.BytesIO()
                    Image.fromarray(display(frame.to_ndarray(format="rgb24"), rotation, sar)).save(
                        buf, format="JPEG", quality=92)
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

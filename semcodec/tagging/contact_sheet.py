"""A contact sheet: the keyframes in a grid, each captioned with its time, shot and scene class."""
from __future__ import annotations

import os

import cv2
import numpy as np

from semcodec.errors import SemcodecError, UsageError
from semcodec.io.writer import is_stream, write_bytes


def _timestamp(t: float) -> str:
    m, s = divmod(t, 60)
    return f"{int(m):02d}:{s:05.2f}"


def sheet_labels(tags: dict) -> list[str]:
    """'shot N: class' under each keyframe of a tags result, N the shot's `index` in the JSON (from 0)."""
    shots = {s["index"]: s for s in tags["shots"]}
    return [f"shot {k['shot']}: {shots[k['shot']]['scene']['class']}" for k in tags["keyframes"]]


def render(keyframes, labels: list[str], columns: int = 4, width: int = 320, rotation: int = 0,
           sar=None) -> np.ndarray:
    """RGB image: `keyframes` (with .thumb and .time) in a grid, `labels` under each; thumbnails shown as a
    player shows the video (`rotation`, `sar`: semcodec.tagging.export.display)."""
    from semcodec.tagging.export import display

    if not keyframes:
        raise SemcodecError("no keyframe to put on a contact sheet")
    shown = [display(k.thumb, rotation, sar) for k in keyframes]
    th = [cv2.resize(t, (width, max(2, int(round(t.shape[0] * width / t.shape[1])))), interpolation=cv2.INTER_AREA)
          for t in shown]
    cell_h = max(t.shape[0] for t in th) + 34
    rows = -(-len(th) // columns)
    sheet = np.full((rows * cell_h + 8, columns * (width + 8) + 8, 3), 24, np.uint8)
    for i, (img, k, label) in enumerate(zip(th, keyframes, labels)):
        y, x = 8 + (i // columns) * cell_h, 8 + (i % columns) * (width + 8)
        sheet[y:y + img.shape[0], x:x + width] = img
        ty = y + img.shape[0] + 14
        cv2.putText(sheet, _timestamp(k.time), (x + 2, ty), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                    cv2.LINE_AA)
        cv2.putText(sheet, label, (x + 2, ty + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (190, 200, 255), 1, cv2.LINE_AA)
    return sheet


def save_image(path: str, rgb: np.ndarray) -> None:
    """Write PNG/JPEG/WebP by extension (a stream such as '-' or /dev/null gets PNG), completely or not at
    all: encoded in memory, then handed to the one atomic writer, which checks every byte landed."""
    ext = ".png" if is_stream(path) else os.path.splitext(path)[1].lower()
    if ext not in (".png", ".jpg", ".jpeg", ".webp"):
        raise UsageError(f"unsupported image type {ext or '(none)'}: use .png, .jpg or .webp")
    ok, buf = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, 90] if ext in (".jpg", ".jpeg") else [])
    if not ok:
        raise SemcodecError(f"could not encode {path}")
    write_bytes(path, buf.tobytes())

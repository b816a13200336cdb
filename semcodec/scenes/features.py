"""Cheap per-frame measurements that say what kind of picture a frame is.

All on the small analysis copy (long side 320 px), vectorised; a few milliseconds per frame. They feed
the embedded scene classifier (classify.py) and the visual tags.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np


@dataclass
class FrameFeatures:
    brightness: float  # mean luma, 0..1
    saturation: float  # mean HSV saturation, 0..1
    colourfulness: float  # Hasler & Suesstrunk 2003, roughly 0..1.5 (divided by 100)
    grey: bool  # black-and-white picture
    edge_density: float  # fraction of Canny edge pixels
    flat_fraction: float  # fraction of 8x8 blocks with almost no texture
    palette_ratio: float  # distinct colours (5 bits per channel) per pixel: low for cel animation
    green: float  # fraction of vegetation-like pixels
    sky: float  # fraction of sky-like pixels in the upper third
    line_density: float  # long straight lines per 100 px of width (streets, buildings, screens)
    faces: int = 0
    face_area: float = 0.0  # largest face, fraction of the frame
    people: int = 0  # people in frame (person blobs, confirmed by shape or by a face; analysis/people.py)
    people_area: float = 0.0  # fraction of the frame the person blobs cover
    text_area: float = 0.0  # fraction of the frame covered by text boxes
    motion: float = 0.0  # mean object-motion heat
    camera_motion: float = 0.0  # global shift, fraction of the frame width per frame

    def to_json(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def measure(rgb: np.ndarray, gray: np.ndarray) -> FrameFeatures:
    """Measurements of one small RGB frame (the detectors' numbers are filled in by the caller)."""
    h, w = gray.shape
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hue, sat, val = hsv[..., 0].astype(np.int16), hsv[..., 1] / 255.0, hsv[..., 2] / 255.0
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = (np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())) / 100.0
    edges = cv2.Canny(gray, 60, 160)
    # texture per 8x8 block from the block variance (E[x^2] - E[x]^2)
    bw, bh = max(1, w // 8), max(1, h // 8)  # a frame under 8 px is one block (tiny inputs)
    g32 = gray[: max(8, h // 8 * 8), : max(8, w // 8 * 8)].astype(np.float32)
    mean = cv2.resize(g32, (bw, bh), interpolation=cv2.INTER_AREA)
    sq = cv2.resize(g32 * g32, (bw, bh), interpolation=cv2.INTER_AREA)
    block_std = np.sqrt(np.maximum(sq - mean * mean, 0))
    q = (rgb >> 3).astype(np.int32)
    palette = len(np.unique(q[..., 0] * 1024 + q[..., 1] * 32 + q[..., 2]))
    vegetation = (hue >= 30) & (hue <= 85) & (sat > 0.25) & (val > 0.15)
    top = slice(0, max(1, h // 3))  # at least one row: a 2 px frame has a top too
    # blue sky only: white walls and paper are bright and unsaturated too, and are not sky
    sky = (hue[top] >= 90) & (hue[top] <= 130) & (sat[top] > 0.15) & (val[top] > 0.45)
    lines = cv2.HoughLinesP(edges, 1, np.pi / 180, threshold=40, minLineLength=w // 6, maxLineGap=3)
    return FrameFeatures(
        brightness=float(gray.mean() / 255.0),
        saturation=float(sat.mean()),
        colourfulness=float(colourfulness),
        grey=bool(sat.mean() < 0.06),
        edge_density=float((edges > 0).mean()),
        flat_fraction=float((block_std < 2.5).mean()),
        palette_ratio=float(palette / (h * w)),
        green=float(vegetation.mean()),
        sky=float(sky.mean()),
        line_density=float(0 if lines is None else len(lines) * 100.0 / w),
    )

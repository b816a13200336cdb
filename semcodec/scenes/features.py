"""Cheap per-frame measurements that say what kind of picture a frame is.

All on the small analysis copy (long side 320 px), vectorised; a few milliseconds per frame. They feed
the embedded scene classifier (classify.py) and the visual tags. Beside colour and edges they measure
what separates the classes that simple colour counts confuse:

- *texture per 8x8 block*: flat (no texture: cel paint, slide backgrounds), soft (contrast without
  high frequencies: an out-of-focus background, a shallow depth of field) and sharp (in-focus detail);
  a close-up of a mug has many soft blocks, a cartoon has flat ones bounded by sharp edges;
- *palette entropy* of the colour histogram: low for flat colour (cartoons, slides, UI), high for photos;
- *axis-aligned edges*: the share of strong edges that run exactly horizontal or vertical (screens,
  documents, buildings) against any direction (vegetation, people);
- *paved*: untextured blocks of neutral mid-grey (asphalt, concrete, roofs and car bodies seen from above):
  in colour footage, large grey surfaces are what built environments are made of, while paint (cartoons) is
  coloured, skies are blue and black or white backgrounds are not mid-grey.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

FLAT_STD = 2.5  # 8-bit levels: a block with less luma deviation than this has no texture
SOFT_RATIO = 0.4  # mean |Laplacian| / std below this: contrast without detail (blur, smooth shading)
SHARP_LAP = 6.0  # mean |Laplacian| above this: in-focus detail or a hard edge
PAVED_SAT = 0.15  # HSV saturation below which a block's colour is neutral grey


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
    palette_entropy: float = 0.0  # entropy of the 4-bit-per-channel colour histogram / 12 bits, 0..1
    soft_fraction: float = 0.0  # blocks with contrast but no detail (defocus, smooth shading)
    sharp_fraction: float = 0.0  # blocks with in-focus detail or hard edges
    axis_edges: float = 0.0  # share of strong gradients within 5 degrees of horizontal or vertical
    paved: float = 0.0  # share of 8x8 blocks that are flat and neutral mid-grey (asphalt, concrete)
    coloured: float = 0.0  # share of clearly coloured pixels (saturation > 0.3): none in black-and-white film
    faces: int = 0  # faces that look real (not drawn)
    face_area: float = 0.0  # largest real face, fraction of the frame
    drawn_faces: int = 0  # faces inside flat paint: cartoons, icons, UI pictures
    people: int = 0  # people in frame (person blobs, confirmed by shape or by a face; analysis/people.py)
    people_area: float = 0.0  # fraction of the frame the person blobs cover
    text_area: float = 0.0  # fraction of the frame covered by text boxes
    motion: float = 0.0  # object motion: area that moves against the camera (within the shot), 0..1
    camera_motion: float = 0.0  # camera: global displacement, fraction of the frame width per frame
    camera_speed: float = 0.0  # the same per second
    motion_valid: bool = False  # the motion pair lies within one shot, no cut, no brightness ramp

    def to_json(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def block_texture(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(luma std, mean |Laplacian|) per 8x8 block (E[x^2] - E[x]^2 on area-averaged planes)."""
    h, w = gray.shape
    bw, bh = max(1, w // 8), max(1, h // 8)  # a frame under 8 px is one block (tiny inputs)
    g32 = gray[: max(8, h // 8 * 8), : max(8, w // 8 * 8)].astype(np.float32)
    mean = cv2.resize(g32, (bw, bh), interpolation=cv2.INTER_AREA)
    sq = cv2.resize(g32 * g32, (bw, bh), interpolation=cv2.INTER_AREA)
    lap = cv2.resize(np.abs(cv2.Laplacian(g32, cv2.CV_32F)), (bw, bh), interpolation=cv2.INTER_AREA)
    return np.sqrt(np.maximum(sq - mean * mean, 0)), lap


def _palette(rgb: np.ndarray) -> tuple[float, float]:
    """(distinct 5-bit colours per pixel, entropy of the 4-bit colour histogram in 0..1)."""
    h, w = rgb.shape[:2]
    q = (rgb >> 3).astype(np.int32)
    distinct = len(np.unique(q[..., 0] * 1024 + q[..., 1] * 32 + q[..., 2]))
    q4 = (rgb >> 4).astype(np.int32)
    counts = np.bincount((q4[..., 0] * 256 + q4[..., 1] * 16 + q4[..., 2]).ravel(), minlength=4096)
    p = counts[counts > 0] / counts.sum()
    return distinct / (h * w), float(-(p * np.log2(p)).sum() / 12.0)


def _axis_edges(gray: np.ndarray) -> float:
    """Share of strong gradients that point within 5 degrees of an axis (UI, documents, buildings)."""
    g = gray.astype(np.float32)
    gx, gy = cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1)
    mag = np.hypot(gx, gy)
    strong = mag > max(40.0, float(np.percentile(mag, 90)) if mag.size else 40.0)
    if strong.sum() < 20:
        return 0.0
    ang = np.degrees(np.arctan2(np.abs(gy[strong]), np.abs(gx[strong])))  # 0..90
    return float(((ang < 5) | (ang > 85)).mean())


def _paved(rgb: np.ndarray, flat: np.ndarray) -> float:
    """Share of 8x8 blocks (`flat`: the untextured ones) whose mean colour is neutral mid-grey."""
    bh, bw = flat.shape
    hsv = cv2.cvtColor(cv2.resize(rgb, (bw, bh), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2HSV)
    sat, val = hsv[..., 1] / 255.0, hsv[..., 2] / 255.0
    return float((flat & (sat < PAVED_SAT) & (val > 0.2) & (val < 0.85)).mean())


def measure(rgb: np.ndarray, gray: np.ndarray) -> FrameFeatures:
    """Measurements of one small RGB frame (the detectors' numbers are filled in by the caller)."""
    h, w = gray.shape
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hue, sat, val = hsv[..., 0].astype(np.int16), hsv[..., 1] / 255.0, hsv[..., 2] / 255.0
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = (np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())) / 100.0
    edges = cv2.Canny(gray, 60, 160)
    block_std, block_lap = block_texture(gray)
    flat = block_std < FLAT_STD
    soft = ~flat & (block_lap < SOFT_RATIO * block_std)
    palette_ratio, palette_entropy = _palette(rgb)
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
        flat_fraction=float(flat.mean()),
        palette_ratio=float(palette_ratio),
        green=float(vegetation.mean()),
        sky=float(sky.mean()),
        line_density=float(0 if lines is None else len(lines) * 100.0 / w),
        palette_entropy=palette_entropy,
        soft_fraction=float(soft.mean()),
        sharp_fraction=float((~flat & (block_lap >= SHARP_LAP)).mean()),
        axis_edges=_axis_edges(gray),
        paved=_paved(rgb, flat),
        coloured=float(((sat > 0.3) & (val > 0.2)).mean()),
    )


def drawn_face(gray: np.ndarray, box: tuple) -> bool:
    """A face whose inner part (the middle 60 % of its box, clear of outline and hair) is mostly flat paint is
    drawn: a cartoon, an icon, a UI picture. Real skin has shading and grain: on the real faces of the labelled
    clips (akiyo, carphone, his_girl_friday, Tears of Steel, the photos) under 1 % of those blocks are flat."""
    h, w = gray.shape
    x0, y0, x1, y1 = box
    dx, dy = 0.2 * (x1 - x0), 0.2 * (y1 - y0)
    r0, r1 = max(0, int((y0 + dy) * h)), max(0, int((y1 - dy) * h))
    c0, c1 = max(0, int((x0 + dx) * w)), max(0, int((x1 - dx) * w))
    crop = gray[r0:r1, c0:c1]
    if crop.shape[0] < 8 or crop.shape[1] < 8:
        return False
    std, _ = block_texture(crop)
    return bool((std < FLAT_STD).mean() > 0.4)

"""What the shot detector keeps of each frame, and how two frames are compared.

Everything works on thumbnails far smaller than the analysis copy: a cut changes the whole picture,
so about 64 px are plenty, and small pictures make camera motion, grain and compression noise fade.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

THUMB = 64  # the cut score works on thumbnails with a long side of 64..127 px
BLEND = 16  # the dissolve test fits blends to 16..31 px vectors (tiny: motion averages out)
EDGES = 32  # structure is compared on 32..63 px luma, high-passed (grain averaged out, layout removed)
# hue (circular), saturation, value: (bins, range of OpenCV's 8-bit HSV, circular)
HIST_AXES = ((8, 180.0, True), (4, 256.0, False), (8, 256.0, False))
HIST_SIDE = 32  # the histogram is taken on a 32..63 px copy: it ignores layout, so fewer pixels suffice
TEXTURED = 1.0  # high-pass luma level (0..255) above which a pixel can count as detail...
TEXTURED_SHARE = 0.1  # ...if it also exceeds this share of the frame's strongest detail (99th percentile)

# Scales of the two halves of the cut score, set so that a typical hard cut scores about 1.0:
# a mean difference of 22 levels (Y, Cr, Cb averaged) and a histogram change of 40% of the mass.
PIXEL_SCALE = 22.0
HIST_SCALE = 0.3


def view_size(width: int, height: int) -> tuple[int, int]:
    """The colour view to give the detector of a picture analysed at (width, height) (even sizes). Half of it,
    which `features` brings to a long side of THUMB..2*THUMB-1 by an integer factor; but where that half is
    already under 2*THUMB (pictures under 256 px: QCIF's half is 88x72), a long side of THUMB: the features
    then take 40-50 % fewer pixels (QCIF cost the detector more per frame than 720p, whose 80x45 thumbnail
    comes from 160x90). On clips scaled to 176-240 px wide the cuts stay the same (bikes 5, tears_of_steel 25,
    popeye 3; none on akiyo, carphone, football; in-sample) for 0.17-0.31 ms less per frame."""
    w, h = max(2, width // 2 // 2 * 2), max(2, height // 2 // 2 * 2)
    if THUMB < max(w, h) < 2 * THUMB:
        k = THUMB / max(w, h)
        w, h = max(2, int(round(w * k / 2)) * 2), max(2, int(round(h * k / 2)) * 2)
    return w, h


def shrink(img: np.ndarray, long_side: int) -> np.ndarray:
    """Area-average by the integer factor that brings the long side to long_side..2*long_side-1
    (OpenCV's fast path: an integer factor is several times quicker than an arbitrary one)."""
    h, w = img.shape[:2]
    k = max(1, min(max(h, w) // long_side, h, w))  # a sliver (2 x 64 px) keeps at least one pixel across
    if k == 1:
        return img
    return cv2.resize(img[: h // k * k, : w // k * k], (w // k, h // k), interpolation=cv2.INTER_AREA)


@dataclass
class Features:
    ycc: np.ndarray  # (h, w, 3) uint8 YCrCb thumbnail
    hist: np.ndarray  # (bins,) float32 HSV histogram, sums to 1
    vec: np.ndarray | None  # (n,) float32 YCrCb of a BLEND-px thumbnail, flattened (Y first of each triple)
    brightness: float  # mean luma, 0..255
    detail: float | None  # mean squared Laplacian of the thumbnail's luma: edges and texture
    contrast: float | None  # std of the BLEND thumbnail's luma (these three: dissolves only, see `features`)
    edges: np.ndarray  # (n,) float32 high-passed EDGES-px luma, zero mean, unit norm (zeros if flat)
    textured: float  # share of the thumbnail that carries detail (a flat card with a caption: about 0.2)


_CORNERS = np.array([[(k >> s) & 1 for s in (2, 1, 0)] for k in range(8)])


def _axis_tables() -> list[tuple[np.ndarray, np.ndarray]]:
    """Per HIST_AXES axis, for every 8-bit value: its two nearest bins (2, 256) and their shares (2, 256),
    computed as a per-pixel float32 evaluation would: a look-up per pixel then gives the same histogram."""
    tables = []
    for n, span, circular in HIST_AXES:
        c = np.arange(256, dtype=np.float32) * np.float32(n / span) - np.float32(0.5)  # bin centres at integers
        lo = np.floor(c)
        frac = c - lo
        pair = np.stack([lo, lo + 1]).astype(np.int64)
        tables.append((pair % n if circular else np.clip(pair, 0, n - 1), np.stack([1 - frac, frac])))
    return tables


_AXIS_TABLES = _axis_tables()
_BINS = int(np.prod([a[0] for a in HIST_AXES]))


def soft_histogram(rgb: np.ndarray) -> np.ndarray:
    """HSV histogram with linear (soft) binning: each pixel's mass is shared between the two nearest bins
    of each axis. A hard-binned histogram jumps by the whole mass when a flat picture crosses a bin edge
    during a fade (every such step scored as a cut); a soft one moves in proportion to the change. The bins
    and shares of 8-bit values come from tables (a third less work per frame than computing them per pixel)."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).reshape(-1, 3)
    idx = weight = None
    for ch, ((n, _, _), (pairs, shares)) in enumerate(zip(HIST_AXES, _AXIS_TABLES)):
        pick = _CORNERS[:, ch]  # each of the 8 corners takes the lower or the upper bin of this axis
        values = hsv[:, ch]
        pair, share = np.take(pairs, values, axis=1)[pick], np.take(shares, values, axis=1)[pick]
        idx = pair if idx is None else idx * n + pair
        weight = share if weight is None else weight * share
    hist = np.bincount(idx.ravel(), weight.ravel(), minlength=_BINS)
    return (hist / max(float(hist.sum()), 1e-9)).astype(np.float32)


def _percentile99(values: np.ndarray) -> float:
    """np.percentile(values, 99), the same number, by one partial sort: numpy's general path was 40 % of the
    shot detector's per-frame work (many small Python-level steps on the analysis thread)."""
    flat = values.ravel()
    pos = (flat.size - 1) * (99 / 100)
    lo = int(pos)
    hi = min(lo + 1, flat.size - 1)
    part = np.partition(flat, (lo, hi))
    a, b, t = part[lo], part[hi], pos - lo  # numpy's linear interpolation: in the array's type, t a Python float
    return float(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t)


def features(frame: np.ndarray, gradual: bool = True) -> Features:
    """Features of one RGB (h, w, 3) uint8 frame; a grey (h, w) frame works too (no colour cues). With
    `gradual=False` what only the dissolve test reads is left out (`vec`, `detail` and `contrast` are None): a
    detector that looks for no dissolves (the encode's) does about a fifth less work per frame."""
    thumb = shrink(frame, THUMB)
    if thumb.ndim == 2:
        thumb = cv2.cvtColor(thumb, cv2.COLOR_GRAY2RGB)
    thumb = np.ascontiguousarray(thumb)
    ycc = cv2.cvtColor(thumb, cv2.COLOR_RGB2YCrCb)
    hist = soft_histogram(shrink(thumb, HIST_SIDE))
    luma = cv2.extractChannel(ycc, 0)
    vec = detail = contrast = None
    if gradual:
        vec = shrink(ycc, BLEND).astype(np.float32).ravel()
        lap = cv2.Laplacian(luma, cv2.CV_32F)
        detail, contrast = cv2.norm(lap, cv2.NORM_L2SQR) / lap.size, float(vec[0::3].std())
    small = shrink(luma, EDGES).astype(np.float32)
    edges = (small - cv2.GaussianBlur(small, (0, 0), 1.5)).ravel()
    fine = luma.astype(np.float32)
    hp = cv2.absdiff(fine, cv2.GaussianBlur(fine, (0, 0), 1.5))
    # relative to the picture's own strongest detail, so that a darker copy of a picture (a fade) is as
    # textured as the picture; the floor keeps noise on a flat frame from counting
    level = max(TEXTURED, TEXTURED_SHARE * _percentile99(hp))
    textured = float(np.count_nonzero(hp > level)) / hp.size
    edges -= edges.mean()
    norm = float(np.linalg.norm(edges))
    edges = edges / norm if norm > 1e-3 else np.zeros_like(edges)
    return Features(ycc, hist, vec, float(cv2.mean(ycc)[0]), detail, contrast, edges, textured)


def cut_score(a: Features, b: Features) -> float:
    """How different two frames are: about 1.0 for a typical hard cut, near 0 within a shot.

    Geometric mean of a pixel term (mean YCrCb difference: catches a new picture with the same
    colours) and a histogram term (catches a new palette, and ignores motion that only moves things
    around): both must change for the score to be high, which keeps fast motion, and flashes that
    brighten a few pixels, low."""
    pixel = cv2.norm(a.ycc, b.ycc, cv2.NORM_L1) / a.ycc.size / PIXEL_SCALE
    colour = 0.5 * cv2.norm(a.hist, b.hist, cv2.NORM_L1) / HIST_SCALE
    return float(np.sqrt(pixel * colour))


def structure_similarity(a: Features, b: Features) -> float:
    """Correlation of the two frames' fine structure (edges and texture, without the overall layout
    of light and dark): near 1 for the same picture made brighter or darker (a fade, a flash, a
    lighting change), near 0 for two different pictures, even with a similar layout (sky on top)."""
    return float(a.edges @ b.edges)


def presence(a: Features, b: Features, max_shift: float = 0.05) -> float:
    """How much of picture a is in picture b, in place: the peak of their phase correlation (luma
    thumbnails, Hann window), 0..1, or 0 when the peak is more than `max_shift` of the width away. The
    middle of a dissolve holds both ends where they were (a peak of about 0.5-0.9 near zero shift); the
    middle of a fast pan holds a moved picture, or none."""
    ya, yb = a.ycc[..., 0].astype(np.float32), b.ycc[..., 0].astype(np.float32)
    if min(ya.shape) < 4:
        return 0.0
    window = cv2.createHanningWindow((ya.shape[1], ya.shape[0]), cv2.CV_32F)
    (dx, dy), peak = cv2.phaseCorrelate(ya, yb, window)
    return float(peak) if np.hypot(dx, dy) <= max_shift * ya.shape[1] else 0.0

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
HIST_BINS = [8, 4, 8]  # hue, saturation, value
HIST_RANGES = [0, 180, 0, 256, 0, 256]

# Scales of the two halves of the cut score, set so that a typical hard cut scores about 1.0:
# a mean difference of 22 levels (Y, Cr, Cb averaged) and a histogram change of 40% of the mass.
PIXEL_SCALE = 22.0
HIST_SCALE = 0.4


def shrink(img: np.ndarray, long_side: int) -> np.ndarray:
    """Area-average by the integer factor that brings the long side to long_side..2*long_side-1
    (OpenCV's fast path: an integer factor is several times quicker than an arbitrary one)."""
    h, w = img.shape[:2]
    k = max(1, max(h, w) // long_side)
    if k == 1:
        return img
    return cv2.resize(img[: h // k * k, : w // k * k], (w // k, h // k), interpolation=cv2.INTER_AREA)


@dataclass
class Features:
    ycc: np.ndarray  # (h, w, 3) uint8 YCrCb thumbnail
    hist: np.ndarray  # (bins,) float32 HSV histogram, sums to 1
    vec: np.ndarray  # (n,) float32 YCrCb of a BLEND-px thumbnail, flattened (Y first of each triple)
    brightness: float  # mean luma, 0..255
    detail: float  # mean squared Laplacian of the thumbnail's luma: edges and texture
    contrast: float  # std of the BLEND thumbnail's luma
    edges: np.ndarray  # (n,) float32 high-passed EDGES-px luma, zero mean, unit norm (zeros if flat)


def features(frame: np.ndarray) -> Features:
    """Features of one RGB (h, w, 3) uint8 frame; a grey (h, w) frame works too (no colour cues)."""
    thumb = shrink(frame, THUMB)
    if thumb.ndim == 2:
        thumb = cv2.cvtColor(thumb, cv2.COLOR_GRAY2RGB)
    thumb = np.ascontiguousarray(thumb)
    ycc = cv2.cvtColor(thumb, cv2.COLOR_RGB2YCrCb)
    hist = cv2.calcHist([cv2.cvtColor(thumb, cv2.COLOR_RGB2HSV)], [0, 1, 2], None, HIST_BINS, HIST_RANGES).ravel()
    hist /= max(float(hist.sum()), 1.0)
    vec = shrink(ycc, BLEND).astype(np.float32).ravel()
    luma = ycc[..., 0]
    lap = cv2.Laplacian(luma, cv2.CV_32F)
    small = shrink(luma, EDGES).astype(np.float32)
    edges = (small - cv2.GaussianBlur(small, (0, 0), 1.5)).ravel()
    edges -= edges.mean()
    norm = float(np.linalg.norm(edges))
    edges = edges / norm if norm > 1e-3 else np.zeros_like(edges)
    return Features(ycc, hist, vec, float(cv2.mean(ycc)[0]), cv2.norm(lap, cv2.NORM_L2SQR) / lap.size,
                    float(vec[0::3].std()), edges)


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

"""Camera and object motion between two consecutive frames of one shot, for scene classes and tags.

A global similarity transform (shift, zoom, roll) is fitted to tracked corners (pyramidal Lucas-Kanade,
RANSAC); what the camera did is the mean displacement it gives over the frame, and what objects did is
the area that still differs after the previous frame is warped by it. Both frames are brought to the
same mean and contrast first, so a brightness ramp is not motion; a pair whose brightness still jumps,
or which nothing fits (a cut the shot detector missed, a flash), is marked invalid and left out of the
shot's motion statistics rather than counted as fast action.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

RAMP_LEVELS = 6.0  # mean luma change per frame (8-bit) above which a pair is a fade or flash, not motion
MOVING_LEVELS = 14.0  # compensated difference that counts as a moving pixel (above grain and coding noise)


@dataclass(frozen=True)
class PairMotion:
    camera: float  # mean displacement of the global fit, fraction of the frame width (per frame)
    moving: float  # fraction of the frame that moves against the camera
    valid: bool  # False: a cut, a flash or a brightness ramp: leave the pair out
    why: str = ""


def _normalise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`b` with `a`'s mean and contrast (gain and offset), as float32."""
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    return (b32 - b32.mean()) * (a32.std() + 1e-3) / (b32.std() + 1e-3) + a32.mean()


def _global_fit(prev: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray | None, float]:
    """(2x3 similarity from prev to cur or None, inlier share of the tracked corners)."""
    p0 = cv2.goodFeaturesToTrack(prev, maxCorners=120, qualityLevel=0.01, minDistance=4)
    if p0 is None or len(p0) < 8:
        return None, 0.0
    p1, st, _ = cv2.calcOpticalFlowPyrLK(prev, cur, p0, None, winSize=(15, 15), maxLevel=3)
    ok = st.ravel() == 1
    if ok.sum() < 8:
        return None, 0.0
    m, inliers = cv2.estimateAffinePartial2D(p0[ok], p1[ok], method=cv2.RANSAC, ransacReprojThreshold=1.5)
    if m is None:
        return None, 0.0
    return m, float(inliers.sum() / len(p0))


def pair_motion(prev: np.ndarray, cur: np.ndarray) -> PairMotion:
    """Motion from `prev` to `cur` (uint8 grey frames of the same small size, consecutive in decode order)."""
    if prev.shape != cur.shape or min(prev.shape) < 8:
        return PairMotion(0.0, 0.0, False, "size")
    h, w = cur.shape
    ramp = abs(float(cur.mean()) - float(prev.mean()))
    if ramp > RAMP_LEVELS:
        return PairMotion(0.0, 0.0, False, "brightness ramp")
    cur_n = np.clip(_normalise(prev, cur), 0, 255).astype(np.uint8)
    m, inlier_share = _global_fit(prev, cur_n)
    if m is None:  # too little structure to track (flat frames): no camera motion measurable
        m, inlier_share = np.float32([[1, 0, 0], [0, 1, 0]]), 1.0
    grid = np.float32([[x, y, 1] for x in (0, w / 2, w) for y in (0, h / 2, h)])
    camera = float(np.mean(np.hypot(*(grid @ m.T - grid[:, :2]).T)) / w)
    moved = cv2.warpAffine(prev, m, (w, h), borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    diff = cv2.GaussianBlur(np.abs(cur_n.astype(np.float32) - moved), (0, 0), 1.0)
    margin = max(1, int(round(0.03 * w)))  # the warp's border is not the scene's motion
    moving = float((diff[margin:-margin, margin:-margin] > MOVING_LEVELS).mean())
    if moving > 0.6 and inlier_share < 0.3:  # nothing fits and nearly everything differs: a cut
        return PairMotion(camera, moving, False, "no fit")
    return PairMotion(camera, moving, True)

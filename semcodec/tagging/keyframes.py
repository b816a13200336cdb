"""Representative, non-redundant keyframes: sharp, well exposed, showing what matters, and different
from each other, instead of every Nth frame."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass
class Candidate:
    index: int
    time: float
    thumb: np.ndarray  # small RGB
    score: float  # quality of this frame as a keyframe, 0..1
    hist: np.ndarray  # normalised HSV histogram, for redundancy
    parts: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"frame": self.index, "time": round(self.time, 3), "score": round(self.score, 3),
                **{k: round(v, 3) for k, v in self.parts.items()}}


def frame_quality(rgb: np.ndarray, gray: np.ndarray, importance: float) -> tuple[float, dict]:
    """Sharpness (variance of the Laplacian, saturating), exposure, and importance (faces, text)."""
    lap = cv2.Laplacian(gray, cv2.CV_32F).var()
    sharp = float(lap / (lap + 150.0))
    mean = gray.mean() / 255.0
    exposure = float(np.clip(1.0 - abs(mean - 0.45) / 0.45, 0.0, 1.0)) ** 0.5
    contrast = float(np.clip(gray.std() / 50.0, 0.0, 1.0))
    score = sharp * (0.35 + 0.65 * exposure) * (0.5 + 0.5 * contrast) * (0.6 + 0.4 * importance)
    return score, {"sharpness": sharp, "exposure": exposure, "importance": importance}


def colour_hist(rgb: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    h = cv2.calcHist([hsv], [0, 1, 2], None, [12, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    return (h / max(h.sum(), 1.0)).astype(np.float32)


def similarity(a: Candidate, b: Candidate) -> float:
    """Histogram intersection, 0 (nothing shared) .. 1 (same colours)."""
    return float(np.minimum(a.hist, b.hist).sum())


def select(per_shot: list[tuple[float, list[Candidate]]], budget: int, redundant: float = 0.82) -> list[Candidate]:
    """`per_shot`: (duration, candidates) per shot. Greedy: the best frame of each shot first, longest
    shots first while the budget lasts; then the remaining candidates by score. A candidate that looks
    like an already chosen keyframe (colour-histogram intersection above `redundant`) is skipped."""
    chosen: list[Candidate] = []

    def fits(c: Candidate) -> bool:
        return all(similarity(c, k) < redundant for k in chosen)

    for _, cands in sorted((s for s in per_shot if s[1]), key=lambda s: -s[0]):
        if len(chosen) >= budget:
            break
        best = max(cands, key=lambda x: x.score)
        if fits(best):
            chosen.append(best)
    taken = {id(c) for c in chosen}
    for c in sorted((c for _, cands in per_shot for c in cands if id(c) not in taken), key=lambda c: -c.score):
        if len(chosen) >= budget:
            break
        if fits(c):
            chosen.append(c)
    return sorted(chosen, key=lambda c: c.index)

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


def visible(gray: np.ndarray) -> bool:
    """Not black and not blank: a keyframe must show something (mean level and contrast, 0..255)."""
    return float(gray.mean()) >= 20.0 and float(gray.std()) >= 4.0


def thin_out(cands: list[Candidate], limit: int) -> None:
    """Keep at most `limit` candidates, evenly over time: while there are too many, of the two closest in
    time the weaker goes. (Dropping the weakest overall let a long shot's candidates bunch up at its end.)"""
    while len(cands) > limit:
        cands.sort(key=lambda c: c.index)
        # the closest pair (to a tenth of a second: samples are evenly spaced), the weakest of those
        i = min(range(len(cands) - 1), key=lambda j: (round(cands[j + 1].time - cands[j].time, 1),
                                                      min(cands[j].score, cands[j + 1].score)))
        cands.remove(min(cands[i], cands[i + 1], key=lambda c: c.score))


def colour_hist(rgb: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    h = cv2.calcHist([hsv], [0, 1, 2], None, [12, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    return (h / max(h.sum(), 1.0)).astype(np.float32)


def similarity(a: Candidate, b: Candidate) -> float:
    """Histogram intersection, 0 (nothing shared) .. 1 (same colours)."""
    return float(np.minimum(a.hist, b.hist).sum())


SPREAD_S = 5.0  # a long shot gets one keyframe per this many seconds, spread over it, budget allowing


def select(per_shot: list[tuple[float, list[Candidate]]], budget: int, redundant: float = 0.82,
           spread_s: float = SPREAD_S) -> list[Candidate]:
    """`per_shot`: (duration, candidates) per shot. Greedy: the best frame of each shot first, longest
    shots first while the budget lasts (a candidate that looks like an already chosen keyframe, colour-
    histogram intersection above `redundant`, is skipped); then long shots get one more keyframe per
    `spread_s` seconds, each time the fair candidate (a quarter of the shot's best score or more) farthest
    in time from the shot's keyframes; then the remaining candidates by score, look-alikes skipped."""
    chosen: list[Candidate] = []
    shots = sorted((s for s in per_shot if s[1]), key=lambda s: -s[0])

    def fits(c: Candidate) -> bool:
        return all(similarity(c, k) < redundant for k in chosen)

    for _, cands in shots:
        if len(chosen) >= budget:
            break
        best = max(cands, key=lambda x: x.score)
        if fits(best):
            chosen.append(best)
    while len(chosen) < budget:
        pick = _farthest(shots, chosen, spread_s)
        if pick is None:
            break
        chosen.append(pick)
    taken = {id(c) for c in chosen}
    for c in sorted((c for _, cands in per_shot for c in cands if id(c) not in taken), key=lambda c: -c.score):
        if len(chosen) >= budget:
            break
        if fits(c):
            chosen.append(c)
    return sorted(chosen, key=lambda c: c.index)


def _farthest(shots: list[tuple[float, list[Candidate]]], chosen: list[Candidate], spread_s: float
              ) -> Candidate | None:
    """The next spreading keyframe: over shots still under their quota (1 + duration / spread_s), the
    good candidate farthest in time (at least spread_s / 2) from that shot's keyframes."""
    taken = {id(c) for c in chosen}
    best: tuple[float, Candidate] | None = None
    for duration, cands in shots:
        mine = [c for c in cands if id(c) in taken]
        if not mine or len(mine) >= 1 + int(duration // spread_s):
            continue
        top = max(c.score for c in cands)
        for c in cands:
            if id(c) in taken or c.score < 0.25 * top:
                continue
            gap = min(abs(c.time - k.time) for k in mine)
            if gap >= spread_s / 2 and (best is None or gap > best[0]):
                best = (gap, c)
    return best[1] if best else None

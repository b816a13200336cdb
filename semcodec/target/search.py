"""CRF search on one shot, ab-av1 / Av1an style: probe a CRF, measure, interpolate CRF against each metric,
probe again, and keep the largest CRF whose score meets every goal. The probing is `probe(crf) -> scores`;
this module only decides which CRF to try next and which to choose (pure, so it is tested on exact curves)."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from semcodec.target.spec import Goal, Metric, TargetSpec

Scores = dict  # metric -> pooled score, or None where a metric has nothing to measure (no face in the samples)
# how fast each metric falls per CRF step when only one point is known (x264 near the usual targets); only the
# first step uses it, later ones use the measured slope
SLOPE_GUESS = {"vmaf": 1.3, "roi_vmaf": 1.3, "face_psnr": 0.45}
MAX_STEP = 10.0  # largest extrapolation step in CRF


@dataclass
class Choice:
    crf: float
    met: bool
    predicted: Scores  # the scores expected at `crf` (probed, or interpolated between two probes)
    interpolated: bool
    best: Scores = field(default_factory=dict)  # when not met: the best scores reached (lowest CRF probed)
    best_crf: float | None = None


def passes(scores: Scores, goals: tuple[Goal, ...]) -> bool:
    return all(scores.get(g.metric) is None or scores[g.metric] >= g.value for g in goals)


def _crossing(points: dict[float, Scores], metric: Metric, value: float) -> float | None:
    """The CRF at which `metric` crosses `value`: interpolated between the probes that bracket it, else
    extrapolated from the two nearest probes (the guessed slope with one)."""
    pts = sorted((c, s[metric]) for c, s in points.items() if s.get(metric) is not None)
    if not pts:
        return None
    for (c1, v1), (c2, v2) in zip(pts, pts[1:]):
        if v1 >= value > v2:
            return c1 + (v1 - value) * (c2 - c1) / (v1 - v2)
    ends = pts[-2:] if pts[-1][1] >= value else pts[:2]
    slope = SLOPE_GUESS[metric]
    if len(ends) == 2 and ends[1][1] < ends[0][1]:
        slope = (ends[0][1] - ends[1][1]) / (ends[1][0] - ends[0][0])
    c, v = ends[-1] if pts[-1][1] >= value else ends[0]
    step = max(-MAX_STEP, min(MAX_STEP, (v - value) / slope))
    return c + step


def estimate(points: dict[float, Scores], goals: tuple[Goal, ...]) -> float | None:
    """The largest CRF every goal allows (the binding goal's crossing)."""
    found = [c for g in goals if (c := _crossing(points, g.metric, g.value)) is not None]
    return min(found) if found else None


def _bracket(points: dict[float, Scores], goals) -> tuple[float | None, float | None]:
    """(largest passing CRF, smallest failing CRF above it)."""
    ok = [c for c, s in points.items() if passes(s, goals)]
    good = max(ok) if ok else None
    bad = [c for c, s in points.items() if not passes(s, goals) and (good is None or c > good)]
    return good, (min(bad) if bad else None)


def propose(points: dict[float, Scores], goals, lo: float, hi: float) -> float | None:
    """The next whole CRF to probe, or None when the search has converged or cannot gain."""
    good, bad = _bracket(points, goals)
    if good is not None and (good >= hi or (bad is not None and bad - good <= 1)):
        return None
    if good is None and min(points) <= lo:
        return None  # fails even at the lowest CRF allowed
    est = estimate(points, goals)
    if est is None:  # nothing measurable at all (a face goal on a shot without faces): any CRF passes
        return None if good is not None and good >= hi else hi
    cand = float(math.floor(est))
    if good is not None:
        cand = max(cand, good + 1)
    if bad is not None:
        cand = min(cand, bad - 1)
    cand = min(hi, max(lo, cand))
    return None if cand in points else cand


def _interpolate(points: dict[float, Scores], a: float, b: float, crf: float) -> Scores:
    t = (crf - a) / (b - a)
    return {m: None if points[a].get(m) is None or points[b].get(m) is None
            else points[a][m] + t * (points[b][m] - points[a][m]) for m in points[a]}


def choose(points: dict[float, Scores], goals, resolution: float = 1.0) -> Choice:
    """The largest CRF meeting every goal: a probed one, or between the last passing and the first failing
    probe by interpolation (at `resolution`). None met: the lowest CRF probed, with met False."""
    good, bad = _bracket(points, goals)
    if good is None:
        low = min(points)
        return Choice(low, False, points[low], False, best=points[low], best_crf=low)
    if bad is not None and bad - good > resolution:
        est = estimate({good: points[good], bad: points[bad]}, goals)
        crf = math.floor((est if est is not None else good) / resolution) * resolution
        if good < crf < bad:
            return Choice(crf, True, _interpolate(points, good, bad, crf), True)
    return Choice(good, True, points[good], False)


def search(probe: Callable[[float], Scores], spec: TargetSpec, codec: str, start: float,
           resolution: float = 1.0) -> tuple[Choice, dict[float, Scores]]:
    """Probe from `start` until converged or spec.max_probes CRFs are scored; returns the choice and the probes."""
    lo, hi = spec.crf_range(codec)
    points: dict[float, Scores] = {}
    crf: float | None = min(hi, max(lo, float(round(start))))
    while crf is not None and len(points) < spec.max_probes:
        points[crf] = probe(crf)
        crf = propose(points, spec.goals, lo, hi)
    return choose(points, spec.goals, resolution), points

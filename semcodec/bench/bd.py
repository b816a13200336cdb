"""Bjøntegaard delta (BD-rate, BD-quality) between two rate-quality curves.

Computed with the `bjontegaard` package (FAU-LMS, BSD-3) using PCHIP interpolation by default, the
method of the JCT-VC/JVET common test conditions (it matches their Excel sheet), or Akima
interpolation: the curves are interpolated in (log10 rate, quality) and integrated over the interval
where both exist. BD-rate is the average rate difference of the test curve against the anchor at equal
quality, in percent (negative: the test needs fewer bits); BD-quality is the average quality difference
at equal rate, in the metric's unit (positive: the test is better).

A number is only given where it means something: at least MIN_POINTS rate points per curve (the
common test conditions use 4), distinct rates, and, for BD-rate, quality rising strictly with rate
(otherwise "rate at a given quality" is not a function). Otherwise the value is None with a note.
"""
from __future__ import annotations

import math
import re
import warnings

import numpy as np

MIN_POINTS = 4
METHODS = ("pchip", "akima")


def _curve(points: list[tuple[float, float | None]]) -> tuple[np.ndarray, np.ndarray, str | None]:
    if any(q is None or r is None or not math.isfinite(q) for r, q in points):
        return np.array([]), np.array([]), "metric missing at some points"
    pts = sorted(points)
    rates, quality = np.array([p[0] for p in pts], float), np.array([p[1] for p in pts], float)
    if len(pts) < MIN_POINTS:
        return rates, quality, f"BD needs >= {MIN_POINTS} rate points per curve (has {len(pts)})"
    if np.any(rates <= 0) or np.any(np.diff(rates) <= 0):
        return rates, quality, "rates must be positive and distinct"
    return rates, quality, None


def bd(anchor: list[tuple[float, float | None]], test: list[tuple[float, float | None]],
       method: str = "pchip") -> dict:
    """BD-rate (%) and BD-quality of `test` against `anchor`; each curve is [(rate, quality), ...]."""
    import bjontegaard  # imports matplotlib.pyplot; kept out of module import time

    if method not in METHODS:
        raise ValueError(f"BD method must be one of {METHODS}")
    out = {"bd_rate_pct": None, "bd_quality": None, "method": method, "note": None}
    (ra, qa, why_a), (rt, qt, why_t) = _curve(anchor), _curve(test)
    if why_a or why_t:
        out["note"] = why_a or why_t
        return out
    notes = []
    quality = _call(bjontegaard.bd_psnr, "BD-quality", "rate", notes, ra, qa, rt, qt, method)
    rate = math.nan
    if np.all(np.diff(qa) > 0) and np.all(np.diff(qt) > 0):
        rate = _call(bjontegaard.bd_rate, "BD-rate", "quality", notes, ra, qa, rt, qt, method)
    else:
        notes.append("quality does not rise strictly with rate: no BD-rate")
    out["bd_rate_pct"] = float(rate) if math.isfinite(rate) else None
    out["bd_quality"] = float(quality) if math.isfinite(quality) else None
    out["note"] = "; ".join(notes) or None
    return out


def _call(fn, what: str, axis: str, notes: list, *args) -> float:
    """Call a bjontegaard function, turning its warnings (little or no overlap) into short notes."""
    *curves, method = args
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = fn(*curves, method=method, require_matching_points=False)
    for w in caught:
        found = re.search(r"overlap: '([0-9.]+)'", str(w.message))
        if found:
            notes.append(f"{what}: the curves share only {float(found.group(1)):.0f}% of their {axis} range")
        elif "do not overlap" in str(w.message):
            notes.append(f"{what}: the curves do not overlap in {axis}")
        else:
            notes.append(f"{what}: {w.message}")
    return float(value)

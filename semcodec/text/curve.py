"""The emotion curve over a video and the per-frame quantizer offsets it asks for.

1. Step curve: at each frame, the intensity of the strongest cue on screen (0 where none is).
   Cue edges within `snap_s` of a shot cut move onto the cut, so quality changes where the picture
   changes anyway.
2. Smoothing: a Gaussian (sigma `sigma_s`) inside each shot, never across a cut, so a cue fades in and
   out over about half a second and quality does not pump from line to line.
3. Scaling: the curve is stretched to [0, 1] over the video (by its range, but never by less than
   `min_range`, so a nearly flat curve stays nearly flat), times `strength` QP.
4. Balance: a constant shift makes the offsets zero-mean in the rate domain,
   sum_i dt_i * 2^(-dq_i / 6) == sum_i dt_i, the same model the block allocator uses; at the same CRF
   the file keeps its size, the intense moments take bits from the calm ones. The curve is known
   before encoding (subtitles are read up front), so the balance is over the whole video.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

SIGMA_S = 0.2  # Gaussian smoothing inside a shot: a cue edge ramps over about 0.5 s
SNAP_S = 0.5  # cue edges this close to a cut move onto it
MIN_RANGE = 0.25  # curves flatter than this are not stretched to full strength
DEFAULT_STRENGTH = 4.0  # QP between the calmest and the most intense moment


@dataclass
class EmotionCurve:
    times: np.ndarray  # frame presentation times (s), sorted
    step: np.ndarray  # strongest cue intensity per frame
    smooth: np.ndarray  # after the in-shot Gaussian
    offsets: np.ndarray  # QP per frame (negative = more bits), rate-balanced
    strength: float
    shift: float  # the balancing shift (QP)
    cuts: list  # cut times used

    def index_at(self, t: float) -> int:
        i = int(np.searchsorted(self.times, t))
        if i >= len(self.times):
            return len(self.times) - 1
        if i > 0 and t - self.times[i - 1] < self.times[i] - t:
            return i - 1
        return i

    def offset_at(self, t: float) -> float:
        return float(self.offsets[self.index_at(t)]) if len(self.offsets) else 0.0

    def emotion_at(self, t: float) -> float:
        return float(self.smooth[self.index_at(t)]) if len(self.smooth) else 0.0

    def rate_balance(self) -> float:
        """sum(dt * 2^(-dq/6)) / sum(dt): 1.0 when balanced."""
        dt = frame_durations(self.times)
        return float((dt * np.exp2(-self.offsets / 6)).sum() / dt.sum()) if len(dt) else 1.0

    def summary(self) -> dict:
        if not len(self.offsets):
            return {"frames": 0}
        return {"frames": int(len(self.offsets)), "strength_qp": self.strength,
                "offset_qp_min": round(float(self.offsets.min()), 3),
                "offset_qp_max": round(float(self.offsets.max()), 3),
                "peak_to_peak_qp": round(float(self.offsets.max() - self.offsets.min()), 3),
                "balance_shift_qp": round(self.shift, 3), "rate_balance": round(self.rate_balance(), 5),
                "emotion_mean": round(float(self.smooth.mean()), 4),
                "emotion_max": round(float(self.smooth.max()), 4),
                "frames_more_bits": int((self.offsets < -1e-6).sum()),
                "sigma_s": SIGMA_S, "cuts_s": [round(c, 3) for c in self.cuts]}


def frame_durations(times: np.ndarray) -> np.ndarray:
    if len(times) < 2:
        return np.ones(len(times))
    d = np.diff(times)
    med = float(np.median(d)) if len(d) else 1.0
    return np.clip(np.append(d, med), 1e-3, 10 * med if med > 0 else 1.0)


def _snap(t: float, cuts: list, snap_s: float) -> float:
    i = bisect.bisect_left(cuts, t)
    best, best_d = t, snap_s
    for j in (i - 1, i):
        if 0 <= j < len(cuts) and abs(cuts[j] - t) <= best_d:
            best, best_d = cuts[j], abs(cuts[j] - t)
    return best


def step_curve(cues, times: np.ndarray, cuts: list, snap_s: float = SNAP_S) -> np.ndarray:
    """Per frame, the intensity of the strongest cue covering it (cue edges snapped to cuts)."""
    e = np.zeros(len(times), np.float32)
    for c in cues:
        value = float(c.emotion.get("intensity", 0.0)) if c.emotion else 0.0
        if value <= 0:
            continue
        start, end = _snap(c.start, cuts, snap_s), _snap(c.end, cuts, snap_s)
        if end <= start:
            continue
        a, b = np.searchsorted(times, [start, end], side="left")
        if b > a:
            np.maximum(e[a:b], value, out=e[a:b])
    return e


def smooth_in_shots(e: np.ndarray, times: np.ndarray, cuts: list, sigma_s: float = SIGMA_S) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    if not len(e):
        return e
    dt = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    sigma = sigma_s / dt if dt > 0 else 0.0
    out = e.astype(np.float64).copy()
    bounds = sorted({0, len(e), *[int(np.searchsorted(times, c)) for c in cuts]})
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b - a > 1 and sigma > 0:
            out[a:b] = gaussian_filter1d(out[a:b], sigma, mode="nearest")
    return out.astype(np.float32)


def balance(raw: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, float]:
    """raw + shift with sum(w * 2^(-(raw + shift)/6)) == sum(w)."""
    if not len(raw):
        return raw, 0.0
    shift = 6.0 * np.log2(float((weights * np.exp2(-raw / 6.0)).sum() / weights.sum()))
    return (raw + shift).astype(np.float32), float(shift)


def build_curve(cues, times, strength: float = DEFAULT_STRENGTH, cuts=(), sigma_s: float = SIGMA_S,
                snap_s: float = SNAP_S, min_range: float = MIN_RANGE) -> EmotionCurve:
    times = np.asarray(times, np.float64)
    cuts = sorted(float(c) for c in cuts)
    step = step_curve(cues, times, cuts, snap_s)
    smooth = smooth_in_shots(step, times, cuts, sigma_s)
    if len(smooth):
        lo, hi = float(smooth.min()), float(smooth.max())
        norm = (smooth - lo) / max(hi - lo, min_range)
    else:
        norm = smooth
    offsets, shift = balance(-float(strength) * norm.astype(np.float64), frame_durations(times))
    return EmotionCurve(times, step, smooth, offsets, float(strength), shift, cuts)

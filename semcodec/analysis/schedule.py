"""How often each analyzer runs: its cost weighed against the encoder's, so analysis stays a fixed share of the
encode at any frame size, codec and preset.

An encoder's work grows with the frame's pixels; most analyzers cost the same at any source size (they look at a
320 px copy, or a fixed network input). Fixed strides made a QCIF encode 3-7x slower with the map than without,
a 720p one 1.3x. Here every analyzer states what one run costs, the encoder what one frame costs
(semcodec.encoding.cost; CPU ms on the machine the constants were measured on, x86_64, 2 cores: only their ratios
matter), and each analyzer's
stride is stretched from its own by one common factor until the analysis fits ANALYSIS_SHARE of the encoder's
work, but never past the analyzer's own limit in seconds (a face held for longer than that may have moved).
The strides follow from the settings alone, so two runs with the same settings make the same maps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from semcodec.analysis.base import Analyzer

# analysis CPU at most this share of the encoder's CPU per frame: on two cores, with the encoder busy on both,
# it is also about the wall time the map adds
ANALYSIS_SHARE = 0.10
# early renewals of held results on a moving picture (semcodec.analysis.fusion) may spend this share of the
# encoder's CPU on top of what the planned runs leave of ANALYSIS_SHARE: together at most 15 % on an uncapped plan
RENEW_SHARE = 0.05

@dataclass(frozen=True)
class Schedule:
    """The strides chosen for one encode, and what they were weighed against."""

    strides: dict[str, int]
    encoder_ms: float  # estimated encoder CPU ms per frame
    analysis_ms: float  # estimated analysis CPU ms per frame at these strides
    renew_ms: float = 0.0  # estimated CPU ms per frame that early renewals may spend (fusion.ImportanceMapper)

    def to_json(self) -> dict:
        return {"strides": dict(self.strides), "encoder_ms_per_frame": round(self.encoder_ms, 2),
                "analysis_ms_per_frame": round(self.analysis_ms, 2), "share_target": ANALYSIS_SHARE,
                "renewal_ms_per_frame": round(self.renew_ms, 2)}


def plan_strides(analyzers: list[Analyzer], analysis_size: tuple[int, int], encoder_ms: float, fps: float,
                 share: float = ANALYSIS_SHARE) -> Schedule:
    """Strides for `analyzers` on frames analysed at `analysis_size`: each analyzer's own stride times the
    smallest common factor that brings the analysis within `share` of `encoder_ms`, each capped at the
    analyzer's `max_stride_s` (never below its own stride). When even the caps do not fit, the caps."""
    w, h = analysis_size
    costs = {a.name: max(0.0, a.cost_ms(w, h)) for a in analyzers}
    caps = {a.name: max(a.stride, int(a.max_stride_s * fps)) for a in analyzers}

    def strides_at(factor: float) -> dict[str, int]:
        return {a.name: min(caps[a.name], max(a.stride, math.ceil(a.stride * factor - 1e-9))) for a in analyzers}

    def cost_at(strides: dict[str, int]) -> float:
        return sum(costs[n] / s for n, s in strides.items())

    budget = share * encoder_ms
    lo, hi = 1.0, max([1.0] + [caps[a.name] / a.stride for a in analyzers])
    if cost_at(strides_at(lo)) > budget:
        for _ in range(40):  # bisection on the common factor: cost falls as the factor grows
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if cost_at(strides_at(mid)) <= budget else (mid, hi)
        lo = hi
    strides = strides_at(lo)
    planned = cost_at(strides)
    return Schedule(strides, encoder_ms, planned, max(0.0, budget - planned) + RENEW_SHARE * encoder_ms)

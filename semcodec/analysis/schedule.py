"""How often each analyzer runs: its cost weighed against the encoder's, so analysis stays a fixed share of the
encode at any frame size, codec and preset.

An encoder's work grows with the frame's pixels; most analyzers cost the same at any source size (they look at a
320 px copy, or a fixed network input). Fixed strides made a QCIF encode 3-7x slower with the map than without,
a 720p one 1.3x. Here every analyzer states what one run costs, the encoder what one frame costs (CPU ms on
the machine the constants were measured on, x86_64, 2 cores: only their ratios matter), and each analyzer's
stride is stretched from its own by one common factor until the analysis fits ANALYSIS_SHARE of the encoder's
work, but never past the analyzer's own limit in seconds (a face held for longer than that may have moved).
The strides follow from the settings alone, so two runs with the same settings make the same maps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from semcodec.analysis.base import Analyzer
from semcodec.encoding.codecs import CAPABILITIES

# analysis CPU at most this share of the encoder's CPU per frame: on two cores, with the encoder busy on both,
# it is also about the wall time the map adds
ANALYSIS_SHARE = 0.10

# x264 medium, CPU ns per source pixel per frame (his_girl_friday 640x480: 43; QCIF akiyo 47; 720p BBB 40)
X264_MEDIUM_NS_PER_PIXEL = 42.0
# CPU per frame against x264 medium, measured on 100 frames of his_girl_friday (PyAV, one process, 2 cores)
PRESET_COST = {
    "libx264": {"ultrafast": 0.17, "superfast": 0.27, "veryfast": 0.41, "faster": 0.77, "fast": 0.9, "medium": 1.0,
                "slow": 1.41, "slower": 2.47, "veryslow": 5.0, "placebo": 15.0},
    "libx265": {"ultrafast": 1.0, "superfast": 1.2, "veryfast": 1.42, "faster": 1.6, "fast": 1.8, "medium": 2.1,
                "slow": 5.5, "slower": 12.0, "veryslow": 25.0, "placebo": 60.0},
}


def encoder_ms_per_frame(codec: str, preset: str | None, width: int, height: int) -> float:
    """Estimated encoder CPU milliseconds for one frame of this size (reference machine); preset None: the
    codec's default."""
    caps = CAPABILITIES.get(codec)
    preset = str(preset or (caps.default_preset if caps else "medium"))
    if codec in PRESET_COST:
        factor = PRESET_COST[codec].get(preset, 1.0)
    elif codec == "libvpx-vp9":  # realtime mode, cpu-used 5..8: 1.03 at 5, 0.50 at 8
        factor = 1.03 * 0.79 ** (_number(preset, 5) - 5)
    elif codec == "libsvtav1":  # 2.47 at preset 6, 1.41 at 8, 0.76 at 10
        factor = 2.47 * 0.75 ** (_number(preset, 10) - 6)
    else:
        factor = 1.0
    return X264_MEDIUM_NS_PER_PIXEL * 1e-6 * width * height * factor


def _number(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default


@dataclass(frozen=True)
class Schedule:
    """The strides chosen for one encode, and what they were weighed against."""

    strides: dict[str, int]
    encoder_ms: float  # estimated encoder CPU ms per frame
    analysis_ms: float  # estimated analysis CPU ms per frame at these strides

    def to_json(self) -> dict:
        return {"strides": dict(self.strides), "encoder_ms_per_frame": round(self.encoder_ms, 2),
                "analysis_ms_per_frame": round(self.analysis_ms, 2), "share_target": ANALYSIS_SHARE}


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
    return Schedule(strides, encoder_ms, cost_at(strides))

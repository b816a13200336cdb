"""FramePlanner: one analysis frame in, one QpMap out. It owns every rule that shapes a frame's offsets:
the shot plan's per-class strength and analyzer emphasis, the keyframe boost, the text's region gain and
emotion frame offset, and how a whole-frame offset survives the allocator's rounding."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semcodec.allocation.allocator import Allocator
from semcodec.analysis.base import AnalysisFrame
from semcodec.analysis.fusion import ImportanceMapper
from semcodec.encoding.qpmap import QpMap
from semcodec.planning import ShotPlan
from semcodec.text.guide import TextGuide


@dataclass(frozen=True)
class FramePlan:
    importance: np.ndarray  # [0, 1] at analysis size
    qp: QpMap


# The map's strength is scaled down when its importance covers more than this share of the frame (mean
# importance, smoothed over about COVERAGE_FRAMES frames): the bits a map moves grow with the area it favours,
# so a face filling a QCIF frame gets a gentler map than small faces in a wide shot. Chosen as one eighth of the
# frame; the dialogue clips' maps sit near it, the QCIF talking heads at 0.17-0.24 (in-sample).
COVERAGE_REF = 0.125
COVERAGE_FRAMES = 12


class FramePlanner:
    def __init__(self, mapper: ImportanceMapper, allocator: Allocator, block: int,
                 plan: ShotPlan | None = None, text: TextGuide | None = None, adapt_strength: bool = True):
        self.mapper, self.allocator, self.block = mapper, allocator, block
        self.plan, self.text = plan, text
        self.adapt_strength = adapt_strength
        self._prev_gray: np.ndarray | None = None
        self._coverage: float | None = None
        # whole-frame QP added to every map (semcodec.pipeline.ratefit: CRF rate neutrality); after the
        # allocator, so its block limits do not cut it
        self.rate_offset = 0.0

    def reset(self) -> None:
        """Before each pass: the mapper's temporal state starts afresh."""
        self.mapper.reset()
        self._prev_gray = None
        self._coverage = None

    def __call__(self, af: AnalysisFrame) -> FramePlan:
        scale, weights, boost = 1.0, None, 0.0
        if self.plan is not None:
            (scale, weights), boost = self.plan.rules(af.index), self.plan.boost(af.index)
        importance = self.mapper(af, weights)
        if self.text is not None:  # regions the text names get more importance; the emotion curve a frame offset
            importance, gain = self.text.apply(importance, self.mapper.last_regions, af.time, af.index)
            scale *= gain
            boost += self.text.frame_offset(af.time)
        if self.adapt_strength:
            scale *= self._coverage_scale(importance)
        lift = self._lift(boost)
        dq = self.allocator.offsets(importance, af.gray, strength_scale=scale, frame_offset=boost - lift,
                                    prev_gray=self._prev_gray)
        self._prev_gray = af.gray
        lift += self.rate_offset  # not rounded: a constant adds no distinct values to the map
        if lift:
            dq = dq + np.float32(lift)
        return FramePlan(importance, QpMap(dq, self.block))

    def _coverage_scale(self, importance: np.ndarray) -> float:
        mean = float(importance.mean())
        c = self._coverage
        self._coverage = mean if c is None else c + (mean - c) / COVERAGE_FRAMES
        return min(1.0, COVERAGE_REF / max(self._coverage, 1e-6))

    def _lift(self, boost: float) -> float:
        """The part of a positive whole-frame offset added after the allocator, so its block limit does not
        cut it; rounded to the allocator's step so the map stays a few distinct values (not for encoders
        with a level limit, whose levels it would overflow)."""
        if boost <= 0 or self.text is None or self.allocator.levels is not None:
            return 0.0
        return self._rounded(boost)

    def _rounded(self, qp: float) -> float:
        step = self.allocator.step
        return float(np.rint(qp / step) * step) if step else qp

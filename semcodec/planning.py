"""Shot-aware encoding decisions from a tag result (`semcodec tag` JSON, or one made on the fly).

Per shot: a keyframe (IDR) at its first frame, an ROI strength and analyzer emphasis chosen from its
scene class; per selected keyframe: a short window of extra bits. Whole video: an x264/x265 tune
when one class dominates. Every decision is listed in the encode report, with its reason.
"""
from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field

from semcodec.errors import SemcodecError

# scene class -> (ROI strength factor, analyzer weight factors, why)
CLASS_RULES = {
    "talking_head": (1.25, {"faces": 1.0}, "faces are the subject: stronger face ROI"),
    "people": (1.1, {"faces": 1.0, "objects": 1.0}, "people are the subject"),
    "sports_action": (0.9, {"motion": 1.5}, "fast action: favour moving objects, spread bits"),
    "landscape_nature": (0.6, {"saliency": 1.2}, "no single subject: gentler map"),
    "vehicles_street": (1.0, {"objects": 1.2, "motion": 1.2}, "vehicles and moving objects"),
    "animation": (0.8, {}, "flat colours and sharp edges: gentler map"),
    "screen_content": (1.0, {"text": 1.4}, "text must stay legible: text regions protected"),
    "other": (1.0, {}, "default"),
}
# a tune applies to the whole stream, so it is chosen only when one class covers most of the video
TUNES = {"libx264": {"animation": "animation"}, "libx265": {"animation": "animation"}}
KEYFRAME_BOOST_QP = 2.0  # finer quantiser around each selected keyframe
KEYFRAME_WINDOW_S = 0.25


@dataclass
class ShotPlan:
    starts: list  # first frame of each shot
    classes: list
    keyframes: list  # frame numbers of selected keyframes
    fps: float
    decisions: list = field(default_factory=list)
    tune: str | None = None

    @classmethod
    def from_tags(cls, tags: dict, codec: str) -> ShotPlan:
        if tags.get("schema") != "semcodec.tags/1":
            raise SemcodecError(f"not a semcodec tag file (schema {tags.get('schema')!r}, expected semcodec.tags/1)")
        try:
            shots = sorted(tags["shots"], key=lambda s: s["start_frame"])
            plan = cls([s["start_frame"] for s in shots], [s["scene"]["class"] for s in shots],
                       sorted(k["frame"] for k in tags.get("keyframes", [])), float(tags["video"]["fps"]))
            durations = [s["end_time"] - s["start_time"] for s in shots]
        except (KeyError, TypeError, ValueError) as exc:
            raise SemcodecError(f"tag file is missing a field: {exc}") from None
        for s in shots:
            factor, weights, why = CLASS_RULES.get(s["scene"]["class"], CLASS_RULES["other"])
            plan.decisions.append({"shot": s["index"], "start_frame": s["start_frame"], "class": s["scene"]["class"],
                                   "keyframe": "IDR at first frame" if s["start_frame"] else "stream start",
                                   "roi_strength_factor": factor, "analyzer_weights": weights, "why": why})
        total = sum(durations) or 1.0
        share: dict = {}
        for c, d in zip(plan.classes, durations):
            share[c] = share.get(c, 0.0) + d / total
        top = max(share, key=share.get) if share else None
        plan.tune = TUNES.get(codec, {}).get(top) if top and share[top] >= 0.6 else None
        if plan.tune:
            plan.decisions.append({"video": True, "tune": plan.tune,
                                   "why": f"{top} covers {share[top]:.0%} of the duration"})
        if plan.keyframes:
            plan.decisions.append({"video": True, "keyframe_boost_qp": KEYFRAME_BOOST_QP,
                                   "window_s": KEYFRAME_WINDOW_S, "keyframes": plan.keyframes,
                                   "why": "selected keyframes are the moments people look at"})
        return plan

    @classmethod
    def load(cls, path: str, codec: str) -> ShotPlan:
        try:
            with open(path) as f:
                tags = json.load(f)
        except OSError as exc:
            raise SemcodecError(f"cannot read tag file {path}: {exc.strerror}") from None
        except ValueError as exc:
            raise SemcodecError(f"tag file {path} is not valid JSON: {exc}") from None
        return cls.from_tags(tags, codec)

    def shot_at(self, frame: int) -> int:
        return max(0, bisect.bisect_right(self.starts, frame) - 1)

    def is_shot_start(self, frame: int) -> bool:
        i = bisect.bisect_left(self.starts, frame)
        return frame > 0 and i < len(self.starts) and self.starts[i] == frame

    def rules(self, frame: int) -> tuple[float, dict]:
        """(ROI strength factor, analyzer weight factors) for the shot holding `frame`."""
        factor, weights, _ = CLASS_RULES.get(self.classes[self.shot_at(frame)], CLASS_RULES["other"])
        return factor, weights

    def boost(self, frame: int) -> float:
        """Extra QP (negative = more bits) for frames near a selected keyframe."""
        w = KEYFRAME_WINDOW_S * self.fps
        i = bisect.bisect_left(self.keyframes, frame - w)
        return -KEYFRAME_BOOST_QP if i < len(self.keyframes) and abs(self.keyframes[i] - frame) <= w else 0.0

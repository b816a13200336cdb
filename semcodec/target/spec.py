"""What a quality target asks: which metrics must reach which values, pooled how, within which CRF range."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Literal

from semcodec.encoding.codecs import caps_for, check_crf
from semcodec.errors import UsageError

Metric = Literal["vmaf", "roi_vmaf", "face_psnr"]
METRICS: tuple[Metric, ...] = ("vmaf", "roi_vmaf", "face_psnr")
LABELS = {"vmaf": "VMAF", "roi_vmaf": "face-region VMAF", "face_psnr": "face PSNR"}
# CRF range searched when the user gives none: wide enough for VMAF 80-98 on x264/x265, inside every codec's range
DEFAULT_RANGE = {"libx264": (10.0, 40.0), "libx265": (10.0, 40.0), "libvpx-vp9": (15.0, 55.0),
                 "libsvtav1": (15.0, 55.0)}
MAX_PROBES = 5  # CRFs probed per shot at most (each: the shot's sampled segments, encoded and scored)


@dataclass(frozen=True)
class Goal:
    metric: Metric
    value: float

    def describe(self) -> str:
        unit = " dB" if self.metric == "face_psnr" else ""
        return f"{LABELS[self.metric]} {self.value:g}{unit}"


@dataclass(frozen=True)
class TargetSpec:
    """Every goal must hold on each shot. `percentile` None: a shot's score is the mean over its frames;
    P: the P-th percentile of its frames (P=5: 95 % of the frames at least the target)."""

    goals: tuple[Goal, ...] = field(default_factory=tuple)
    percentile: float | None = None
    min_crf: float | None = None
    max_crf: float | None = None
    best_effort: bool = False  # a shot that cannot reach its target gets the lowest CRF instead of an error
    max_probes: int = MAX_PROBES
    n_subsample: int = 1  # libvmaf scores every n-th frame of a probe (n_subsample)

    def crf_range(self, codec: str) -> tuple[float, float]:
        lo, hi = DEFAULT_RANGE.get(codec, caps_for(codec).crf_range)
        return (self.min_crf if self.min_crf is not None else lo, self.max_crf if self.max_crf is not None else hi)

    def validate(self, codec: str) -> None:
        """UsageError naming the option, before any work starts."""
        if not self.goals:
            raise UsageError("a quality target needs --target-vmaf, --target-roi-vmaf or --target-face-psnr")
        for g in self.goals:
            hi = 100.0 if g.metric != "face_psnr" else 99.0
            if not (math.isfinite(g.value) and 0 < g.value <= hi):
                raise UsageError(f"--target-{g.metric.replace('_', '-')} {g.value:g} is out of range (0-{hi:g})")
        if self.percentile is not None and not (math.isfinite(self.percentile) and 0 < self.percentile < 100):
            raise UsageError(f"--target-percentile {self.percentile:g} must be in (0, 100)")
        lo, hi = self.crf_range(codec)
        for name, v in (("--min-crf", lo), ("--max-crf", hi)):
            try:
                check_crf(codec, v)
            except UsageError as exc:
                raise UsageError(str(exc).replace("--crf", name)) from None
        if lo > hi:
            raise UsageError(f"--min-crf {lo:g} is above --max-crf {hi:g}")
        if not 2 <= self.max_probes <= 12:
            raise UsageError(f"--max-probes {self.max_probes} must be 2-12")
        if not 1 <= self.n_subsample <= 30:
            raise UsageError(f"--vmaf-subsample {self.n_subsample} must be 1-30")

    def needs_faces(self) -> bool:
        return any(g.metric != "vmaf" for g in self.goals)

    def describe(self) -> str:
        pool = "mean" if self.percentile is None else f"{self.percentile:g}th percentile"
        return " and ".join(g.describe() for g in self.goals) + f" ({pool} of each shot's frames)"

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> TargetSpec:
        return cls(**{**d, "goals": tuple(Goal(**g) for g in d["goals"])})

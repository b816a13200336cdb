"""The contract between analyzers and everything downstream.

An analyzer looks at a small copy of a frame and returns labelled regions (boxes with scores) and/or a
dense heat map in [0, 1]. It says whether it can run here and, if not, why. Nothing downstream knows
which analyzer produced what; nothing here knows the encoder's block size.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

# Analysis frames have at most this long side; smaller frames are analysed as they are (never upscaled)
ANALYSIS_LONG_SIDE = 320


@dataclass
class AnalysisFrame:
    """A reduced-resolution view of one frame, shared by all analyzers. The colour copy is made only
    when an analyzer asks for it (most frames need only luma)."""

    index: int
    time: float
    rgb: np.ndarray | None  # (h, w, 3) uint8, or None until `color()` makes it
    gray: np.ndarray  # (h, w) uint8
    make_rgb: Callable[[], np.ndarray] | None = None

    def color(self) -> np.ndarray:
        if self.rgb is None:
            self.rgb = self.make_rgb() if self.make_rgb else cv2.cvtColor(self.gray, cv2.COLOR_GRAY2RGB)
        return self.rgb


@dataclass
class Region:
    """A labelled box in normalised coordinates (x0, y0, x1, y1 in [0, 1])."""

    label: str
    box: tuple
    score: float
    source: str

    def to_json(self) -> dict:
        return {"label": self.label, "box": [round(v, 4) for v in self.box],
                "score": round(float(self.score), 3), "source": self.source}


@dataclass
class Detections:
    regions: list = field(default_factory=list)
    heat: np.ndarray | None = None  # (h, w) float32 in [0, 1], at analysis resolution


class Analyzer:
    """Base class. Subclasses set `name`, `weight` (its share in the fused map), `stride` (run on every
    stride-th frame at the most; results are held in between) and implement `load` and `analyze`. An analyzer
    that states its cost (`cost_ms`) and how long its result stays good (`max_stride_s`) may be run less
    often on encodes where it would cost more than the encoder (semcodec.analysis.schedule)."""

    name = "analyzer"
    weight = 1.0
    stride = 1
    max_stride_s = 0.0  # how long a result may be held (0: never stretched past `stride`)
    description = ""
    explicit = False  # set when the user named its model path: then it must load, in auto mode too
    # a detector of what one picture shows (the same picture, the same answer): a due run is skipped while the
    # picture has not changed outside what it found (semcodec.analysis.fusion); motion compares frames, so no
    gated = False

    def __init__(self):
        self.available = False
        self.reason = "not loaded"

    def load(self) -> bool:
        """Prepare models; set `available` and `reason`. Never downloads anything."""
        self.available, self.reason = True, ""
        return True

    def cost_ms(self, width: int, height: int) -> float:
        """CPU milliseconds of one run on a frame analysed at (width, height), on the reference machine of
        semcodec.analysis.schedule (measured by benchmarks/analyzer_speed.py)."""
        return 0.0

    def refine(self, frame: AnalysisFrame, held: Detections) -> Detections:
        """Bring a held result up to date cheaply between full runs (on the analyzer's own stride, while a
        stretched stride holds its result); by default the held result as it is."""
        return held

    def analyze(self, frame: AnalysisFrame) -> Detections:  # pragma: no cover - interface
        raise NotImplementedError

    def reset(self) -> None:
        """Forget state carried between frames (called at the start of each pass)."""


def render_regions(regions, shape, feather: float = 0.15) -> np.ndarray:
    """Paint regions as filled ellipses weighted by score, with soft edges, into an (h, w) map."""
    h, w = shape
    out = np.zeros((h, w), np.float32)
    for r in regions:
        x0, y0, x1, y1 = r.box
        cx, cy = (x0 + x1) / 2 * w, (y0 + y1) / 2 * h
        ax, ay = max((x1 - x0) * w / 2, 1.0), max((y1 - y0) * h / 2, 1.0)
        layer = np.zeros_like(out)
        # ellipse through the box corners' midpoints, slightly enlarged so the whole box is covered
        cv2.ellipse(layer, (int(round(cx)), int(round(cy))), (int(round(ax * 1.15)), int(round(ay * 1.15))),
                    0, 0, 360, float(r.score), -1, cv2.LINE_AA)
        np.maximum(out, layer, out=out)
    if regions and feather > 0:
        k = max(3, int(round(feather * min(h, w))) | 1)
        out = cv2.GaussianBlur(out, (k, k), 0)
    return out

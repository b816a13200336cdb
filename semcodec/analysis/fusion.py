"""Run the analyzers on reduced frames and fuse their maps into one importance map per frame."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from semcodec.analysis.base import ANALYSIS_LONG_SIDE, AnalysisFrame, Analyzer, Detections
from semcodec.analysis.faces import FaceAnalyzer
from semcodec.analysis.motion import MotionAnalyzer
from semcodec.analysis.objects import ObjectAnalyzer
from semcodec.analysis.people import PeopleAnalyzer
from semcodec.analysis.saliency import SaliencyAnalyzer
from semcodec.analysis.text import TextAnalyzer
from semcodec.errors import SemcodecError, UsageError

THUMB = 16  # side of the thumbnail that tells whether a held result still shows the same picture
CHANGED_LEVELS = 10.0  # mean absolute difference (8-bit) of those thumbnails: a cut or a pan, not a talking head
# Change gate of the detectors of single pictures (Analyzer.gated): a due run is skipped, and the last result held,
# while the picture has not changed outside what the detector found. A thumbnail cell has changed when its mean
# moved CELL_LEVELS (grain and compression move a cell by 1-2 levels, a talking head's face by up to ~40: inside
# its own box, which a face run's crops follow anyway); NEW_CELLS changed cells outside the detections' cells
# (grown by one) mean something may have come in or moved out; more than half of their own cells changing means
# what was found may be gone. Whatever the gate says, a result is held for at most GATE_HOLD of its strides.
CELL_LEVELS = 10.0
NEW_CELLS = 2
GATE_HOLD = 4
# Early renewals of held results on a moving picture (a pan, action) draw on a credit in the schedule's estimated
# CPU ms (semcodec.analysis.schedule), so the analysis cost stays bounded on footage that never stays put: on a
# 70 s action clip (tears_of_steel, 800x332) unbounded renewals ran the people mask 455 times where its stretched
# stride plans 70, and the analysis cost 0.8x the encoder's estimated work instead of the schedule's 0.25x (8.9
# against 2.8 ms a frame, from each analyzer's runs and ms per run). A cut (the thumbnail jumps between
# consecutive frames) renews at once, in debt if need be: a new shot's picture is new.

ANALYZERS = {cls.name: cls for cls in (FaceAnalyzer, ObjectAnalyzer, SaliencyAnalyzer, MotionAnalyzer, TextAnalyzer,
                                       PeopleAnalyzer)}


@dataclass(frozen=True)
class RoiMode:
    """What `--roi` asks for, parsed once: `off` (no map), `auto` (every analyzer that can run here) or
    `list` (the named analyzers, which must run). `analyzers` holds the names to build, in order."""

    kind: Literal["off", "auto", "list"]
    analyzers: tuple[str, ...] = ()

    @classmethod
    def parse(cls, spec: str | RoiMode | None) -> RoiMode:
        """'auto' (also None or ''), 'off', or a comma list such as 'faces,text' (case and spaces ignored).

        Raises:
            UsageError: an analyzer name that does not exist.
        """
        if isinstance(spec, RoiMode):
            return spec
        text = (spec or "auto").strip().lower()
        if text == "off":
            return cls("off")
        if text == "auto":
            return cls("auto", tuple(ANALYZERS))
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        unknown = [n for n in names if n not in ANALYZERS]
        if unknown:
            raise UsageError(f"unknown analyzer {', '.join(unknown)}; choose from {', '.join(ANALYZERS)}")
        return cls("list", names)

    @property
    def off(self) -> bool:
        return self.kind == "off"

    @property
    def required(self) -> bool:
        """Listed analyzers must run; in auto mode the unavailable ones are only listed in the summary."""
        return self.kind == "list"

    def __str__(self) -> str:
        return ",".join(self.analyzers) if self.kind == "list" else self.kind


def build_analyzers(spec: str | RoiMode, yolo_weights: str | None = None) -> list[Analyzer]:
    """'auto' = every analyzer that can run here, 'off' = none, or a comma list such as 'faces,text'
    (a string or a parsed RoiMode). `yolo_weights` is handed to the objects analyzer (which otherwise
    looks in Ultralytics' folder).

    Raises:
        UsageError: an analyzer name that does not exist.
    """
    mode = RoiMode.parse(spec)
    return [ObjectAnalyzer(yolo_weights) if n == "objects" else ANALYZERS[n]() for n in mode.analyzers]


def analysis_size(width: int, height: int, long_side: int = ANALYSIS_LONG_SIDE) -> tuple[int, int]:
    """Reduced size for analysis: long side at most `long_side`, aspect kept, even dimensions. Never larger
    than the frame: a small frame is analysed at its own size (odd sizes rounded down to even)."""
    scale = min(1.0, long_side / max(width, height))
    return (max(2, min(int(round(width * scale / 2)) * 2, width // 2 * 2)),
            max(2, min(int(round(height * scale / 2)) * 2, height // 2 * 2)))


def _cover(det: Detections) -> np.ndarray:
    """The THUMB x THUMB cells a detector's result covers, grown by one cell (what moves inside stays its own)."""
    if det.heat is None:
        return np.zeros((THUMB, THUMB), bool)
    cells = cv2.resize(det.heat, (THUMB, THUMB), interpolation=cv2.INTER_AREA) > 0.05
    return cv2.dilate(cells.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


class ImportanceMapper:
    """Per frame: run each analyzer on its stride, hold its last result in between, fuse the heat maps
    as a weighted probabilistic OR, and smooth over time (rise at once, fade slowly) so the map does
    not flicker when a detector misses a frame."""

    def __init__(self, analyzers: list[Analyzer], fade: float = 0.8, required: bool = False):
        self.analyzers = analyzers
        self.fade = fade
        for a in analyzers:
            a.load()
            # auto mode lists the analyzers that cannot run; one built from a path the user named must run
            if (required or a.explicit) and not a.available:
                raise SemcodecError(f"analyzer '{a.name}' cannot run: {a.reason}")
        self.active = [a for a in analyzers if a.available]
        self._held: dict[str, Detections] = {}
        # frame index, thumbnail and (gated analyzers) the thumbnail cells its detections cover, of each last run
        self._held_from: dict[str, tuple[int, np.ndarray, np.ndarray | None]] = {}
        # frame index and thumbnail of each held result's last run or refinement
        self._refined_at: dict[str, tuple[int, np.ndarray]] = {}
        self._base = {a.name: a.stride for a in analyzers}  # their own strides, before any stretching
        # renewal credit (estimated ms): None renews every stale result (no schedule: tagging, tests)
        self._renew_ms: float | None = None
        self._credit = self._burst = 0.0
        self._costs: dict[str, float] = {}  # estimated ms of one run at the current analysis size
        self._last_thumb: np.ndarray | None = None
        self._cut_at = -1  # the last frame whose thumbnail jumped from the frame before's (a cut)
        self._renewed = {a.name: 0 for a in analyzers}  # early renewals (at a cut or on a moving picture)
        # index of the first frame in the whole video (a chunk's or probe segment's start): strided runs fall
        # on the same frames whichever piece of the video is encoded, so probes see the maps the encode makes
        self.origin = 0
        self._runs = {a.name: 0 for a in analyzers}
        self._seconds = {a.name: 0.0 for a in analyzers}
        self._gated = {a.name: 0 for a in analyzers}  # due runs skipped by the change gate
        self._prev = None
        self._scratch: np.ndarray | None = None
        self._keep_from: tuple[list, np.ndarray] | None = None  # the held results and their product, last frame
        self.last_regions: list = []

    def use_strides(self, strides: dict[str, int], renew_ms: float | None = None) -> None:
        """Run these analyzers on these strides instead of their own (semcodec.analysis.schedule). A result
        held past the analyzer's own stride is renewed early when the picture has changed since it was made
        (a cut, a pan): a long stride is for pictures that stay put. `renew_ms`: the estimated CPU ms per
        frame such renewals may spend on a moving picture (a cut always renews); None: no limit."""
        for a in self.analyzers:
            if a.name in strides:
                a.stride = int(strides[a.name])
        self._renew_ms = None if renew_ms is None else max(0.0, float(renew_ms))
        self._costs.clear()

    def reset(self) -> None:
        for a in self.active:
            a.reset()
        self._held.clear()
        self._held_from.clear()
        self._refined_at.clear()
        self._prev = None
        self._keep_from = None
        self._last_thumb = None
        self._cut_at = -1
        self._credit = 0.0

    def __call__(self, frame: AnalysisFrame, weight_scale: dict | None = None) -> np.ndarray:
        """Fused importance of `frame`; `weight_scale` multiplies some analyzers' weights (per shot)."""
        shape = frame.gray.shape
        if self._scratch is None or self._scratch.shape != shape:
            self._scratch = np.empty(shape, np.float32)
        term = self._scratch
        regions, layers = [], []
        thumb = cv2.resize(frame.gray, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.float32)
        self._account(frame.index, thumb, shape)
        for a in self.active:
            det = self._held.get(a.name)
            if self._due(a, frame.index, thumb, det, shape):
                t0 = time.perf_counter()
                det = a.analyze(frame)
                self._seconds[a.name] += time.perf_counter() - t0
                self._runs[a.name] += 1
                self._held[a.name] = det
                self._held_from[a.name] = (frame.index, thumb, _cover(det) if a.gated else None)
                self._refined_at[a.name] = (frame.index, thumb)
            elif frame.index - self._refined_at[a.name][0] >= self._base[a.name] and self._moved(a.name, thumb):
                t0 = time.perf_counter()  # between stretched runs, on the analyzer's own stride
                det = self._held[a.name] = a.refine(frame, det)
                self._seconds[a.name] += time.perf_counter() - t0
                self._refined_at[a.name] = (frame.index, thumb)
            regions.extend(det.regions)
            if det.heat is not None:
                layers.append((det, min(1.0, a.weight * (weight_scale or {}).get(a.name, 1.0))))
        fused = np.subtract(1.0, self._keep(layers, shape))
        if self._prev is not None and self._prev.shape == shape:
            # rise at once, fade slowly: max(fused, fade * prev + (1 - fade) * fused)
            np.multiply(self._prev, self.fade, out=term)
            term += (1 - self.fade) * fused
            np.maximum(fused, term, out=fused)
        self._prev = fused
        self.last_regions = regions
        return fused

    def _keep(self, layers: list[tuple[Detections, float]], shape) -> np.ndarray:
        """Product of (1 - w * heat) over the held results: the chance nothing matters here. Most frames hold
        every result of the frame before (only the analyzers due run), so the last product is reused then."""
        last = self._keep_from
        if last is not None and last[1].shape == shape and len(last[0]) == len(layers) \
                and all(d is e and w == v for (d, w), (e, v) in zip(layers, last[0])):
            return last[1]
        keep = np.ones(shape, np.float32)
        term = np.empty(shape, np.float32)
        for det, w in layers:
            np.multiply(det.heat, -w, out=term)
            term += 1.0
            keep *= term
        self._keep_from = (layers, keep)
        return keep

    def _account(self, index: int, thumb: np.ndarray, shape) -> None:
        """Per frame: whether the picture cut, and the renewal credit earned (from none: the first frame runs
        every analyzer; capped at one renewal of every analyzer, so a calm stretch cannot save up for a long
        burst)."""
        last, self._last_thumb = self._last_thumb, thumb
        if last is not None and float(np.abs(thumb - last).mean()) > CHANGED_LEVELS:
            self._cut_at = index
        if self._renew_ms is None:
            return
        if not self._costs:
            h, w = shape
            self._costs = {a.name: max(0.0, a.cost_ms(w, h)) for a in self.active}
            self._burst = sum(self._costs.values())
        self._credit = min(self._burst, self._credit + self._renew_ms)

    def _renew(self, a: Analyzer, index: int, thumb: np.ndarray) -> bool:
        """Whether a stale held result is renewed now: always without a budget; after a cut (since the result was
        made) while the debt is under one round of renewals; on a moving picture when the credit covers the run."""
        if not self._stale(a.name, index, thumb):
            return False
        if (index + self.origin) % a.stride == 0:  # a planned run anyway: nothing extra to pay
            return True
        if self._renew_ms is not None:
            cost = self._costs.get(a.name, 0.0)
            cut = self._cut_at > self._held_from[a.name][0]  # since the result was made
            if self._credit < (-self._burst if cut else cost):
                return False
            self._credit -= cost
        self._renewed[a.name] += 1
        return True

    def _due(self, a: Analyzer, index: int, thumb: np.ndarray, det: Detections | None, shape) -> bool:
        """Whether `a` runs on frame `index`: with nothing held, on its stride (a gated detector only when the
        picture changed, or its result is GATE_HOLD strides old), or early when a held result went stale (within
        the renewal credit)."""
        if det is None or det.heat is None or det.heat.shape != shape or self._renew(a, index, thumb):
            return True
        if (index + self.origin) % a.stride:
            return False
        if not a.gated:
            return True
        since, then, cover = self._held_from[a.name]
        if index - since >= GATE_HOLD * a.stride:
            return True
        changed = np.abs(thumb - then) > CELL_LEVELS
        found = np.logical_or.reduce([c for _, _, c in self._held_from.values() if c is not None])
        inside = int(np.count_nonzero(changed & cover))
        outside = int(np.count_nonzero(changed & ~found))
        if outside >= NEW_CELLS or inside * 2 > int(np.count_nonzero(cover)) > 0:
            return True
        self._gated[a.name] += 1
        return False

    def _moved(self, name: str, thumb: np.ndarray) -> bool:
        """Whether a held result is worth refining: for a gated detector, only when a cell it covers changed
        since it was last brought up to date (a face that stayed put is where it was)."""
        cover = self._held_from[name][2]
        return cover is None or bool(np.any((np.abs(thumb - self._refined_at[name][1]) > CELL_LEVELS) & cover))

    def _stale(self, name: str, index: int, thumb: np.ndarray) -> bool:
        """A result held past its analyzer's own stride on a picture that has changed since."""
        since, then = self._held_from.get(name, (index, thumb))[:2]
        return index - since >= self._base[name] and float(np.abs(thumb - then).mean()) > CHANGED_LEVELS

    def summary(self) -> list[dict]:
        """Which analyzers ran, how often, how fast, and why the others did not."""
        out = []
        for a in self.analyzers:
            runs = self._runs[a.name]
            out.append({
                "name": a.name, "description": a.description, "available": a.available,
                "note": a.reason, "backend": getattr(a, "backend", "") or None, "stride": a.stride,
                "weight": a.weight, "runs": runs, "skipped_unchanged": self._gated[a.name],
                "renewed_early": self._renewed[a.name],
                "ms_per_run": round(1000 * self._seconds[a.name] / runs, 2) if runs else None,
            })
        return out

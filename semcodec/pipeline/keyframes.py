"""KeyframePolicy: which frames become IDR pictures. Cuts come from a shot plan (tags) or from a streaming
detector that runs beside the analysis; `--roi off` and `--shots off` leave keyframes to the encoder.

The detector runs on the analysis thread and the encoder asks on the main thread, so the cut set is
guarded by a lock; the encode loop waits until the detector has looked `lookahead` frames past a frame
before asking about it."""
from __future__ import annotations

import threading

import numpy as np

from semcodec.planning import ShotPlan
from semcodec.shots import ShotDetector


class KeyframePolicy:
    def __init__(self, method: str, cuts: set[int] | None = None, fps: float = 25.0, detect: bool = False):
        self.method = method  # for the report
        self._cuts: set[int] = set(cuts or ())
        self._lock = threading.Lock()
        self._fps = fps
        self._detect = detect
        self._detector: ShotDetector | None = None

    @classmethod
    def choose(cls, shots: str, roi_off: bool, plan: ShotPlan | None, plan_source: str | None,
               fps: float) -> KeyframePolicy:
        """Semantic encodes put an IDR at every cut; a plain one (`--roi off`) stays the encode a user
        would run with stock FFmpeg."""
        if roi_off:
            return cls("off")
        if plan is not None:
            return cls(f"plan from {plan_source}", {f for f in plan.starts if f > 0})
        if shots == "auto":
            return cls("streaming detector (cuts and fades)", fps=fps, detect=True)
        return cls("off")

    @property
    def forces_keyframes(self) -> bool:
        return self.method != "off"

    @property
    def lookahead(self) -> int:
        """Frames the detector must see past a frame before its cut status is known."""
        return self._detector.delay if self._detector else 0

    def start_pass(self, replay: bool) -> None:
        """A fresh detector for a pass that analyses; none when replaying pass 1's decisions."""
        self._detector = ShotDetector(self._fps, dissolves=False) if self._detect and not replay else None

    @property
    def detecting(self) -> bool:
        return self._detector is not None

    def observe(self, index: int, time: float, rgb: np.ndarray | None) -> None:
        """Analysis thread: feed the detector a small colour view of frame `index` (None when not detecting)."""
        if self._detector is None:
            return
        b = self._detector.push(index, time, rgb)
        if b is not None:
            self._add(b.frame)

    def preset(self, cuts: list[int]) -> None:
        """Cuts already found on these frames (a replayed probe: semcodec.pipeline.ratefit)."""
        with self._lock:
            self._cuts.update(cuts)

    def end_pass(self) -> None:
        if self._detector is not None:
            for b in self._detector.flush():
                self._add(b.frame)

    def _add(self, frame: int) -> None:
        with self._lock:
            self._cuts.add(frame)

    def is_keyframe(self, index: int) -> bool:
        with self._lock:
            return index in self._cuts

    def keyframes(self) -> list[int]:
        with self._lock:
            return sorted(self._cuts)

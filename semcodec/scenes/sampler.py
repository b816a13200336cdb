"""The full scene measurement of one sampled frame: picture statistics, faces (real or drawn), people,
text, and the motion from the frame before it. Shared by `semcodec tag` and benchmarks/scenes.py, so the
benchmark measures exactly what the tagger classifies."""
from __future__ import annotations

import numpy as np

from semcodec.analysis.base import AnalysisFrame
from semcodec.analysis.people import count_people
from semcodec.analysis.text import TextResult, covered_area
from semcodec.scenes.features import FrameFeatures, drawn_face, measure
from semcodec.scenes.motion import pair_motion

READ_SCORE = 0.6  # recognition confidence for a detected box to count as text a viewer can read


def _area(box) -> float:
    return float((box[2] - box[0]) * (box[3] - box[1]))


def read_text_area(r: TextResult) -> float:
    """Share of the frame covered by text that reads: boxes recognised with confidence as two or more letters
    or digits. The detector alone fires on fur, organ pipes and floor patterns (the recogniser then returns
    single letters at 0.1-0.45 or nothing), while real text reads at 0.5-0.99. Boxes beyond the recognised few
    count when at least half of the recognised ones read (a page of text: the detector is on text there)."""
    tried = [bool(w) or s > 0 for w, s in zip(r.words, r.scores)]  # the reader returns '' at 0 for the rest
    read = [s >= READ_SCORE and sum(c.isalnum() for c in w) >= 2 for w, s in zip(r.words, r.scores)]
    keep = [b for b, ok in zip(r.boxes, read) if ok]
    if any(tried) and sum(read) >= sum(tried) / 2:
        keep += [b for b, t in zip(r.boxes, tried) if not t]
    return covered_area(keep)


class SceneSampler:
    """Measures sampled frames. `faces`, `text` and `people` are loaded analyzers (any may be unavailable;
    without the person model the real faces are the people); faces and text run on every other sample (the
    costliest steps; faces and on-screen text move little) and are held in between. What the text analyzer
    read is kept in `read` as (frame, time, TextResult)."""

    def __init__(self, faces, text, fps: float, people=None):
        self.faces, self.text, self.fps, self.people = faces, text, fps, people
        self.face_regions: list = []
        self.last_text = TextResult((), (), (), 0.0)
        self.read: list[tuple[int, float, TextResult]] = []
        self._count = 0

    def text_turn(self) -> bool:
        """Whether the next sample runs the text analyzer (callers make its larger copy only then)."""
        return self.text.available and self._count % 2 == 0

    def __call__(self, af: AnalysisFrame, prev_tiny: np.ndarray | None, tiny: np.ndarray,
                 text_rgb: np.ndarray | None = None) -> FrameFeatures:
        """Measure `af` (analysis size); `prev_tiny`/`tiny` are the previous and this frame's small grey
        views for motion (None when there is no previous frame); `text_rgb`, where given, is a larger copy
        of the frame for reading text (default: the analysis frame)."""
        rgb, gray = af.color(), af.gray
        f = measure(rgb, gray)
        if self.text_turn():
            self.last_text = self.text.read(text_rgb if text_rgb is not None else rgb)
            self.read.append((af.index, af.time, self.last_text))
        if self.faces.available and self._count % 2 == 0:
            self.face_regions = self.faces.analyze(af).regions
        self._count += 1
        real = [r for r in self.face_regions if not drawn_face(gray, r.box)]
        f.faces, f.drawn_faces = len(real), len(self.face_regions) - len(real)
        f.face_area = max((_area(r.box) for r in real), default=0.0)
        if self.people is not None and self.people.available:
            seen = self.people.segment(af)
            f.people, f.people_area = count_people(seen, [r.box for r in real]), seen.area
        else:
            f.people = f.faces
        f.text_area = read_text_area(self.last_text)
        if prev_tiny is not None:
            pm = pair_motion(prev_tiny, tiny)
            f.motion, f.camera_motion, f.motion_valid = pm.moving, pm.camera, pm.valid
            f.camera_speed = pm.camera * self.fps
        return f

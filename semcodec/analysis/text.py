"""On-screen text: captions, titles, signs, screen content, found by a trained text detector.

PP-OCRv4 detection and recognition as shipped inside the `rapidocr-onnxruntime` wheel (Apache-2.0), run by
onnxruntime on one thread. Detection costs tens of milliseconds a frame, so the analyzer runs on a long
stride and its boxes are held in between (text on screen rarely moves); recognition (`read`) is only for
`semcodec tag`, on the largest few boxes of a sampled frame.
"""
from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass

import cv2
import numpy as np

from semcodec.analysis.base import AnalysisFrame, Analyzer, Detections, Region

# onnxruntime (1.32 on Linux) starts a telemetry client when it is imported, which writes a `.ses` session file
# into the temporary folder and leaves it there; its own switch turns that off (it is read at import time)
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

Box = tuple[float, float, float, float]

DET_LONG_SIDE = 640  # detection input: small text needs the pixels; an analysis frame (320) is upscaled 2x
BOX_THRESHOLD = 0.6  # mean text probability inside a box (RapidOCR's default 0.5 fires on ornaments)
MIN_WORD_SCORE = 0.8  # recognition confidence for a word to become a tag
MIN_BOX_HEIGHT = 0.012  # boxes thinner than this share of the frame height are noise at 320 px


@dataclass(frozen=True)
class TextResult:
    """The text found in one frame: normalised axis-aligned boxes (largest first), the words read in them
    ('' where `read` did not recognise the box), recognition confidences and the share of the frame covered."""

    boxes: tuple[Box, ...]
    words: tuple[str, ...]
    scores: tuple[float, ...]
    area: float


def covered_area(boxes: list[Box] | tuple[Box, ...], grid: int = 200) -> float:
    """Share of the frame covered by the union of normalised boxes (rasterised on a grid x grid canvas)."""
    if not boxes:
        return 0.0
    canvas = np.zeros((grid, grid), np.uint8)
    for x0, y0, x1, y1 in boxes:
        canvas[int(y0 * grid):int(np.ceil(y1 * grid)), int(x0 * grid):int(np.ceil(x1 * grid))] = 1
    return float(canvas.mean())


def tag_words(results: list[TextResult], min_score: float = MIN_WORD_SCORE) -> list[str]:
    """Recognised strings worth a topic tag: confident, with at least three letters, mostly Latin letters
    (the recogniser also reads ornaments as CJK characters or digits)."""
    out = []
    for r in results:
        for word, score in zip(r.words, r.scores):
            letters = sum(c.isascii() and c.isalpha() for c in word)
            if score >= min_score and letters >= 3 and letters >= 0.6 * len(word.replace(" ", "")):
                out.append(word)
    return out


@functools.lru_cache(maxsize=4)
def _engine(factory, threads: int, long_side: int):
    """One RapidOCR per process and settings: building one opens three onnxruntime sessions (~0.15 s), and a
    CRF encode builds the analyzers once per probe encode. Its models only read their weights when run."""
    return factory(intra_op_num_threads=threads, inter_op_num_threads=threads, det_limit_type="max",
                   det_limit_side_len=long_side, det_box_thresh=BOX_THRESHOLD)


class TextAnalyzer(Analyzer):
    name = "text"
    weight = 0.7
    stride = 24  # about once a second at 25 fps (the costliest analyzer: 60-140 ms a run); boxes held between
    max_stride_s = 4.0  # on-screen text rarely moves; a held box only costs bits where the text was
    gated = True
    description = "on-screen text (PP-OCRv4 detection from the rapidocr-onnxruntime wheel, Apache-2.0)"

    def __init__(self, long_side: int = DET_LONG_SIDE, threads: int = 1):
        super().__init__()
        self.long_side = long_side
        self.threads = threads
        self._ocr = None
        self.backend = ""

    def load(self) -> bool:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            self.available, self.reason = False, f"rapidocr-onnxruntime is not installed ({exc})"
            return False
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)  # it logs each empty frame as a warning
        try:
            self._ocr = _engine(RapidOCR, self.threads, self.long_side)
        except Exception as exc:  # noqa: BLE001 - a model that does not load makes the analyzer unavailable
            self.available, self.reason = False, f"cannot load RapidOCR: {(str(exc).splitlines() or [''])[0][:120]}"
            return False
        self.backend = "rapidocr PP-OCRv4 det (onnxruntime)"
        self.available, self.reason = True, ""
        return True

    def det_size(self, width: int, height: int) -> tuple[int, int]:
        """Detection input for a frame of (width, height): long side `long_side`, but never more than twice
        the frame's (a QCIF frame's text is no clearer at 4x, only dearer)."""
        scale = min(self.long_side, 2 * max(width, height)) / max(width, height)
        return max(32, int(round(width * scale))), max(32, int(round(height * scale)))

    def cost_ms(self, width: int, height: int) -> float:
        dw, dh = self.det_size(width, height)
        return 0.35e-3 * dw * dh  # PP-OCRv4 det: 57-128 ms at 640x360..640x480

    def _detect(self, rgb: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], list[Box]]:
        """(the BGR image detection ran on, its quadrilaterals, their normalised boxes), largest first."""
        h, w = rgb.shape[:2]
        size = self.det_size(w, h)
        bgr = cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC if size[0] > w else cv2.INTER_AREA)[..., ::-1]
        bgr = np.ascontiguousarray(bgr)
        quads, _ = self._ocr.text_det(bgr)
        if quads is None or not len(quads):
            return bgr, [], []
        sw, sh = size
        found = []
        for q in quads:
            x0, y0, x1, y1 = (float(v) for v in (*q.min(0), *q.max(0)))
            box = (max(0.0, x0 / sw), max(0.0, y0 / sh), min(1.0, x1 / sw), min(1.0, y1 / sh))
            if box[3] - box[1] >= MIN_BOX_HEIGHT:
                found.append((np.asarray(q, np.float32), box))
        found.sort(key=lambda qb: -(qb[1][2] - qb[1][0]) * (qb[1][3] - qb[1][1]))
        return bgr, [q for q, _ in found], [b for _, b in found]

    def detect(self, rgb: np.ndarray) -> list[Box]:
        """Normalised boxes of the text in `rgb` (any size; resized to `long_side` for the detector)."""
        return self._detect(rgb)[2]

    def read(self, rgb: np.ndarray, max_boxes: int = 6) -> TextResult:
        """Detect, then recognise the `max_boxes` largest boxes (recognition costs ~10-50 ms a box)."""
        bgr, quads, boxes = self._detect(rgb)
        words, scores = [""] * len(boxes), [0.0] * len(boxes)
        if boxes:
            crops = self._ocr.get_crop_img_list(bgr, quads[:max_boxes])
            recognised, _ = self._ocr.text_rec(crops)
            for i, (text, score) in enumerate(recognised):
                words[i], scores[i] = str(text).strip(), round(float(score), 3)
        return TextResult(tuple(boxes), tuple(words), tuple(scores), covered_area(boxes))

    def analyze(self, frame: AnalysisFrame) -> Detections:
        rgb = frame.color()
        h, w = rgb.shape[:2]
        boxes = self.detect(rgb)
        heat = np.zeros((h, w), np.float32)
        for x0, y0, x1, y1 in boxes:
            heat[int(y0 * h):int(np.ceil(y1 * h)), int(x0 * w):int(np.ceil(x1 * w))] = 1.0
        if boxes:
            heat = cv2.GaussianBlur(heat, (0, 0), 1.5)
        return Detections([Region("text", b, 0.7, self.name) for b in boxes], heat)

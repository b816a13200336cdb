"""The morphological stroke detector semcodec's text analyzer used before RapidOCR, kept here only as the
baseline of benchmarks/text_detect.py (it found 20 % of the screen-content text and fired on 49 of 60 boxes on
the bikes and Tears of Steel frames, so it left the library).

Text is dense, high-contrast, horizontally aligned strokes; a morphological gradient finds strokes, a
horizontal closing joins letters into words, and shape tests keep word-like blobs. No weights."""
from __future__ import annotations

import cv2
import numpy as np

from semcodec.analysis.base import AnalysisFrame, Analyzer, Detections, Region


class StrokeTextAnalyzer(Analyzer):
    name = "text_strokes"
    weight = 0.7
    stride = 4
    description = "on-screen text (morphological stroke detector, no weights)"

    def analyze(self, frame: AnalysisFrame) -> Detections:
        gray = frame.gray
        h, w = gray.shape
        grad = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
        _, strokes = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        if strokes.mean() > 0.5 * 255:  # Otsu on a flat frame marks noise everywhere
            return Detections([], np.zeros((h, w), np.float32))
        # drop long straight edges (boxes, bars, horizon lines): text strokes are short
        for k in ((max(8, w // 10), 1), (1, max(8, h // 6))):
            lines = cv2.morphologyEx(strokes, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, k))
            strokes = cv2.subtract(strokes, cv2.dilate(lines, np.ones((3, 3), np.uint8)))
        kw = max(3, w // 40)
        words = cv2.morphologyEx(strokes, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (kw, 1)))
        _, _, stats, _ = cv2.connectedComponentsWithStats(words, connectivity=8)
        x, y, bw, bh, area = (stats[1:, i] for i in range(5))
        fill = area / np.maximum(bw * bh, 1)
        ii = cv2.integral((strokes > 0).astype(np.uint8))  # stroke density per box in O(1)
        ink = (ii[y + bh, x + bw] - ii[y, x + bw] - ii[y + bh, x] + ii[y, x]) / np.maximum(bw * bh, 1)
        keep = ((bw >= 2.0 * bh) & (bh >= 3) & (bh <= h * 0.12) & (bw <= w * 0.95)
                & (fill > 0.45) & (ink > 0.2) & (ink < 0.85))
        heat = np.zeros((h, w), np.float32)
        regions = []
        for xx, yy, ww, hh in zip(x[keep], y[keep], bw[keep], bh[keep]):
            heat[yy:yy + hh, xx:xx + ww] = 1.0
            regions.append(Region("text", (xx / w, yy / h, (xx + ww) / w, (yy + hh) / h), 0.6, self.name))
        if regions:
            heat = cv2.GaussianBlur(heat, (0, 0), 1.5)
        return Detections(regions, heat)

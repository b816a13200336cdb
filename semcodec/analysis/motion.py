"""Motion that the camera did not cause: frame difference after compensating the global (camera) shift.

The global shift comes from phase correlation on a thumbnail, so a pan does not light up the whole
frame; what is left is objects moving against the background."""
from __future__ import annotations

import cv2
import numpy as np

from semcodec.analysis.base import AnalysisFrame, Analyzer, Detections


class MotionAnalyzer(Analyzer):
    name = "motion"
    weight = 0.4
    stride = 1
    max_stride_s = 0.12  # compares the frames it sees: a few frames apart is still motion, not a cut
    description = "object motion (camera-compensated frame difference)"

    def __init__(self, scale: float = 24.0, halve: bool = True):
        super().__init__()
        self.scale = scale  # mean absolute difference (8-bit levels) that counts as full motion
        self.halve = halve  # work at half the given size (callers that already pass a small view say no)
        self._prev = None
        self._window = None
        self.last_shift = (0.0, 0.0)  # camera shift of the last frame, in pixels of the view it worked on

    def reset(self) -> None:
        self._prev = None
        self.last_shift = (0.0, 0.0)

    def cost_ms(self, width: int, height: int) -> float:
        return 1.0e-5 * width * height  # 0.3 ms at 176x144 (halved), 0.8 ms at 320x240

    def analyze(self, frame: AnalysisFrame) -> Detections:
        h, w = frame.gray.shape
        # half the analysis size is plenty for motion blobs and halves the FFT cost
        small = cv2.resize(frame.gray, (max(8, w // 2), max(8, h // 2)), interpolation=cv2.INTER_AREA) \
            if self.halve else frame.gray
        cur = cv2.GaussianBlur(small, (3, 3), 0).astype(np.float32)
        prev, self._prev = self._prev, cur
        if prev is None or prev.shape != cur.shape:
            return Detections([], np.zeros((h, w), np.float32))
        if self._window is None or self._window.shape != cur.shape:
            self._window = cv2.createHanningWindow((cur.shape[1], cur.shape[0]), cv2.CV_32F)
        # without a window the image borders dominate the spectrum and the shift estimate is wrong;
        # copies, because OpenCV applies the window in place
        (dx, dy), response = cv2.phaseCorrelate(prev.copy(), cur.copy(), self._window)
        diff = cv2.absdiff(cur, prev)
        self.last_shift = (float(dx), float(dy)) if response > 0.1 else (0.0, 0.0)
        if response > 0.1:  # trust only a clear global peak
            m = np.float32([[1, 0, dx], [0, 1, dy]])
            moved = cv2.warpAffine(prev, m, (cur.shape[1], cur.shape[0]), borderMode=cv2.BORDER_REPLICATE)
            # a wrong estimate must not invent motion: keep the smaller of the two differences
            diff = np.minimum(diff, cv2.absdiff(cur, moved))
        diff = cv2.GaussianBlur(diff, (0, 0), 1.5)
        heat = np.clip((diff - 2.0) / self.scale, 0, 1)  # below 2 levels is noise and grain
        return Detections([], cv2.resize(heat, (w, h), interpolation=cv2.INTER_LINEAR))

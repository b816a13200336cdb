"""Visual saliency by spectral residual (Hou & Zhang, CVPR 2007): what stands out from the image's
average spectrum. A few FFTs on a 64-pixel thumbnail; no weights."""
from __future__ import annotations

import cv2
import numpy as np

from semcodec.analysis.base import AnalysisFrame, Analyzer, Detections

_THUMB = 64


class SaliencyAnalyzer(Analyzer):
    name = "saliency"
    weight = 0.35
    stride = 3
    description = "visual saliency (spectral residual, no weights)"

    def analyze(self, frame: AnalysisFrame) -> Detections:
        h, w = frame.gray.shape
        thumb = cv2.resize(frame.gray, (_THUMB, _THUMB), interpolation=cv2.INTER_AREA).astype(np.float32)
        spectrum = np.fft.fft2(thumb)
        log_amp = np.log(np.abs(spectrum) + 1e-6)
        phase = np.angle(spectrum)
        residual = log_amp - cv2.blur(log_amp, (3, 3))
        sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * phase))) ** 2
        sal = cv2.GaussianBlur(sal.astype(np.float32), (9, 9), 2.5)
        # normalise against a high percentile so one hot pixel does not flatten the rest
        sal /= max(float(np.percentile(sal, 99.5)), 1e-9)
        sal = np.clip(sal, 0, 1)
        return Detections([], cv2.resize(sal, (w, h), interpolation=cv2.INTER_LINEAR))

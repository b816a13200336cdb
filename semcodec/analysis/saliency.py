"""Visual saliency by spectral residual (Hou & Zhang, CVPR 2007): what stands out from the image's
average spectrum. A few FFTs on a 64-pixel thumbnail; no weights."""
from __future__ import annotations

import cv2
import numpy as np

from semcodec.analysis.base import AnalysisFrame, Analyzer, Detections

_THUMB = 64
_TOP = int(_THUMB * _THUMB * 0.995)  # the 99.5th percentile's rank among the thumbnail's pixels


class SaliencyAnalyzer(Analyzer):
    name = "saliency"
    weight = 0.35
    stride = 3
    max_stride_s = 0.5
    description = "visual saliency (spectral residual, no weights)"

    def cost_ms(self, width: int, height: int) -> float:
        return 0.1 + 3e-6 * width * height  # a fixed thumbnail, then one resize to the frame

    def analyze(self, frame: AnalysisFrame) -> Detections:
        h, w = frame.gray.shape
        thumb = cv2.resize(frame.gray, (_THUMB, _THUMB), interpolation=cv2.INTER_AREA).astype(np.float32)
        # OpenCV's float32 DFT: the same transform as numpy's, a fraction of the cost on a 64x64 thumbnail
        spectrum = cv2.dft(thumb, flags=cv2.DFT_COMPLEX_OUTPUT)
        amp, phase = cv2.cartToPolar(spectrum[..., 0], spectrum[..., 1])
        log_amp = np.log(amp + 1e-6)
        residual = log_amp - cv2.blur(log_amp, (3, 3))
        re, im = cv2.polarToCart(np.exp(residual), phase)
        back = cv2.idft(cv2.merge([re, im]), flags=cv2.DFT_COMPLEX_OUTPUT | cv2.DFT_SCALE)
        sal = cv2.magnitude(back[..., 0], back[..., 1]) ** 2
        sal = cv2.GaussianBlur(sal, (9, 9), 2.5)
        # normalise against a high percentile so one hot pixel does not flatten the rest
        sal /= max(float(np.partition(sal.reshape(-1), _TOP)[_TOP]), 1e-9)
        np.clip(sal, 0, 1, out=sal)
        return Detections([], cv2.resize(sal, (w, h), interpolation=cv2.INTER_LINEAR))

"""Small analysis views of decoded frames: the reduced luma and RGB copies the analyzers, tagging, shot
detection, text analysis and the bench look at. A leaf module (PyAV, OpenCV, NumPy only), so both the
analysis side and the encode side can use it without importing each other."""
from __future__ import annotations

import av
import cv2
import numpy as np


def small_luma(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """The luma plane scaled to (width, height) with area averaging: no colour conversion, no aliasing."""
    plane = frame.planes[0]
    bytes_per = 2 if frame.format.name.endswith(("10le", "12le", "16le")) else 1
    y = np.frombuffer(plane, np.uint8 if bytes_per == 1 else np.uint16)
    y = y.reshape(-1, plane.line_size // bytes_per)[: frame.height, : frame.width]
    if bytes_per == 2:
        y = (y >> (2 if "10" in frame.format.name else 4)).astype(np.uint8)
    return cv2.resize(y, (width, height), interpolation=cv2.INTER_AREA)


def small_rgb(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """Small RGB copy. Scaling in YUV with area averaging, then converting the small picture, is about
    twice as fast as swscale's combined scale-and-convert (width and height must be even)."""
    yuv = frame.reformat(width=width, height=height, format="yuv420p", interpolation="AREA").to_ndarray()
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)

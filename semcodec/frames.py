"""Small analysis views of decoded frames: the reduced luma and RGB copies the analyzers, tagging, shot
detection, text analysis and the bench look at. A leaf module (PyAV, OpenCV, NumPy only), so both the
analysis side and the encode side can use it without importing each other."""
from __future__ import annotations

import av
import cv2
import numpy as np

# limited-range planar 4:2:0 layouts (-> right shift to 8 bits) whose planes are scaled here with OpenCV;
# other formats (full-range yuvj, semi-planar, 4:2:2/4:4:4, RGB) go through swscale
_PLANAR_420 = {"yuv420p": 0, "yuv420p10le": 2, "yuv420p12le": 4}


def _plane(frame: av.VideoFrame, index: int, width: int, height: int, shift: int) -> np.ndarray:
    """Plane `index` as an 8-bit (height, width) view (a copy only for high bit depths)."""
    plane = frame.planes[index]
    dtype, per = (np.uint16, 2) if shift else (np.uint8, 1)
    a = np.frombuffer(plane, dtype).reshape(-1, plane.line_size // per)[:height, :width]
    return (a >> shift).astype(np.uint8) if shift else a


def small_luma(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """The luma plane scaled to (width, height) with area averaging: no colour conversion, no aliasing."""
    name = frame.format.name
    bytes_per = 2 if name.endswith(("10le", "12le", "16le")) else 1
    shift = (2 if "10" in name else 4) if bytes_per == 2 else 0
    y = _plane(frame, 0, frame.width, frame.height, shift)
    if (y.shape[1], y.shape[0]) == (width, height):
        return np.ascontiguousarray(y)
    return cv2.resize(y, (width, height), interpolation=cv2.INTER_AREA)


def small_rgb(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """Small RGB copy (width and height must be even). Limited-range 4:2:0 frames are scaled plane by plane
    with area averaging and the small picture converted, with no swscale context per frame: in the encode's
    analysis thread that context cost more than the scaling (0.6-0.8 ms a frame at QCIF, 3-4 ms at 720p, against 0.1
    and 0.75 ms this way). Other formats are scaled to 4:2:0 by swscale first."""
    shift = _PLANAR_420.get(frame.format.name)
    if shift is None:
        yuv = frame.reformat(width=width, height=height, format="yuv420p", interpolation="AREA").to_ndarray()
        return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)
    cw, ch = (frame.width + 1) // 2, (frame.height + 1) // 2
    i420 = np.empty((height * 3 // 2, width), np.uint8)  # Y, then U and V, each a (h/2, w/2) block
    flat = i420.reshape(-1)
    n, q = width * height, width * height // 4
    planes = ((0, frame.width, frame.height, width, height, flat[:n]),
              (1, cw, ch, width // 2, height // 2, flat[n:n + q]), (2, cw, ch, width // 2, height // 2, flat[n + q:]))
    for index, pw, ph, w, h, dst in planes:
        src = _plane(frame, index, pw, ph, shift)
        dst.reshape(h, w)[:] = src if (pw, ph) == (w, h) else cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)

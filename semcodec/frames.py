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


class FrameViews:
    """The small views one encoded frame needs (the analysis luma and colour copies, the shot detector's smaller
    colour copy), scaled down from the full frame once. Limited-range 4:2:0 frames are kept as one small I420
    picture at the analysis size: the luma is its Y plane, the colour copy a conversion of it, and a smaller
    view is scaled from it rather than from the full frame (at 720p each full-frame scaling cost 0.5-0.8 ms, and
    the analysis thread made two or three per frame). Other formats take small_luma / small_rgb as before."""

    def __init__(self, frame: av.VideoFrame, width: int, height: int):
        self.frame, self.width, self.height = frame, width, height
        self._planar = frame.format.name in _PLANAR_420
        self._y: np.ndarray | None = None
        self._i420: np.ndarray | None = None
        self._rgb: np.ndarray | None = None

    def luma(self) -> np.ndarray:
        """(height, width) uint8, as small_luma."""
        if self._y is None:
            self._y = self._i420[:self.height] if self._i420 is not None else \
                small_luma(self.frame, self.width, self.height)
        return self._y

    def rgb(self) -> np.ndarray:
        """(height, width, 3) uint8, as small_rgb."""
        if self._rgb is None:
            self._rgb = cv2.cvtColor(self._small_i420(), cv2.COLOR_YUV2RGB_I420) if self._planar else \
                small_rgb(self.frame, self.width, self.height)
        return self._rgb

    def rgb_at(self, width: int, height: int) -> np.ndarray:
        """A colour view no larger than the analysis size (even width and height), scaled from it."""
        if (width, height) == (self.width, self.height):
            return self.rgb()
        if not self._planar:
            return small_rgb(self.frame, width, height)
        src, w, h = self._small_i420(), self.width, self.height
        out = np.empty((height * 3 // 2, width), np.uint8)
        _scale_i420(src.reshape(-1), w, h, out.reshape(-1), width, height)
        return cv2.cvtColor(out, cv2.COLOR_YUV2RGB_I420)

    def _small_i420(self) -> np.ndarray:
        if self._i420 is None:
            f, w, h = self.frame, self.width, self.height
            shift = _PLANAR_420[f.format.name]
            i420 = np.empty((h * 3 // 2, w), np.uint8)
            flat = i420.reshape(-1)
            if self._y is not None:  # the luma was made alone first: only the chroma is scaled now
                flat[:w * h].reshape(h, w)[:] = self._y
            else:
                y = _plane(f, 0, f.width, f.height, shift)
                flat[:w * h].reshape(h, w)[:] = y if y.shape == (h, w) else cv2.resize(y, (w, h),
                                                                                       interpolation=cv2.INTER_AREA)
            cw, ch = (f.width + 1) // 2, (f.height + 1) // 2
            n, q = w * h, w * h // 4
            for index, dst in ((1, flat[n:n + q]), (2, flat[n + q:])):
                src = _plane(f, index, cw, ch, shift)
                dst.reshape(h // 2, w // 2)[:] = src if (cw, ch) == (w // 2, h // 2) else \
                    cv2.resize(src, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
            self._i420 = i420
        return self._i420


def _scale_i420(src: np.ndarray, w: int, h: int, dst: np.ndarray, dw: int, dh: int) -> None:
    """Each plane of a flat I420 picture (w, h) scaled with area averaging into a flat I420 buffer (dw, dh)."""
    n, dn = w * h, dw * dh
    planes = ((0, n, w, h, 0, dn, dw, dh),
              (n, n + n // 4, w // 2, h // 2, dn, dn + dn // 4, dw // 2, dh // 2),
              (n + n // 4, n + n // 2, w // 2, h // 2, dn + dn // 4, dn + dn // 2, dw // 2, dh // 2))
    for s0, s1, sw, sh, d0, d1, tw, th in planes:
        dst[d0:d1].reshape(th, tw)[:] = cv2.resize(src[s0:s1].reshape(sh, sw), (tw, th), interpolation=cv2.INTER_AREA)

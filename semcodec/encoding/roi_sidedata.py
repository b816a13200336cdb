"""Attach FFmpeg's AV_FRAME_DATA_REGIONS_OF_INTEREST to PyAV frames.

PyAV exposes frame side data read-only, so the list of AVRegionOfInterest is attached with ctypes:
`av_frame_new_side_data` from the libavutil that PyAV itself loaded, called on the frame's AVFrame*.
The AVFrame* sits at a fixed offset inside PyAV's Frame object; that is a PyAV implementation detail,
so the layout is verified once at start-up on a probe frame (pointer, width, height, first data
plane) and `RoiAttacher()` raises RoiUnavailable instead of ever writing to a wrong address.
"""
from __future__ import annotations

import ctypes

import av
import numpy as np

SIDE_DATA_ROI = av.sidedata.sidedata.Type.REGIONS_OF_INTEREST.value  # 18 in FFmpeg 8
ROI_STRUCT_SIZE = 28  # uint32 self_size; int32 top, bottom, left, right; AVRational qoffset
_FRAME_PTR_OFFSET = 24  # PyAV 18: PyObject header (16) + Cython vtable pointer (8)
_AVFRAME_WIDTH, _AVFRAME_HEIGHT = 104, 108  # offsetof(AVFrame, width/height) in FFmpeg 8
_SIDEDATA_DATA = 8  # offsetof(AVFrameSideData, data)
SUPPORTED_PYAV_MAJOR = 18


class RoiUnavailable(RuntimeError):
    """The ROI side-data route cannot be used with this PyAV/FFmpeg build."""


def _loaded_avutil() -> ctypes.CDLL:
    """The libavutil PyAV already loaded (its wheel bundles a private copy)."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if "libavutil" in path and path.startswith("/"):
                return ctypes.CDLL(path)
    raise RoiUnavailable("PyAV's libavutil is not loaded in this process")


class RoiAttacher:
    """Writes region lists into frames. Create once; `attach` costs tens of microseconds."""

    def __init__(self):
        major = int(av.__version__.split(".")[0])
        if major != SUPPORTED_PYAV_MAJOR:
            raise RoiUnavailable(
                f"PyAV {av.__version__} is not the verified layout (PyAV {SUPPORTED_PYAV_MAJOR}.x)"
            )
        try:
            lib = _loaded_avutil()
            self._new_side_data = lib.av_frame_new_side_data
        except (OSError, AttributeError) as exc:
            raise RoiUnavailable(f"av_frame_new_side_data not found: {exc}") from None
        self._new_side_data.restype = ctypes.c_void_p
        self._new_side_data.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
        self._verify()

    def _frame_ptr(self, frame: av.VideoFrame) -> int:
        ptr = ctypes.c_void_p.from_address(id(frame) + _FRAME_PTR_OFFSET).value
        if not ptr:
            raise RoiUnavailable("frame has no AVFrame")
        if (
            ctypes.c_int.from_address(ptr + _AVFRAME_WIDTH).value != frame.width
            or ctypes.c_int.from_address(ptr + _AVFRAME_HEIGHT).value != frame.height
            or ctypes.c_void_p.from_address(ptr).value != frame.planes[0].buffer_ptr
        ):
            raise RoiUnavailable("AVFrame layout does not match this PyAV build")
        return ptr

    def _verify(self) -> None:
        """Attach a known region to a probe frame and read it back through PyAV's own API."""
        probe = av.VideoFrame(48, 32, "yuv420p")
        self.attach(probe, np.array([[ROI_STRUCT_SIZE, 2, 30, 4, 40, -1, 10]], dtype=np.int32))
        sd = [s for s in probe.side_data if s.type.value == SIDE_DATA_ROI]
        if len(sd) != 1 or bytes(sd[0]) != np.array(
            [ROI_STRUCT_SIZE, 2, 30, 4, 40, -1, 10], dtype=np.int32
        ).tobytes():
            raise RoiUnavailable("ROI side data did not read back as written")

    def attach(self, frame: av.VideoFrame, regions: np.ndarray) -> None:
        """Attach `regions`, an (N, 7) int32 array of AVRegionOfInterest rows
        (self_size, top, bottom, left, right, qoffset_num, qoffset_den). First row wins on overlap."""
        if len(regions) == 0:
            return
        regions = np.ascontiguousarray(regions, dtype=np.int32)
        sd = self._new_side_data(self._frame_ptr(frame), SIDE_DATA_ROI, regions.nbytes)
        if not sd:
            raise MemoryError("av_frame_new_side_data failed")
        data = ctypes.c_void_p.from_address(sd + _SIDEDATA_DATA).value
        ctypes.memmove(data, regions.ctypes.data, regions.nbytes)


def neutral_region(width: int, height: int) -> np.ndarray:
    """One whole-frame region with a zero offset: a map that changes nothing."""
    return np.array([[ROI_STRUCT_SIZE, 0, height, 0, width, 0, 1]], dtype=np.int32)


def regions_from_offsets(offsets: np.ndarray, block: int, width: int, height: int,
                         qp_range: float, den: int = 1000) -> np.ndarray:
    """Turn a per-block QP-offset grid into AVRegionOfInterest rows.

    Horizontal runs of equal offset in a block row merge into one region and zero blocks get none,
    so a typical map is a few hundred regions, not one per block. `qp_range` converts QP units to
    FFmpeg's qoffset in [-1, 1] (x264: 51 + 6 * (bit_depth - 8)).
    """
    gh, gw = offsets.shape
    q = np.clip(np.rint(offsets / qp_range * den), -den, den).astype(np.int32)
    # run starts: first column, or value differs from the left neighbour
    starts = np.ones_like(q, dtype=bool)
    starts[:, 1:] = q[:, 1:] != q[:, :-1]
    rows, cols = np.nonzero(starts)
    ends = np.empty_like(cols)
    ends[:-1] = np.where(rows[1:] == rows[:-1], cols[1:], gw)
    if len(cols):
        ends[-1] = gw
    values = q[rows, cols]
    keep = values != 0
    rows, cols, ends, values = rows[keep], cols[keep], ends[keep], values[keep]
    out = np.empty((len(rows), 7), dtype=np.int32)
    out[:, 0] = ROI_STRUCT_SIZE
    out[:, 1] = rows * block
    out[:, 2] = np.minimum((rows + 1) * block, height)
    out[:, 3] = cols * block
    out[:, 4] = np.minimum(ends * block, width)
    out[:, 5] = values
    out[:, 6] = den
    return out

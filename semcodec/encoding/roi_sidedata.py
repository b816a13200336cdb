"""Attach FFmpeg's AV_FRAME_DATA_REGIONS_OF_INTEREST to PyAV frames.

PyAV exposes frame side data read-only, so the list of AVRegionOfInterest is attached with ctypes:
`av_frame_new_side_data` from the libavutil that PyAV itself links (not OpenCV's bundled copy, which may
be loaded too), called on the frame's AVFrame*.
The AVFrame* sits at a fixed offset inside PyAV's Frame object; that is a PyAV implementation detail,
so the layout is verified once at start-up on a probe frame (pointer, width, height, first data
plane) and `RoiAttacher()` raises RoiUnavailable instead of ever writing to a wrong address.
"""
from __future__ import annotations

import ctypes
import glob
import os
import struct

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


def _elf_needed(path: str) -> list[str]:
    """The DT_NEEDED entries (linked libraries) of an ELF64 little-endian file; [] for anything else."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            return []
        (shoff,) = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
        # section header: name, type, flags, addr, offset, size, link, info, addralign, entsize
        sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
        for sh in sections:
            if sh[1] != 6:  # SHT_DYNAMIC; its sh_link is the string table of the names
                continue
            strings = sections[sh[6]][4]
            names = []
            for off in range(sh[4], sh[4] + sh[5], 16):
                tag, val = struct.unpack_from("<qQ", data, off)
                if tag == 0:  # DT_NULL
                    break
                if tag == 1:  # DT_NEEDED
                    start = strings + val
                    names.append(data[start:data.index(b"\0", start)].decode())
            return names
    except (OSError, struct.error, ValueError, IndexError):
        pass
    return []


def _avutil_candidates() -> list[str]:
    """Where PyAV's own libavutil is, best first: the copy its wheel bundles (av.libs/ beside the package on
    Linux, av/.dylibs on macOS), else the name its extension modules link (a PyAV built on the system's
    FFmpeg). Never "the first libavutil in the process": once cv2 is imported that can be OpenCV's copy."""
    here = os.path.dirname(os.path.abspath(av.__file__))
    patterns = [os.path.join(here, os.pardir, "av.libs", "libavutil*"), os.path.join(here, ".dylibs", "libavutil*")]
    bundled = sorted({os.path.realpath(p) for pattern in patterns for p in glob.glob(pattern)})
    if bundled:
        return bundled
    for ext in sorted(glob.glob(os.path.join(here, "*.so"))):  # _core first: it links all of FFmpeg
        linked = [name for name in _elf_needed(ext) if name.startswith("libavutil")]
        if linked:
            return linked  # a soname: dlopen gives the copy the dynamic linker already loaded for PyAV
    return []


def _pyav_avutil() -> tuple[ctypes.CDLL, str]:
    """PyAV's libavutil as already loaded into this process (RTLD_NOLOAD: never load a second copy), and
    its path or name."""
    candidates = _avutil_candidates()
    if not candidates:
        raise RoiUnavailable(f"cannot find the libavutil PyAV links (no av.libs/ folder beside {av.__file__} "
                             "and no libavutil among its extension modules' libraries)")
    for name in candidates:
        try:
            return ctypes.CDLL(name, mode=os.RTLD_NOLOAD | os.RTLD_NOW), name
        except OSError:
            continue
    raise RoiUnavailable(f"PyAV's libavutil ({', '.join(candidates)}) is not loaded in this process")


class RoiAttacher:
    """Writes region lists into frames. Create once; `attach` costs tens of microseconds."""

    def __init__(self):
        major = int(av.__version__.split(".")[0])
        if major != SUPPORTED_PYAV_MAJOR:
            raise RoiUnavailable(
                f"PyAV {av.__version__} is not the verified layout (PyAV {SUPPORTED_PYAV_MAJOR}.x)"
            )
        lib, self.library = _pyav_avutil()  # the libavutil that allocates the side data: PyAV's own
        try:
            self._new_side_data = lib.av_frame_new_side_data
        except AttributeError as exc:
            raise RoiUnavailable(f"av_frame_new_side_data not found in {self.library}: {exc}") from None
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

"""Read back the quantisers an encoder used, from its output: proof that a block map landed where intended.

FFmpeg's decoders can export what the bitstream says about quantisation as AV_FRAME_DATA_VIDEO_ENC_PARAMS side
data (decoder option ``export_side_data=venc_params``): a frame QP and per-block deltas. Checked on PyAV 18.1 /
FFmpeg 8: the h264 decoder exports one block per 16x16 macroblock (QP 0-51); the native vp9 decoder exports the
frame's base q-index (0-255) and, when segmentation is on (a map is attached), one entry per 8x8 block with the
segment's q-index delta; hevc and libdav1d (AV1) export nothing.

The side data is an AVVideoEncParams (libavutil/video_enc_params.h)::

    uint32 nb_blocks; size_t blocks_offset; size_t block_size; enum type; int32 qp; int32 delta_qp[4][2];
    then nb_blocks x AVVideoBlockParams {int32 src_x, src_y, w, h, delta_qp} at blocks_offset, block_size apart

The header is parsed from the buffer and checked against PyAV's typed accessor (``av.sidedata.encparams``)
where there is one; the blocks are read with numpy at the offsets the header gives, and the first and last are
checked against the accessor too, so a layout change raises QpReadbackError instead of returning wrong numbers.
"""
from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass

import av
import numpy as np

from semcodec.errors import SemcodecError

SIDE_DATA_VENC_PARAMS = av.sidedata.sidedata.Type.VIDEO_ENC_PARAMS.value
DECODER_OPTIONS = {"export_side_data": "venc_params"}
_HEADER = struct.Struct("<I4xQQii8i")  # nb_blocks, (padding), blocks_offset, block_size, type, qp, delta_qp[4][2]
_BLOCK_FIELDS = 5  # src_x, src_y, w, h, delta_qp (int32 each)
KINDS = {-1: "NONE", 0: "VP9", 1: "H264", 2: "MPEG2"}  # AVVideoEncParamsType
UNITS = {"NONE": "QP", "VP9": "q-index", "H264": "QP", "MPEG2": "qscale"}  # what the numbers are

try:  # PyAV >= 13 has a typed view of this side data; used to check the parse, not needed for it
    from av.sidedata.encparams import VideoEncParams as _Typed
except ImportError:  # pragma: no cover - older PyAV
    _Typed = None


class QpReadbackError(SemcodecError):
    """The VIDEO_ENC_PARAMS side data does not have the layout this module reads."""


@dataclass(frozen=True)
class FrameQp:
    """The quantisers one decoded frame was coded with."""

    index: int  # decode order among the frames of the stream
    pict_type: str  # I, P, B...
    kind: str  # H264, VP9, MPEG2
    unit: str  # QP (H.264), q-index (VP9), qscale (MPEG-2)
    qp: int  # the frame's base value
    width: int
    height: int
    blocks: np.ndarray  # (N, 5) int32: src_x, src_y, w, h, value (base + delta); N = 0: one value for the frame

    def grid(self, cell: int = 16) -> np.ndarray:
        """float64 (rows, cols) of the mean value in each cell x cell square of the frame (area-weighted over
        the blocks covering it); NaN where no block says anything."""
        rows, cols = -(-self.height // cell), -(-self.width // cell)
        if not len(self.blocks):
            return np.full((rows, cols), float(self.qp))
        b = self.blocks.astype(np.int64)
        unit = math.gcd(cell, *map(int, np.abs(b[:, :4]).ravel()))  # finest grid every block edge lies on
        fine = np.full((-(-self.height // unit), -(-self.width // unit)), np.nan)
        x0, y0 = np.clip(b[:, 0], 0, None) // unit, np.clip(b[:, 1], 0, None) // unit
        x1, y1 = -(-(b[:, 0] + b[:, 2]) // unit), -(-(b[:, 1] + b[:, 3]) // unit)
        if ((x1 - x0) == 1).all() and ((y1 - y0) == 1).all():  # one block per fine cell: H.264 macroblocks
            keep = (y0 < fine.shape[0]) & (x0 < fine.shape[1])
            fine[y0[keep], x0[keep]] = b[keep, 4]
        else:
            for bx0, by0, bx1, by1, value in zip(x0, y0, x1, y1, b[:, 4]):
                fine[by0:by1, bx0:bx1] = value
        k = cell // unit
        padded = np.full((rows * k, cols * k), np.nan)
        padded[: fine.shape[0], : fine.shape[1]] = fine
        tiles = padded.reshape(rows, k, cols, k)
        counts = np.isfinite(tiles).sum(axis=(1, 3))
        sums = np.nansum(tiles, axis=(1, 3))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _typed_check(sd, nb: int, offset: int, size: int, kind: int, qp: int, values: np.ndarray) -> None:
    if _Typed is None or not isinstance(sd, _Typed):
        return
    if (sd.nb_blocks, int(sd.codec_type), sd.qp) != (nb, kind, qp) or (
            nb and (sd.blocks_offset, sd.block_size) != (offset, size)):
        raise QpReadbackError(f"AVVideoEncParams header parsed as nb_blocks={nb} offset={offset} size={size} "
                              f"type={kind} qp={qp}; PyAV reads {sd!r}")
    for i in {0, nb - 1} if nb else ():
        p = sd.block_params(i)
        if (p.src_x, p.src_y, p.w, p.h, p.delta_qp) != tuple(int(v) for v in values[i]):
            raise QpReadbackError(f"AVVideoBlockParams {i} parsed as {values[i].tolist()}; PyAV reads {p!r}")


def parse_enc_params(sd) -> tuple[str, int, np.ndarray]:
    """(kind, frame qp, (N, 5) int32 blocks with src_x, src_y, w, h, delta_qp) of one VIDEO_ENC_PARAMS entry."""
    buf = bytes(sd)
    if len(buf) < _HEADER.size:
        raise QpReadbackError(f"VIDEO_ENC_PARAMS side data is {len(buf)} bytes, shorter than its header")
    nb, offset, size, kind, qp, *_ = _HEADER.unpack_from(buf)
    if kind not in KINDS:
        raise QpReadbackError(f"unknown AVVideoEncParamsType {kind}")
    values = np.zeros((0, _BLOCK_FIELDS), np.int32)
    if nb:
        if size < 4 * _BLOCK_FIELDS or offset < _HEADER.size or offset + nb * size > len(buf):
            raise QpReadbackError(f"AVVideoEncParams with {nb} blocks of {size} bytes at {offset} does not fit "
                                  f"its {len(buf)}-byte buffer")
        values = np.ndarray((nb, _BLOCK_FIELDS), np.dtype("<i4"), buf, offset, (size, 4)).astype(np.int32)
    _typed_check(sd, nb, offset, size, kind, qp, values)
    return KINDS[kind], qp, values


def frame_qps(frame: av.VideoFrame, index: int = 0) -> FrameQp | None:
    """The QPs of a frame decoded with DECODER_OPTIONS; None when its decoder exported none."""
    entries = [sd for sd in frame.side_data if sd.type.value == SIDE_DATA_VENC_PARAMS]
    if not entries:
        return None
    kind, qp, blocks = parse_enc_params(entries[0])
    blocks[:, 4] += qp
    if kind == "VP9":  # a segment's q-index is base + delta, clamped to the 0-255 range (VP9 spec, get_qindex)
        np.clip(blocks[:, 4], 0, 255, out=blocks[:, 4])
    pict = av.video.frame.PictureType(int(frame.pict_type)).name
    return FrameQp(index, pict, kind, UNITS[kind], int(qp), frame.width, frame.height, blocks)


def decode_frames(decoder: str, packets: Iterable, extradata: bytes | None = None) -> list[av.VideoFrame]:
    """Decode encoded packets (as an encoder returned them) with FFmpeg's `decoder`, QP export on."""
    dec = av.CodecContext.create(decoder, "r")
    if extradata:
        dec.extradata = extradata
    dec.options = dict(DECODER_OPTIONS)
    frames = []
    for p in packets:
        frames += dec.decode(p)
    frames += dec.decode(None)
    return frames


def decode_qps(decoder: str, packets: Iterable, extradata: bytes | None = None) -> list[FrameQp | None]:
    """The QPs of every frame of encoded packets: one entry per decoded frame, None where the decoder
    exported nothing."""
    return [frame_qps(f, i) for i, f in enumerate(decode_frames(decoder, packets, extradata))]


def read_qps(path: str, stream: int = 0) -> list[FrameQp | None]:
    """The QPs of every frame of video stream `stream` in a file, in decode order (None where its decoder
    exported none: hevc, AV1)."""
    with av.open(path) as c:
        vs = c.streams.video[stream]
        vs.codec_context.options = dict(DECODER_OPTIONS)
        return [frame_qps(f, i) for i, f in enumerate(c.decode(vs))]


def mean_grid(qps: Iterable[FrameQp | None], cell: int = 16) -> np.ndarray | None:
    """Per-cell mean over the frames that carry QPs; None when none does."""
    grids = [q.grid(cell) for q in qps if q is not None]
    if not grids:
        return None
    stack = np.stack(grids)
    with np.errstate(invalid="ignore"):
        counts = np.isfinite(stack).sum(axis=0)
        return np.where(counts > 0, np.nansum(stack, axis=0) / np.maximum(counts, 1), np.nan)

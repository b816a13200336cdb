"""Sample aspect ratio (SAR): read it from the input as players do, write it to an output stream as the
`ffmpeg` command line does, so anamorphic video keeps its shape.

Where an output's SAR lives: H.264/HEVC carry it in the bitstream (VUI), from the encoder context; MP4/MOV
write a `pasp` box from the stream parameters; Matroska writes DisplayWidth/DisplayHeight from the *stream's*
own `AVStream.sample_aspect_ratio`, which is the only place VP9 and AV1 (no SAR in their bitstreams) can keep
it there. PyAV reads that field (through av_guess_sample_aspect_ratio) but has no setter, so it is written with
ctypes, as FFmpeg's CLI sets it (`ost->st->sample_aspect_ratio = enc_ctx->sample_aspect_ratio`). The AVStream*
sits at a fixed offset in PyAV's Stream object, an implementation detail: the layout is verified once on a
probe stream (index, frame rate, and a SAR written then read back through PyAV's own getter), and a build that
fails the check writes no container SAR and says so, never to a wrong address.
"""
from __future__ import annotations

import ctypes
import functools
import io
import logging
from fractions import Fraction

import av

log = logging.getLogger("semcodec")

_STREAM_PTR_OFFSET = 24  # PyAV 18: PyObject header (16) + Cython vtable pointer (8), then AVStream *ptr
_AVSTREAM_INDEX = 8  # offsetof(AVStream, index) in FFmpeg 8 (libavformat 62)
_AVSTREAM_SAR = 72  # offsetof(AVStream, sample_aspect_ratio)
_AVSTREAM_AVG_RATE = 88  # offsetof(AVStream, avg_frame_rate)


def input_sar(stream) -> Fraction | None:
    """The input video stream's SAR as players take it: the container's (MP4 pasp, Matroska display size)
    before the bitstream's; None when neither says (square pixels assumed, nothing to carry)."""
    sar = stream.sample_aspect_ratio
    return Fraction(sar) if sar and sar > 0 else None


def _stream_ptr(stream) -> int:
    return ctypes.c_void_p.from_address(id(stream) + _STREAM_PTR_OFFSET).value or 0


def _rational_at(addr: int) -> tuple[int, int]:
    return ctypes.c_int.from_address(addr).value, ctypes.c_int.from_address(addr + 4).value


@functools.cache
def _layout_verified() -> bool:
    """True when PyAV's Stream -> AVStream layout is the one above: checked on a probe output stream."""
    if int(av.__version__.split(".")[0]) != 18:
        return False
    with av.open(io.BytesIO(), "w", format="matroska") as out:
        s = out.add_stream("ffv1", rate=Fraction(30000, 1001))
        s.width, s.height = 64, 48
        ptr = _stream_ptr(s)
        if not ptr or ctypes.c_int.from_address(ptr + _AVSTREAM_INDEX).value != s.index:
            return False
        if _rational_at(ptr + _AVSTREAM_AVG_RATE) != (30000, 1001) or _rational_at(ptr + _AVSTREAM_SAR) != (0, 1):
            return False
        _write_rational(ptr + _AVSTREAM_SAR, Fraction(7, 5))
        ok = s.sample_aspect_ratio == Fraction(7, 5)  # PyAV's own getter reads AVStream.sample_aspect_ratio
        _write_rational(ptr + _AVSTREAM_SAR, Fraction(0, 1))
        return ok


def _write_rational(addr: int, value: Fraction) -> None:
    ctypes.c_int.from_address(addr).value = value.numerator
    ctypes.c_int.from_address(addr + 4).value = value.denominator


def set_output_sar(stream, sar: Fraction | None) -> bool:
    """Give an output video stream `sar` in the encoder context (bitstream VUI, MP4/MOV pasp) and on the stream
    itself (Matroska display size). Call before the first packet. False when the stream field could not be
    written (unverified PyAV build: only the codec parameters carry it)."""
    if not sar:
        return True
    stream.codec_context.sample_aspect_ratio = sar
    if not _layout_verified():
        log.warning("this PyAV build's stream layout is not the verified one: the sample aspect ratio %s is kept "
                    "in the codec parameters only (a Matroska file of VP9/AV1 loses it)", sar)
        return False
    _write_rational(_stream_ptr(stream) + _AVSTREAM_SAR, Fraction(sar))
    return True

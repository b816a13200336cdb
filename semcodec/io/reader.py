"""Open an input video with PyAV, describe it, and yield its decoded frames.

Everything FFmpeg can read is accepted. Problems a user can fix (missing file, not a video, no video
stream, truncated file) become one-line SemcodecErrors; a frame that fails to decode in the middle of
an otherwise readable file is skipped and counted, so one bad packet does not lose the whole encode.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterator

import av

from semcodec.errors import SemcodecError


@dataclass
class StreamInfo:
    """What the encoder and the report need to know about the input."""

    path: str
    container: str
    codec: str
    width: int
    height: int
    pix_fmt: str
    bit_depth: int
    time_base: Fraction
    average_rate: Fraction
    frames: int  # from the container index; 0 when unknown
    duration_s: float
    rotation: int  # degrees, from the display matrix
    color: dict = field(default_factory=dict)
    audio_streams: list = field(default_factory=list)  # [{index, codec, channels, sample_rate}]
    subtitle_streams: int = 0

    def to_json(self) -> dict:
        d = dict(self.__dict__)
        d["time_base"] = str(self.time_base)
        d["average_rate"] = float(self.average_rate)
        return d


def _bit_depth(pix_fmt: str) -> int:
    for depth in (16, 14, 12, 10, 9):
        if f"p{depth}" in pix_fmt or pix_fmt.endswith(f"{depth}le") or pix_fmt.endswith(f"{depth}be"):
            return depth
    return 8


def open_input(path: str) -> av.container.InputContainer:
    """Open a file for reading, turning FFmpeg's errors into one-line messages."""
    if not os.path.exists(path):
        raise SemcodecError(f"input not found: {path}")
    if os.path.isdir(path):
        raise SemcodecError(f"input is a folder, not a video file: {path}")
    try:
        container = av.open(path, "r")
    except av.error.InvalidDataError:
        raise SemcodecError(f"not a readable video (no valid media data: corrupt, truncated or not a video): {path}") from None
    except av.error.FFmpegError as exc:
        raise SemcodecError(f"cannot open {path}: {exc.strerror or exc}") from None
    if not container.streams.video:
        container.close()
        raise SemcodecError(f"no video stream in {path}")
    return container


def probe(path: str) -> StreamInfo:
    """Describe the first video stream of `path` (and list its audio streams)."""
    with open_input(path) as container:
        return _describe(path, container)


def _describe(path: str, container) -> StreamInfo:
    vs = container.streams.video[0]
    cc = vs.codec_context
    if not vs.width or not vs.height:
        raise SemcodecError(f"video stream of {path} has no frame size (corrupt header?)")
    rate = vs.average_rate or vs.guessed_rate or vs.base_rate or Fraction(25)
    duration = 0.0
    if vs.duration and vs.time_base:
        duration = float(vs.duration * vs.time_base)
    elif container.duration:
        duration = container.duration / av.time_base
    pix_fmt = cc.format.name if cc.format else "yuv420p"
    audio = [
        {"index": a.index, "codec": a.codec_context.name, "channels": a.codec_context.channels,
         "sample_rate": a.codec_context.sample_rate}
        for a in container.streams.audio
    ]
    return StreamInfo(
        path=path,
        container=container.format.name,
        codec=cc.name,
        width=vs.width,
        height=vs.height,
        pix_fmt=pix_fmt,
        bit_depth=_bit_depth(pix_fmt),
        time_base=vs.time_base or Fraction(1, 90000),
        average_rate=Fraction(rate),
        frames=vs.frames or 0,
        duration_s=duration,
        rotation=0,  # filled from the first decoded frame, where FFmpeg puts the display matrix
        color={
            "range": cc.color_range, "space": cc.colorspace,
            "primaries": cc.color_primaries, "trc": cc.color_trc,
        },
        audio_streams=audio,
        subtitle_streams=len(container.streams.subtitles),
    )


@dataclass
class DecodeStats:
    frames: int = 0
    packets: int = 0
    bad_packets: int = 0
    first_error: str = ""


def iter_packets_and_frames(container, stats: DecodeStats, copy_streams=()) -> Iterator[tuple]:
    """Demux once; yield ('video', frame) for decoded video frames and ('copy', packet) for packets of
    `copy_streams` (audio passed through untouched).

    A packet that fails to decode is skipped and counted. A demuxer error (the file ends in the middle
    of a packet, the index points past the end) is a truncated input and stops with a SemcodecError.
    """
    vs = container.streams.video[0]
    vs.thread_type = "AUTO"
    streams = [vs, *copy_streams]
    try:
        for packet in container.demux(streams):
            if packet.stream.type != "video":
                if packet.dts is not None:
                    yield "copy", packet
                continue
            stats.packets += 1
            try:
                frames = vs.decode(packet)
            except av.error.InvalidDataError as exc:
                stats.bad_packets += 1
                stats.first_error = stats.first_error or str(exc)
                continue
            for frame in frames:
                stats.frames += 1
                yield "video", frame
    except av.error.FFmpegError as exc:
        raise SemcodecError(
            f"input is truncated or corrupt after {stats.frames} frames: {exc.strerror or exc}"
        ) from None
    if stats.frames == 0:
        raise SemcodecError("no video frame could be decoded from the input")
    if vs.frames and stats.packets < vs.frames * 0.98 - 1:
        raise SemcodecError(
            f"input is truncated: its index lists {vs.frames} video packets but only "
            f"{stats.packets} could be read"
        )

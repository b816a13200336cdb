"""Open an input video with PyAV, describe it, and yield its decoded frames.

Everything FFmpeg can read is accepted. Problems a user can fix (missing file, not a video, no video
stream, truncated file) become one-line SemcodecErrors; a frame that fails to decode in the middle of
an otherwise readable file is skipped and counted, so one bad packet does not lose the whole encode.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import av

from semcodec.errors import SemcodecError
from semcodec.io.aspect import input_sar


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
    sample_aspect_ratio: Fraction | None = None  # container's, else bitstream's; None: not stated (square)
    audio_streams: list = field(default_factory=list)  # [{index, codec, channels, sample_rate}]
    subtitle_streams: int = 0

    def to_json(self) -> dict:
        d = dict(self.__dict__)
        d["time_base"] = str(self.time_base)
        d["average_rate"] = float(self.average_rate)
        d["sample_aspect_ratio"] = str(self.sample_aspect_ratio) if self.sample_aspect_ratio else None
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
    except av.error.FFmpegError as exc:
        _refuse_huge_frames(path)  # FFmpeg's reason for these is errno text ("Device or resource busy")
        if isinstance(exc, av.error.InvalidDataError):
            raise SemcodecError(f"not a readable video (no valid media data: corrupt, truncated or not a video): "
                                f"{path}") from None
        raise SemcodecError(f"cannot open {path}: {exc.strerror or exc}") from None
    if not container.streams.video:
        container.close()
        raise SemcodecError(f"no video stream in {path}")
    return container


def _frame_fits(width: int, height: int) -> bool:
    """FFmpeg's av_image_check_size(): a picture whose padded rows exceed INT_MAX bytes cannot be allocated."""
    return 0 < width and 0 < height and (8 * width + 1024) * (height + 128) < 2**31 - 1


MAX_SQUARE_SIDE = 16255  # the largest square frame _frame_fits() accepts


def _refuse_huge_frames(path: str) -> None:
    """A header that declares a frame FFmpeg cannot allocate (a Y4M 'W30000 H30000') gets a message that
    says so; FFmpeg itself reports an unrelated errno."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
    except OSError:
        return
    if not head.startswith(b"YUV4MPEG2 "):
        return
    fields = {t[:1]: t[1:] for t in head.split(b"\n", 1)[0].split(b" ")[1:] if t}
    try:
        width, height = int(fields.get(b"W", b"0")), int(fields.get(b"H", b"0"))
    except ValueError:
        return
    if width > 0 and height > 0 and not _frame_fits(width, height):
        raise SemcodecError(f"cannot open {path}: its frame size {width}x{height} is too large to allocate "
                            f"(FFmpeg's limit is about {MAX_SQUARE_SIDE}x{MAX_SQUARE_SIDE} pixels)")


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
        sample_aspect_ratio=input_sar(vs),
        audio_streams=audio,
        subtitle_streams=len(container.streams.subtitles),
    )


@dataclass
class DecodeStats:
    frames: int = 0
    packets: int = 0
    bad_packets: int = 0
    first_error: str = ""
    end_time: float | None = None  # seconds: the latest decoded frame's time plus its duration
    last_time: float | None = None  # seconds: the previous decoded frame's time
    gaps: int = 0  # jumps in the timestamps far beyond the frame rate (see _note_end)
    gap_frames: int = 0  # about how many frames those jumps skip
    largest_gap: tuple[float, float] | None = None  # (from, to) seconds


def _tag_seconds(text: str) -> float | None:
    """Matroska's per-stream DURATION tag ('00:00:01.200000000') in seconds."""
    try:
        h, m, s = text.strip().split(":")
        value = int(h) * 3600 + int(m) * 60 + float(s)
    except (ValueError, AttributeError):
        return None
    return value if value > 0 else None


def declared_length(vs) -> tuple[str, float, str] | None:
    """What the file says about the length of its video stream, to compare with what decodes:
    ('frames', n, source) from a frame count, ('seconds', end time, source) from a duration, or None.
    The container's own duration is not used: it may be the audio's, or a guess from the bitrate."""
    if vs.frames:  # MP4/MOV sample table, AVI index
        return "frames", float(vs.frames), "index"
    meta = {k.upper(): v for k, v in (vs.metadata or {}).items()}
    count = meta.get("NUMBER_OF_FRAMES", "")  # mkvmerge's statistics tags
    if count.isdigit() and int(count) > 0:
        return "frames", float(count), "NUMBER_OF_FRAMES tag"
    start = float(vs.start_time * vs.time_base) if vs.start_time is not None and vs.time_base else 0.0
    if vs.duration and vs.time_base:
        return "seconds", start + float(vs.duration * vs.time_base), "video stream header"
    tagged = _tag_seconds(meta.get("DURATION", ""))  # Matroska and WebM written by FFmpeg
    if tagged:
        # FFmpeg writes the stream's end time here, not its length: a stream that starts at 2 s and lasts 1 s
        # says 3 s. Read as an end time it is never more than the truth, so it cannot cry wolf.
        return "seconds", tagged, "DURATION tag"
    return None


def check_complete(vs, stats: DecodeStats) -> None:
    """One rule for every container: what was read must reach what the file declares, within two frames
    or 1 % (whichever is more). A shortfall is an error that names both numbers: a truncated download
    encodes to a shorter video, and a demanding user wants to know before using it."""
    declared = declared_length(vs)
    if declared is None:
        return
    kind, value, source = declared
    rate = float(vs.average_rate or vs.guessed_rate or 25)
    if kind == "frames":
        missing = value - stats.packets  # packets, not frames: a corrupt packet is counted apart, as skipped
        if missing > max(2.0, 0.01 * value):
            raise SemcodecError(f"input is truncated: {stats.packets} of the {int(value)} video frames its "
                                f"{source} lists could be read ({stats.frames} decoded)")
        return
    end = stats.end_time or 0.0
    if value - end > max(2.0 / rate, 0.01 * value):
        raise SemcodecError(f"input is truncated: {stats.frames} video frames decoded, up to {end:.2f} s, but its "
                            f"{source} declares {value:.2f} s (about {round(value * rate)} frames)")


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
                _note_end(stats, frame, vs)
                yield "video", frame
    except av.error.FFmpegError as exc:
        raise SemcodecError(
            f"input is truncated or corrupt after {stats.frames} frames: {exc.strerror or exc}"
        ) from None
    if stats.frames == 0:
        raise SemcodecError("no video frame could be decoded from the input")
    check_complete(vs, stats)


def _note_end(stats: DecodeStats, frame, vs) -> None:
    if frame.pts is None or frame.time_base is None:
        return
    step = float(frame.duration * frame.time_base) if frame.duration else 0.0
    if not step:
        step = 1.0 / float(vs.average_rate or vs.guessed_rate or 25)
    t = float(frame.pts * frame.time_base)
    end = t + step
    stats.end_time = end if stats.end_time is None else max(stats.end_time, end)
    _note_gap(stats, t, 1.0 / float(vs.average_rate or vs.guessed_rate or 25))
    stats.last_time = t


# A jump between consecutive frames longer than this (seconds, and frame periods) is reported: a damaged file
# whose demuxer resynchronised past the damage (Matroska does, silently) or a recording that dropped frames.
# Either way the output keeps the timestamps and players hold the last frame across it.
GAP_S, GAP_FRAMES = 1.0, 10


def damage_warnings(stats: DecodeStats) -> list[str]:
    """What the reader stepped over, for the report: corrupt packets skipped, jumps in the timestamps."""
    out = []
    if stats.bad_packets:
        out.append(f"{stats.bad_packets} corrupt video packet(s) skipped (first error: {stats.first_error})")
    if stats.gaps:
        (a, b), more = stats.largest_gap, f" ({stats.gaps} such jumps)" if stats.gaps > 1 else ""
        out.append(f"the input's video jumps from {a:.2f} s to {b:.2f} s{more}: about {stats.gap_frames} frames "
                   "missing (damaged data or a recording gap); the output keeps the timestamps")
    return out


def _note_gap(stats: DecodeStats, t: float, period: float) -> None:
    if stats.last_time is None:
        return
    jump = t - stats.last_time
    if jump <= max(GAP_S, GAP_FRAMES * period):
        return
    stats.gaps += 1
    stats.gap_frames += max(1, round(jump / period) - 1)
    if stats.largest_gap is None or jump > stats.largest_gap[1] - stats.largest_gap[0]:
        stats.largest_gap = (stats.last_time, t)

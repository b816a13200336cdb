"""Join finished chunks into one file without re-encoding.

Video: the chunks' packets are remuxed in order. Timestamps are rewritten from the input's own frame
index: the k-th frame shown by chunk i gets the input's pts of frame start_i + k, so frame count, pts
and durations are the input's exactly, whatever the chunk containers did to them. Decode timestamps
are the input's pts shifted by a fixed reorder delay D (the deepest B-frame reordering seen in any
chunk), which keeps them strictly increasing and never after their pts across chunk borders.
Audio: copied once from the input for the whole duration (re-encoded to AAC only where MP4 cannot
hold it, as in a single-piece encode). Colour and rotation travel with the stream parameters. The muxer
runs bit-exact (no random Matroska segment UID, no library version string), so the same chunks always
give the same bytes.
"""
from __future__ import annotations

import logging
import os
from fractions import Fraction

import av

from semcodec.errors import SemcodecError
from semcodec.io.aspect import set_output_sar
from semcodec.io.audio import add_audio_streams, flush_audio, mux_audio
from semcodec.io.reader import open_input
from semcodec.io.writer import atomic_output, container_format, muxer_options

log = logging.getLogger("semcodec")


def parameter_sets(codec: str, extradata: bytes) -> tuple[int, list[bytes]] | None:
    """(NAL length size, parameter-set NAL units) from an avcC / hvcC record; None for other codecs
    or Annex B extradata."""
    x = extradata
    try:
        if codec == "h264" and len(x) > 6 and x[0] == 1:
            size, n, i, nals = (x[4] & 3) + 1, x[5] & 31, 6, []
            for _ in range(n):
                ln = int.from_bytes(x[i:i + 2], "big")
                nals.append(x[i + 2:i + 2 + ln])
                i += 2 + ln
            n, i = x[i], i + 1
            for _ in range(n):
                ln = int.from_bytes(x[i:i + 2], "big")
                nals.append(x[i + 2:i + 2 + ln])
                i += 2 + ln
            return size, nals
        if codec == "hevc" and len(x) > 23 and x[0] == 1:
            size, arrays, i, nals = (x[21] & 3) + 1, x[22], 23, []
            for _ in range(arrays):
                n = int.from_bytes(x[i + 1:i + 3], "big")
                i += 3
                for _ in range(n):
                    ln = int.from_bytes(x[i:i + 2], "big")
                    nals.append(x[i + 2:i + 2 + ln])
                    i += 2 + ln
            return size, nals
    except IndexError:
        return None
    return None


# NAL unit types a decoder needs in-band to switch parameters: H.264 SPS, PPS, SPS extension; HEVC VPS, SPS,
# PPS. The rest of an hvcC/avcC record is SEI (x265 puts its 2.3 KB options string there): it belongs once,
# in the sample entry, not in front of every chunk, where it cost x265 +5 % over a two-pass target.
_PARAMETER_SET_TYPES = {"h264": {7, 8, 13}, "hevc": {32, 33, 34}}


def _nal_type(codec: str, nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F if codec == "hevc" else nal[0] & 0x1F


def _chunk_packets(path: str):
    with av.open(path) as c:
        vs = c.streams.video[0]
        for p in c.demux(vs):
            if p.size == 0:
                continue
            yield p


def _pts_ranks(path: str) -> tuple[list[int], bytes]:
    """Presentation rank of each packet in decode order, and the stream's extradata."""
    with av.open(path) as c:
        extradata = bytes(c.streams.video[0].codec_context.extradata or b"")
        pts = [p.pts for p in c.demux(c.streams.video[0]) if p.size]
    if any(x is None for x in pts):
        raise SemcodecError(f"chunk {os.path.basename(path)} has packets without timestamps")
    order = {v: r for r, v in enumerate(sorted(pts))}
    return [order[v] for v in pts], extradata


def _inband_parameter_sets(codec: str, chunk_files: list[str], extras: list[bytes]) -> list[bytes]:
    """Per chunk, the parameter sets to put in-band in front of its first packet (b"": none needed)."""
    inband = [b""] * len(chunk_files)
    if len(set(extras)) > 1:
        # rate control changed the parameter sets (level, initial QP: each chunk has its own bitrate):
        # every chunk's own SPS/PPS go in-band in front of its first IDR, where a decoder switches to
        # them (every chunk, not only those that differ from the first: a decoder keeps the last ones)
        for i, (path, ex) in enumerate(zip(chunk_files, extras)):
            ps = parameter_sets(codec, ex)
            if ps is None:
                raise SemcodecError(f"chunk {os.path.basename(path)} has other codec parameters than the first "
                                    f"chunk and {codec} parameter sets cannot be carried in-band here")
            size, nals = ps
            keep = [n for n in nals if n and _nal_type(codec, n) in _PARAMETER_SET_TYPES[codec]]
            inband[i] = b"".join(len(n).to_bytes(size, "big") + n for n in keep)
    return inband


class _AudioCopier:
    """The input's audio packets, muxed in order up to a time as the video goes out."""

    def __init__(self, out, copies: dict, inp, stats: dict):
        self.out, self.copies, self.stats = out, copies, stats
        self.packets = iter(inp.demux(list(copies))) if copies else iter(())
        self.held = None

    def until(self, t: float | None) -> None:
        """Mux every audio packet with a decode time up to `t` seconds (None: all that are left)."""
        while True:
            p, self.held = self.held, None
            if p is None:
                p = next(self.packets, None)
                if p is None:
                    return
            if p.dts is None:  # the demuxer's end-of-stream flush packets
                continue
            if t is not None and float(p.dts * p.time_base) > t:
                self.held = p
                return
            self.stats["audio_packets"] += 1
            mux_audio(self.out, self.copies, p)


def _mux_video(out, vout, chunk_files: list[str], ranks: list[list[int]], inband: list[bytes], index,
               delay: int, audio: _AudioCopier) -> tuple[int, int]:
    """Remux every chunk's packets with the input's timestamps, interleaving the audio; returns the
    number of video packets written and their bytes."""
    tb = index.time_base
    ticks = index.frame_ticks()

    def dts_of(g: int) -> int:
        return index.pts[g - delay] if g >= delay else index.pts[0] - (delay - g) * ticks

    g = video_bytes = 0
    for path, rs, prefix in zip(chunk_files, ranks, inband):
        for k, (packet, f) in enumerate(zip(_chunk_packets(path), rs)):
            if k == 0 and prefix:
                key = packet.is_keyframe
                packet = av.Packet(prefix + bytes(packet))
                packet.is_keyframe = key
            packet.stream = vout
            packet.time_base = tb
            packet.pts = index.pts[f]
            packet.dts = dts_of(g)
            packet.duration = index.end_pts(f + 1) - index.pts[f]
            audio.until(float(packet.dts * tb))
            video_bytes += packet.size
            out.mux(packet)
            g += 1
    return g, video_bytes


def join_chunks(chunk_files: list[str], starts: list[int], index, input_path: str, output_path: str,
                rotation: int = 0, audio: bool = True, sar: Fraction | None = None) -> dict:
    """Write `output_path` (atomically) from the chunk files; `starts[i]` is chunk i's first frame.

    Args:
        chunk_files: the finished chunks, in order.
        starts: first input frame of each chunk.
        index: the input's frame index (semcodec.parallel.index): pts of every frame, time base.
        input_path: the input, whose audio is copied (with `audio`).
        output_path: the joined file (written through a temporary file, bit-exact muxer).
        rotation: display rotation to set on the video stream.
        sar: the input's sample aspect ratio, set on the video stream (the chunks' own may be lost or the
            decoder's guess: AV1 in MP4 probes as 1:1 beside a 4:3 pasp box).

    Returns:
        Stats: frames, video_bytes, audio_packets, reorder_delay, chunks_with_inband_parameter_sets, bytes,
        warnings (also logged).

    Raises:
        SemcodecError: the chunks do not hold exactly the input's frames, or cannot be joined.
    """
    ranks, extras = [], []
    with av.open(chunk_files[0]) as c:
        codec = c.streams.video[0].codec_context.name
    for path, start in zip(chunk_files, starts):
        r, ex = _pts_ranks(path)
        extras.append(ex)
        ranks.append([start + x for x in r])
    inband = _inband_parameter_sets(codec, chunk_files, extras)
    frames = [f for rs in ranks for f in rs]
    if sorted(frames) != list(range(index.frames)):
        raise SemcodecError(f"chunks hold {len(frames)} frames, the input {index.frames}: refusing to join")
    delay = max(0, max(g - f for g, f in enumerate(frames)))
    fmt = container_format(output_path)
    stats = {"frames": 0, "video_bytes": 0, "audio_packets": 0, "reorder_delay": delay,
             "chunks_with_inband_parameter_sets": sum(1 for p in inband if p), "warnings": []}

    def warn(msg: str) -> None:  # logged as the single-piece encode does, and kept for the report
        log.warning(msg)
        stats["warnings"].append(msg)

    with atomic_output(output_path) as tmp, av.open(tmp, "w", format=fmt, options=muxer_options(fmt)) as out, \
            av.open(chunk_files[0]) as first:
        # opaque: take the chunk's stream as it is; otherwise PyAV looks its decoder's name up as an encoder,
        # and AV1's decoder here is libdav1d, which is no encoder name (the join of every AV1 chunk failed)
        vout = out.add_stream_from_template(first.streams.video[0], opaque=True)
        vout.time_base = index.time_base
        vout.codec_context.framerate = index.rate  # the track's frame rate (Matroska: not 1 ms per frame)
        if rotation:
            vout.set_display_rotation(rotation)
        set_output_sar(vout, sar)
        inp = open_input(input_path) if audio else None
        try:
            if inp is not None and inp.streams.subtitles:
                warn(f"{len(inp.streams.subtitles)} subtitle stream(s) not copied")
            copies = add_audio_streams(inp, out, fmt, warn) if inp is not None else {}
            copier = _AudioCopier(out, copies, inp, stats)
            stats["frames"], stats["video_bytes"] = _mux_video(out, vout, chunk_files, ranks, inband, index, delay,
                                                               copier)
            copier.until(None)
            flush_audio(out, copies)
        finally:
            if inp is not None:
                inp.close()
    stats["bytes"] = os.path.getsize(output_path)
    return stats

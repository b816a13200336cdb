"""Audio pass-through: streams copied packet for packet; re-encoded to AAC only where the container
cannot hold them (Vorbis or PCM into MP4). Used by the single-piece encode and by the chunk join.

A re-encoded stream keeps its place on the timeline: the first decoded frame's time becomes the first AAC
frame's, later frames follow sample by sample, and the encoder's priming samples (AAC's initial_padding,
1024) go before it at negative time, which the MP4/MOV muxer hides behind an edit list, as FFmpeg's own
transcode does. (Numbering frames from 0 played the audio one priming delay, 21 ms at 48 kHz, late, and
dropped any start offset of the source's audio.)"""
from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from semcodec.io.writer import MOV_AUDIO, MP4_AUDIO

# an unordered layout ("2 channels") is not one AAC takes: use the standard layout for the count
_AAC_LAYOUT = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}


class AacTranscode:
    """One input audio stream decoded and re-encoded to AAC, with timestamps counted in samples from the
    first frame's own time (decoder frames carry their pts; a gap in the source is closed up, as before)."""

    def __init__(self, ostream):
        self.ostream = ostream
        self.rate = ostream.codec_context.sample_rate
        self.next_pts: int | None = None

    def encode(self, frame) -> list:
        if self.next_pts is None:
            start = frame.pts * frame.time_base if frame.pts is not None and frame.time_base else Fraction(0)
            self.next_pts = round(start * self.rate)
        frame.pts, frame.time_base = self.next_pts, Fraction(1, self.rate)
        self.next_pts += round(frame.samples * self.rate / frame.sample_rate)
        return self.ostream.encode(frame)

    def flush(self) -> list:
        return self.ostream.encode(None)


def add_audio_streams(inp, out, container: str, warn: Callable[[str], None]) -> dict:
    """Output streams for every audio stream of `inp`: {input stream: (output stream, AacTranscode or None)}."""
    copies = {}
    for a in inp.streams.audio:
        codec = a.codec_context.name
        takes = {"mp4": MP4_AUDIO, "mov": MOV_AUDIO}.get(container)
        if takes is not None and codec not in takes:
            warn(f"audio stream {a.index} ({codec}) cannot go into {container.upper()} as it is: re-encoded to AAC")
            o = out.add_stream("aac", rate=a.codec_context.sample_rate)
            o.layout = _AAC_LAYOUT.get(a.codec_context.channels, "stereo")
            copies[a] = (o, AacTranscode(o))
        else:
            copies[a] = (out.add_stream_from_template(a), None)
    return copies


def mux_audio(out, copies: dict, packet) -> None:
    """Write one input audio packet: as it is, or decoded and re-encoded."""
    ostream, transcode = copies[packet.stream]
    if transcode is not None:
        for frame in packet.decode():
            out.mux(transcode.encode(frame))
        return
    packet.stream = ostream
    out.mux(packet)


def flush_audio(out, copies: dict) -> None:
    """Drain the AAC encoders of re-encoded streams."""
    for _, transcode in copies.values():
        if transcode is not None:
            out.mux(transcode.flush())

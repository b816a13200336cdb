"""Audio pass-through: streams copied packet for packet; re-encoded to AAC only where the container
cannot hold them (Vorbis or PCM into MP4). Used by the single-piece encode and by the chunk join."""
from __future__ import annotations

from collections.abc import Callable

from semcodec.io.writer import MP4_AUDIO

# an unordered layout ("2 channels") is not one AAC takes: use the standard layout for the count
_AAC_LAYOUT = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}


def add_audio_streams(inp, out, container: str, warn: Callable[[str], None]) -> dict:
    """Output streams for every audio stream of `inp`: {input stream: (output stream, transcode?)}."""
    copies = {}
    for a in inp.streams.audio:
        codec = a.codec_context.name
        if container in ("mp4", "mov") and codec not in MP4_AUDIO:
            warn(f"audio stream {a.index} ({codec}) cannot go into MP4 as it is: re-encoded to AAC")
            o = out.add_stream("aac", rate=a.codec_context.sample_rate)
            o.layout = _AAC_LAYOUT.get(a.codec_context.channels, "stereo")
            copies[a] = (o, True)
        else:
            copies[a] = (out.add_stream_from_template(a), False)
    return copies


def mux_audio(out, copies: dict, packet) -> None:
    """Write one input audio packet: as it is, or decoded and re-encoded."""
    ostream, transcode = copies[packet.stream]
    if transcode:
        for frame in packet.decode():
            frame.pts = None
            for ep in ostream.encode(frame):
                out.mux(ep)
        return
    packet.stream = ostream
    out.mux(packet)


def flush_audio(out, copies: dict) -> None:
    """Drain the AAC encoders of re-encoded streams."""
    for ostream, transcode in copies.values():
        if transcode:
            for packet in ostream.encode(None):
                out.mux(packet)

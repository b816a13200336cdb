"""Bring decoded frames into the encoder's format and size (the small analysis copies live in semcodec.frames)."""
from __future__ import annotations

import av


def encoder_pix_fmt(codec: str, bit_depth: int) -> str:
    """Keep 10-bit sources 10-bit where the encoder supports it; everything else is 8-bit 4:2:0."""
    if bit_depth > 8:
        formats = {f.name for f in av.codec.Codec(codec, "w").video_formats or []}
        if "yuv420p10le" in formats:
            return "yuv420p10le"
    return "yuv420p"


class FramePreparer:
    """Converts every decoded frame to (width, height, pix_fmt). Odd source sizes are cropped by one
    pixel on the right/bottom (4:2:0 needs even sizes), through FFmpeg's crop filter, never scaled."""

    def __init__(self, src_width: int, src_height: int, pix_fmt: str):
        self.width, self.height = src_width - src_width % 2, src_height - src_height % 2
        self.pix_fmt = pix_fmt
        self.cropped = (self.width, self.height) != (src_width, src_height)
        self._graph = None

    def _crop(self, frame: av.VideoFrame) -> av.VideoFrame:
        if self._graph is None:
            g = av.filter.Graph()
            src = g.add_buffer(width=frame.width, height=frame.height, format=frame.format,
                               time_base=frame.time_base or 1)
            crop = g.add("crop", f"{self.width}:{self.height}:0:0")
            fmt = g.add("format", self.pix_fmt)
            sink = g.add("buffersink")
            src.link_to(crop)
            crop.link_to(fmt)
            fmt.link_to(sink)
            g.configure()
            self._graph = g
        self._graph.push(frame)
        return self._graph.pull()

    def __call__(self, frame: av.VideoFrame) -> av.VideoFrame:
        if self.cropped:
            return self._crop(frame)
        if frame.format.name != self.pix_fmt:
            return frame.reformat(format=self.pix_fmt)
        return frame

"""XPSNR (Helmrich et al., perceptually weighted PSNR) from FFmpeg's own ``xpsnr`` filter.

PyAV's FFmpeg has the filter. The *first* input is the original: vf_xpsnr.c computes its spatial and
temporal activity weights from it, so the reference goes to input 0 and the distorted copy to input 1
(as `ffmpeg -i ref -i dist -lavfi xpsnr`). Frames go in order, at the clip's frame rate (the temporal
term depends on it), and per-frame scores come back as frame metadata ``lavfi.xpsnr.xpsnr.{y,u,v}``.

Pooling follows vf_xpsnr.c's overall value: the PSNR of the mean per-frame sqrt(weighted SSE)
("square-mean-root"), falling back to the mean of per-frame values when that mean is below 1 (nearly
lossless), as FFmpeg does.
"""
from __future__ import annotations

import math
from fractions import Fraction

import av
import numpy as np

from semcodec.metrics import PSNR_CAP_DB

_TB = Fraction(1, 25)
PLANES = ("y", "u", "v")


class Xpsnr:
    """Feed (reference, distorted) yuv420p frame pairs in order; `summary()` pools the scores."""

    def __init__(self, width: int, height: int, rate: Fraction | float = 25):
        graph = av.filter.Graph()
        rate = Fraction(rate).limit_denominator(100000)
        args = dict(video_size=f"{width}x{height}", pix_fmt=str(int(av.VideoFormat("yuv420p"))),
                    time_base=str(_TB), pixel_aspect="1/1", frame_rate=f"{rate.numerator}/{rate.denominator}")
        self._ref, self._dist = graph.add("buffer", **args), graph.add("buffer", **args)
        xpsnr, self._sink = graph.add("xpsnr"), graph.add("buffersink")
        self._ref.link_to(xpsnr, 0, 0)  # original: the activity weights come from it
        self._dist.link_to(xpsnr, 0, 1)
        xpsnr.link_to(self._sink)
        graph.configure()
        self._graph = graph  # filter contexts only weakly reference their graph
        self._n = 0
        self.pixels = {"y": width * height, "u": ((width + 1) // 2) * ((height + 1) // 2)}
        self.pixels["v"] = self.pixels["u"]
        self.scores: dict[str, list[float]] = {p: [] for p in PLANES}  # raw: inf for identical planes

    def push(self, ref: av.VideoFrame, dist: av.VideoFrame) -> None:
        for frame in (ref, dist):
            frame.pts, frame.time_base = self._n, _TB  # framesync pairs frames by pts
        self._n += 1
        self._ref.push(ref)
        self._dist.push(dist)
        self._drain()

    def _drain(self) -> None:
        while True:
            try:
                meta = self._sink.pull().metadata
            except (av.BlockingIOError, av.EOFError):
                return
            for p in PLANES:
                self.scores[p].append(float(meta[f"lavfi.xpsnr.xpsnr.{p}"]))

    def finish(self) -> dict[str, list[float]]:
        self._ref.push(None)
        self._dist.push(None)
        self._drain()
        return self.scores

    def summary(self) -> dict:
        """`xpsnr_<p>_mean`, `_p5` (per-frame values capped at PSNR_CAP_DB) and `_global` (FFmpeg's)."""
        out = {}
        for p in PLANES:
            raw = np.asarray(self.scores[p], dtype=np.float64)
            capped = np.minimum(raw, PSNR_CAP_DB)
            out[f"xpsnr_{p}_mean"] = float(capped.mean())
            out[f"xpsnr_{p}_p5"] = float(np.percentile(capped, 5))
            out[f"xpsnr_{p}_global"] = min(PSNR_CAP_DB, pooled_xpsnr(raw, self.pixels[p]))
        return out


def pooled_xpsnr(values, pixels: int, peak: int = 255) -> float:
    """vf_xpsnr.c's overall value from per-frame XPSNR values of a plane of `pixels` samples."""
    values = np.asarray(values, dtype=np.float64)
    scale = math.sqrt(pixels * float(peak) ** 2)
    root_wsse = scale * np.power(10.0, -values / 20.0)  # per-frame sqrt(weighted SSE); 0 where inf
    if root_wsse.mean() >= 1.0:
        return float(10.0 * math.log10(scale**2 / root_wsse.mean() ** 2))
    return float(values.mean())

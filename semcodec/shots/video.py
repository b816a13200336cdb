"""Shot detection on a file: one PyAV decode, small frames, ShotDetector."""
from __future__ import annotations

import av
import cv2
import numpy as np

from semcodec.io.reader import DecodeStats, iter_packets_and_frames, open_input, probe
from semcodec.progress import Progress
from semcodec.progress import bar as progress_bar
from semcodec.shots.detector import Shot, ShotDetector
from semcodec.shots.features import shrink

THUMB_SIDE = 128  # detect_shots' frames have a long side of 128..255 px (the detector uses 64..127)


def _plane(plane, width: int, height: int) -> np.ndarray:
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:height, :width]


def small_frame(frame: av.VideoFrame, long_side: int = THUMB_SIDE) -> np.ndarray:
    """A small RGB copy of `frame`, cheaply: for 8-bit 4:2:0 (nearly every file) the Y, U and V planes
    are area-averaged by an integer factor straight from the decoder's buffers and converted to RGB at
    the small size, three times faster than scaling the whole frame with swscale. The colours are
    BT.601 whatever the source matrix, which does not matter for comparing frames of one video.
    Other formats go through swscale."""
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        k = max(1, max(frame.width, frame.height) // long_side)
        return frame.reformat(width=max(2, frame.width // k), height=max(2, frame.height // k),
                              format="rgb24", interpolation="AREA").to_ndarray()
    w, h = frame.width, frame.height
    y = shrink(_plane(frame.planes[0], w, h), long_side)
    size = (y.shape[1], y.shape[0])
    u, v = (cv2.resize(shrink(_plane(p, (w + 1) // 2, (h + 1) // 2), long_side // 2), size,
                       interpolation=cv2.INTER_LINEAR) for p in frame.planes[1:3])
    if frame.format.name == "yuv420p" and frame.color_range != 2:  # limited range: stretch to 0..255
        y = cv2.convertScaleAbs(y, alpha=255 / 219, beta=-16 * 255 / 219)
        u = cv2.convertScaleAbs(u, alpha=255 / 224, beta=128 - 128 * 255 / 224)
        v = cv2.convertScaleAbs(v, alpha=255 / 224, beta=128 - 128 * 255 / 224)
    return cv2.cvtColor(cv2.merge([y, v, u]), cv2.COLOR_YCrCb2RGB)


class FrameClock:
    """Seconds from the first frame, for frames in decode order: a frame's own time minus the first
    frame's (a stream that starts late still starts at 0), or, in a stream without timestamps (raw
    H.264), its index at the stream's rate. `end` is where the last frame seen ends; `origin` the
    first frame's own time (0 without timestamps)."""

    def __init__(self, fps: float):
        self.fps = fps if fps and fps > 0 else 25.0
        self.origin: float | None = None
        self.end = 0.0
        self.frames = 0

    def __call__(self, frame: av.VideoFrame) -> float:
        if frame.time is not None:
            if self.origin is None:
                self.origin = float(frame.time)
            t = float(frame.time) - self.origin
        else:
            t = self.frames / self.fps
        dur = float(frame.duration * frame.time_base) if frame.duration and frame.time_base else 0.0
        self.end = max(self.end, t + (dur or 1.0 / self.fps))
        self.frames += 1
        return t


def detect_shots(path: str, *, method: str = "adaptive", progress: Progress | None = None, **options) -> list[Shot]:
    """Decode `path` once with PyAV and run ShotDetector on small copies of its frames (`small_frame`).
    Times are seconds from the first frame (`FrameClock`). `options` go to ShotDetector (min_shot_s,
    dissolves, params). Unreadable input raises a SemcodecError; packets that fail to decode are skipped
    (semcodec.io.reader)."""
    info = probe(path)
    fps = float(info.average_rate) or 25.0
    detector = ShotDetector(fps, method=method, **options)
    stats = DecodeStats()
    clock = FrameClock(fps)
    bar = progress_bar(progress, "shots", info.frames)
    with open_input(path) as container:
        for kind, frame in iter_packets_and_frames(container, stats):
            if kind != "video":
                continue
            detector.push(clock.frames, clock(frame), small_frame(frame))
            bar.update(1)
    bar.close()
    return detector.shots(clock.frames, clock.end)

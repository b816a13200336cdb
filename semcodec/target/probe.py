"""Probe encodes of a shot's sampled segments and their scores. The reference frames of each segment are
decoded once (as the encoder sees them: cropped to even sizes, 4:2:0) into a raw file that libvmaf reads
for every probe; the ROI analysis of a segment runs once and later probes replay its maps
(semcodec.pipeline.loop.MapRecording), so a probe costs an encode of the segment and a VMAF run."""
from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import av
import numpy as np

from semcodec.encoding.frames import FramePreparer
from semcodec.errors import SemcodecError
from semcodec.io.reader import open_input
from semcodec.metrics.quality import RawVideo, psnr, vmaf_scores, yuv_planes
from semcodec.pipeline.loop import MapRecording
from semcodec.pipeline.settings import ChunkRange, EncodeSettings, Execution
from semcodec.target.spec import TargetSpec

Box = tuple[int, int, int, int]
MIN_CROP = 32  # smallest side of the face-region crop libvmaf scores (its filters need some context)


def source_frames(path: str, chunk: ChunkRange, prep: FramePreparer) -> Iterator[av.VideoFrame]:
    """The input's frames [start, end) as the encode loop picks them (seek, then skip by pts; else by index)."""
    with open_input(path) as inp:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        if chunk.seeks:
            inp.seek(chunk.seek_pts, stream=vin, backward=True)
        n = skipped = 0
        for frame in inp.decode(vin):
            if chunk.before_start(frame.pts, skipped):
                skipped += 1
                continue
            yield prep(frame)
            n += 1
            if chunk.done(n):
                return


@dataclass
class RefSegment:
    """One sampled segment's reference: raw yuv420p frames on disk and, for face goals, the face boxes."""

    chunk: ChunkRange
    raw: str
    width: int
    height: int
    frames: int = 0
    faces: list[list[Box]] | None = None
    recording: MapRecording = field(default_factory=MapRecording)

    def face_mask(self, i: int) -> np.ndarray:
        m = np.zeros((self.height, self.width), bool)
        for x0, y0, x1, y1 in (self.faces or [[]])[i]:
            m[max(0, y0):max(0, min(y1, self.height)), max(0, x0):max(0, min(x1, self.width))] = True
        return m

    def face_crop(self) -> tuple[int, int, int, int] | None:
        """(x, y, w, h): the union of the faces over the segment, even-aligned, at least MIN_CROP a side."""
        return union_crop([b for boxes in self.faces or [] for b in boxes], self.width, self.height)

    def luma(self) -> Iterator[np.ndarray]:
        size = self.width * self.height * 3 // 2
        data = np.memmap(self.raw, np.uint8, "r")
        for i in range(self.frames):
            yield np.asarray(data[i * size:i * size + self.width * self.height]).reshape(self.height, self.width)


def union_crop(boxes: list[Box], width: int, height: int) -> tuple[int, int, int, int] | None:
    if not boxes:
        return None
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    w, h = min(width, max(MIN_CROP, x1 - x0)), min(height, max(MIN_CROP, y1 - y0))
    x0, y0 = max(0, min(x0, width - w)), max(0, min(y0, height - h))
    return x0 - x0 % 2, y0 - y0 % 2, w - w % 2, h - h % 2


class FaceBoxes:
    """The bench's default region (semcodec.bench.masks.DetectedFacesMask): CenterFace boxes on the source."""

    def __init__(self, width: int, height: int):
        from semcodec.analysis.faces import FaceAnalyzer
        from semcodec.analysis.fusion import analysis_size
        from semcodec.bench.masks import DEFAULT_MASK_LONG_SIDE

        self.width, self.height = width, height
        self.size = analysis_size(width, height, DEFAULT_MASK_LONG_SIDE)
        self.detector = FaceAnalyzer(margin=0.0)
        self.detector.load()

    def __call__(self, frame: av.VideoFrame, index: int) -> list[Box]:
        from semcodec.bench.masks import detect_faces

        return detect_faces(self.detector, frame, index, self.width, self.height, self.size)


def write_reference(input_path: str, chunk: ChunkRange, folder: str, prep: FramePreparer,
                    faces: FaceBoxes | None) -> RefSegment:
    seg = RefSegment(chunk, os.path.join(folder, f"ref_{chunk.start_frame}.yuv"), prep.width, prep.height,
                     faces=[] if faces else None)
    with open(seg.raw, "wb") as f:
        for frame in source_frames(input_path, chunk, prep):
            for plane in yuv_planes(frame):
                f.write(np.ascontiguousarray(plane).tobytes())
            if faces is not None:
                seg.faces.append(faces(frame, chunk.start_frame + seg.frames))
            seg.frames += 1
    return seg


def pool(values: list[float], percentile: float | None) -> float | None:
    if not values:
        return None
    return float(np.mean(values) if percentile is None else np.percentile(values, percentile))


def face_psnrs(seg: RefSegment, probe_path: str) -> list[float]:
    """Per-frame luma PSNR inside the face boxes (frames without a face have none)."""
    out = []
    with open_input(probe_path) as c:
        for i, (ref_y, frame) in enumerate(zip(seg.luma(), c.decode(video=0))):
            mask = seg.face_mask(i)
            if mask.any():
                dist_y = yuv_planes(frame.reformat(format="yuv420p"))[0]
                out.append(psnr(float(np.square(ref_y[mask].astype(np.int32) - dist_y[mask]).mean())))
    return out


@dataclass
class ProbeRecord:
    crf: float
    scores: dict
    video_bytes: int
    seconds: float

    def to_json(self) -> dict:
        return {"crf": self.crf, "scores": {k: None if v is None else round(v, 3) for k, v in self.scores.items()},
                "video_bytes": self.video_bytes, "seconds": round(self.seconds, 3)}


class ShotProber:
    """probe(crf) -> scores over the shot's sampled segments, for semcodec.target.search."""

    def __init__(self, input_path: str, settings: EncodeSettings, spec: TargetSpec, segments: list[RefSegment],
                 folder: str, threads: int | None):
        self.input_path, self.settings, self.spec, self.segments = input_path, settings, spec, segments
        self.out = os.path.join(folder, "probe.mkv")
        self.execution = Execution(threads=threads, audio=False, progress=None, log_warnings=False)
        self.records: list[ProbeRecord] = []

    def __call__(self, crf: float) -> dict:
        from semcodec.pipeline.job import run

        t0 = time.perf_counter()
        s = dataclasses.replace(self.settings, crf=crf, save_maps=None)
        columns: dict[str, list[float]] = {g.metric: [] for g in self.spec.goals}
        total = 0
        for seg in self.segments:
            rep = run(self.input_path, self.out, s, chunk=seg.chunk, execution=self.execution, rate_offset=0.0,
                      recording=seg.recording)
            if rep.output.frames != seg.frames:  # a seek that landed wrong would pair the wrong frames
                raise SemcodecError(f"probe of frames {seg.chunk.start_frame}-{seg.chunk.end_frame} encoded "
                                    f"{rep.output.frames} frames, the reference has {seg.frames}")
            total += rep.output.video_bytes
            self._score(seg, columns)
        scores = {m: pool(v, self.spec.percentile) for m, v in columns.items()}
        self.records.append(ProbeRecord(crf, scores, total, time.perf_counter() - t0))
        return scores

    def _score(self, seg: RefSegment, columns: dict[str, list[float]]) -> None:
        n = self.spec.n_subsample
        raw = RawVideo(seg.raw, seg.width, seg.height)
        if "vmaf" in columns:
            columns["vmaf"] += vmaf_scores(raw, self.out, n_subsample=n)
        if "roi_vmaf" in columns and (crop := seg.face_crop()) is not None:
            columns["roi_vmaf"] += vmaf_scores(raw, self.out, n_subsample=n, crop=crop)
        if "face_psnr" in columns:
            columns["face_psnr"] += face_psnrs(seg, self.out)

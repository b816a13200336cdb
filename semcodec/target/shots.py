"""Per-shot CRF search: sample a shot's segments, probe them (semcodec.target.probe), pick the CRF
(semcodec.target.search). A shot here is what a chunk is in the parallel mode: detected shots, long ones split
and short ones merged (semcodec.parallel.chunks), so `crf-search`, single-piece and chunked encodes agree."""
from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from dataclasses import dataclass, field

from semcodec.encoding.codecs import caps_for
from semcodec.encoding.frames import FramePreparer
from semcodec.errors import SemcodecError
from semcodec.io.reader import probe
from semcodec.pipeline.ratefit import sample_segments
from semcodec.pipeline.settings import DEFAULT_CRF, ChunkRange, EncodeSettings
from semcodec.target.probe import FaceBoxes, ProbeRecord, ShotProber, write_reference
from semcodec.target.search import search
from semcodec.target.spec import LABELS, TargetSpec

log = logging.getLogger("semcodec")
# the probes sample more of a shot than the CRF rate fit does: a quality score varies more within a shot than a
# size ratio does. A shot up to FULL_S seconds is probed whole (a probe then is the final encode of that shot, so
# the prediction is the measurement); a longer one in SEGMENTS segments covering SHARE of it. On the Tears of Steel
# clip two 24-frame segments of 3-5 s shots predicted whole-shot VMAF only to within -3.2/+2.5
FULL_S, SEGMENTS, SHARE = 6.0, 3, 0.5


def probe_ranges(frames: int, fps: float) -> list[tuple[int, int]]:
    """[start, end) ranges of a shot of `frames` frames to probe."""
    if frames <= FULL_S * fps:
        return [(0, frames)]
    return sample_segments(frames, fps, SEGMENTS, SHARE)


class TargetMissed(SemcodecError):
    """No CRF in range meets the target on a shot (and --best-effort was not given)."""


@dataclass
class ShotResult:
    index: int
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    crf: float
    met: bool
    predicted: dict
    interpolated: bool
    segments: list[tuple[int, int]] = field(default_factory=list)
    probes: list[ProbeRecord] = field(default_factory=list)
    probe_seconds: float = 0.0
    best_crf: float | None = None
    measured: dict | None = None  # after the final encode: the same pooling over all the shot's frames

    def to_json(self) -> dict:
        d = {k: v for k, v in dataclasses.asdict(self).items() if k != "probes"}
        d["probes"] = [p.to_json() for p in self.probes]
        d["predicted"] = _rounded(self.predicted)
        d["measured"] = _rounded(self.measured) if self.measured is not None else None
        d["segments"] = [list(s) for s in self.segments]
        d["probe_seconds"] = round(self.probe_seconds, 3)
        return d

    @classmethod
    def from_json(cls, d: dict) -> ShotResult:
        d = dict(d)
        d["probes"] = [ProbeRecord(**p) for p in d.get("probes", [])]
        d["segments"] = [tuple(s) for s in d.get("segments", [])]
        return cls(**d)

    def where(self) -> str:
        return (f"shot {self.index + 1} (frames {self.start_frame}-{self.end_frame - 1}, "
                f"{self.start_s:.2f}-{self.end_s:.2f} s)")


def _rounded(scores: dict | None) -> dict | None:
    return None if scores is None else {k: None if v is None else round(v, 3) for k, v in scores.items()}


def missed_message(shot: ShotResult, spec: TargetSpec, codec: str) -> str:
    lo = spec.crf_range(codec)[0]
    reached = ", ".join(f"{LABELS[m]} {v:.2f}" for m, v in shot.predicted.items() if v is not None)
    where = "the lowest allowed" if shot.best_crf is not None and shot.best_crf <= lo else "the lowest probed"
    return (f"{shot.where()} cannot reach {spec.describe()}: best {reached} at CRF {shot.best_crf:g} ({where}); "
            "lower --min-crf, lower the target, or pass --best-effort")


def probe_settings(settings: EncodeSettings) -> EncodeSettings:
    """The settings every probe and the final encode use: the quality search replaces CRF rate neutrality
    (its probe encodes would only shift the CRF the search then moves back), so the map is balanced by the
    allocator's rate model."""
    crf_rate = "model" if settings.crf_rate == "neutral" else settings.crf_rate
    return dataclasses.replace(settings, crf_rate=crf_rate, bitrate=None, two_pass=False)


def search_shot(input_path: str, settings: EncodeSettings, spec: TargetSpec, shot: tuple[int, int, int],
                times: tuple[float, float], pts: list[int] | None = None, threads: int | None = None,
                start_crf: float | None = None, faces: FaceBoxes | None = None) -> ShotResult:
    """Search the CRF of frames [start, end) (shot index first in `shot`). `pts`: the input's frame
    timestamps when it is seekable (semcodec.parallel.index), so segments seek instead of decoding from 0."""
    t0 = time.perf_counter()
    index, start, end = shot
    info = probe(input_path)
    fps = float(info.average_rate) or 25.0
    ranges = [(start + a, start + b) for a, b in probe_ranges(end - start, fps)]
    prep = FramePreparer(info.width, info.height, "yuv420p")
    if spec.needs_faces() and faces is None:
        faces = FaceBoxes(prep.width, prep.height)
    s = probe_settings(settings)
    caps = caps_for(s.codec)
    with tempfile.TemporaryDirectory(prefix="semcodec-target-") as tmp:
        refs = [write_reference(input_path, ChunkRange(a, b, pts[a] if pts and a else None), tmp, prep,
                                faces if spec.needs_faces() else None) for a, b in ranges]
        prober = ShotProber(input_path, s, spec, refs, tmp, threads)
        first = start_crf if start_crf is not None else DEFAULT_CRF.get(s.codec, 23)
        choice, _ = search(prober, spec, s.codec, first, resolution=1.0 if caps.whole_crf else 0.5)
    return ShotResult(index, start, end, times[0], times[1], choice.crf, choice.met, choice.predicted,
                      choice.interpolated, ranges, prober.records, time.perf_counter() - t0, choice.best_crf)


def search_chunk(input_path: str, settings: EncodeSettings, target: dict, chunk: dict,
                 threads: int | None = None) -> ShotResult:
    """search_shot for one chunk of a parallel encode (a manifest entry; `target` a TargetSpec as JSON), run in
    the chunk's worker; TargetMissed unless best effort."""
    spec = TargetSpec.from_json(target)
    index = frame_index(input_path)
    a, b = chunk["start_frame"], chunk["end_frame"]
    shot = search_shot(input_path, settings, spec, (chunk["index"], a, b), (index.seconds(0, a), index.seconds(0, b)),
                       index.pts if index.seekable else None, threads)
    if not shot.met:
        message = missed_message(shot, spec, settings.codec)
        if not spec.best_effort:
            raise TargetMissed(message)
        log.warning("%s (best effort: encoded at CRF %g)", message, shot.crf)
    return shot


def frame_index(input_path: str):
    """The input's packet index (semcodec.parallel.index), imported late: parallel calls into this package."""
    from semcodec.parallel.index import scan

    return scan(input_path)

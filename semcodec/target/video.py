"""Target quality for a whole video: `crf-search` (the answer, no encode) and `encode --target-*`.

Single-piece: every shot is searched and the video is encoded at the lowest CRF any shot needs, since FFmpeg's
x264/x265 wrappers take the CRF when the encoder opens and PyAV cannot change it mid-stream; so every shot
meets its target and the easy ones get more quality than they asked for. Chunked (--workers/--ray): each
chunk (a shot, or part of a long one) searches and encodes at its own CRF, kept in the resumable manifest."""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field

from semcodec.errors import UsageError
from semcodec.pipeline.settings import EncodeSettings, Execution
from semcodec.progress import Progress
from semcodec.progress import bar as progress_bar
from semcodec.target.shots import ShotResult, TargetMissed, missed_message, probe_settings, search_shot
from semcodec.target.spec import TargetSpec

log = logging.getLogger("semcodec")
SCHEMA = "semcodec.crf_search/1"


@dataclass
class VideoSearch:
    spec: TargetSpec
    codec: str
    shots: list[ShotResult] = field(default_factory=list)
    seconds: float = 0.0
    planning_s: float = 0.0

    @property
    def crf(self) -> float:
        """One CRF for the whole video: the lowest any shot needs."""
        return min(s.crf for s in self.shots)

    @property
    def probe_seconds(self) -> float:
        return sum(s.probe_seconds for s in self.shots)

    def to_json(self) -> dict:
        lo, hi = self.spec.crf_range(self.codec)
        return {"schema": SCHEMA, "target": self.spec.describe(), "spec": self.spec.to_json(), "codec": self.codec,
                "crf_range": [lo, hi], "crf_whole_video": self.crf, "all_met": all(s.met for s in self.shots),
                "probe_encodes": sum(len(s.probes) * len(s.segments) for s in self.shots),
                "probe_s": round(self.probe_seconds, 3), "planning_s": round(self.planning_s, 3),
                "seconds": round(self.seconds, 3), "shots": [s.to_json() for s in self.shots]}


def check(settings: EncodeSettings, spec: TargetSpec) -> None:
    """UsageError for a target that cannot go with these settings, before any work."""
    if settings.bitrate or settings.two_pass:
        raise UsageError("a quality target chooses the CRF: drop --bitrate/--two-pass")
    if settings.crf is not None:
        raise UsageError("a quality target chooses the CRF: drop --crf (bound it with --min-crf/--max-crf)")
    if settings.save_maps or settings.keyframes_from:
        raise UsageError("--save-maps and --keyframes-from are not available with a quality target")
    settings.validate()
    spec.validate(settings.codec)


def plan_shots(input_path: str, min_s: float = 2.0, max_s: float = 20.0, progress: Progress | None = None):
    """(index, pieces): the input's frame index and the chunks a parallel encode would make."""
    from semcodec.parallel.chunks import plan_chunks
    from semcodec.parallel.index import scan
    from semcodec.shots import detect_shots

    index = scan(input_path)
    shots = detect_shots(input_path, progress=progress)
    total = min(shots[-1].end_frame if shots else 0, index.frames)
    fps = float(index.rate) or 25.0
    pieces = plan_chunks([s.start_frame for s in shots], total, max(1, round(min_s * fps)), max(1, round(max_s * fps)),
                         index.keyframes)
    return index, pieces


def search_video(input_path: str, settings: EncodeSettings, spec: TargetSpec, progress: Progress | None = None,
                 threads: int | None = None) -> VideoSearch:
    """Search every shot; TargetMissed (naming the shot and its best score) unless spec.best_effort."""
    check(settings, spec)
    t0 = time.perf_counter()
    index, pieces = plan_shots(input_path, progress=progress)
    result = VideoSearch(spec, settings.codec, planning_s=time.perf_counter() - t0)
    bar = progress_bar(progress, "crf search", len(pieces), unit="shot")
    pts = index.pts if index.seekable else None
    previous = None
    try:
        for c in pieces:
            times = (index.seconds(0, c.start_frame), index.seconds(0, c.end_frame))
            shot = search_shot(input_path, settings, spec, (c.index, c.start_frame, c.end_frame), times, pts,
                               threads, start_crf=previous)
            _check_met(shot, spec, settings.codec)
            result.shots.append(shot)
            previous = shot.crf
            bar.update(1)
    finally:
        bar.close()
    result.seconds = time.perf_counter() - t0
    return result


def _check_met(shot: ShotResult, spec: TargetSpec, codec: str) -> None:
    if shot.met:
        return
    message = missed_message(shot, spec, codec)
    if not spec.best_effort:
        raise TargetMissed(message)
    log.warning("%s (best effort: encoded at CRF %g)", message, shot.crf)


def encode_single(input_path: str, output_path: str, settings: EncodeSettings, spec: TargetSpec,
                  execution: Execution | None = None) -> dict:
    """crf-search, then one encode at the lowest CRF any shot needs, then the per-shot measurement."""
    from semcodec.pipeline.job import run
    from semcodec.target.measure import measure_shots

    execution = execution or Execution()
    found = search_video(input_path, settings, spec, execution.progress, execution.threads)
    t0 = time.perf_counter()
    s = dataclasses.replace(probe_settings(settings), crf=found.crf)
    report = run(input_path, output_path, s, execution=execution, rate_offset=0.0).to_json()
    encode_s = time.perf_counter() - t0
    whole = measure_shots(input_path, output_path, found.shots, spec)
    report["target"] = target_section(found.shots, spec, settings.codec, "one CRF for the video", whole,
                                      {"search_s": found.seconds, "probe_s": found.probe_seconds,
                                       "encode_s": encode_s})
    report["target"]["crf"] = found.crf
    return report


def target_section(shots: list[ShotResult], spec: TargetSpec, codec: str, mode: str, whole: dict,
                   timings: dict) -> dict:
    return {"target": spec.describe(), "spec": spec.to_json(), "codec": codec, "mode": mode,
            "crf_range": list(spec.crf_range(codec)), "measured": {k: round(v, 3) for k, v in whole.items()},
            "shots_met_predicted": sum(s.met for s in shots),
            "shots_met_measured": sum(_measured_ok(s, spec) for s in shots), "shots": [s.to_json() for s in shots],
            "timings": {k: round(v, 3) for k, v in timings.items()}}


def _measured_ok(shot: ShotResult, spec: TargetSpec) -> bool:
    m = shot.measured or {}
    return all(m.get(g.metric) is None or m[g.metric] >= g.value for g in spec.goals)


def encode_chunked(input_path: str, output_path: str, settings: EncodeSettings, spec: TargetSpec, opts,
                   progress: Progress | None = None) -> dict:
    """Chunked encode where each chunk searches and encodes at its own CRF (semcodec.parallel)."""
    from semcodec.parallel import encode_parallel
    from semcodec.target.measure import measure_shots

    check(settings, spec)
    from semcodec.target.shots import search_chunk

    opts = dataclasses.replace(opts, target=spec.to_json(), chunk_search=search_chunk)
    t0 = time.perf_counter()
    report = encode_parallel(input_path, output_path, probe_settings(settings), opts, progress=progress)
    encode_s = time.perf_counter() - t0
    shots = [ShotResult.from_json(c["target"]) for c in report["parallel"]["chunks"]]
    whole = measure_shots(input_path, output_path, shots, spec)
    probe_s = sum(s.probe_seconds for s in shots)
    report["target"] = target_section(shots, spec, settings.codec, "a CRF per chunk", whole,
                                      {"probe_s": probe_s, "encode_s": encode_s})
    return report

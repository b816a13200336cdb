"""EncodeReport: what an encode did, as a typed record; `to_json()` gives the documented JSON
(schema semcodec.encode_report/1). Chunk reports of a parallel encode merge into one with `merge`."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import av

from semcodec import __version__
from semcodec.io.reader import StreamInfo
from semcodec.pipeline.settings import EncodeSettings

SCHEMA = "semcodec.encode_report/1"


def _kbps(nbytes: int, seconds: float) -> float | None:
    return round(nbytes * 8 / seconds / 1000, 2) if seconds else None


@dataclass
class OutputSummary:
    path: str
    bytes: int
    video_bytes: int
    frames: int
    duration_s: float
    width: int
    height: int
    pix_fmt: str | None = None
    keyframe_bytes: int | None = None  # video bytes in keyframes
    keyframes: int | None = None
    first_frame_bytes: int = 0  # the opening IDR (rate fit probes); not in the JSON

    def to_json(self) -> dict:
        d = {"path": self.path, "bytes": self.bytes, "video_bytes": self.video_bytes, "frames": self.frames,
             "duration_s": round(self.duration_s, 3), "bitrate_kbps": _kbps(self.bytes, self.duration_s),
             "video_bitrate_kbps": _kbps(self.video_bytes, self.duration_s),
             "width": self.width, "height": self.height}
        if self.pix_fmt:
            d["pix_fmt"] = self.pix_fmt
        if self.keyframes is not None:
            d.update(keyframes=self.keyframes, keyframe_bytes=self.keyframe_bytes)
        return d


@dataclass
class RoiSummary:
    mode: str
    status: str  # on | off | why no map was attached
    strength: float
    details: dict = field(default_factory=dict)  # block, strength_qp, offset range... when a map was attached
    analyzers: list | None = None  # None: --roi off

    def to_json(self) -> dict:
        d = {"mode": self.mode, "status": self.status, "strength": self.strength, **self.details}
        if self.analyzers is not None:
            d["analyzers"] = self.analyzers
        return d


@dataclass
class Timings:
    total_s: float
    analysis_s: float = 0.0
    tagging_s: float = 0.0
    fps: float | None = None
    encode_s: float | None = None  # chunked: chunk encoding, join and planning apart
    join_s: float | None = None
    planning_s: float | None = None
    rate_fit_s: float | None = None  # CRF rate-neutrality probes (inside total_s)

    def to_json(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) and k != "fps" else v)
                for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass
class EncodeReport:
    input: StreamInfo
    output: OutputSummary
    settings: EncodeSettings
    rate_control: str
    preset: str
    roi: RoiSummary
    shots_method: str
    keyframes_at: list[int]
    timings: Timings
    plan_decisions: list | None = None
    text: dict | None = None
    packets: int = 0
    corrupt_packets: int = 0
    warnings: list[str] = field(default_factory=list)
    parallel: dict | None = None  # chunked encodes: chunks, workers, resume, budget

    def to_json(self) -> dict:
        d = {
            "schema": SCHEMA, "semcodec": __version__, "pyav": av.__version__,
            "input": self.input.to_json(),
            "output": self.output.to_json(),
            "settings": {**dataclasses.asdict(self.settings), "rate_control": self.rate_control,
                         "preset": self.preset},
            "roi": self.roi.to_json(),
            "shots": {"method": self.shots_method, "keyframes_at": self.keyframes_at, "plan": self.plan_decisions},
            "text": self.text,
            "timings": self.timings.to_json(),
            "decode": {"packets": self.packets, "corrupt_packets_skipped": self.corrupt_packets},
            "warnings": self.warnings,
        }
        if self.parallel is not None:
            d["parallel"] = self.parallel
        return d

    @classmethod
    def merge(cls, chunks: dict[int, EncodeReport], *, input: StreamInfo, output: OutputSummary,
              settings: EncodeSettings, timings: Timings, parallel: dict) -> EncodeReport:
        """One report for a chunked encode. `chunks` maps each chunk encoded in this run to its first input
        frame (chunks reused from an earlier run have no report here): keyframes are shifted to input
        frame numbers, analyzer runs summed, warnings gathered once each."""
        first = next(iter(chunks.values()), None)
        if first is None:  # every chunk came from an earlier run
            roi = RoiSummary(settings.roi, "resumed", settings.roi_strength)
            rate_control, preset = "", str(settings.preset or "")
        else:
            roi = dataclasses.replace(first.roi)
            if roi.analyzers:
                runs: dict = {}
                for r in chunks.values():
                    for a in r.roi.analyzers or []:
                        runs[a["name"]] = runs.get(a["name"], 0) + (a.get("runs") or 0)
                roi.analyzers = [{**a, "runs": runs.get(a["name"], a.get("runs"))} for a in roi.analyzers]
            rate_control, preset = first.rate_control, first.preset
        keyframes = sorted(set(parallel_starts(parallel)) | {
            start + k for start, r in chunks.items() for k in r.keyframes_at})
        return cls(input=input, output=output, settings=settings,
                   rate_control=rate_control or settings.rate_control().describe(), preset=preset,
                   roi=roi, shots_method="chunk starts + streaming detector in each chunk", keyframes_at=keyframes,
                   timings=timings, packets=sum(r.packets for r in chunks.values()),
                   corrupt_packets=sum(r.corrupt_packets for r in chunks.values()),
                   warnings=sorted({w for r in chunks.values() for w in r.warnings}), parallel=parallel)


def parallel_starts(parallel: dict) -> list[int]:
    return [c["start_frame"] for c in parallel.get("chunks", [])]

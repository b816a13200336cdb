"""`semcodec bench`: encode every (clip, rate point, mode), measure, save after each point, report.

Points run clip by clip, rate point by rate point, with the modes interleaved, so the modes compared
at one point see the same machine state (their wall times are compared side by side). After every
finished point results.json is rewritten atomically; with `resume` a point whose settings hash is
already in results.json is taken from there instead of being encoded again.
"""
from __future__ import annotations

import datetime
import functools
import hashlib
import json
import os
import pathlib
import platform
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from semcodec import __version__
from semcodec.bench import results
from semcodec.bench.bd import METHODS
from semcodec.bench.masks import DetectedFacesMask, count_frames, file_identity, mask_source
from semcodec.bench.measure import measure, parse_metrics
from semcodec.bench.modes import Mode, RatePoint, parse_modes
from semcodec.encoding.codecs import caps_for
from semcodec.errors import SemcodecError
from semcodec.io import lock
from semcodec.io.reader import probe
from semcodec.pipeline import EncodeSettings, encode
from semcodec.progress import Progress
from semcodec.progress import bar as progress_bar


@dataclass
class BenchSettings:
    codec: str = "libx264"
    points: list[RatePoint] = field(default_factory=lambda: [RatePoint("crf", 23)])
    clip_points: dict[str, list[RatePoint]] = field(default_factory=dict)  # per clip file name
    two_pass: bool = False
    preset: str | None = None
    modes: str = "baseline,roi"
    roi_mask: str | None = None  # boxes.json | mask video ({stem} allowed) | analyzer:NAME; None with ROI
    # modes: faces detected on the source (DetectedFacesMask), or whole-frame only where there is none
    metrics: str = "psnr,ssim,vmaf,xpsnr"
    resume: bool = False
    keep_encodes: bool = False
    bd_method: str = "pchip"
    progress: Progress | None = None  # the front end's bars; None: silent
    # told (clip name, mask description) for every clip once the run starts, before the first encode: the
    # front end says which region the region metrics use (the library prints nothing)
    on_mask: Callable[[str, dict | None], None] | None = None


@dataclass
class _Clip:
    path: str
    name: str
    info: object
    frames: int
    points: list[RatePoint]
    mask: object  # the MaskSource measured, or None: whole-frame metrics only
    mask_info: dict | None  # what the report says about the region (also when a default found no face)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def machine() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu": cpu,
            "cores": os.cpu_count(), "python": sys.version.split()[0]}


def versions(metrics: list[str]) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import av

    out = {"semcodec": __version__, "pyav": av.__version__, "ffmpeg (PyAV)": av.ffmpeg_version_info,
           **{k: ".".join(map(str, v)) for k, v in av.library_versions.items()}}
    for pkg in ("numpy", "scipy", "matplotlib", "bjontegaard", "opencv-python", "imageio-ffmpeg"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    if "vmaf" in metrics:
        import imageio_ffmpeg

        out["ffmpeg (libvmaf)"] = imageio_ffmpeg.get_ffmpeg_version()
    return out


def _check(inputs: list[str], out_dir: str, s: BenchSettings) -> tuple[list[Mode], list[str], list[_Clip]]:
    """Validate everything before the first encode, so a typo costs seconds, not an hour."""
    modes = parse_modes(s.modes)
    metrics = parse_metrics(s.metrics)
    if s.bd_method not in METHODS:
        raise SemcodecError(f"--bd-method must be one of {', '.join(METHODS)}")
    if not inputs:
        raise SemcodecError("no input clips")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise SemcodecError(f"--out is a file, not a folder: {out_dir}")
    kinds = {p.kind for pts in [s.points, *s.clip_points.values()] for p in pts}
    if len(kinds) != 1:
        raise SemcodecError("give either CRF values or bitrates, not both")
    points = {p for pts in [s.points, *s.clip_points.values()] for p in pts}
    for m in modes:  # the encoder's own checks on every point (CRF range, preset, two-pass needs bitrate, ...)
        for point in sorted(points, key=lambda p: p.value):
            EncodeSettings(codec=s.codec, two_pass=s.two_pass, preset=m.preset or s.preset, roi=m.roi,
                           roi_strength=m.strength, **point.settings()).rate_control()
    clips, names = [], set()
    for path in inputs:
        info = probe(path)  # one-line SemcodecError for missing / unreadable / no video
        name = os.path.basename(path)
        if name in names:
            raise SemcodecError(f"two inputs are named {name}: results are keyed by file name")
        names.add(name)
        if info.width % 2 or info.height % 2:
            raise SemcodecError(f"{path} is {info.width}x{info.height}: the encoder crops odd sizes, so the "
                                "output could not be compared pixel for pixel with the source")
        frames = count_frames(path)
        mask = mask_source(s.roi_mask, path, info.width, info.height, frames) if s.roi_mask else None
        points = sorted(s.clip_points.get(name, s.points), key=lambda p: p.value)
        clips.append(_Clip(path, name, info, frames, points, mask, mask.describe() if mask else None))
    if not s.roi_mask and any(m.roi != "off" for m in modes):
        for clip in clips:  # once every input is known to be readable: detection takes a while
            default = DetectedFacesMask(clip.path, clip.info.width, clip.info.height, s.progress)
            clip.mask, clip.mask_info = (default if default.usable else None), default.describe()
    return modes, metrics, clips


@functools.lru_cache(maxsize=1)
def encoder_identity() -> str:
    """What made a result: semcodec's version, PyAV's, and a digest of the library's own source, so that
    `--resume` never reuses a point encoded by different code under the same version string."""
    import av

    digest = hashlib.sha256()
    root = pathlib.Path(__file__).resolve().parent.parent
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return f"{__version__}+pyav{av.__version__}+src{digest.hexdigest()[:12]}"


def _hash(clip: _Clip, mode: Mode, point: RatePoint, s: BenchSettings, metrics: list[str]) -> str:
    key = {"schema": results.SCHEMA, "semcodec": encoder_identity(), "clip": file_identity(clip.path), "codec": s.codec,
           "rate": point.to_json(), "two_pass": s.two_pass, "preset": mode.preset or s.preset,
           "roi": mode.roi, "roi_strength": mode.strength, "metrics": metrics,
           "mask": clip.mask_info}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


def _run_point(clip: _Clip, mode: Mode, point: RatePoint, s: BenchSettings, metrics: list[str],
               out_path: str, key: str) -> dict:
    try:
        report = encode(clip.path, out_path, EncodeSettings(
            codec=s.codec, two_pass=s.two_pass, preset=mode.preset or s.preset, roi=mode.roi,
            roi_strength=mode.strength, **point.settings()))
        scores = measure(clip.path, out_path, metrics, clip.mask, clip.info.average_rate)
    except SemcodecError as err:  # say which point failed; the finished ones are already saved
        raise SemcodecError(f"{clip.name}, mode {mode.name}, {point.label}: {err}") from None
    o, t = report["output"], report["timings"]
    return {
        "rate": point.to_json(), "hash": key, "measured_at": _now(),
        "bytes": o["bytes"], "video_bytes": o["video_bytes"], "frames": o["frames"],
        "duration_s": o["duration_s"], "bitrate_kbps": o["bitrate_kbps"],
        "video_bitrate_kbps": o["video_bitrate_kbps"],
        "encode_s": t["total_s"], "encode_fps": round(o["frames"] / t["total_s"], 2) if t["total_s"] else None,
        "analysis_s": t["analysis_s"],
        "analysis_fps": round(o["frames"] / t["analysis_s"], 2) if t["analysis_s"] else None,
        "time_ratio": None, "roi_status": report["roi"]["status"], "warnings": report["warnings"],
        "metrics": scores,
    }


def run_bench(inputs: list[str], out_dir: str, s: BenchSettings) -> dict:
    """Run the benchmark into `out_dir`; returns the results document (also in results.json)."""
    t_start = time.perf_counter()
    modes, metrics, clips = _check(inputs, out_dir, s)
    # one run per results folder, from reading results.json to the report: two runs would each rewrite it
    # from their own document, and only the last one's clips would be kept
    with lock.locked_folder(out_dir, "results folder"):
        return _run_locked(out_dir, s, modes, metrics, clips, t_start)


def _run_locked(out_dir: str, s: BenchSettings, modes: list[Mode], metrics: list[str], clips: list[_Clip],
                t_start: float) -> dict:
    json_path = os.path.join(out_dir, "results.json")
    old, created = {}, _now()
    if os.path.exists(json_path):
        if not s.resume:
            raise SemcodecError(f"{json_path} exists: pass --resume to continue it, or choose another --out")
        old_doc = results.load(json_path)
        old, created = results.finished_points(old_doc), old_doc.get("created", created)
    os.makedirs(out_dir, exist_ok=True)
    for c in clips:
        if s.on_mask:
            s.on_mask(c.name, c.mask_info)
    doc = {
        "schema": results.SCHEMA, "created": created, "updated": _now(),
        "settings": {"codec": s.codec, "rate_control": clips[0].points[0].kind, "two_pass": s.two_pass,
                     "preset": s.preset or caps_for(s.codec).default_preset, "modes": [m.to_json() for m in modes],
                     "reference_mode": modes[0].name, "metrics": metrics, "roi_mask": s.roi_mask,
                     "bd_method": s.bd_method, "bd_metrics": list(results.BD_METRICS)},
        "machine": machine(), "versions": versions(metrics), "run": {"encoded": 0, "reused": 0, "wall_s": 0.0},
        "clips": {c.name: {"path": os.path.abspath(c.path), "width": c.info.width, "height": c.info.height,
                           "frames": c.frames, "fps": round(float(c.info.average_rate), 3),
                           "points": [p.to_json() for p in c.points],
                           "mask": c.mask_info,
                           "modes": {m.name: [] for m in modes}} for c in clips},
        "bd": [],
    }
    jobs = [(c, p, m) for c in clips for p in c.points for m in modes]
    bar = progress_bar(s.progress, "bench", len(jobs), unit="point")
    keep_dir = os.path.join(out_dir, "encodes") if s.keep_encodes else None
    try:
        with tempfile.TemporaryDirectory(prefix="semcodec-bench-") as tmp:
            for clip, point, mode in jobs:
                key = _hash(clip, mode, point, s, metrics)
                if key in old:
                    entry = old[key]
                    doc["run"]["reused"] += 1
                else:
                    folder = os.path.join(keep_dir, _slug(os.path.splitext(clip.name)[0])) if keep_dir else tmp
                    os.makedirs(folder, exist_ok=True)
                    out_path = os.path.join(folder, f"{_slug(mode.name)}_{point.label}.mp4")
                    entry = _run_point(clip, mode, point, s, metrics, out_path, key)
                    if not keep_dir:
                        os.unlink(out_path)
                    doc["run"]["encoded"] += 1
                doc["clips"][clip.name]["modes"][mode.name].append(entry)
                doc["updated"] = _now()
                doc["run"]["wall_s"] = round(time.perf_counter() - t_start, 1)
                results.derive(doc)
                results.save(doc, out_dir)
                bar.update(1)
    finally:
        bar.close()
    from semcodec.bench.report import write_report  # matplotlib only once there is something to plot

    write_report(doc, out_dir)
    return doc

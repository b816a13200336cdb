"""results.json (schema ``semcodec.bench/1``), its derived fields, and results.csv.

results.json::

    {"schema": "semcodec.bench/1",
     "created", "updated": ISO-8601 UTC times,
     "settings": {"codec", "rate_control": "crf"|"bitrate", "two_pass", "preset",
                  "modes": [{"name", "roi", "roi_strength", "preset"}], "reference_mode",
                  "metrics": [...], "roi_mask": spec or null, "bd_method", "bd_metrics": [...]},
     "machine": {...}, "versions": {...},
     "run": {"encoded": points encoded by the last run, "reused": points taken from an earlier run,
             "wall_s": its wall time (checks, encodes, measurements)},
     "clips": {FILE_NAME: {"path", "width", "height", "frames", "fps",
                           "points": [RATE.to_json(), ...],
                           "mask": mask-source description {"kind", "text", ...} or null; without --roi-mask
                                   and with ROI modes the default {"kind": "default-faces", "default": true,
                                   "detector", "frames", "frames_with_faces", "text"} (no face: whole-frame
                                   metrics only, the text says so),
                           "modes": {MODE: [POINT, ...] sorted by rate}}},
     "bd": [{"clip", "anchor", "test", "metric", "bd_rate_pct", "bd_quality", "method", "note"}]}

POINT::

    {"rate": {"kind", "value", "label"}, "hash": settings hash (resume key), "measured_at",
     "bytes", "video_bytes", "frames", "duration_s", "bitrate_kbps", "video_bitrate_kbps",
     "encode_s" (encode wall time, both passes when two-pass), "encode_fps" (frames / encode_s),
     "analysis_s" (time in the analyzers, on a worker thread), "analysis_fps",
     "time_ratio": encode_s / reference mode's encode_s at the same rate point,
     "roi_status", "warnings", "metrics": {pooled metric: value}}

Pooled metric names: ``<metric>_mean`` (mean over frames), ``_p5`` (5th percentile),
``_global`` (PSNR of the mean MSE, FFmpeg's overall value; XPSNR: FFmpeg's square-mean-root),
``vmaf_harmonic_mean``; metrics psnr_{y,u,v,yuv}, ssim_{y,all}, vmaf, xpsnr_{y,u,v} and, with a
region mask, roi_/bg_psnr_y, roi_/bg_ssim_y, wpsnr_y and roi_area_mean (share of pixels in the region).
BD-rates use the video bitrate (kb/s) and the ``_mean`` pooled values.
"""
from __future__ import annotations

import csv
import io
import json
import os

from semcodec.bench.bd import bd
from semcodec.errors import SemcodecError
from semcodec.io.writer import atomic_output

SCHEMA = "semcodec.bench/1"
BD_METRICS = ("psnr_y_mean", "psnr_yuv_mean", "ssim_y_mean", "vmaf_mean", "xpsnr_y_mean",
              "roi_psnr_y_mean", "bg_psnr_y_mean", "roi_ssim_y_mean", "bg_ssim_y_mean", "wpsnr_y_mean")
RATE_KEY = "video_bitrate_kbps"


def load(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as err:
        raise SemcodecError(f"cannot resume from {path}: {err}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise SemcodecError(f"cannot resume from {path}: not a {SCHEMA} file")
    return doc


def finished_points(doc: dict) -> dict[str, dict]:
    """hash -> point, for every point of an earlier run."""
    return {p["hash"]: p for clip in doc.get("clips", {}).values()
            for points in clip.get("modes", {}).values() for p in points}


def derive(doc: dict) -> None:
    """Fill the fields computed from several points: time ratios and the BD table."""
    ref = doc["settings"]["reference_mode"]
    doc["bd"] = []
    modes = [m["name"] for m in doc["settings"]["modes"]]
    for clip_name, clip in doc["clips"].items():
        base = {p["rate"]["label"]: p["encode_s"] for p in clip["modes"].get(ref, [])}
        for points in clip["modes"].values():
            for p in points:
                b = base.get(p["rate"]["label"])
                p["time_ratio"] = round(p["encode_s"] / b, 3) if b else None
        for i, anchor in enumerate(modes):
            for test in modes[i + 1:]:
                for metric in doc["settings"]["bd_metrics"]:
                    if any(metric in p["metrics"] for pts in clip["modes"].values() for p in pts):
                        doc["bd"].append(bd_between(doc, clip_name, anchor, test, metric))


def bd_between(doc: dict, clip: str, anchor: str, test: str, metric: str, method: str | None = None) -> dict:
    """BD-rate and BD-quality of mode `test` against mode `anchor` on any pooled metric of a clip."""
    modes = doc["clips"][clip]["modes"]
    curves = [[(p[RATE_KEY], p["metrics"].get(metric)) for p in modes[m]] for m in (anchor, test)]
    return {"clip": clip, "anchor": anchor, "test": test, "metric": metric,
            **bd(*curves, method=method or doc["settings"]["bd_method"])}


def save(doc: dict, folder: str) -> None:
    """Write results.json and results.csv atomically (a crash leaves the previous complete copy)."""
    _write(os.path.join(folder, "results.json"), json.dumps(doc, indent=1, allow_nan=False) + "\n")
    _write(os.path.join(folder, "results.csv"), to_csv(doc))


def _write(path: str, text: str) -> None:
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)


POINT_COLUMNS = ("bytes", "video_bytes", "frames", "duration_s", "bitrate_kbps", "video_bitrate_kbps",
                 "encode_s", "encode_fps", "analysis_s", "analysis_fps", "time_ratio")


def to_csv(doc: dict) -> str:
    """One row per clip, mode and rate point; every pooled metric a column."""
    rows = [(clip_name, mode, p) for clip_name, clip in doc["clips"].items()
            for mode, points in clip["modes"].items() for p in points]
    metric_names = sorted({k for *_, p in rows for k in p["metrics"]})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["clip", "mode", "rate_kind", "rate_value", *POINT_COLUMNS, *metric_names])
    for clip_name, mode, p in rows:
        w.writerow([clip_name, mode, p["rate"]["kind"], p["rate"]["value"],
                    *(p.get(c) for c in POINT_COLUMNS), *(p["metrics"].get(m) for m in metric_names)])
    return buf.getvalue()

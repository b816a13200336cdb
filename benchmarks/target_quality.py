"""Target quality per shot (`semcodec encode --target-vmaf T --workers N`) against one CRF for the whole video.

For each clip: a chunked target encode (each chunk = a shot, or part of a long one, searches its own CRF with
probe encodes of sampled segments), then, side by side in the same run, a single-piece encode at one CRF for the
whole video chosen to meet the same target on its worst shot (the lowest CRF any chunk needed): the encode a
user without per-shot search would make, and the plain single-CRF encode the wall time is compared with. Both
outputs are scored by an independent libvmaf run against the source (semcodec.metrics.vmaf_scores, all frames).
On the dialogue clips a second target encode adds a face-PSNR target 1 dB above the face PSNR the VMAF target
alone gave (so it binds), and checks that the whole-frame VMAF target still holds.

    python benchmarks/target_quality.py [--clips akiyo,carphone,...] [--target-vmaf 93] [--preset veryfast]

Writes benchmarks/results/target_quality.json and .md. Skips cleanly when ../shared/videos is absent. All clips
are in-sample (the project is developed against them).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from semcodec.bench.pair import score_pair  # noqa: E402
from semcodec.io.writer import write_json, write_text  # noqa: E402
from semcodec.metrics import vmaf_scores  # noqa: E402
from semcodec.parallel import ParallelOptions  # noqa: E402
from semcodec.pipeline import EncodeSettings, Execution, run  # noqa: E402
from semcodec.target import Goal, TargetSpec, encode_chunked  # noqa: E402
from semcodec.target.shots import probe_settings  # noqa: E402

VIDEOS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "videos")
CLIPS = {"akiyo": "akiyo_qcif_news_anchor.mp4", "carphone": "carphone_qcif_video_call.mp4",
         "his_girl_friday": "his_girl_friday_1940_dialogue.mp4", "bikes": "bikes_street_edit_scenecuts.mp4",
         "tears_of_steel": "tears_of_steel_battle_clip.webm"}
DIALOGUE = ("akiyo", "carphone", "his_girl_friday")
LOW, HIGH = 1.0, 1.5  # the measured VMAF must land within target - LOW .. target + HIGH


def _target_run(src: str, out: str, settings: EncodeSettings, spec: TargetSpec, workers: int) -> dict:
    t0 = time.perf_counter()
    rep = encode_chunked(src, out, settings, spec, ParallelOptions(workers=workers))
    wall = time.perf_counter() - t0
    t = rep["target"]
    chunk_s = sum(c["seconds"] or 0 for c in rep["parallel"]["chunks"])
    return {"wall_s": round(wall, 2), "video_bytes": rep["output"]["video_bytes"],
            "measured": t["measured"], "probe_s": t["timings"]["probe_s"],
            "chunk_s": round(chunk_s, 2), "probe_share": round(t["timings"]["probe_s"] / chunk_s, 3),
            "probe_encodes": sum(len(s["probes"]) * len(s["segments"]) for s in t["shots"]),
            "shots": [{k: s[k] for k in ("index", "start_frame", "end_frame", "crf", "predicted", "measured",
                                          "interpolated")} | {"probes": len(s["probes"])} for s in t["shots"]]}


def _single_run(src: str, out: str, settings: EncodeSettings, crf: float) -> dict:
    t0 = time.perf_counter()
    rep = run(src, out, dataclasses.replace(probe_settings(settings), crf=crf), execution=Execution(audio=False),
              rate_offset=0.0)
    wall = time.perf_counter() - t0
    v = vmaf_scores(src, out)
    return {"crf": crf, "wall_s": round(wall, 2), "video_bytes": rep.output.video_bytes,
            "vmaf_mean": round(sum(v) / len(v), 3)}


def _hits(shots: list[dict], metric: str, target: float) -> dict:
    got = [s["measured"][metric] for s in shots if s["measured"].get(metric) is not None]
    return {"shots": len(got), "met": sum(g >= target for g in got),
            "within": sum(target - LOW <= g <= target + HIGH for g in got)}


def measure_clip(name: str, vmaf: float, preset: str, workers: int, tmp: str) -> dict:
    src = os.path.join(VIDEOS, CLIPS[name])
    settings = EncodeSettings(preset=preset)
    spec = TargetSpec((Goal("vmaf", vmaf),))
    out_t, out_s = os.path.join(tmp, f"{name}_target.mp4"), os.path.join(tmp, f"{name}_single.mp4")
    target = _target_run(src, out_t, settings, spec, workers)
    worst = min(s["crf"] for s in target["shots"])
    single = _single_run(src, out_s, settings, worst)
    m = target["measured"]["vmaf_mean"]
    row = {"clip": name, "file": CLIPS[name], "target_vmaf": vmaf, "target": target, "single_crf": single,
           "vmaf_in_window": vmaf - LOW <= m <= vmaf + HIGH, "shot_hits": _hits(target["shots"], "vmaf", vmaf),
           "bytes_vs_single_pct": round(100 * (target["video_bytes"] / single["video_bytes"] - 1), 2),
           "wall_ratio_vs_single": round(target["wall_s"] / single["wall_s"], 2)}
    if name in DIALOGUE:
        row["face"] = _face_run(src, out_t, tmp, name, settings, vmaf, workers)
    return row


def _face_run(src: str, out_vmaf_only: str, tmp: str, name: str, settings, vmaf: float, workers: int) -> dict:
    before = score_pair(out_vmaf_only, src, ["psnr"], roi_mask="faces")["scores"]["roi_psnr_y_mean"]
    face = round(before + 1.0, 1)
    spec = TargetSpec((Goal("vmaf", vmaf), Goal("face_psnr", face)))
    res = _target_run(src, os.path.join(tmp, f"{name}_face.mp4"), settings, spec, workers)
    got = res["measured"].get("face_psnr_mean")
    return {"target_face_psnr": face, "face_psnr_with_vmaf_target_only": round(before, 3), "run": res,
            "face_met": got is not None and got >= face - LOW,
            "vmaf_holds": res["measured"]["vmaf_mean"] >= vmaf - LOW,
            "shot_hits_face": _hits(res["shots"], "face_psnr", face),
            "shot_hits_vmaf": _hits(res["shots"], "vmaf", vmaf)}


def markdown(doc: dict) -> str:
    lines = [f"# Target quality per shot: `--target-vmaf {doc['target_vmaf']:g}` chunked vs one CRF for the video",
             "",
             f"`{doc['command']}`; x264 preset {doc['preset']}, ROI auto, "
             f"{doc['workers']} workers, on {doc['machine']}. Measured VMAF: an independent libvmaf run on the whole "
             f"output against the source. Window: target -{LOW:g} / +{HIGH:g}. 'one CRF' is a single-piece encode at "
             "the lowest CRF any shot needed (the one CRF that meets the target on the worst shot); wall ratio: the "
             "whole target encode (probes included) over that encode; probe share: the CRF search's time (probe "
             "encodes with their analysis, references, libvmaf) over the chunk tasks' total time. Shots up to 6 s are "
             "probed whole, longer ones in 3 segments covering half. All clips in-sample.", "",
             "| clip | shots | CRFs chosen | measured VMAF | in window | shots >= target / within window | "
             "one CRF | its VMAF | bytes vs one CRF | probe share | probe encodes | wall vs one CRF |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in doc["clips"]:
        t, s, h = r["target"], r["single_crf"], r["shot_hits"]
        crfs = sorted(x["crf"] for x in t["shots"])
        span = f"{crfs[0]:g}" if crfs[0] == crfs[-1] else f"{crfs[0]:g}-{crfs[-1]:g}"
        lines.append(f"| {r['clip']} | {len(t['shots'])} | {span} | {t['measured']['vmaf_mean']:.2f} | "
                     f"{'yes' if r['vmaf_in_window'] else 'NO'} | {h['met']}/{h['shots']} / "
                     f"{h['within']}/{h['shots']} | "
                     f"{s['crf']:g} | {s['vmaf_mean']:.2f} | {r['bytes_vs_single_pct']:+.1f} % | "
                     f"{100 * t['probe_share']:.0f} % | {t['probe_encodes']} | {r['wall_ratio_vs_single']:.2f}x |")
    lines += ["", "**Face target on the dialogue clips** (`--target-vmaf` plus `--target-face-psnr` set 1 dB above "
              "the face PSNR the VMAF target alone gave, so it binds):", "",
              "| clip | face PSNR, VMAF target only | face target | measured face PSNR | met | measured VMAF | "
              "VMAF target holds | CRFs | bytes vs VMAF-only |", "|---|---|---|---|---|---|---|---|---|"]
    for r in doc["clips"]:
        f = r.get("face")
        if not f:
            continue
        run_ = f["run"]
        crfs = sorted(x["crf"] for x in run_["shots"])
        lines.append(f"| {r['clip']} | {f['face_psnr_with_vmaf_target_only']:.2f} | {f['target_face_psnr']:g} | "
                     f"{run_['measured'].get('face_psnr_mean', float('nan')):.2f} | "
                     f"{'yes' if f['face_met'] else 'NO'} | "
                     f"{run_['measured']['vmaf_mean']:.2f} | {'yes' if f['vmaf_holds'] else 'NO'} | "
                     f"{crfs[0]:g}-{crfs[-1]:g} | "
                     f"{100 * (run_['video_bytes'] / r['target']['video_bytes'] - 1):+.1f} % |")
    return "\n".join(lines) + "\n"


def main() -> int:
    global VIDEOS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", default=",".join(CLIPS))
    ap.add_argument("--target-vmaf", type=float, default=93.0)
    ap.add_argument("--preset", default="veryfast")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "target_quality"))
    ap.add_argument("--videos", default=VIDEOS, help="folder of the shared clips (default ../shared/videos)")
    args = ap.parse_args()
    VIDEOS = args.videos
    if not os.path.isdir(VIDEOS):
        print(f"skipped: {VIDEOS} not found", file=sys.stderr)
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="semcodec-tq-") as tmp:
        for name in args.clips.split(","):
            t0 = time.perf_counter()
            rows.append(measure_clip(name, args.target_vmaf, args.preset, args.workers, tmp))
            print(f"{name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    doc = {"schema": "semcodec.bench_target_quality/1", "target_vmaf": args.target_vmaf, "preset": args.preset,
           "workers": args.workers, "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
           "command": " ".join(["python benchmarks/target_quality.py", *sys.argv[1:]]), "clips": rows}
    write_json(args.out + ".json", doc)
    write_text(args.out + ".md", markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""ROI encoding vs plain FFmpeg x264/x265 at the same bitrate, preset and AQ: face quality and VMAF.

For each talking-head / dialogue clip in ../shared/videos: a two-pass encode with `--roi off` (plain
x264 at default AQ: the baseline) and with the semantic map, at the same target bitrate. Quality is
measured against the source inside hand-checked face boxes (benchmarks/face_boxes.json, never the
encoder's own map), outside them, and over the whole frame (PSNR, SSIM, VMAF from libvmaf).

    python benchmarks/roi_vs_x264.py [--codec libx264] [--modes off,auto,faces,auto@0.3] [--clips akiyo,...]

A mode is `off`, `auto`, an analyzer list joined by '+' (faces+text), optionally with `@S` for an
ROI strength other than --strength (auto@0.3), so one run can sweep the strength.

Writes benchmarks/results/roi_vs_<codec>.json and .md. Skips cleanly when ../shared/videos is absent.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from face_boxes import load_face_tracks  # noqa: E402

from semcodec.metrics import compare  # noqa: E402
from semcodec.pipeline import EncodeSettings, encode  # noqa: E402

VIDEOS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "videos")
# Mid-rate targets where plain x264 gives VMAF around 85 (../shared/FACTS.md).
CLIPS = {
    "akiyo": ("akiyo_qcif_news_anchor.mp4", {"libx264": 12_000, "libx265": 10_000}),
    "carphone": ("carphone_qcif_video_call.mp4", {"libx264": 35_000, "libx265": 28_000}),
    "his_girl_friday": ("his_girl_friday_1940_dialogue.mp4", {"libx264": 250_000, "libx265": 200_000}),
}


def run(codec: str, modes: list[str], clips: list[str], strength: float, preset: str) -> dict:
    results = {"schema": "semcodec.bench.roi_vs_plain/1", "codec": codec, "preset": preset,
               "rate_control": "two-pass", "roi_strength": strength, "clips": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for key in clips:
            name, rates = CLIPS[key]
            src = os.path.join(VIDEOS, name)
            faces = load_face_tracks(os.path.join(HERE, "face_boxes.json"), name)
            entry = {"file": name, "bitrate": rates[codec], "modes": {}}
            for mode in modes:
                roi, _, s = mode.partition("@")
                out = os.path.join(tmp, f"{key}_{mode}.mp4")
                t0 = time.perf_counter()
                report = encode(src, out, EncodeSettings(
                    codec=codec, bitrate=rates[codec], two_pass=True, preset=preset, roi=roi.replace("+", ","),
                    roi_strength=float(s) if s else strength))
                seconds = time.perf_counter() - t0
                q = compare(src, out, masks=faces.mask, vmaf=True).summary()
                entry["modes"][mode] = {
                    "roi_strength": 0 if roi == "off" else float(s) if s else strength,
                    "video_bytes": report["output"]["video_bytes"],
                    "video_kbps": report["output"]["video_bitrate_kbps"],
                    "encode_s": round(seconds, 2),
                    "face_psnr_y": q["roi_psnr_y_global"], "background_psnr_y": q["bg_psnr_y_global"],
                    "psnr_y": q["psnr_y_global"], "ssim_y": q["ssim_y_mean"],
                    "vmaf": q["vmaf_mean"], "vmaf_p5": q["vmaf_p5"],
                }
                print(f"{key:16} {mode:10} {entry['modes'][mode]}", file=sys.stderr)
            base = entry["modes"].get("off")
            if base:
                for mode, m in entry["modes"].items():
                    if mode != "off":
                        m["vs_off"] = {
                            "bytes_pct": round(100 * (m["video_bytes"] / base["video_bytes"] - 1), 2),
                            "face_psnr_db": round(m["face_psnr_y"] - base["face_psnr_y"], 2),
                            "background_psnr_db": round(m["background_psnr_y"] - base["background_psnr_y"], 2),
                            "vmaf": round(m["vmaf"] - base["vmaf"], 2),
                        }
            results["clips"][key] = entry
    return results


def markdown(results: dict) -> str:
    lines = [f"ROI vs plain {results['codec']} (two-pass, preset {results['preset']}, same target "
             f"bitrate, ROI strength {results['roi_strength']}); face boxes from benchmarks/face_boxes.json",
             "", "| clip | mode | strength | video kb/s | face PSNR-Y | background PSNR-Y | VMAF | size vs off | "
                 "face gain | VMAF change |", "|---|---|---|---|---|---|---|---|---|---|"]
    for key, e in results["clips"].items():
        for mode, m in e["modes"].items():
            d = m.get("vs_off", {})
            lines.append(
                f"| {key} | {mode.split('@')[0]} | {m['roi_strength']:g} | {m['video_kbps']} | {m['face_psnr_y']:.2f} "
                f"| {m['background_psnr_y']:.2f} "
                f"| {m['vmaf']:.2f} | {d.get('bytes_pct', 0):+.2f}% | {d.get('face_psnr_db', 0):+.2f} dB "
                f"| {d.get('vmaf', 0):+.2f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--codec", default="libx264", choices=["libx264", "libx265"])
    ap.add_argument("--modes", default="off,faces,auto,auto@0.1,auto@0.15,auto@0.3",
                    help="comma list: off, auto, faces, faces+text, auto@0.3 (see above)")
    ap.add_argument("--clips", default=",".join(CLIPS))
    ap.add_argument("--strength", type=float, default=EncodeSettings.roi_strength)
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    if not os.path.isdir(VIDEOS):
        print(f"skipped: {VIDEOS} not found", file=sys.stderr)
        return 0
    modes = args.modes.split(",")
    results = run(args.codec, modes, args.clips.split(","), args.strength, args.preset)
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"roi_vs_{args.codec}")
    with open(stem + ".json", "w") as f:
        json.dump(results, f, indent=2)
    with open(stem + ".md", "w") as f:
        f.write(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

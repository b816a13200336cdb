"""The project's standard rate-distortion benchmark: ROI vs plain x264 on the talking-head clips.

akiyo, carphone and his_girl_friday from ../shared/videos, two-pass libx264 preset medium at four
bitrates around each clip's mid-rate (x0.75, x1, x1.5, x2.25), modes baseline (--roi off) and roi
(--roi auto); region metrics inside the hand-checked face boxes of benchmarks/face_boxes.json.

    python benchmarks/standard.py [--fresh]

Writes benchmarks/results/standard/{results.json,results.csv,plots/,report.html} through
semcodec.bench (the same code as `semcodec bench`). An interrupted run continues where it stopped;
--fresh starts over. Skips cleanly when ../shared/videos is absent.
"""
from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from semcodec.bench import BenchSettings, RatePoint, run_bench  # noqa: E402

VIDEOS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "videos")
OUT = os.path.join(HERE, "results", "standard")
# Mid-rates where plain x264 gives VMAF around 85 (the same targets as roi_vs_x264.py).
MID_RATES = {
    "akiyo_qcif_news_anchor.mp4": 12_000,
    "carphone_qcif_video_call.mp4": 35_000,
    "his_girl_friday_1940_dialogue.mp4": 250_000,
}
# A 3x span, as x0.5..x1.5 would be, but not below x0.75: x264 refuses akiyo two-pass at 6 kb/s
# ("requested bitrate is too low. estimated minimum is 7 kbps") and undershoots its targets near that floor.
SCALES = (0.75, 1.0, 1.5, 2.25)


def settings(progress: bool, resume: bool, codec: str = "libx264") -> BenchSettings:
    points = {name: [RatePoint("bitrate", round(mid * k)) for k in SCALES] for name, mid in MID_RATES.items()}
    return BenchSettings(codec=codec, points=points[next(iter(points))], clip_points=points, two_pass=True,
                         preset="medium", modes="baseline,roi", roi_mask=os.path.join(HERE, "face_boxes.json"),
                         metrics="psnr,ssim,vmaf,xpsnr", resume=resume, progress=progress)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fresh", action="store_true", help="ignore earlier results and encode everything again")
    ap.add_argument("--codec", default="libx264", choices=["libx264", "libx265"],
                    help="libx265 writes to benchmarks/results/standard_libx265/ unless --out is given")
    ap.add_argument("--out")
    args = ap.parse_args()
    args.out = args.out or (OUT if args.codec == "libx264" else f"{OUT}_{args.codec}")
    clips = [os.path.join(VIDEOS, name) for name in MID_RATES]
    missing = [c for c in clips if not os.path.exists(c)]
    if missing:
        print(f"skipped: {', '.join(missing)} not found", file=sys.stderr)
        return 0
    if args.fresh and os.path.exists(os.path.join(args.out, "results.json")):
        os.unlink(os.path.join(args.out, "results.json"))
    doc = run_bench(clips, args.out, settings(progress=sys.stderr.isatty(), resume=True, codec=args.codec))
    print(f"{doc['run']['encoded']} points encoded, {doc['run']['reused']} reused, {doc['run']['wall_s']} s")
    print("| clip | metric | BD-rate roi vs baseline | BD-quality |")
    print("|---|---|---|---|")
    for b in doc["bd"]:
        if b["metric"] in ("roi_psnr_y_mean", "vmaf_mean", "psnr_y_mean", "bg_psnr_y_mean"):
            rate = "n/a" if b["bd_rate_pct"] is None else f"{b['bd_rate_pct']:+.1f}%"
            qual = "n/a" if b["bd_quality"] is None else f"{b['bd_quality']:+.2f}"
            print(f"| {b['clip']} | {b['metric']} | {rate} | {qual} |" + (f" {b['note']}" if b["note"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`semcodec metrics DIST REF`: full-reference scores of any pair of files, as `semcodec bench` measures them."""
from __future__ import annotations

import argparse
import sys

from semcodec.io.writer import STDOUT, write_json

from .progress import stderr_progress

# the order and labels of the human summary (stderr); --json has every pooled value
_LINES = (("vmaf_mean", "VMAF", "{:.2f}"), ("vmaf_p5", "VMAF 5th pct", "{:.2f}"),
          ("psnr_y_mean", "PSNR Y dB", "{:.2f}"), ("psnr_yuv_global", "PSNR YUV dB", "{:.2f}"),
          ("ssim_all_mean", "SSIM", "{:.5f}"), ("xpsnr_y_mean", "XPSNR Y dB", "{:.2f}"),
          ("roi_psnr_y_mean", "region PSNR Y dB", "{:.2f}"), ("bg_psnr_y_mean", "rest PSNR Y dB", "{:.2f}"),
          ("roi_ssim_y_mean", "region SSIM Y", "{:.5f}"), ("wpsnr_y_mean", "weighted PSNR Y dB", "{:.2f}"))


def register(sub) -> None:
    p = sub.add_parser(
        "metrics", help="PSNR, SSIM, VMAF, XPSNR (and region metrics) of one file against another",
        description="Score DIST against REF frame by frame (paired by index) with the code `semcodec bench` uses: "
                    "PSNR and SSIM as FFmpeg's psnr/ssim filters define them, XPSNR from FFmpeg's xpsnr filter, "
                    "VMAF (vmaf_v0.6.1) from libvmaf in the imageio-ffmpeg binary. With --roi-mask also PSNR/SSIM "
                    "inside and outside a region and importance-weighted PSNR. Both files must have the same "
                    "frame size and frame count.",
        epilog="examples:\n"
               "  semcodec metrics out.mp4 source.mp4\n"
               "  semcodec metrics out.mp4 source.mp4 --roi-mask faces --json > scores.json\n"
               "  semcodec metrics out.mp4 source.mp4 --metrics vmaf,psnr --roi-mask benchmarks/face_boxes.json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("distorted", metavar="DIST", help="the encoded (distorted) video")
    p.add_argument("reference", metavar="REF", help="the source (reference) video")
    p.add_argument("--metrics", default="psnr,ssim,vmaf,xpsnr", help="any of psnr,ssim,vmaf,xpsnr (default all)")
    p.add_argument("--roi-mask", metavar="SOURCE",
                   help="region for ROI metrics: 'faces' (faces semcodec's face detector finds on REF, the bench's "
                        "default), a face-boxes JSON (benchmarks/face_boxes.json schema), a mask video (white = "
                        "region) or analyzer:NAME run on REF")
    p.add_argument("--json", action="store_true", help="print every pooled score as JSON on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=cmd_metrics)


def _summary(doc: dict) -> str:
    s = doc["scores"]
    lines = [f"{doc['distorted']} vs {doc['reference']} ({doc['width']}x{doc['height']})"]
    lines += [f"  {label:<19} {fmt.format(s[key])}" for key, label, fmt in _LINES if s.get(key) is not None]
    if doc["mask"]:
        lines.append(f"  region: {doc['mask']['text']}")
    return "\n".join(lines)


def cmd_metrics(args) -> int:
    from semcodec.bench.measure import parse_metrics
    from semcodec.bench.pair import score_pair

    doc = score_pair(args.distorted, args.reference, parse_metrics(args.metrics), args.roi_mask,
                     progress=stderr_progress(args.quiet))
    if args.json:
        write_json(STDOUT, doc)
    if not args.quiet:
        print(_summary(doc), file=sys.stderr)
    return 0

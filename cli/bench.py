"""`semcodec bench`: rate-distortion benchmark of semcodec's modes (and plain x264/x265)."""
from __future__ import annotations

import argparse
import os
import sys

from semcodec.encoding.codecs import CAPABILITIES, DEFAULT_CODEC
from semcodec.io.outputs import Output, check_outputs

from .progress import stderr_progress


def register(sub) -> None:
    p = sub.add_parser(
        "bench", help="rate-distortion benchmark: modes x rate points, quality, speed, BD-rate",
        description="Encode every INPUT in every mode at every rate point, measure quality (PSNR, SSIM, "
                    "VMAF, XPSNR; with a region also inside/outside it and importance-weighted PSNR: the "
                    "--roi-mask, or by default with ROI modes the faces detected on the source) and speed, "
                    "and write results.json, results.csv, RD plots and report.html into "
                    "--out. results.json is saved after every point; --resume continues an interrupted run.",
        epilog="modes: baseline (--roi off), roi (--roi auto), roi@0.3 (strength 0.3), faces+text (analyzers),\n"
               "       any of them with :PRESET (baseline:ultrafast). The first mode is the BD anchor.\n"
               "examples:\n"
               "  semcodec bench clip.mp4 --crf 18,23,28,33 --modes baseline,roi --out bench/\n"
               "  semcodec bench a.mp4 b.mp4 --bitrate 100k,200k,400k,800k --two-pass \\\n"
               "      --roi-mask benchmarks/face_boxes.json --out bench/ --resume",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="source clips")
    p.add_argument("--codec", default=DEFAULT_CODEC, choices=list(CAPABILITIES))
    rate = p.add_mutually_exclusive_group(required=True)
    rate.add_argument("--crf", metavar="LIST", help="CRF values, e.g. 18,23,28,33")
    rate.add_argument("--bitrate", metavar="LIST", help="target bitrates, e.g. 100k,200k,400k,800k")
    p.add_argument("--two-pass", action="store_true", help="two-pass encodes (with --bitrate)")
    p.add_argument("--preset", help="encoder preset for every mode without its own :PRESET")
    p.add_argument("--modes", default="baseline,roi", help="comma list (default baseline,roi); see below")
    p.add_argument("--roi-mask", metavar="SOURCE",
                   help="region for ROI metrics: a face-boxes JSON (benchmarks/face_boxes.json schema), a mask "
                        "video (white = region; {stem} = clip name) or analyzer:NAME run on the source. "
                        "Default with ROI modes: faces detected on the source (whole-frame only without one)")
    p.add_argument("--metrics", default="psnr,ssim,vmaf,xpsnr", help="any of psnr,ssim,vmaf,xpsnr (default all)")
    p.add_argument("--bd-method", default="pchip", choices=["pchip", "akima"], help="BD interpolation")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--resume", action="store_true", help="continue DIR/results.json: skip finished points")
    p.add_argument("--keep-encodes", action="store_true", help="keep the encoded files in DIR/encodes/")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=cmd_bench)


def _summary(doc: dict, out: str) -> str:
    lines = [f"{doc['run']['encoded']} points encoded, {doc['run']['reused']} reused; "
             f"wrote {os.path.join(out, 'results.json')}, results.csv, plots/, report.html"]
    for b in doc["bd"]:
        if b["metric"] in ("psnr_y_mean", "vmaf_mean", "roi_psnr_y_mean"):
            rate = "n/a" if b["bd_rate_pct"] is None else f"{b['bd_rate_pct']:+.1f}%"
            lines.append(f"  {b['clip']}: {b['test']} vs {b['anchor']} on {b['metric']}: BD-rate {rate}"
                         + (f" ({b['note']})" if b["note"] else ""))
    return "\n".join(lines)


def _say_mask(name: str, mask: dict | None) -> None:
    if mask is not None:
        text = mask["text"] if mask.get("default") else f"region mask: {mask['text']}"
        print(f"semcodec: {name}: {text}", file=sys.stderr)


def cmd_bench(args) -> int:
    from semcodec.bench import BenchSettings, parse_points, run_bench

    kind, text = ("crf", args.crf) if args.crf else ("bitrate", args.bitrate)
    settings = BenchSettings(codec=args.codec, points=parse_points(kind, text), two_pass=args.two_pass,
                             preset=args.preset, modes=args.modes, roi_mask=args.roi_mask, metrics=args.metrics,
                             resume=args.resume, keep_encodes=args.keep_encodes, bd_method=args.bd_method,
                             progress=stderr_progress(args.quiet), on_mask=None if args.quiet else _say_mask)
    # --out is a results folder that --resume continues: -n skips a finished one; replacing one is the
    # user's call (another --out, or delete it), never a side effect of -y
    out = Output("--out", args.out, kind="dir", owns=("results.json",))
    check_outputs(args.inputs, [out], overwrite="skip" if args.overwrite == "skip" and not args.resume
                  else "overwrite")
    try:
        doc = run_bench(args.inputs, args.out, settings)
    except KeyboardInterrupt as exc:
        print(f"semcodec: interrupted; finished points are in {os.path.join(args.out, 'results.json')} "
              "(rerun with --resume to continue)", file=sys.stderr)
        return getattr(exc, "exit_code", 130)
    if not args.quiet:
        print(_summary(doc, args.out), file=sys.stderr)
    return 0

"""`semcodec encode`: importance-driven ROI encoding."""
from __future__ import annotations

import argparse
import json
import os
import sys

from semcodec.errors import SemcodecError


def parse_bitrate(text: str) -> int:
    """'800k', '1.5M', '250000' -> bits per second."""
    t = text.strip().lower().rstrip("bps").rstrip("/")
    mult = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if mult > 1 else t) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a bitrate: {text!r} (examples: 800k, 1.5M)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("bitrate must be positive")
    return int(value)


def register(sub) -> None:
    enc = sub.add_parser(
        "encode", help="encode a video with an importance-driven quantizer map",
        description="Analyse INPUT (faces, saliency, motion, on-screen text), turn the importance map "
                    "into per-block quantizer offsets and encode with a real FFmpeg encoder. The output "
                    "is a standard stream any player plays. Audio is copied untouched.",
        epilog="examples:\n"
               "  semcodec encode in.mp4 -o out.mp4                       # x264, CRF 23, ROI auto\n"
               "  semcodec encode in.mp4 -o out.mp4 --bitrate 500k --two-pass\n"
               "  semcodec encode in.mp4 -o plain.mp4 --roi off           # same settings, no map\n"
               "  semcodec encode in.mp4 -o out.mkv --codec libx265 --roi faces,text --save-maps maps.mp4",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    enc.add_argument("input", help="input video (anything FFmpeg reads)")
    enc.add_argument("-o", "--output", required=True, help="output file: .mp4, .mov or .mkv")
    enc.add_argument("--codec", default="libx264", choices=["libx264", "libx265", "libvpx-vp9", "libsvtav1"],
                     help="encoder (default libx264). libsvtav1 ignores block maps: it is encoded plain")
    rate = enc.add_mutually_exclusive_group()
    rate.add_argument("--crf", type=float, help="constant quality (default: 23 x264, 28 x265, 34 vp9, 35 av1)")
    rate.add_argument("--bitrate", type=parse_bitrate, help="target bitrate, e.g. 800k or 2M (ABR)")
    enc.add_argument("--two-pass", action="store_true", help="two-pass encode to --bitrate (x264, x265)")
    enc.add_argument("--preset", help="encoder preset (x264/x265 names; cpu-used 5-8 for vp9; 0-13 for av1)")
    enc.add_argument("--roi", default="auto", metavar="auto|off|LIST",
                     help="analyzers that build the importance map: auto (all that can run), off (plain "
                          "encode, same settings), or a list from faces,objects,saliency,motion,text")
    enc.add_argument("--yolo-weights", metavar="PATH",
                     help="YOLO weights for the objects analyzer: an .onnx export (runs on OpenCV) or a .pt file "
                          "(needs ultralytics); default: the Ultralytics weights folder, if it has any")
    enc.add_argument("--roi-strength", type=float, default=0.2, metavar="S",
                     help="map strength in FFmpeg qoffset units, 0..1 (default 0.2 = 10.2 QP between the "
                          "most and least important blocks); offsets are balanced so the rate stays put")
    enc.add_argument("--shots", default="auto", choices=["auto", "off"],
                     help="auto (default): a keyframe (IDR) at every detected cut; off: the encoder decides")
    enc.add_argument("--keyframes-from", metavar="TAGS.json|auto",
                     help="shot-aware plan from `semcodec tag` output (or 'auto' to tag first): IDR at each "
                          "shot, ROI strength by scene class, more bits at the selected keyframes; all "
                          "decisions go into the report")
    enc.add_argument("--save-maps", metavar="PATH", help="also write a video of importance map and offsets")
    enc.add_argument("--report", metavar="FILE.json", help="write the JSON report here")
    enc.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    enc.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    enc.set_defaults(func=cmd_encode)


def _summary(report: dict) -> str:
    out, roi = report["output"], report["roi"]
    lines = [f"wrote {out['path']}: {out['frames']} frames, {out['bytes'] / 1024:.1f} KiB, "
             f"{out['bitrate_kbps']} kb/s ({report['settings']['rate_control']}, "
             f"{report['settings']['codec']} preset {report['settings']['preset']}) in "
             f"{report['timings']['total_s']:.1f} s ({report['timings']['fps']} fps)"]
    if roi["status"] != "on":
        lines.append(f"ROI map: {roi['status']}")
    else:
        lines.append(f"ROI map: {roi['block']}x{roi['block']} blocks, offsets {roi['offset_qp_min']:+g}.."
                     f"{roi['offset_qp_max']:+g} QP, analysis at {roi['analysis_size'][0]}x"
                     f"{roi['analysis_size'][1]}")
        for a in roi["analyzers"]:
            if a["available"]:
                how = f" [{a['backend']}]" if a["backend"] else ""
                lines.append(f"  ran  {a['name']:<9}{how} on {a['runs']} frames, {a['ms_per_run']} ms each")
            else:
                lines.append(f"  skip {a['name']:<9} unavailable: {a['note']}")
    shots = report["shots"]
    if shots["method"] != "off":
        lines.append(f"shots: {shots['method']}; keyframes (IDR) at frames {shots['keyframes_at'] or 'none'}")
    for d in shots["plan"] or []:
        what = d.get("class") or ", ".join(f"{k}={v}" for k, v in d.items() if k not in ("video", "why", "keyframes"))
        lines.append(f"  plan {('shot ' + str(d['shot'] + 1)) if 'shot' in d else 'video':<8} {what}: {d['why']}")
    return "\n".join(lines)


def cmd_encode(args) -> int:
    from semcodec.pipeline import EncodeSettings, encode

    settings = EncodeSettings(codec=args.codec, crf=args.crf, bitrate=args.bitrate, two_pass=args.two_pass,
                              preset=args.preset, roi=args.roi, roi_strength=args.roi_strength,
                              save_maps=args.save_maps, yolo_weights=args.yolo_weights, shots=args.shots,
                              keyframes_from=args.keyframes_from, progress=not args.quiet and sys.stderr.isatty())
    if args.report and not os.path.isdir(os.path.dirname(os.path.abspath(args.report))):
        raise SemcodecError(f"report folder does not exist: {os.path.dirname(os.path.abspath(args.report))}")
    report = encode(args.input, args.output, settings)
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=2)
    if args.json:
        print(json.dumps(report, indent=2))
    elif not args.quiet:
        print(_summary(report), file=sys.stderr)
    return 0

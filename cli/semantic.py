"""`semcodec semantic encode|decode`: caption-to-image semantic compression (.semz)."""
from __future__ import annotations

import argparse
import sys

from semcodec.errors import UsageError
from semcodec.io.outputs import Output, all_or_nothing, check_outputs
from semcodec.io.writer import write_json

from .options import finite_float, int_range, positive_int
from .progress import stderr_progress


def register(sub) -> None:
    p = sub.add_parser(
        "semantic", help="ultra-low-bitrate semantic mode: captions + tiny guide images (.semz), regenerated",
        description="Encode a video as what each shot shows (a caption, region layout and a tiny guide image, "
                    "optionally pixels for shots that would not survive), and decode it back to a playable MP4. "
                    "Format: docs/semz-format.md.",
        epilog="examples:\n"
               "  semcodec semantic encode clip.mp4 -o clip.semz --hybrid-threshold 24\n"
               "  semcodec semantic decode clip.semz -o clip_semantic.mp4\n"
               "  semcodec semantic decode clip.semz -o gen.mp4 --generator ~/models/sd15 --seed 7 --steps 20",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ss = p.add_subparsers(dest="semantic_command", required=True, metavar="encode|decode")
    e = ss.add_parser("encode", help="video -> .semz")
    e.add_argument("input", help="input video")
    e.add_argument("-o", "--output", required=True, metavar="OUT.semz")
    e.add_argument("--captioner", metavar="DIR", help="local transformers image-to-text folder (BLIP, GIT, "
                   "VisionEncoderDecoder); default: a caption composed from semcodec's analyzers")
    e.add_argument("--guide-size", type=int_range(8, 2048), default=64, metavar="PX",
                   help="long side of the guide images (default 64)")
    e.add_argument("--guide-codec", default="webp", choices=["webp", "avif", "jpeg"],
                   help="guide image codec (default webp)")
    e.add_argument("--guide-quality", type=int_range(1, 100), default=50, metavar="Q",
                   help="guide image quality 1-100 (default 50)")
    e.add_argument("--guide-every", type=finite_float(0), default=0.0, metavar="S",
                   help="one guide every S seconds within a shot, blended on decode (default 0: one per shot)")
    e.add_argument("--hybrid-threshold", type=finite_float(0, 100), metavar="DB",
                   help="keep pixels (x264) for shots whose reconstruction scores below this Y-PSNR")
    e.add_argument("--fallback-crf", type=int_range(0, 51), default=40, metavar="N",
                   help="x264 CRF of hybrid shots (default 40)")
    e.add_argument("--yolo-weights", metavar="PATH", help="YOLO weights: labelled objects in captions and layout")
    e.add_argument("--json", metavar="REPORT.json", help="write the encode report here ('-': stdout)")
    e.add_argument("-q", "--quiet", action="store_true")
    e.set_defaults(func=cmd_encode)
    d = ss.add_parser("decode", help=".semz -> video (libx264 MP4)")
    d.add_argument("input", help="input .semz")
    d.add_argument("-o", "--output", required=True, metavar="OUT.mp4")
    d.add_argument("--generator", metavar="DIR", help="local diffusers pipeline folder (e.g. Stable Diffusion); "
                   "default: upscale the guide images, no weights")
    d.add_argument("--generator-mode", default="img2img", choices=["img2img", "txt2img"],
                   help="img2img starts from the guide (layout and colours hold); txt2img uses the caption only")
    d.add_argument("--strength", type=finite_float(0, 1, lo_open=True), default=0.55,
                   help="img2img strength (default 0.55)")
    d.add_argument("--gen-size", type=int_range(8, 4096), default=512, metavar="PX",
                   help="long side generated at (default 512)")
    d.add_argument("--seed", type=int, default=0, help="generator seed (same seed, same output)")
    d.add_argument("--steps", type=positive_int, default=20, help="diffusion steps (default 20)")
    d.add_argument("--crf", type=int_range(0, 51), default=16, help="x264 CRF of the output video (default 16)")
    d.add_argument("--max-frames", type=positive_int, metavar="N",
                   help="decode files that claim up to N frames (default: a budget of 3 h at 30 fps and of 3 h "
                        "of 1080p in frames x pixels; a file claiming more is refused before any work)")
    d.add_argument("-q", "--quiet", action="store_true")
    d.set_defaults(func=cmd_decode)


def cmd_encode(args) -> int:
    from semcodec.semantic import encode_semantic

    if not args.output.lower().endswith(".semz"):
        raise UsageError("output must end in .semz")
    outputs = [Output("-o", args.output, stream_ok=False), Output("--json", args.json)]
    check_outputs([args.input], outputs, overwrite=args.overwrite)
    with all_or_nothing(outputs):
        rep = encode_semantic(args.input, args.output, captioner=args.captioner, guide_size=args.guide_size,
                              guide_codec=args.guide_codec, guide_quality=args.guide_quality,
                              guide_every=args.guide_every, hybrid_threshold=args.hybrid_threshold,
                              fallback_crf=args.fallback_crf, yolo_weights=args.yolo_weights,
                              progress=stderr_progress(args.quiet))
        if args.json:
            write_json(args.json, rep)
    if not args.quiet:
        print(f"{rep['output']}: {rep['bytes']} bytes, {rep['bits_per_second']:.0f} bit/s, "
              f"{rep['bits_per_pixel']:.6f} bpp; {rep['shots']} shots, {rep['hybrid_shots']} kept as pixels "
              f"({rep['timings']['total_s']} s)", file=sys.stderr)
        for s in rep["per_shot"]:
            print(f"  {s['start']:>6}-{s['end']:<6} {s['psnr_y']:6.2f} dB {'pixels' if s['hybrid'] else 'semantic'}"
                  f"  {s['caption']}", file=sys.stderr)
    return 0


def cmd_decode(args) -> int:
    from semcodec.semantic import decode_semantic

    if args.steps < 1:
        raise UsageError("--steps must be at least 1")
    if not 0 < args.strength <= 1:
        raise UsageError("--strength must be in (0, 1]")
    check_outputs([args.input], [Output("-o", args.output, stream_ok=False)], overwrite=args.overwrite)
    rep = decode_semantic(args.input, args.output, generator=args.generator, seed=args.seed, steps=args.steps,
                          generator_mode=args.generator_mode, strength=args.strength, gen_size=args.gen_size,
                          crf=args.crf, max_frames=args.max_frames, progress=stderr_progress(args.quiet))
    if not args.quiet:
        print(f"{rep['output']}: {rep['frames']} frames, {rep['width']}x{rep['height']} at {rep['fps']} fps, "
              f"{rep['duration_s']} s, generator {rep['generator']} ({rep['seconds']} s)", file=sys.stderr)
    return 0

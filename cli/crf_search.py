"""`semcodec crf-search IN --target-vmaf T`: the CRF each shot needs for a quality target, without encoding."""
from __future__ import annotations

import argparse
import sys

from semcodec.encoding.codecs import CAPABILITIES, DEFAULT_CODEC
from semcodec.io.writer import STDOUT, write_json

from .options import finite_float
from .progress import stderr_progress


def add_target_options(p, required: bool) -> None:
    """The quality-target options `encode` and `crf-search` share."""
    g = p.add_argument_group("quality target (probe encodes per shot; the largest CRF that meets every target)"
                             + ("" if required else "; replaces --crf"))
    g.add_argument("--target-vmaf", type=finite_float(0, 100, lo_open=True), metavar="T",
                   help="whole-frame VMAF (vmaf_v0.6.1, libvmaf) every shot must reach")
    g.add_argument("--target-roi-vmaf", type=finite_float(0, 100, lo_open=True), metavar="V",
                   help="VMAF of the face region (the union of the faces detected on the source over the shot, "
                        "cropped); shots without a face ignore it")
    g.add_argument("--target-face-psnr", type=finite_float(0, 99, lo_open=True), metavar="DB",
                   help="luma PSNR inside the faces detected on the source (the bench's default region)")
    g.add_argument("--target-percentile", type=finite_float(0, 100, lo_open=True, hi_open=True), metavar="P",
                   help="score a shot by the P-th percentile of its frames (5: 95%% of the frames reach the "
                        "target) instead of their mean")
    g.add_argument("--min-crf", type=finite_float(), metavar="A", help="lowest CRF allowed (default 10; 15 vp9/av1)")
    g.add_argument("--max-crf", type=finite_float(), metavar="B", help="highest CRF allowed (default 40; 55 vp9/av1)")
    g.add_argument("--max-probes", type=int, default=5, metavar="N", help="CRFs probed per shot at most (default 5)")
    g.add_argument("--vmaf-subsample", type=int, default=1, metavar="N",
                   help="probes: libvmaf scores every N-th frame (default 1: all; the final check scores all)")
    g.add_argument("--best-effort", action="store_true",
                   help="a shot that cannot reach the target in range gets --min-crf and a warning, not an error")


def target_spec(args):
    """The TargetSpec the options ask for, or None when no --target-* was given."""
    from semcodec.target.spec import Goal, TargetSpec

    goals = tuple(Goal(m, v) for m, v in (("vmaf", args.target_vmaf), ("roi_vmaf", args.target_roi_vmaf),
                                           ("face_psnr", args.target_face_psnr)) if v is not None)
    bounds = (args.target_percentile, args.min_crf, args.max_crf)
    if not goals and all(b is None for b in bounds) and not args.best_effort:
        return None
    return TargetSpec(goals, args.target_percentile, args.min_crf, args.max_crf, args.best_effort,
                      args.max_probes, args.vmaf_subsample)


def register(sub) -> None:
    p = sub.add_parser(
        "crf-search", help="the CRF each shot needs for a VMAF / face-quality target (no encode)",
        description="Split INPUT into shots (as the chunked encode does), encode a few sampled segments of each "
                    "shot at a few CRFs with the ROI map on, score them with libvmaf (and the face metrics), "
                    "interpolate, and print the largest CRF that meets every target per shot, and the one CRF "
                    "the whole video needs (the lowest of them). Nothing is written unless --json.",
        epilog="examples:\n"
               "  semcodec crf-search clip.mp4 --target-vmaf 93\n"
               "  semcodec crf-search clip.mp4 --target-vmaf 90 --target-face-psnr 38 --target-percentile 5 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="input video")
    p.add_argument("--codec", default=DEFAULT_CODEC, choices=list(CAPABILITIES))
    p.add_argument("--preset", help="encoder preset (the final encode must use the same)")
    p.add_argument("--roi", default="auto", metavar="auto|off|LIST", help="analyzers for the map (as encode)")
    p.add_argument("--roi-strength", type=finite_float(0, 1), default=0.2, metavar="S", help="as encode")
    add_target_options(p, required=True)
    p.add_argument("--threads", type=int, metavar="N", help="encoder threads for the probes")
    p.add_argument("--json", action="store_true", help="print the full result (every probe) as JSON on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=cmd_crf_search)


def summary(doc: dict) -> str:
    lines = [f"target: {doc['target']}; CRF range {doc['crf_range'][0]:g}-{doc['crf_range'][1]:g} ({doc['codec']})"]
    for s in doc["shots"]:
        pred = ", ".join(f"{k} {v:.2f}" for k, v in s["predicted"].items() if v is not None) or "nothing to measure"
        how = "interpolated" if s["interpolated"] else "probed"
        flag = "" if s["met"] else "  NOT MET"
        lines.append(f"  shot {s['index'] + 1:>3} frames {s['start_frame']:>5}-{s['end_frame'] - 1:<5} CRF "
                     f"{s['crf']:>5g}  predicted {pred} ({how}, {len(s['probes'])} probes){flag}")
    lines.append(f"whole video at one CRF: {doc['crf_whole_video']:g}; {doc['probe_encodes']} probe encodes in "
                 f"{doc['probe_s']:.1f} s")
    return "\n".join(lines)


def cmd_crf_search(args) -> int:
    from semcodec.errors import UsageError
    from semcodec.pipeline import EncodeSettings
    from semcodec.target import search_video

    spec = target_spec(args)
    if spec is None or not spec.goals:
        raise UsageError("crf-search needs --target-vmaf, --target-roi-vmaf or --target-face-psnr")
    settings = EncodeSettings(codec=args.codec, preset=args.preset, roi=args.roi, roi_strength=args.roi_strength)
    doc = search_video(args.input, settings, spec, stderr_progress(args.quiet), args.threads).to_json()
    if args.json:
        write_json(STDOUT, doc)
    if not args.quiet:
        print(summary(doc), file=sys.stderr)
    return 0

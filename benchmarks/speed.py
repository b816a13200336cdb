"""Wall time of `semcodec encode` (ROI auto) against plain x264 (`--roi off`, same settings), side by side.

Runs are interleaved (off, auto, off, auto, ...) so both see the same machine state; the best of N is
reported for each, and their ratio. Default clip: the 720p Big Buck Bunny excerpt at preset medium.

    python benchmarks/speed.py [--clip PATH] [--preset medium] [--repeats 3]

Writes benchmarks/results/speed.json. Skips cleanly when ../shared/videos is absent.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from semcodec.encoding import codecs  # noqa: E402
from semcodec.io.writer import write_json  # noqa: E402
from semcodec.pipeline import EncodeSettings, encode  # noqa: E402

VIDEOS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "videos")


def _asm_cost(args) -> dict:
    """What the deterministic x264 asm list (no AVX-512) costs against x264's own detection: plain encodes,
    interleaved, best of N each."""
    times = {"asm_list": [], "x264_auto": []}
    saved = codecs.X264_ASM
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.repeats):
                for name, asm in (("asm_list", saved), ("x264_auto", None)):
                    codecs.X264_ASM = asm
                    t0 = time.perf_counter()
                    encode(args.clip, os.path.join(tmp, "o.mp4"), EncodeSettings(
                        codec=args.codec, crf=args.crf, preset=args.preset, roi="off"))
                    times[name].append(time.perf_counter() - t0)
    finally:
        codecs.X264_ASM = saved
    best = {k: round(min(v), 3) for k, v in times.items()}
    return {"asm": saved, "best_s": best, "ratio": round(best["asm_list"] / best["x264_auto"], 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default=os.path.join(VIDEOS, "big_buck_bunny_excerpt_720p.mp4"))
    ap.add_argument("--codec", default="libx264")
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--crf", type=float, default=23)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "speed.json"))
    args = ap.parse_args()
    if not os.path.exists(args.clip):
        print(f"skipped: {args.clip} not found", file=sys.stderr)
        return 0
    times = {"off": [], "auto": []}
    reports = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for mode in ("off", "auto"):
                t0 = time.perf_counter()
                reports[mode] = encode(args.clip, os.path.join(tmp, f"{mode}.mp4"), EncodeSettings(
                    codec=args.codec, crf=args.crf, preset=args.preset, roi=mode))
                times[mode].append(time.perf_counter() - t0)
    best = {m: min(t) for m, t in times.items()}
    asm_cost = _asm_cost(args) if codecs.X264_ASM and args.codec == "libx264" else None
    frames = reports["off"]["output"]["frames"]
    result = {
        "schema": "semcodec.bench.speed/1", "clip": os.path.basename(args.clip),
        "codec": args.codec, "preset": args.preset, "crf": args.crf, "frames": frames,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "wall_s": {m: [round(x, 3) for x in t] for m, t in times.items()},
        "best_s": {m: round(x, 3) for m, x in best.items()},
        "fps": {m: round(frames / x, 1) for m, x in best.items()},
        "ratio_auto_over_off": round(best["auto"] / best["off"], 3),
        "analysis_s": reports["auto"]["timings"]["analysis_s"],
        "video_bytes": {m: r["output"]["video_bytes"] for m, r in reports.items()},
        "analyzers": [{k: a[k] for k in ("name", "runs", "ms_per_run")} for a in reports["auto"]["roi"]["analyzers"]],
        "x264_asm_cost": asm_cost,
    }
    write_json(args.out, result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

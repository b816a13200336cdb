"""Bit-exact output: the same input and settings give the same bytes, run after run, in one process and
across processes, for every codec, with the ROI map on and off, on frames 160, 176, 320 and 640 px wide
(x264's AVX-512 mbtree code misbehaves when the width in macroblocks is not a multiple of 8).

    python benchmarks/determinism.py [--repeats 12] [--processes 3] [--codecs libx264,libx265,libvpx-vp9]

Clips are made here from scikit-image's astronaut photo (a face, so the ROI map is not empty), 24 frames
with a slow pan. Writes benchmarks/results/determinism.json and determinism.md.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

WIDTHS = (160, 176, 320, 640)
SUFFIX = {"libx264": ".mp4", "libx265": ".mp4", "libvpx-vp9": ".mkv", "libsvtav1": ".mp4"}


def make_clip(path: str, width: int, frames: int = 24) -> None:
    import av
    import cv2
    import numpy as np
    from skimage import data

    img = data.astronaut()
    height = (width * 3 // 4) // 2 * 2
    with av.open(path, "w") as out:
        st = out.add_stream("ffv1", rate=25)
        st.width, st.height, st.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            crop = img[10 + i: 10 + i + 400, 40 + 2 * i: 40 + 2 * i + 400]
            frame = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)
            for p in st.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                out.mux(p)
        for p in st.encode(None):
            out.mux(p)


def digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def encode_once(src: str, out: str, codec: str, roi: str) -> str:
    from semcodec.pipeline import EncodeSettings, encode

    encode(src, out, EncodeSettings(codec=codec, roi=roi, crf=None))
    return digest(out)


def child(args) -> int:
    """One process: `repeats` encodes of one case; prints their digests as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "o" + SUFFIX[args.codec])
        print(json.dumps([encode_once(args.src, out, args.codec, args.roi) for _ in range(args.repeats)]))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=12, help="encodes in one process (default 12)")
    ap.add_argument("--processes", type=int, default=3, help="fresh processes, one encode each (default 3)")
    ap.add_argument("--codecs", default="libx264,libx265,libvpx-vp9")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--src", help=argparse.SUPPRESS)
    ap.add_argument("--codec", help=argparse.SUPPRESS)
    ap.add_argument("--roi", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    rows = []
    with tempfile.TemporaryDirectory(prefix="semcodec-determinism-") as tmp:
        for width in WIDTHS:
            src = os.path.join(tmp, f"clip{width}.mkv")
            make_clip(src, width)
            for codec in args.codecs.split(","):
                for roi in ("auto", "off"):
                    cmd = [sys.executable, __file__, "--child", "--src", src, "--codec", codec, "--roi", roi]
                    in_process = json.loads(subprocess.run([*cmd, "--repeats", str(args.repeats)], check=True,
                                                           capture_output=True, text=True).stdout)
                    across = [json.loads(subprocess.run([*cmd, "--repeats", "1"], check=True, capture_output=True,
                                                        text=True).stdout)[0] for _ in range(args.processes)]
                    hashes = sorted(set(in_process) | set(across))
                    rows.append({"width": width, "codec": codec, "roi": roi, "in_process": len(in_process),
                                 "processes": len(across), "distinct_outputs": len(hashes), "hashes": hashes})
                    print(f"{width:>4} px {codec:<10} roi {roi:<4}: {len(hashes)} distinct output(s)", file=sys.stderr)
    from semcodec.encoding.codecs import X264_ASM
    from semcodec.io.writer import write_json, write_text

    doc = {"schema": "semcodec.determinism/1", "x264_asm": X264_ASM, "repeats": args.repeats,
           "processes": args.processes, "rows": rows}
    # a run with SEMCODEC_X264_ASM=auto (x264's own AVX-512 detection) is the "before" and keeps its own name
    name = "determinism" + ("_x264_asm_auto" if os.environ.get("SEMCODEC_X264_ASM", "").lower() == "auto" else "")
    write_json(os.path.join(HERE, "results", f"{name}.json"), doc)
    asm = X264_ASM or "x264's own detection"
    lines = ["# Determinism: one output per case", "",
             f"{args.repeats} encodes in one process plus {args.processes} in fresh processes per case, default "
             f"settings (CRF, preset medium), ROI auto and off. x264 asm list: `{asm}`. "
             "Generated by `benchmarks/determinism.py`.", "",
             "| width | codec | ROI | encodes | distinct outputs |", "|---:|---|---|---:|---:|"]
    lines += [f"| {r['width']} | {r['codec']} | {r['roi']} | {r['in_process'] + r['processes']} | "
              f"{r['distinct_outputs']} |" for r in rows]
    write_text(os.path.join(HERE, "results", f"{name}.md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r["distinct_outputs"] == 1 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

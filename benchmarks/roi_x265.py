"""Why does x265's face gain at equal size trail x264's? Variants of semcodec's x265 map encode (issue 12).

Two-pass x265 medium at the clip's x265 mid-rate (benchmarks/roi_vs_x264.py), `--roi auto` at the default
strength, each variant changing one thing in how the map is encoded, against `--roi off` (stock x265):

- `default`: semcodec as shipped (x265's default 32x32 quantization groups; the map balanced: the rest pays);
- `qg-size 16`: the offsets applied per 16x16, as the map's grid (semcodec's choice until this measurement);
- `psy off`: psy-rd=0, psy-rdoq=0 with the map (does x265 spend the face's bits on texture energy, not fidelity?);
- `CRF fitted`: constant quality fitted to the bitrate with probe encodes (semcodec.pipeline.ratetarget, as VP9's
  bitrate mode): does x265's two-pass rate control undo the map?
- `cutree off`: cutree=0 with the map (does x265's cutree, like x264's mbtree, work against the offsets?);
- `aq-mode 1`: x265's plain variance AQ under the map instead of its default auto-variance (aq-mode 2);
- `32x32 map`: the map built on x265's 32x32 quantization groups (importance averaged per group), not on 16x16
  blocks that x265 then averages four at a time.

Face PSNR-Y inside the hand-checked boxes (benchmarks/face_boxes.json), whole-frame VMAF and PSNR-Y
(semcodec.metrics.compare). Sizes are the encoders' own: the two-pass rows land within about 1.5 % of each
other (x265's two-pass overshoots bitrate x duration by about its 2.3 KB info SEI, the same for all); the CRF
fitted row aims at bitrate x duration itself, so it is smaller and not size-matched. In-sample clips.

    python benchmarks/roi_x265.py [--clips carphone,akiyo,his_girl_friday] [--out benchmarks/results]

Then the encoders alone (stock `ffmpeg`, x264 and x265, a static `addroi` rectangle per person, two-pass and
CRF): how much face each turns the same rectangle into, and what its rate control does with the frame QPs.

Writes roi_x265.json and roi_x265.md. Skips cleanly when ../shared/videos is absent.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np  # noqa: E402
from face_boxes import load_face_tracks  # noqa: E402
from parity import video_bytes  # noqa: E402
from roi_peers import addroi_chain, ffmpeg_exe, measure, person_rects  # noqa: E402
from roi_vs_x264 import CLIPS, VIDEOS  # noqa: E402

from semcodec.encoding import codecs  # noqa: E402
from semcodec.pipeline import EncodeSettings, Execution, encode  # noqa: E402

CODEC = "libx265"
STOCK = codecs.CAPABILITIES[CODEC]
# variant -> (caps changes, two-pass)
VARIANTS = {
    "off": ({}, True),
    "default": ({}, True),
    "qg-size 16": ({"map_params": ("qg-size=16",)}, True),
    "psy off": ({"map_params": ("psy-rd=0", "psy-rdoq=0")}, True),
    "CRF fitted": ({"rate_control_fights_map": True}, False),
    "cutree off": ({"map_params": ("cutree=0",)}, True),
    "aq-mode 1": ({"map_params": ("aq-mode=1",)}, True),
    "32x32 map": ({"block": 32}, True),
}


def run_variant(name: str, src: str, bitrate: int, out: str, faces) -> dict:
    changes, two_pass = VARIANTS[name]
    codecs.CAPABILITIES[CODEC] = dataclasses.replace(STOCK, **changes)
    try:
        s = EncodeSettings(codec=CODEC, bitrate=bitrate, two_pass=two_pass, roi="off" if name == "off" else "auto")
        report = encode(src, out, s, execution=Execution(audio=False))
    finally:
        codecs.CAPABILITIES[CODEC] = STOCK
    m = measure(src, out, faces)
    return {"variant": name, "video_bytes": report["output"]["video_bytes"],
            "rate_control": report["settings"]["rate_control"], "face_psnr_y": round(m["face_psnr_y"], 2),
            "vmaf": round(m["vmaf"], 2), "psnr_y": round(m["psnr_y"], 2)}


def clip_rows(key: str, tmp: str) -> list[dict]:
    name, rates = CLIPS[key]
    faces = load_face_tracks(os.path.join(HERE, "face_boxes.json"), name)
    rows = []
    for v in VARIANTS:
        row = {"clip": key, **run_variant(v, os.path.join(VIDEOS, name), rates[CODEC], os.path.join(tmp, "o.mkv"),
                                          faces)}
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    off = rows[0]
    for r in rows:
        r["face_vs_off"] = round(r["face_psnr_y"] - off["face_psnr_y"], 2)
        r["vmaf_vs_off"] = round(r["vmaf"] - off["vmaf"], 2)
        r["bytes_vs_off_pct"] = round(100 * (r["video_bytes"] / off["video_bytes"] - 1), 1)
    return rows


STOCK_TEXT = """**The encoders themselves**, without semcodec: the `ffmpeg` CLI (stock x264 and x265,
preset medium) with one static `addroi` rectangle per person (benchmarks/roi_peers.py's rectangles from the
hand-checked boxes) at qoffset 0 (plain), -0.1 and -0.2; two-pass at each codec's mid-rate (the same target for the
three rows of a codec, sizes not re-matched) and at CRF {crf}. `face` is the face PSNR-Y gain over the codec's plain
row, `x265 / x264` the x265 row's face gain as a share of x264's at the same qoffset and rate control. `x265 inter
QP`: the mean frame QP of the P/B frames in x265's own per-frame log (`csv-log-level=1`: the average after AQ and
the map, so a map alone lowers it by its mean offset; FFmpeg's hevc decoder exports no block QPs). x264's
read-back QPs are not shown: an H.264 skip block codes no QP (the decoder repeats the last one), and a talking
head's inter frames are mostly skip blocks."""
STOCK_CODECS = ("libx264", "libx265")
RECT_Q = (0.0, -0.1, -0.2)
STOCK_CRF = 30


def stock_commands(codec: str, src: str, out: str, vf: str | None, bitrate: int | None, tmp: str) -> list[list[str]]:
    """`ffmpeg` passes for one stock encode: two-pass at `bitrate`, or CRF STOCK_CRF when it is None. x265
    writes its per-frame log (last pass) to tmp/x265.csv."""
    base = [ffmpeg_exe(), "-nostdin", "-y", "-v", "error", "-i", src, "-an", *(["-vf", vf] if vf else []),
            "-c:v", codec, "-preset", "medium"]
    log, csv = os.path.join(tmp, "passlog"), os.path.join(tmp, "x265.csv")
    if codec == "libx265":
        def params(extra: str) -> list[str]:
            return ["-x265-params", f"log-level=error{extra}"]

        if bitrate is None:
            return [[*base, "-crf", str(STOCK_CRF), *params(f":csv={csv}:csv-log-level=1"), out]]
        rate = ["-b:v", str(bitrate)]
        return [[*base, *rate, *params(f":pass=1:stats={log}"), "-f", "null", "-"],
                [*base, *rate, *params(f":pass=2:stats={log}:csv={csv}:csv-log-level=1"), out]]
    if bitrate is None:
        return [[*base, "-crf", str(STOCK_CRF), out]]
    rate = ["-b:v", str(bitrate), "-passlogfile", log]
    return [[*base, *rate, "-pass", "1", "-f", "null", "-"], [*base, *rate, "-pass", "2", out]]


def x265_inter_qp(csv_path: str) -> float:
    """Mean frame QP of the P and B frames in x265's per-frame log (csv-log-level=1: Type and QP columns)."""
    with open(csv_path, encoding="utf-8") as f:
        head, *rows = [[c.strip() for c in line.split(",")] for line in f if line.strip()]
    t, q = head.index("Type"), head.index("QP")
    qps = [float(r[q]) for r in rows if len(r) > q and r[t][:1].upper() in "PB"]
    return float(np.mean(qps))


def stock_run(codec: str, key: str, qoffset: float, two_pass: bool, tmp: str, faces) -> dict:
    name, rates = CLIPS[key]
    src, out = os.path.join(VIDEOS, name), os.path.join(tmp, "stock.mkv")
    rects = person_rects(name)
    vf = addroi_chain(rects, qoffset) if qoffset else None
    for cmd in stock_commands(codec, src, out, vf, rates[codec] if two_pass else None, tmp):
        subprocess.run(cmd, check=True)
    m = measure(src, out, faces)
    row = {"clip": key, "codec": codec, "rate_control": f"two-pass {rates[codec] // 1000} kb/s" if two_pass else
           f"CRF {STOCK_CRF}", "qoffset": qoffset, "video_bytes": video_bytes(out),
           "face_psnr_y": round(m["face_psnr_y"], 2), "vmaf": round(m["vmaf"], 2), "psnr_y": round(m["psnr_y"], 2)}
    if codec == "libx265":
        row["inter_qp"] = round(x265_inter_qp(os.path.join(tmp, "x265.csv")), 2)
    return row


def stock_rows(key: str, tmp: str) -> list[dict]:
    """Both codecs, both rate controls, the three qoffsets; face gain over the codec's plain row, and x265's
    gain as a share of x264's."""
    faces = load_face_tracks(os.path.join(HERE, "face_boxes.json"), CLIPS[key][0])
    rows = []
    for two_pass in (True, False):
        for codec in STOCK_CODECS:
            group = [stock_run(codec, key, q, two_pass, tmp, faces) for q in RECT_Q]
            for r in group:
                r["face_vs_plain"] = round(r["face_psnr_y"] - group[0]["face_psnr_y"], 2)
                r["vmaf_vs_plain"] = round(r["vmaf"] - group[0]["vmaf"], 2)
                print(json.dumps(r), file=sys.stderr)
            rows += group
    for r in rows:
        if r["codec"] == "libx265" and r["qoffset"]:
            ref = next(x for x in rows if x["codec"] == "libx264" and x["qoffset"] == r["qoffset"]
                       and x["rate_control"].split()[0] == r["rate_control"].split()[0])
            r["share_of_x264"] = round(r["face_vs_plain"] / ref["face_vs_plain"], 2) if ref["face_vs_plain"] > 0 \
                else None
    return rows


def _fmt_qp(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}"


def stock_markdown(rows: list[dict]) -> list[str]:
    lines = [STOCK_TEXT.format(crf=STOCK_CRF).replace("\n", " "), "",
             "| clip | codec | rate control | qoffset | video bytes | face PSNR-Y | face | VMAF | vs plain "
             "| x265 / x264 | x265 inter QP |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        share = r.get("share_of_x264")
        lines.append(f"| {r['clip']} | {r['codec']} | {r['rate_control']} | {r['qoffset']:g} | {r['video_bytes']:,} "
                     f"| {r['face_psnr_y']:.2f} | {r['face_vs_plain']:+.2f} dB | {r['vmaf']:.2f} "
                     f"| {r['vmaf_vs_plain']:+.2f} | {'' if share is None else f'{share:.0%}'} "
                     f"| {_fmt_qp(r.get('inter_qp'))} |")
    return lines


def markdown(rows: list[dict], stock: list[dict]) -> str:
    doc = __doc__.split("\n\n")
    lines = ["# x265: the map's face gain at equal size, variant by variant", "",
             " ".join(doc[1].split("\n")), "", *doc[2].split("\n"), "", " ".join(doc[3].split("\n")), "",
             "| clip | variant | rate control | video bytes | vs off | face PSNR-Y | vs off | VMAF | vs off | PSNR-Y |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['clip']} | {r['variant']} | {r['rate_control']} | {r['video_bytes']:,} "
                     f"| {r['bytes_vs_off_pct']:+.1f} % | {r['face_psnr_y']:.2f} | {r['face_vs_off']:+.2f} dB "
                     f"| {r['vmaf']:.2f} | {r['vmaf_vs_off']:+.2f} | {r['psnr_y']:.2f} |")
    if stock:
        lines += ["", *stock_markdown(stock)]
    lines += ["", "Generated by `python benchmarks/roi_x265.py`.", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", default="carphone,akiyo,his_girl_friday")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    if not os.path.isdir(VIDEOS):
        print(f"skipped: {VIDEOS} not found", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        rows = [r for key in args.clips.split(",") for r in clip_rows(key, tmp)]
        stock = [r for key in args.clips.split(",") for r in stock_rows(key, tmp)]
    with open(os.path.join(args.out, "roi_x265.json"), "w", encoding="utf-8") as f:
        json.dump({"schema": "semcodec.bench.roi_x265/2", "codec": CODEC, "rows": rows, "stock": stock}, f, indent=1)
    with open(os.path.join(args.out, "roi_x265.md"), "w", encoding="utf-8") as f:
        f.write(markdown(rows, stock))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Does libvpx-vp9 give the face a lower quantiser, and what does its rate control do about it? (issue 12)

The QPs are read back from the bitstream (FFmpeg's vp9 decoder, `export_side_data=venc_params`): per frame the
base q-index and the mean q-index over the 8x8 blocks inside the hand-checked face boxes
(benchmarks/face_boxes.json) and outside them. Every encode uses semcodec's own VP9 options
(semcodec.encoding.codecs.encoder_options: realtime, cpu-used 6, aq-mode 0, lag-in-frames 0, frame threads)
and the same static map a user gets from `ffmpeg -vf addroi`: one rectangle around every face box of the clip
at qoffset Q, nothing elsewhere, attached to every frame. Rows:

- `CRF c`: libvpx's constant-quality mode, where the base q-index follows the frame type only;
- `ABR r`: one pass at a target bitrate, semcodec's VP9 bitrate mode (libvpx's realtime rate control).

Face and frame PSNR-Y are computed here from the decoded frames. In-sample (the shared clips).

    python benchmarks/roi_readback.py [--clips carphone,akiyo] [--out benchmarks/results]

Writes roi_readback.json and roi_readback.md. Skips cleanly when ../shared/videos is absent.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
from face_boxes import load_face_tracks  # noqa: E402
from roi_vs_x264 import CLIPS, VIDEOS  # noqa: E402

from semcodec.encoding.codecs import CAPABILITIES, RateControl, configure_threads, encoder_options  # noqa: E402
from semcodec.encoding.qp_readback import decode_frames, frame_qps  # noqa: E402
from semcodec.encoding.roi_sidedata import RoiAttacher, regions_from_offsets  # noqa: E402

CODEC = "libvpx-vp9"
CRF = 50  # VP9 CRF that lands near the clips' ABR q-index range
QOFFSETS = (0.0, -0.1, -0.2)


def source(path: str) -> tuple[list[np.ndarray], Fraction]:
    """The clip's frames as yuv420p arrays (planes stacked, as PyAV's yuv420p ndarray) and its frame rate."""
    with av.open(path) as c:
        vs = c.streams.video[0]
        rate = vs.average_rate or Fraction(25)
        return [f.reformat(format="yuv420p").to_ndarray() for f in c.decode(vs)], Fraction(rate)


def face_map(faces, w: int, h: int, block: int, qoffset: float, qp_range: float) -> np.ndarray:
    """A static rectangle per face box union over the clip (as `addroi` would take it), on the block grid."""
    union = np.zeros((h, w), bool)
    for i in range(faces.frames):
        union |= faces.mask(i, w, h)
    ys, xs = np.nonzero(union)
    offsets = np.zeros((-(-h // block), -(-w // block)), np.float32)
    offsets[ys.min() // block: ys.max() // block + 1, xs.min() // block: xs.max() // block + 1] = qoffset * qp_range
    return regions_from_offsets(offsets, block, w, h, qp_range)


def encode(frames: list[np.ndarray], rate: Fraction, rc: RateControl, regions) -> tuple[list, bytes | None]:
    caps = CAPABILITIES[CODEC]
    h, w = frames[0].shape[0] * 2 // 3, frames[0].shape[1]
    opts, bit_rate = encoder_options(caps, rc, None)
    ctx = av.CodecContext.create(CODEC, "w")
    configure_threads(ctx)
    ctx.width, ctx.height, ctx.pix_fmt = w, h, "yuv420p"
    ctx.time_base, ctx.framerate = 1 / rate, rate
    if bit_rate:
        ctx.bit_rate = bit_rate
    ctx.options = opts
    attacher = RoiAttacher()
    packets = []
    for i, arr in enumerate(frames):
        f = av.VideoFrame.from_ndarray(arr, format="yuv420p")
        f.pts = i
        if regions is not None:
            attacher.attach(f, regions)
        packets += ctx.encode(f)
    packets += ctx.encode(None)
    return packets, ctx.extradata


def _psnr(mse: float) -> float:
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-9))


def measure(src: list[np.ndarray], packets, extradata, faces) -> dict:
    """Bytes, keyframe share, read-back q-index (base, face, rest; inter frames), face / frame PSNR-Y."""
    decoded = decode_frames("vp9", packets, extradata)
    h, w = decoded[0].height, decoded[0].width
    base, face_q, rest_q, key_diff = [], [], [], []
    face_se = frame_se = face_n = 0.0
    for i, (f, s) in enumerate(zip(decoded, src)):
        q = frame_qps(f, i)
        grid = q.grid(8)
        mask = faces.mask(i, w, h)
        cells = cv2.resize(mask.astype(np.float32), (grid.shape[1], grid.shape[0]), interpolation=cv2.INTER_AREA) > 0.5
        if q.pict_type == "I":
            key_diff.append(float(np.nanmean(grid[cells]) - np.nanmean(grid[~cells])))
        else:
            base.append(q.qp)
            face_q.append(float(np.nanmean(grid[cells])))
            rest_q.append(float(np.nanmean(grid[~cells])))
        err = (f.to_ndarray()[:h].astype(np.float64) - s[:h]) ** 2  # Y plane, no range conversion
        face_se += float(err[mask].sum())
        face_n += float(mask.sum())
        frame_se += float(err.mean())
    sizes = [p.size for p in packets]
    key = sum(p.size for p in packets if p.is_keyframe)
    return {"bytes": sum(sizes), "keyframe_share": round(key / sum(sizes), 3),
            "base_q_inter": round(float(np.mean(base)), 1), "face_q_inter": round(float(np.mean(face_q)), 1),
            "rest_q_inter": round(float(np.mean(rest_q)), 1),
            "keyframe_face_minus_rest_q": round(float(np.mean(key_diff)), 1) if key_diff else None,
            "face_psnr_y": round(_psnr(face_se / max(face_n, 1)), 2),
            "psnr_y": round(_psnr(frame_se / len(decoded)), 2)}


def clip_rows(key: str) -> list[dict]:
    name, rates = CLIPS[key]
    faces = load_face_tracks(os.path.join(HERE, "face_boxes.json"), name)
    frames, rate = source(os.path.join(VIDEOS, name))
    h, w = frames[0].shape[0] * 2 // 3, frames[0].shape[1]
    caps = CAPABILITIES[CODEC]
    rows = []
    for label, rc in ((f"CRF {CRF}", RateControl(crf=CRF)), (f"ABR {rates['libx264'] // 1000}k",
                                                             RateControl(bitrate=rates["libx264"]))):
        for qoff in QOFFSETS:
            regions = face_map(faces, w, h, caps.block, qoff, caps.qp_range(8)) if qoff else None
            packets, extradata = encode(frames, rate, rc, regions)
            row = {"clip": key, "mode": label, "qoffset": qoff, **measure(frames, packets, extradata, faces)}
            print(json.dumps(row), file=sys.stderr)
            rows.append(row)
    return rows


def uniform_rows(key: str) -> list[dict]:
    """Is a segment offset the same as moving the CRF? Plain CRF c and c+1 against a map of one offset on every
    block: +1 quantizer step at CRF c (q-index as CRF c+1) and -1 step at CRF c+1 (as CRF c)."""
    name, _ = CLIPS[key]
    faces = load_face_tracks(os.path.join(HERE, "face_boxes.json"), name)
    frames, rate = source(os.path.join(VIDEOS, name))
    h, w = frames[0].shape[0] * 2 // 3, frames[0].shape[1]
    caps = CAPABILITIES[CODEC]
    step = caps.qp_range(8) / 63 * 1.01  # one quantizer step in QP units (qoffset x 63 is truncated: a hair over)
    grid = (-(-h // caps.block), -(-w // caps.block))
    rows = []
    for label, crf, steps in ((f"CRF {UNIFORM_CRF}", UNIFORM_CRF, 0), (f"CRF {UNIFORM_CRF + 1}", UNIFORM_CRF + 1, 0),
                              (f"CRF {UNIFORM_CRF}, +1 step on every block", UNIFORM_CRF, 1),
                              (f"CRF {UNIFORM_CRF + 1}, -1 step on every block", UNIFORM_CRF + 1, -1)):
        regions = None if not steps else regions_from_offsets(np.full(grid, steps * step, np.float32), caps.block,
                                                             w, h, caps.qp_range(8))
        packets, extradata = encode(frames, rate, RateControl(crf=crf), regions)
        m = measure(frames, packets, extradata, faces)
        rows.append({"clip": key, "encode": label, "bytes": m["bytes"], "base_q_inter": m["base_q_inter"],
                     "block_q_inter": m["rest_q_inter"], "psnr_y": m["psnr_y"]})
        print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


UNIFORM_CRF = 53
UNIFORM_FINDING = (
    "A segment offset is not a CRF step: with +1 quantizer step on every block at CRF c the blocks read back at "
    "CRF c+1's q-index, yet the file is larger than CRF c's and the picture as CRF c's. So in libvpx's realtime "
    "encoder a coarser segment saves nothing here and a finer one costs more than a finer CRF for less (why, "
    "inside libvpx, is not traced here). Hence semcodec's VP9 bitrate mode "
    "favours with negative offsets only and lets a higher CRF pay (semcodec.pipeline.ratetarget).")

FINDING = (
    "Reading: at constant quality the map lands as FFmpeg's libvpxenc.c maps it (qoffset x 63, truncated, is "
    "libvpx's delta in quantizer steps, 4 q-index each: -0.1 gives -6 steps, -24 q-index; the face cells read "
    "back about -22, the rest of the frame unchanged) and the face gains. Under one-pass rate control the same "
    "map lifts the base q-index of the inter frames by about as much as it lowers the face's (libvpx predicts a "
    "frame's size from its base q-index alone, so the favoured segment's extra bits read as a misprediction), "
    "and the face ends no finer than without a map while the rest of the frame loses. The first frame (the only "
    "keyframe, 20-30 % of the bytes here) never carries the segments. The ABR sizes are not matched: compare "
    "q-indices, not PSNR, between ABR rows.")

HEAD = ("| clip | mode | face qoffset | bytes | keyframe share | base q (inter) | face q (inter) | rest q (inter) "
        "| keyframe face-rest q | face PSNR-Y | PSNR-Y |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def _flow(paragraph: str) -> str:
    """A docstring paragraph as Markdown: wrapped lines joined, list items kept on their own lines."""
    return paragraph.replace("\n  ", " ").replace("\n- ", "\0").replace("\n", " ").replace("\0", "\n- ")


def markdown(rows: list[dict], uniform: list[dict] | None = None) -> str:
    lines = ["# libvpx-vp9: the face's q-index read back, at constant quality and under one-pass rate control", "",
             *(line for part in __doc__.split("\n\n")[1:4] for line in (_flow(part), "")), HEAD]
    for r in rows:
        kd = "n/a" if r["keyframe_face_minus_rest_q"] is None else f"{r['keyframe_face_minus_rest_q']:+.1f}"
        lines.append(f"| {r['clip']} | {r['mode']} | {r['qoffset']:+.1f} | {r['bytes']:,} | {r['keyframe_share']:.0%} "
                     f"| {r['base_q_inter']:.1f} | {r['face_q_inter']:.1f} | {r['rest_q_inter']:.1f} | {kd} "
                     f"| {r['face_psnr_y']:.2f} | {r['psnr_y']:.2f} |")
    lines += ["", FINDING, ""]
    if uniform:
        lines += ["A whole-frame offset against the CRF (carphone, semcodec's VP9 options, no face map):", "",
                  "| clip | encode | bytes | base q (inter) | block q (inter) | PSNR-Y |",
                  "|---|---|---:|---:|---:|---:|"]
        lines += [f"| {r['clip']} | {r['encode']} | {r['bytes']:,} | {r['base_q_inter']:.1f} | "
                  f"{r['block_q_inter']:.1f} | {r['psnr_y']:.2f} |" for r in uniform]
        lines += ["", UNIFORM_FINDING, ""]
    lines += ["Generated by `python benchmarks/roi_readback.py`.", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", default="carphone,akiyo")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    if not os.path.isdir(VIDEOS):
        print(f"skipped: {VIDEOS} not found", file=sys.stderr)
        return 0
    rows = [r for key in args.clips.split(",") for r in clip_rows(key)]
    uniform = uniform_rows("carphone")
    with open(os.path.join(args.out, "roi_readback.json"), "w", encoding="utf-8") as f:
        json.dump({"schema": "semcodec.bench.roi_readback/1", "codec": CODEC, "rows": rows, "uniform_rows": uniform},
                  f, indent=1)
    with open(os.path.join(args.out, "roi_readback.md"), "w", encoding="utf-8") as f:
        f.write(markdown(rows, uniform))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""People ROI at equal size (issue 13): bits to people whose faces are not visible.

The clip: source frames 50-249 of office_people_walking_overhead.mp4 (in-sample; people walk in, stand at a
table with their backs to the camera and leave; no face is visible), cut losslessly (x264 qp 0) into a
temporary office_people_walking_overhead_f050-249.mp4. The region: hand-made person boxes
(benchmarks/person_boxes.json), drawn on benchmarks/results/people_roi_boxes.jpg to check them.

Two-pass x264, preset medium, at each rate, `--roi` off, people, auto (which includes people) and auto
without people (faces, saliency, motion, text: what auto was before the people analyzer). Each point: video
bytes, PSNR-Y inside the region (`region_psnr_y`, the person boxes: pooled MSE over the frames with a person),
outside it, and whole-frame VMAF (libvmaf from the imageio-ffmpeg binary), through semcodec.metrics.compare. Deltas are
against `off` at the same rate; the sizes are the encoder's two-pass result and printed beside them.

Whether people belongs in `auto`, where faces show: the face clips with hand-checked face boxes
(benchmarks/face_boxes.json) at their mid-rates (benchmarks/roi_vs_x264.py), `--roi` off, auto and auto
without people, PSNR-Y inside the face boxes and VMAF.

    python benchmarks/people_roi.py [--kbps 50,100,150] [--out benchmarks/results]

Writes people_roi.json, people_roi.md and people_roi_boxes.jpg. Skips cleanly when ../shared/videos is absent.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import av
import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from semcodec.bench.masks import BoxesMask  # noqa: E402
from semcodec.metrics import compare  # noqa: E402
from semcodec.pipeline import EncodeSettings, Execution, encode  # noqa: E402

VIDEOS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "videos")
SOURCE = "office_people_walking_overhead.mp4"
FIRST, LAST = 50, 249
SEGMENT = f"office_people_walking_overhead_f{FIRST:03d}-{LAST:03d}.mp4"
BOXES = os.path.join(HERE, "person_boxes.json")
MODES = {"off": "off", "people": "people", "auto": "auto", "auto without people": "faces,saliency,motion,text"}
FACE_CLIPS = {"akiyo_qcif_news_anchor.mp4": 12, "carphone_qcif_video_call.mp4": 35,
              "his_girl_friday_1940_dialogue.mp4": 250}  # kb/s: the x264 mid-rates of roi_vs_x264.py


def cut_segment(dst: str) -> None:
    """Frames FIRST..LAST of the source, lossless (x264 qp 0, 4:2:0 as the source), same rate."""
    with av.open(os.path.join(VIDEOS, SOURCE)) as src, av.open(dst, "w") as out:
        vin = src.streams.video[0]
        vs = out.add_stream("libx264", rate=vin.average_rate)
        vs.width, vs.height, vs.pix_fmt = vin.width, vin.height, "yuv420p"
        vs.options = {"qp": "0", "preset": "veryfast"}
        for i, frame in enumerate(src.decode(video=0)):
            if i > LAST:
                break
            if i >= FIRST:
                frame.pts, frame.time_base = i - FIRST, 1 / vin.average_rate
                frame.pict_type = av.video.frame.PictureType.NONE
                out.mux(vs.encode(frame))
        out.mux(vs.encode(None))


def boxes_sheet(segment: str, boxes: BoxesMask, path: str, every: int = 10) -> None:
    """Every `every`-th frame with the person boxes drawn, for checking them by eye."""
    tiles = []
    with av.open(segment) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i % every:
                continue
            img = frame.to_ndarray(format="rgb24")
            m = boxes.mask(i).astype(np.uint8)
            contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(img, contours, -1, (0, 255, 0), 2)
            img = cv2.resize(img, (256, 144), interpolation=cv2.INTER_AREA)
            cv2.putText(img, f"{i} (src {i + FIRST})", (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1)
            tiles.append(img)
    while len(tiles) % 5:
        tiles.append(np.zeros_like(tiles[0]))
    sheet = np.vstack([np.hstack(tiles[i:i + 5]) for i in range(0, len(tiles), 5)])
    cv2.imwrite(path, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])


def video_bytes(path: str) -> int:
    with av.open(path) as c:
        return sum(p.size for p in c.demux(video=0) if p.size)


def point(src: str, out: str, roi: str, kbps: int, boxes: BoxesMask) -> dict:
    settings = EncodeSettings(codec="libx264", bitrate=kbps * 1000, two_pass=True, preset="medium", roi=roi)
    t0 = time.perf_counter()
    report = encode(src, out, settings, execution=Execution(audio=False))
    wall = time.perf_counter() - t0
    q = compare(src, out, masks=lambda i, w, h: boxes.mask(i), vmaf=True).summary()
    analyzers = {a["name"]: {"runs": a["runs"], "ms_per_run": a["ms_per_run"]}
                 for a in report["roi"].get("analyzers", []) if a["available"]}
    return {"roi": roi, "kbps": kbps, "video_bytes": video_bytes(out), "wall_s": round(wall, 2),
            "region_psnr_y": q["roi_psnr_y_global"], "background_psnr_y": q["bg_psnr_y_global"],
            "psnr_y": q["psnr_y_global"], "vmaf": q["vmaf_mean"], "analyzers": analyzers}


def face_clips(tmp: str) -> dict:
    """auto with and without people on the face clips, against off, inside the hand-checked face boxes."""
    from semcodec.bench.masks import count_frames

    out: dict = {}
    for name, kbps in FACE_CLIPS.items():
        src = os.path.join(VIDEOS, name)
        with av.open(src) as c:
            w, h = c.streams.video[0].width, c.streams.video[0].height
        faces = BoxesMask(os.path.join(HERE, "face_boxes.json"), src, w, h, count_frames(src))
        points = {mode: point(src, os.path.join(tmp, f"face_{kbps}_{roi.replace(',', '+')}.mp4"), roi, kbps, faces)
                  for mode, roi in MODES.items() if mode != "people"}
        add_deltas(points)
        out[name] = points
    return out


def add_deltas(points: dict) -> None:
    off = points["off"]
    for p in points.values():
        p["size_pct"] = round(100 * (p["video_bytes"] / off["video_bytes"] - 1), 2)
        p["region_db"] = round(p["region_psnr_y"] - off["region_psnr_y"], 2)
        p["background_db"] = round(p["background_psnr_y"] - off["background_psnr_y"], 2)
        p["vmaf_delta"] = round(p["vmaf"] - off["vmaf"], 2)


def markdown(res: dict) -> str:
    lines = ["# People ROI at equal size: a person without a visible face", "",
             f"Source frames {FIRST}-{LAST} of `{SOURCE}` (in-sample): people walk in, stand at a table with their "
             "backs to the camera and leave; no face is visible. Region: hand-made person boxes "
             "(`benchmarks/person_boxes.json`, checked on `people_roi_boxes.jpg`). Two-pass x264 medium; deltas "
             "against `--roi off` at the same rate. Target (issue 13): person PSNR +1.0 dB or more with VMAF no "
             "more than 1.5 lower. Generated by `benchmarks/people_roi.py`.", "",
             "| kb/s | --roi | video bytes | size | person PSNR-Y | delta | background delta | VMAF | delta |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines += rows(res["rates"].items(), lambda k: k)
    lines += ["", "Where faces show (face clips, hand-checked face boxes, x264 mid-rates): the region is the faces.",
              "",
              "| clip (kb/s) | --roi | video bytes | size | face PSNR-Y | delta | background delta | VMAF | delta |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines += rows(res["face_clips"].items(), lambda k: f"{k.split('_')[0]} ({FACE_CLIPS[k]})")
    return "\n".join(lines) + "\n"


def rows(groups, label) -> list[str]:
    out = []
    for key, points in groups:
        for name, p in points.items():
            out.append(f"| {label(key)} | {name} | {p['video_bytes']:,} | {p['size_pct']:+.1f} % | "
                       f"{p['region_psnr_y']:.2f} | {p['region_db']:+.2f} dB | {p['background_db']:+.2f} dB | "
                       f"{p['vmaf']:.2f} | {p['vmaf_delta']:+.2f} |")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kbps", default="50,100,150", help="two-pass rates, comma list (default 50,100,150)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    if not os.path.isdir(VIDEOS):
        print(f"skipped: {VIDEOS} not found", file=sys.stderr)
        return 0
    os.makedirs(args.out, exist_ok=True)
    res: dict = {"schema": "semcodec.bench.people_roi/1", "source": SOURCE, "frames": [FIRST, LAST], "rates": {}}
    with tempfile.TemporaryDirectory(prefix="semcodec-people-") as tmp:
        segment = os.path.join(tmp, SEGMENT)
        cut_segment(segment)
        boxes = BoxesMask(BOXES, segment, 768, 432, LAST - FIRST + 1)
        boxes_sheet(segment, boxes, os.path.join(args.out, "people_roi_boxes.jpg"))
        for kbps in (int(k) for k in args.kbps.split(",")):
            points = {}
            for name, roi in MODES.items():
                points[name] = point(segment, os.path.join(tmp, f"{kbps}_{roi.replace(',', '+')}.mp4"), roi, kbps,
                                     boxes)
                print(f"{kbps} kb/s {name:22} {points[name]['video_bytes']:>8,} B person "
                      f"{points[name]['region_psnr_y']:.2f} VMAF {points[name]['vmaf']:.2f}", file=sys.stderr)
            add_deltas(points)
            res["rates"][str(kbps)] = points
        res["face_clips"] = face_clips(tmp)
    with open(os.path.join(args.out, "people_roi.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(args.out, "people_roi.md"), "w") as f:
        f.write(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What each analyzer costs (issue 13): per run on 320 px analysis frames, and what it adds to `encode` wall time.

1. Per run: every analyzer on 24 consecutive frames (motion needs its previous frame) from the middle of each
   clip, reduced to the analysis size (long side 320), one thread (OpenCV and onnxruntime), median ms per run;
   per frame = per run / stride, since each analyzer runs on every stride-th frame and is held in between.
2. Encode wall time: `semcodec encode` one-pass ABR (so no CRF rate-fit probes), x264 medium, with `--roi off`,
   each analyzer alone, and auto; modes interleaved, best of N; the extra wall seconds against off and the
   analysis threads' own seconds (the map and the shot detector, beside the encoder on the machine's 2 cores).

    python benchmarks/analyzer_speed.py [--repeats 2]

All clips are in-sample. Writes benchmarks/results/analyzer_speed.json and .md. Skips cleanly when
../shared/videos is absent.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from semcodec.analysis.base import AnalysisFrame  # noqa: E402
from semcodec.analysis.fusion import ANALYZERS, analysis_size, build_analyzers  # noqa: E402
from semcodec.bench.masks import count_frames  # noqa: E402
from semcodec.io.reader import open_input  # noqa: E402
from semcodec.pipeline import EncodeSettings, Execution, encode  # noqa: E402

VIDEOS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "videos")
RUN_CLIPS = ["his_girl_friday_1940_dialogue.mp4", "bikes_street_edit_scenecuts.mp4",
             "office_people_walking_overhead.mp4", "screen_pdf_document_1024x768.264",
             "tears_of_steel_battle_clip.webm"]
ENCODE_CLIPS = {"bikes_street_edit_scenecuts.mp4": 400_000, "his_girl_friday_1940_dialogue.mp4": 300_000}
FRAMES = 24


def analysis_frames(name: str) -> list[AnalysisFrame]:
    start = max(0, count_frames(os.path.join(VIDEOS, name)) // 2 - FRAMES // 2)
    with open_input(os.path.join(VIDEOS, name)) as c:
        out = []
        for i, f in enumerate(c.decode(video=0)):
            if i < start:
                continue
            rgb = f.to_ndarray(format="rgb24")
            aw, ah = analysis_size(rgb.shape[1], rgb.shape[0])
            small = cv2.resize(rgb, (aw, ah), interpolation=cv2.INTER_AREA)
            out.append(AnalysisFrame(len(out), i / 25, small, cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)))
            if len(out) == FRAMES:
                return out
    return out


def per_run() -> dict:
    analyzers = [a for a in build_analyzers("auto") if a.load()]
    rows: dict = {a.name: {"stride": a.stride, "clips": {}} for a in analyzers}
    for name in RUN_CLIPS:
        frames = analysis_frames(name)
        for a in analyzers:
            a.reset()
            a.analyze(frames[0])  # warm: first-call allocations, the motion analyzer's previous frame
            ms = []
            for f in frames[1:]:
                t0 = time.perf_counter()
                a.analyze(f)
                ms.append(1000 * (time.perf_counter() - t0))
            rows[a.name]["clips"][name] = round(float(np.median(ms)), 2)
    for r in rows.values():
        r["ms_per_run"] = round(float(np.median(list(r["clips"].values()))), 2)
        r["ms_per_frame"] = round(r["ms_per_run"] / r["stride"], 2)
    return rows


def encode_walls(repeats: int) -> dict:
    modes = ["off", *[n for n in ANALYZERS if n != "objects"], "auto"]
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="semcodec-speed-") as tmp:
        for name, bitrate in ENCODE_CLIPS.items():
            best: dict = {}
            for _ in range(repeats):
                for roi in modes:  # interleaved, so every mode sees the same machine state
                    settings = EncodeSettings(codec="libx264", bitrate=bitrate, preset="medium", roi=roi)
                    t0 = time.perf_counter()
                    report = encode(os.path.join(VIDEOS, name), os.path.join(tmp, "out.mp4"), settings,
                                    execution=Execution(audio=False))
                    wall = time.perf_counter() - t0
                    if roi not in best or wall < best[roi]["wall_s"]:
                        best[roi] = {"wall_s": round(wall, 2),
                                     "analysis_s": round(report["timings"].get("analysis_s", 0.0), 2)}
            for b in best.values():
                b["extra_s"] = round(b["wall_s"] - best["off"]["wall_s"], 2)
                b["ratio"] = round(b["wall_s"] / best["off"]["wall_s"], 3)
            out[name] = {"bitrate": bitrate, "modes": best}
    return out


def markdown(res: dict) -> str:
    clips = RUN_CLIPS
    lines = ["# Analyzer speed", "",
             "Per run: median ms on 23 consecutive 320 px analysis frames from the middle of each clip, one thread; "
             "per frame: per run / stride. Encode: one-pass ABR x264 medium, best of "
             f"{res['repeats']} interleaved runs, wall seconds with `--roi` set to each analyzer alone against "
             "`--roi off` (the analysis runs beside the encoder on two worker threads, the map and the shot "
             "detector, 2 cores; 'analysis s' adds up both threads' seconds, waits for the GIL and the cores "
             "included). In-sample clips. Generated by `benchmarks/analyzer_speed.py`.", "",
             "| analyzer | stride | " + " | ".join(c.split("_")[0] for c in clips) + " | ms / run | ms / frame |",
             "|---|---:|" + "---:|" * (len(clips) + 2)]
    for name, r in res["per_run"].items():
        lines.append(f"| {name} | {r['stride']} | " + " | ".join(f"{r['clips'][c]:.1f}" for c in clips)
                     + f" | {r['ms_per_run']:.1f} | {r['ms_per_frame']:.2f} |")
    lines += ["", "| clip | --roi | wall s | extra s | x off | analysis s |", "|---|---|---:|---:|---:|---:|"]
    for clip, e in res["encode"].items():
        for roi, b in e["modes"].items():
            lines.append(f"| {clip.split('_')[0]} ({e['bitrate'] // 1000}k) | {roi} | {b['wall_s']:.2f} | "
                         f"{b['extra_s']:+.2f} | {b['ratio']:.2f} | {b['analysis_s']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    if not os.path.isdir(VIDEOS):
        print(f"skipped: {VIDEOS} not found", file=sys.stderr)
        return 0
    cv2.setNumThreads(1)
    res = {"schema": "semcodec.bench.analyzer_speed/1", "repeats": args.repeats, "per_run": per_run()}
    cv2.setNumThreads(-1)  # the encodes run as users run them
    res["encode"] = encode_walls(args.repeats)
    out = os.path.join(HERE, "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "analyzer_speed.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(out, "analyzer_speed.md"), "w") as f:
        f.write(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Scene classes for every clip in ../shared/videos, the Tears of Steel contact sheet, and tagging speed
against PySceneDetect's own detection time, measured in the same run.

    python benchmarks/scenes.py

Expected classes come from the clip descriptions in ../shared/videos/SOURCES.md (one per clip, the
whole-video class is the duration-weighted majority of the shot classes). Writes
benchmarks/results/scenes.json, scenes.md and tears_of_steel_contact_sheet.jpg. Skips cleanly when
../shared/videos is absent.
"""
from __future__ import annotations

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from semcodec.tagging.contact_sheet import render, save_image  # noqa: E402
from semcodec.tagging.tagger import tag_video  # noqa: E402

VIDEOS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "videos")
EXPECTED = {  # from SOURCES.md's "kind" column
    "akiyo_qcif_news_anchor.mp4": "talking_head",
    "carphone_qcif_video_call.mp4": "talking_head",
    "his_girl_friday_1940_dialogue.mp4": "people",
    "office_people_walking_overhead.mp4": "people",
    "parking_lot_cars_overhead.mp4": "vehicles_street",
    "tears_of_steel_battle_clip.webm": "sports_action",
    "bikes_street_edit_scenecuts.mp4": "vehicles_street",
    "football_qcif_sports.avi": "sports_action",
    "flower_opening_nature.mp4": "landscape_nature",
    "big_buck_bunny_excerpt_720p.mp4": "animation",
    "popeye_sinbad_1936_excerpt.mkv": "animation",
    "screen_pdf_document_1024x768.264": "screen_content",
}
TOS = "tears_of_steel_battle_clip.webm"


def majority(result: dict) -> tuple[str, float]:
    share: dict = {}
    for s in result["shots"]:
        share[s["scene"]["class"]] = share.get(s["scene"]["class"], 0.0) + s["end_time"] - s["start_time"]
    total = sum(share.values()) or 1.0
    best = max(share, key=share.get)
    return best, share[best] / total


def main() -> int:
    if not os.path.isdir(VIDEOS):
        print(f"skipped: {VIDEOS} not found", file=sys.stderr)
        return 0
    out_dir = os.path.join(HERE, "results")
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    for name, expected in EXPECTED.items():
        path = os.path.join(VIDEOS, name)
        t0 = time.perf_counter()
        result, keyframes = tag_video(path)
        seconds = time.perf_counter() - t0
        label, share = majority(result)
        rows.append({"clip": name, "expected": expected, "got": label, "share": round(share, 2),
                     "correct": label == expected, "shots": len(result["shots"]),
                     "shot_classes": [s["scene"]["class"] for s in result["shots"]],
                     "top_tags": [t["tag"] for t in result["tags"][:5]],
                     "tag_s": round(seconds, 2), "frames": result["video"]["frames"]})
        print(f"{name:40} expected {expected:17} got {label:17} ({share:.0%})  {seconds:.1f} s", file=sys.stderr)
        if name == TOS:
            labels = [f"shot {k['shot'] + 1}: {result['shots'][k['shot']]['scene']['class']}"
                      for k in result["keyframes"]]
            save_image(os.path.join(out_dir, "tears_of_steel_contact_sheet.jpg"), render(keyframes, labels))
            with open(os.path.join(out_dir, "tears_of_steel_tags.json"), "w") as f:
                json.dump(result, f, indent=1)
    # speed on the 70 s clip: semcodec tag vs PySceneDetect's AdaptiveDetector, same process, same run
    from scenedetect import AdaptiveDetector, detect

    tos = os.path.join(VIDEOS, TOS)
    t0 = time.perf_counter()
    psd_scenes = detect(tos, AdaptiveDetector())
    psd_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    tag_video(tos)
    tag_s = time.perf_counter() - t0
    speed = {"clip": TOS, "frames": 1691, "semcodec_tag_s": round(tag_s, 2),
             "pyscenedetect_adaptive_s": round(psd_s, 2), "ratio": round(tag_s / psd_s, 2),
             "pyscenedetect_shots": len(psd_scenes)}
    correct = sum(r["correct"] for r in rows)
    summary = {"schema": "semcodec.bench.scenes/1", "correct": correct, "clips": len(rows), "rows": rows,
               "speed": speed}
    with open(os.path.join(out_dir, "scenes.json"), "w") as f:
        json.dump(summary, f, indent=2)
    lines = [f"Scene class per clip (duration-weighted majority of shot classes), {correct} of {len(rows)} "
             f"as expected (`python benchmarks/scenes.py`):", "",
             "| clip | expected | semcodec | share | shots | top tags |", "|---|---|---|---|---|---|"]
    for r in rows:
        mark = "" if r["correct"] else " **(wrong)**"
        lines.append(f"| {r['clip']} | {r['expected']} | {r['got']}{mark} | {r['share']:.0%} | {r['shots']} | "
                     f"{', '.join(r['top_tags'])} |")
    lines += ["", f"Tagging speed on {TOS} ({speed['frames']} frames): `semcodec tag` {speed['semcodec_tag_s']} s, "
                  f"PySceneDetect AdaptiveDetector {speed['pyscenedetect_adaptive_s']} s: ratio {speed['ratio']}x.", ""]
    with open(os.path.join(out_dir, "scenes.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The scene classifier of an older semcodec on today's labelled set, for a before/after line.

    mkdir /tmp/old && git archive f8237fe | tar -x -C /tmp/old      # the hand-set rules before issue 13
    python benchmarks/scenes_baseline.py /tmp/old f8237fe

Runs that tree's `tag_video` on every clip of benchmarks/scene_labels.json (synthetic clips made as
benchmarks/scenes.py makes them) and takes, for each labelled range, the class of the detected shot that
holds the range's middle frame. Writes benchmarks/results/scenes_baseline.json; benchmarks/scenes.py
quotes it. Run it in its own process: it imports the other tree's `semcodec`.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    if len(sys.argv) != 3 or not os.path.isdir(os.path.join(sys.argv[1], "semcodec")):
        print("usage: python benchmarks/scenes_baseline.py OLD_TREE COMMIT (OLD_TREE holds semcodec/)", file=sys.stderr)
        return 2
    tree = os.path.abspath(sys.argv[1])
    sys.path[:0] = [tree, HERE]
    import scene_clips

    from semcodec.tagging.tagger import tag_video  # the old tree's

    with open(os.path.join(HERE, "scene_labels.json")) as f:
        labels = json.load(f)["shots"]
    by_clip: dict = {}
    for e in labels:
        by_clip.setdefault(e["clip"], []).append(e)
    videos = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "videos")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for clip, entries in by_clip.items():
            path = scene_clips.from_label(entries[0], tmp) if clip.startswith("synthetic:") \
                else os.path.join(videos, clip)
            if not os.path.exists(path):
                continue
            result, _ = tag_video(path, max_keyframes=1)
            for e in entries:
                mid = (e.get("start", 0) + e.get("end", scene_clips.FRAMES)) // 2
                shot = next(s for s in result["shots"] if s["start_frame"] <= mid < s["end_frame"])
                rows.append({"clip": clip, "start": e.get("start", 0), "label": e["label"],
                             "got": shot["scene"]["class"]})
    out = {"schema": "semcodec.bench.scenes_baseline/1", "commit": sys.argv[2], "n": len(rows),
           "correct": sum(r["label"] == r["got"] for r in rows), "rows": rows}
    with open(os.path.join(HERE, "results", "scenes_baseline.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(f"{out['correct']} / {out['n']} right", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

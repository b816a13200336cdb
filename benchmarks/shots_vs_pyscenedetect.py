"""Shot boundaries: semcodec's detector against PySceneDetect's AdaptiveDetector, side by side.

On every clip in ../shared/videos (the cut lists are those of SOURCES.md; clips listed without cuts
count false positives) and on synthetic edited material made here (semcodec.shots.synthetic: flat cards
sharing a title and a running timecode, a plain grey fade, a cut to a black card, a slideshow of real
photos with a zoom, a cross-fade and a fade through black, whip pans over photos, encoded with x264 CRF
16 at 320x180 into a temporary folder), five runs per clip:

  semcodec             semcodec.shots.detect_shots(path): PyAV decode, small frames, method 'adaptive'
  semcodec, 320px      the same detector pushed the encoder's 320-px analysis copies (small_rgb), as
                       the encoder and `semcodec tag` run it inside their own decode loop
  PySceneDetect        scenedetect.detect(path, AdaptiveDetector()): the standard way, its defaults
                       (OpenCV decoding, automatic downscale, min_scene_len 15 frames)
  PySceneDetect, ours  AdaptiveDetector fed semcodec's small frames through process_frame
                       (ShotDetector(method='psd-adaptive'))
  PySceneDetect Content scenedetect.detect(path, ContentDetector()), its defaults

F1 is given per set (real, synthetic) over all its clips, false positives on clips without cuts
included; precision and recall over the real clips with cuts are kept as before. A dissolve's truth is
the frame where the mix passes one half; PySceneDetect does not look for dissolves.

A detected boundary is a true positive when it is within 2 frames of a listed cut (each listed cut
matched once). Speed: wall time of each whole run, decoding included, runs interleaved so all see the
same machine state, best of --repeats; frames per second use the decoded frame count.

    python benchmarks/shots_vs_pyscenedetect.py [--repeats 3] [--videos DIR]

Writes benchmarks/results/shots.json and shots.md. Without the videos only the synthetic set runs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import scenedetect  # noqa: E402

from semcodec.analysis.fusion import analysis_size  # noqa: E402
from semcodec.frames import small_rgb  # noqa: E402
from semcodec.io.reader import DecodeStats, iter_packets_and_frames, open_input, probe  # noqa: E402
from semcodec.shots import ShotDetector, detect_shots  # noqa: E402
from semcodec.shots.synthetic import all_material  # noqa: E402

VIDEOS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "videos")
TOLERANCE = 2  # frames

# First frames of new shots, from ../shared/videos/SOURCES.md (0-based decode order).
CUTS = {
    "bikes_street_edit_scenecuts.mp4": [30, 76, 137, 187, 242],
    "tears_of_steel_battle_clip.webm": [52, 122, 158, 221, 309, 715, 788, 872, 901, 987, 1127, 1157, 1203,
                                        1234, 1284, 1345, 1378, 1430, 1472, 1525, 1571, 1618, 1650, 1665,
                                        1689],
    "popeye_sinbad_1936_excerpt.mkv": [297, 657, 962],
}
NO_CUTS = ["akiyo_qcif_news_anchor.mp4", "big_buck_bunny_excerpt_720p.mp4", "carphone_qcif_video_call.mp4",
           "flower_opening_nature.mp4", "football_qcif_sports.avi", "his_girl_friday_1940_dialogue.mp4",
           "office_people_walking_overhead.mp4", "parking_lot_cars_overhead.mp4",
           "screen_pdf_document_1024x768.264"]
# What we saw looking at the frames around every listed and every detected boundary of Tears of
# Steel (SOURCES.md warns that its list is approximate): reported beside the main score, never in it.
EYE_CHECK = {
    "tears_of_steel_battle_clip.webm": {
        "real_cut_not_listed": [1246],  # hands on a console -> close-up of a face, 12 frames after 1234
        "listed_but_flash": [1665],  # same camera position before and after: an explosion lights the hall
    },
}

RUNS = {
    "semcodec": "semcodec detect_shots (adaptive)",
    "semcodec_320": "semcodec on the encoder's 320-px analysis frames",
    "pyscenedetect": "PySceneDetect AdaptiveDetector, scenedetect.detect (standard)",
    "pyscenedetect_ours": "PySceneDetect AdaptiveDetector fed semcodec's frames",
    "pyscenedetect_content": "PySceneDetect ContentDetector, scenedetect.detect (standard)",
}


def run_semcodec(path: str) -> tuple[list, int]:
    shots = detect_shots(path)
    return [(s.start_frame, s.transition) for s in shots[1:]], shots[-1].end_frame if shots else 0


def run_semcodec_320(path: str, method: str = "adaptive") -> tuple[list, int]:
    """The streaming API inside one decode loop, on the encoder's analysis copies."""
    info = probe(path)
    fps = float(info.average_rate) or 25.0
    aw, ah = analysis_size(info.width - info.width % 2, info.height - info.height % 2)
    det = ShotDetector(fps, method=method)
    n, t = 0, 0.0
    with open_input(path) as container:
        for kind, frame in iter_packets_and_frames(container, DecodeStats()):
            if kind == "video":
                t = float(frame.time) if frame.time is not None else n / fps
                det.push(n, t, small_rgb(frame, aw, ah))
                n += 1
    return [(s.start_frame, s.transition) for s in det.shots(n, t + 1 / fps)[1:]], n


def run_pyscenedetect(path: str) -> tuple[list, int]:
    scenes = scenedetect.detect(path, scenedetect.AdaptiveDetector())
    return [(start.frame_num, "cut") for start, _ in scenes[1:]], scenes[-1][1].frame_num if scenes else 0


def run_pyscenedetect_content(path: str) -> tuple[list, int]:
    scenes = scenedetect.detect(path, scenedetect.ContentDetector())
    return [(start.frame_num, "cut") for start, _ in scenes[1:]], scenes[-1][1].frame_num if scenes else 0


def run_pyscenedetect_ours(path: str) -> tuple[list, int]:
    from semcodec.shots.video import small_frame

    info = probe(path)
    fps = float(info.average_rate) or 25.0
    det = ShotDetector(fps, method="psd-adaptive")
    n, t = 0, 0.0
    with open_input(path) as container:
        for kind, frame in iter_packets_and_frames(container, DecodeStats()):
            if kind == "video":
                t = float(frame.time) if frame.time is not None else n / fps
                det.push(n, t, small_frame(frame))
                n += 1
    return [(s.start_frame, s.transition) for s in det.shots(n, t + 1 / fps)[1:]], n


RUNNERS = {"semcodec": run_semcodec, "semcodec_320": run_semcodec_320, "pyscenedetect": run_pyscenedetect,
           "pyscenedetect_ours": run_pyscenedetect_ours, "pyscenedetect_content": run_pyscenedetect_content}


def write_synthetic(folder: str, fps: int = 25) -> dict[str, tuple[str, list[int]]]:
    """Encode the synthetic material (x264 CRF 16, ultrafast) into `folder`: {clip name: (path, truth)}."""
    import av

    out = {}
    for m in all_material((320, 180), fps):
        path = os.path.join(folder, f"synthetic_{m.name}.mp4")
        with av.open(path, "w") as c:
            vs = c.add_stream("libx264", rate=fps)
            vs.width, vs.height, vs.pix_fmt = 320, 180, "yuv420p"
            vs.options = {"crf": "16", "preset": "ultrafast"}
            for i, img in enumerate(m.frames):
                f = av.VideoFrame.from_ndarray(img, format="rgb24")
                f.pts, f.time_base = i, Fraction(1, fps)
                c.mux(vs.encode(f))
            c.mux(vs.encode(None))
        out[os.path.basename(path)] = (path, [f for f, _ in m.truth])
    return out


def match(found: list[int], truth: list[int], tol: int = TOLERANCE) -> dict:
    """Greedy one-to-one matching in time order; a listed cut matches at most one detection."""
    used, tp = set(), []
    for f in found:
        hit = next((g for g in truth if abs(g - f) <= tol and g not in used), None)
        if hit is not None:
            used.add(hit)
            tp.append(f)
    fp = [f for f in found if f not in tp]
    fn = [g for g in truth if g not in used]
    return {"tp": len(tp), "fp": len(fp), "fn": len(fn), "false_positives": fp, "missed": fn}


def pr(tp: int, fp: int, fn: int) -> tuple[float | None, float | None]:
    return (round(tp / (tp + fp), 3) if tp + fp else None, round(tp / (tp + fn), 3) if tp + fn else None)


def measure_clip(path: str, truth: list[int], repeats: int, eye: dict | None = None) -> dict:
    """Every run on one clip, interleaved, best of `repeats`; matched against `truth`."""
    with open_input(path) as container:
        frames = sum(1 for _ in iter_packets_and_frames(container, DecodeStats()))
    times = {k: [] for k in RUNNERS}
    found = {}
    for _ in range(repeats):
        for key, runner in RUNNERS.items():
            t0 = time.perf_counter()
            found[key], _n = runner(path)
            times[key].append(time.perf_counter() - t0)
    row = {"frames": frames, "listed_cuts": truth, "runs": {}}
    for key in RUNNERS:
        frames_found = [f for f, _ in found[key]]
        best = min(times[key])
        row["runs"][key] = {
            "boundaries": [[f, kind] for f, kind in found[key]], **match(frames_found, truth),
            "wall_s": [round(x, 3) for x in times[key]], "best_s": round(best, 3),
            "fps": round(frames / best, 1),
        }
        if eye:
            corrected = sorted(set(truth) - set(eye["listed_but_flash"]) | set(eye["real_cut_not_listed"]))
            row["runs"][key]["eye_checked"] = match(frames_found, corrected)
    print(f"{os.path.basename(path)}: " + "  ".join(f"{k} tp={r['tp']} fp={r['fp']} fn={r['fn']} {r['fps']} fps"
                                                   for k, r in row["runs"].items()), flush=True)
    return row


def f1_totals(rows: dict) -> dict:
    """Per run: TP, FP, FN, precision, recall and F1 over every clip of a set (FPs on clips without
    cuts count)."""
    out = {}
    for key in RUNNERS:
        tp, fp, fn = (sum(r["runs"][key][k] for r in rows.values()) for k in ("tp", "fp", "fn"))
        p, r = pr(tp, fp, fn)
        f1 = round(2 * p * r / (p + r), 3) if p and r else 0.0
        out[key] = {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f1}
    return out


def real_totals(per_clip: dict) -> dict:
    """The real set's totals as before: P and R over the clips with listed cuts, speed over all."""
    totals = {}
    for key in RUNNERS:
        cut_clips = [c for c in per_clip if c in CUTS]
        tp = sum(per_clip[c]["runs"][key]["tp"] for c in cut_clips)
        fp = sum(per_clip[c]["runs"][key]["fp"] for c in cut_clips)
        fn = sum(per_clip[c]["runs"][key]["fn"] for c in cut_clips)
        p, r = pr(tp, fp, fn)
        frames = sum(row["frames"] for row in per_clip.values())
        wall = sum(row["runs"][key]["best_s"] for row in per_clip.values())
        totals[key] = {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r,
                       "false_positives_on_no_cut_clips": sum(per_clip[c]["runs"][key]["fp"]
                                                              for c in per_clip if c not in CUTS),
                       "frames": frames, "best_s": round(wall, 3), "fps": round(frames / max(wall, 1e-9), 1)}
    return totals


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", default=VIDEOS)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "shots.json"))
    args = ap.parse_args()
    clips = [c for c in [*CUTS, *NO_CUTS] if os.path.exists(os.path.join(args.videos, c))]
    if not clips:
        print(f"no clips in {args.videos}: the synthetic set only", file=sys.stderr)
    per_clip = {c: measure_clip(os.path.join(args.videos, c), CUTS.get(c, []), args.repeats, EYE_CHECK.get(c))
                for c in clips}
    with tempfile.TemporaryDirectory() as tmp:
        synthetic = {name: measure_clip(path, truth, args.repeats)
                     for name, (path, truth) in write_synthetic(tmp).items()}
    totals = real_totals(per_clip) if per_clip else {}
    result = {
        "schema": "semcodec.bench.shots/2",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "versions": {"scenedetect": scenedetect.__version__, "python": platform.python_version()},
        "tolerance_frames": TOLERANCE, "repeats": args.repeats, "runs": RUNS,
        "eye_check": EYE_CHECK, "clips": per_clip, "totals": totals,
        "synthetic_clips": synthetic,
        "f1": {"real": f1_totals(per_clip) if per_clip else {}, "synthetic": f1_totals(synthetic)},
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    md = os.path.splitext(args.out)[0] + ".md"
    with open(md, "w") as f:
        f.write(render_md(result))
    print(f"wrote {args.out} and {md}")
    return 0


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def render_f1(res: dict) -> list[str]:
    """The headline: F1 per run on real and synthetic clips, measured in the same run."""
    out = ["| run | real F1 | real P / R | synthetic F1 | synthetic P / R |", "|---|---|---|---|---|"]
    for k, label in res["runs"].items():
        cells = [label]
        for part in ("real", "synthetic"):
            x = res["f1"][part].get(k)
            cells += ["-", "-"] if x is None else [f"**{x['f1']:.3f}**" if k == "semcodec" else f"{x['f1']:.3f}",
                                                    f"{_fmt(x['precision'])} / {_fmt(x['recall'])}"]
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "Synthetic clips (`semcodec/shots/synthetic.py`, 320x180, 25 fps, x264 CRF 16): true shot starts "
            "and what each detector found.", "",
            "| clip | frames | true starts | semcodec | PySceneDetect Adaptive | PySceneDetect Content |",
            "|---|---|---|---|---|---|"]
    for clip, row in res["synthetic_clips"].items():
        found = [", ".join(f"{f} {kind}" if kind != "cut" else str(f) for f, kind in row["runs"][k]["boundaries"])
                 or "none" for k in ("semcodec", "pyscenedetect", "pyscenedetect_content")]
        out.append(f"| {clip.removeprefix('synthetic_').removesuffix('.mp4')} | {row['frames']} | "
                   f"{', '.join(map(str, row['listed_cuts'])) or 'none'} | " + " | ".join(found) + " |")
    return out + [""]


def render_md(res: dict) -> str:
    keys = ["semcodec", "pyscenedetect"]
    out = [
        "# Shot boundaries: semcodec vs PySceneDetect",
        "",
        f"Generated by `python benchmarks/shots_vs_pyscenedetect.py` on {res['machine']}, PySceneDetect "
        f"{res['versions']['scenedetect']}. A detection is correct within {res['tolerance_frames']} frames of a "
        "cut listed in `../shared/videos/SOURCES.md` (real clips) or of a true shot start (synthetic clips); "
        "F1 counts every clip of its set, false positives on clips without cuts included; fps is frames / wall "
        f"time of the whole run, decoding included, best of {res['repeats']} interleaved runs.",
        "",
        "- **semcodec**: `semcodec.shots.detect_shots(path)` (method `adaptive`, defaults).",
        "- **PySceneDetect**: `scenedetect.detect(path, AdaptiveDetector())`, defaults.",
        "",
        *render_f1(res),
    ]
    if res["clips"]:
        out += render_real(res, keys)
    return "\n".join(out) + "\n"


def render_real(res: dict, keys: list[str]) -> list[str]:
    out = [
        "Real clips:",
        "",
        "| clip | frames | listed cuts | semcodec P | semcodec R | semcodec FP | PySceneDetect P | PySceneDetect R "
        "| PySceneDetect FP | semcodec fps | PySceneDetect fps |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for clip, row in res["clips"].items():
        cells = [clip, str(row["frames"]), str(len(row["listed_cuts"]))]
        for k in keys:
            r = row["runs"][k]
            p, rc = pr(r["tp"], r["fp"], r["fn"])
            cells += [_fmt(p), _fmt(rc), str(r["fp"])]
        cells += [f"{row['runs'][k]['fps']:.0f}" for k in keys]
        out.append("| " + " | ".join(cells) + " |")
    t = res["totals"]
    cells = ["**all clips with cuts** (P, R) / all clips (FP, fps)", str(t["semcodec"]["frames"]), ""]
    for k in keys:
        cells += [_fmt(t[k]["precision"]), _fmt(t[k]["recall"]),
                  str(t[k]["fp"] + t[k]["false_positives_on_no_cut_clips"])]
    cells += [f"**{t[k]['fps']:.0f}**" for k in keys]
    out.append("| " + " | ".join(cells) + " |")
    out += ["", "All four runs, totals over every clip (P and R over the clips with listed cuts):", "",
            "| run | TP | FP (clips with cuts) | FN | precision | recall | FP on clips without cuts | wall s | fps |",
            "|---|---|---|---|---|---|---|---|---|"]
    for k, label in res["runs"].items():
        x = t[k]
        out.append(f"| {label} | {x['tp']} | {x['fp']} | {x['fn']} | {_fmt(x['precision'])} | {_fmt(x['recall'])} "
                   f"| {x['false_positives_on_no_cut_clips']} | {x['best_s']:.2f} | {x['fps']:.0f} |")
    out += ["", "Misses and extra detections:", ""]
    for clip, row in res["clips"].items():
        for k, label in res["runs"].items():
            r = row["runs"][k]
            if r["false_positives"] or r["missed"]:
                out.append(f"- {clip}, {label}: missed {r['missed'] or 'none'}, "
                           f"extra {r['false_positives'] or 'none'}")
    for clip, eye in res["eye_check"].items():
        if clip not in res["clips"]:
            continue
        out += ["", f"Checked by eye on {clip} (frames around every listed and detected boundary): "
                f"{eye['real_cut_not_listed']} is a real cut missing from the list, {eye['listed_but_flash']} "
                "is an explosion lighting the same shot, not a cut. Against the corrected list:", ""]
        for k, label in res["runs"].items():
            e = res["clips"][clip]["runs"][k]["eye_checked"]
            p, rc = pr(e["tp"], e["fp"], e["fn"])
            out.append(f"- {label}: precision {_fmt(p)}, recall {_fmt(rc)} (missed {e['missed'] or 'none'}, "
                       f"extra {e['false_positives'] or 'none'})")
    out += ["", "Caveats: semcodec's thresholds (`semcodec/shots/detector.py`, `Params`) were set while looking at "
            "these same clips, and its fixes for cards, fades, black cards and pans were checked on the synthetic "
            "set above (tests/test_shots.py builds smaller versions), so both sets are in-sample. None of the "
            "real clips has a dissolve or a fade: those are measured on synthetic clips only. Timings come from "
            "a shared machine: compare the interleaved runs with each other rather than across machines."]
    return out


if __name__ == "__main__":
    sys.exit(main())

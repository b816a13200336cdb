"""`semcodec tag`: shots, scene classes, tags and representative keyframes as JSON (+ contact sheet)."""
from __future__ import annotations

import os
import sys
from fractions import Fraction

from semcodec.errors import UsageError
from semcodec.io.outputs import Output, all_or_nothing, check_outputs
from semcodec.io.writer import is_stream, write_json

from .options import positive_float, positive_int
from .progress import stderr_progress

# shot-list format (semcodec.shots.exports) -> (flag, argparse attribute)
LISTS = {"csv": ("--scenes-csv", "scenes_csv"), "edl": ("--edl", "edl"), "chapters": ("--chapters", "chapters"),
         "qpfile": ("--qpfile", "qpfile"), "keyframe_times": ("--keyframe-times", "keyframe_times")}


def register(sub) -> None:
    p = sub.add_parser(
        "tag", help="shots, scene classes, tags and keyframes of a video (JSON, contact sheet)",
        description="Find the shots of INPUT, classify each (talking_head, people, sports_action, "
                    "landscape_nature, vehicles_street, animation, screen_content, other), tag what is in it "
                    "and pick representative, non-redundant keyframes. JSON schema: docs/tags-schema.md.",
        epilog="examples:\n  semcodec tag clip.webm --json tags.json --contact-sheet sheet.jpg --keyframes-dir kf/\n"
               "  semcodec tag clip.webm --scenes-csv scenes.csv --edl scenes.edl --chapters chapters.txt "
               "--qpfile cuts.qp --keyframe-times cuts.txt",
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("input", help="input video")
    p.add_argument("--json", metavar="OUT.json", help="write the JSON here ('-': stdout); without it only "
                                                       "the summary is printed, on stderr")
    p.add_argument("--contact-sheet", metavar="IMAGE", help="write a contact sheet (.png, .jpg, .webp)")
    p.add_argument("--keyframes-dir", metavar="DIR", help="write each keyframe as a full-size JPEG here")
    lists = p.add_argument_group("shot lists for other tools (PySceneDetect parity; docs in semcodec/shots/exports.py)")
    lists.add_argument("--scenes-csv", metavar="FILE", help="scene list CSV with timecodes, PySceneDetect's "
                                                           "list-scenes layout (its load-scenes reads it)")
    lists.add_argument("--edl", metavar="FILE", help="CMX 3600 EDL, one event per shot (as PySceneDetect's save-edl)")
    lists.add_argument("--chapters", metavar="FILE", help="FFmpeg chapters (FFMETADATA1), one per shot: "
                                                         "ffmpeg -i IN -i FILE -map_metadata 1 -codec copy OUT")
    lists.add_argument("--qpfile", metavar="FILE", help="x264 qpfile, 'FRAME K' at each shot start "
                                                       "(x264 --qpfile, or -x264-params qpfile=FILE)")
    lists.add_argument("--keyframe-times", metavar="FILE", help="shot starts in seconds, one a line (ffmpeg "
                                                               "-force_key_frames with the lines comma-joined)")
    p.add_argument("--max-keyframes", type=positive_int, default=12, metavar="N",
                   help="at most N keyframes (default 12)")
    p.add_argument("--sample-fps", type=positive_float, default=2.0, metavar="F",
                   help="frames per second measured in full (default 2; every frame goes to the shot detector)")
    p.add_argument("--clip-model", metavar="DIR",
                   help="local CLIP folder (transformers format): zero-shot scene classes and free-text tags; "
                        "needs torch and transformers")
    p.add_argument("--subtitles", metavar="FILE|auto",
                   help="SRT/WebVTT/transcript (or 'auto': a sidecar file or a text subtitle track): emotion tags "
                        "per shot and topic tags from the words")
    p.add_argument("--title", help="the video's title: topic tags are drawn from it")
    p.add_argument("--description", help="the video's description: topic tags are drawn from it")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=cmd_tag)


def cmd_tag(args) -> int:
    if args.max_keyframes < 1:
        raise UsageError("--max-keyframes must be at least 1")
    if not args.sample_fps > 0 or args.sample_fps == float("inf"):
        raise UsageError(f"--sample-fps must be a positive number, not {args.sample_fps}")
    if args.contact_sheet and not is_stream(args.contact_sheet) and \
            os.path.splitext(args.contact_sheet)[1].lower() not in (".png", ".jpg", ".jpeg", ".webp"):
        raise UsageError("--contact-sheet must end in .png, .jpg or .webp")
    outputs = [Output("--json", args.json), Output("--contact-sheet", args.contact_sheet),
               Output("--keyframes-dir", args.keyframes_dir, kind="dir", owns=("frame*.jpg",)),
               *(Output(flag, getattr(args, attr)) for flag, attr in LISTS.values())]
    side = [args.subtitles.split("#")[0]] if args.subtitles and args.subtitles != "auto" else []
    check_outputs([args.input, *side], outputs, overwrite=args.overwrite)
    with all_or_nothing(outputs):
        return _run(args, outputs)


def _run(args, outputs) -> int:
    from semcodec.tagging.contact_sheet import render, save_image, sheet_labels
    from semcodec.tagging.export import save_keyframes
    from semcodec.tagging.tagger import tag_video

    result, keyframes = tag_video(args.input, max_keyframes=args.max_keyframes, sample_fps=args.sample_fps,
                                  clip_model=args.clip_model, words=[args.title or "", args.description or ""],
                                  subtitles=args.subtitles,
                                  progress=stderr_progress(args.quiet))
    v = result["video"]
    shown = {"rotation": v["rotation"], "sar": Fraction(v["sample_aspect_ratio"])}
    if args.contact_sheet:
        save_image(args.contact_sheet, render(keyframes, sheet_labels(result), **shown))
    if args.keyframes_dir:
        result["keyframe_files"] = save_keyframes(args.input, [(k.index, k.time) for k in keyframes],
                                                  args.keyframes_dir, **shown)
    _write_lists(args, result)
    for w in result["warnings"]:
        print(f"semcodec: warning: {w}", file=sys.stderr)
    if args.json:
        write_json(args.json, result, indent=2)
    if not args.quiet:
        print(f"{len(result['shots'])} shots, {len(result['keyframes'])} keyframes from {v['frames']} frames "
              f"({v['duration_s']} s) in {result['timings']['total_s']} s ({result['timings']['fps']} fps)",
              file=sys.stderr)
        for s in result["shots"]:  # numbered as in the JSON and on the contact sheet
            tags = ", ".join(t["tag"] for t in s["tags"][1:4])
            print(f"  shot {s['index']:>2} {s['start_time']:7.2f}-{s['end_time']:7.2f} s  {s['scene']['class']:<16} "
                  f"{s['scene']['confidence']:.2f}  {tags}", file=sys.stderr)
    return 0


def _write_lists(args, result: dict) -> None:
    """The shot lists asked for, each written atomically (the JSON's shots, the input's exact frame rate)."""
    wanted = {fmt: getattr(args, attr) for fmt, (_, attr) in LISTS.items() if getattr(args, attr)}
    if not wanted:
        return
    from semcodec.io.reader import probe
    from semcodec.io.writer import write_text
    from semcodec.shots.exports import render, shots_from_tags

    shots = shots_from_tags(result)
    rate = Fraction(probe(args.input).average_rate or result["video"]["fps"])
    titles = [f"Shot {s['index']}: {s['scene']['class']}" for s in result["shots"]]
    for fmt, path in wanted.items():
        write_text(path, render(fmt, shots, rate, titles))

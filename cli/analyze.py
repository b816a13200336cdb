"""`semcodec analyze`: per-cue emotion, cross-attention weights per region and the per-frame emotion curve
of a video's subtitles / transcript / prompt, as JSON; optionally a plot against bits per frame."""
from __future__ import annotations

import argparse
import os
import sys

from semcodec.errors import UsageError
from semcodec.io.outputs import Output, all_or_nothing, check_outputs
from semcodec.io.writer import write_json

from .options import finite_float, positive_float
from .progress import stderr_progress


def register(sub) -> None:
    p = sub.add_parser(
        "analyze", help="what subtitles or a prompt would do to an encode (emotion, attention, JSON, plot)",
        description="Read INPUT's subtitles, transcript or a prompt; score each cue's emotion; run the analyzers "
                    "on a sample of frames and the text-to-region cross-attention on them; write per-cue "
                    "emotion, attention weights per region and the per-frame emotion curve and QP offsets as "
                    "JSON (schema semcodec.text_analysis/1). --plot draws the emotion curve against the bits "
                    "per frame of an encoded file (--encoded, or an encode made on the spot).",
        epilog="examples:\n"
               "  semcodec analyze clip.mp4 --subtitles auto --json clip_text.json\n"
               "  semcodec analyze clip.mp4 --subtitles clip.vtt --prompt 'the faces' --json a.json --plot a.png\n"
               "  semcodec analyze clip.mp4 --subtitles clip.srt --plot a.png --encoded out.mp4 --encoded plain.mp4",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="input video")
    p.add_argument("--subtitles", metavar="FILE|auto", help="as for encode: .srt, .vtt, transcript, FILE.mkv[#N], auto")
    p.add_argument("--prompt", metavar="TEXT", help="text for the whole video")
    p.add_argument("--json", metavar="OUT.json", help="write the JSON here ('-': stdout); without it only "
                                                       "the summary is printed, on stderr")
    p.add_argument("--plot", metavar="OUT.png", help="plot the emotion curve against bits per frame")
    p.add_argument("--encoded", metavar="FILE", action="append",
                   help="encoded file(s) whose bits per frame to plot and correlate (repeatable); without it "
                        "--plot encodes INPUT first (CRF, text guided) to a temporary file")
    p.add_argument("--emotion-strength", type=finite_float(0, 24), default=4.0, metavar="QP",
                   help="QP between the calmest and the most intense moment (default 4)")
    p.add_argument("--emotion-model", metavar="DIR", help="local transformers emotion classifier folder")
    p.add_argument("--roi", default="auto", metavar="auto|LIST", help="analyzers that find the regions (default auto)")
    p.add_argument("--yolo-weights", metavar="PATH", help="YOLO weights for the objects analyzer (.onnx or .pt)")
    p.add_argument("--sample-fps", type=positive_float, default=2.0, metavar="F",
                   help="frames per second analysed (plus the middle frame of every cue; default 2)")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    p.set_defaults(func=cmd_analyze)


def cmd_analyze(args) -> int:
    if not args.subtitles and not args.prompt:  # usage errors first, before anything about the files
        raise UsageError("analyze needs --subtitles FILE|auto or --prompt TEXT")
    if args.plot and os.path.splitext(args.plot)[1].lower() not in (".png", ".pdf", ".svg", ".jpg", ".jpeg"):
        raise UsageError("--plot must end in .png, .pdf, .svg or .jpg")
    outputs = [Output("--json", args.json), Output("--plot", args.plot)]
    side = [p.split("#")[0] for p in [args.subtitles, *(args.encoded or [])] if p and p != "auto"]
    check_outputs([args.input, *side], outputs, overwrite=args.overwrite)
    with all_or_nothing(outputs):
        return _run(args)


def _encode_for_plot(args):
    """`--plot` without `--encoded`: the library asks for an encode at a temporary path (which it removes
    afterwards); this makes it, text guided as `semcodec encode` would with the same text options."""
    from semcodec.pipeline import EncodeSettings, Execution, encode

    execution = Execution(progress=stderr_progress(args.quiet))

    def encode_to(out: str) -> dict:
        return encode(args.input, out, EncodeSettings(roi=args.roi, yolo_weights=args.yolo_weights,
                                                      subtitles=args.subtitles, prompt=args.prompt,
                                                      emotion_strength=args.emotion_strength,
                                                      emotion_model=args.emotion_model), execution=execution)

    return encode_to


def _run(args) -> int:
    from semcodec.text.analyze import analyze_video

    result = analyze_video(args.input, subtitles=args.subtitles, prompt=args.prompt,
                           emotion_strength=args.emotion_strength, emotion_model=args.emotion_model,
                           roi=args.roi, yolo_weights=args.yolo_weights, sample_fps=args.sample_fps,
                           encoded=args.encoded, plot=args.plot, encode_for_plot=_encode_for_plot(args))
    if args.json:
        write_json(args.json, result, indent=1)
    if not args.quiet:
        for c in result["cues"]:
            e = c["emotion"]
            top = max((r for a in c["attention"] for r in a["regions"]), key=lambda r: r["boost"], default=None)
            where = (f"  -> {top['label']} (boost {top['boost']:.2f}, via {top['query']!r})"
                     if top and top["boost"] > 0 else "")
            print(f"  {c['start']:8.2f}-{c['end']:8.2f}  {e['category']:<8} {e['intensity']:.2f}  "
                  f"{c['text'][:50]}{where}", file=sys.stderr)
        for enc in result.get("encoded", []):
            if enc.get("correlation_emotion_bits") is not None:
                print(f"correlation emotion vs bits per frame ({enc['path'] or 'on-the-spot encode'}): "
                      f"{enc['correlation_emotion_bits']:+.3f} per frame, "
                      f"{enc['correlation_emotion_bits_0.5s']:+.3f} on 0.5 s means", file=sys.stderr)
        if result.get("plot"):
            print(f"plot: {result['plot']}", file=sys.stderr)
    return 0

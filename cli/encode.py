"""`semcodec encode`: importance-driven ROI encoding."""
from __future__ import annotations

import argparse
import os
import sys

from semcodec.encoding.codecs import CAPABILITIES, DEFAULT_CODEC
from semcodec.errors import SemcodecError, UsageError
from semcodec.io.outputs import Output, all_or_nothing, check_outputs
from semcodec.io.writer import STDOUT, write_json

# parse_bitrate is imported here too, so cli.encode.parse_bitrate stays importable
from .crf_search import add_target_options, target_spec
from .options import finite_float, parse_bitrate, positive_float, positive_int
from .progress import stderr_progress


def register(sub) -> None:
    enc = sub.add_parser(
        "encode", help="encode a video with an importance-driven quantizer map",
        description="Analyse INPUT (faces, saliency, motion, on-screen text), turn the importance map "
                    "into per-block quantizer offsets and encode with a real FFmpeg encoder. The output "
                    "is a standard stream any player plays. Audio is copied untouched.",
        epilog="examples:\n"
               "  semcodec encode in.mp4 -o out.mp4                       # x264, CRF 23, ROI auto\n"
               "  semcodec encode in.mp4 -o out.mp4 --bitrate 500k --two-pass\n"
               "  semcodec encode in.mp4 -o plain.mp4 --roi off           # same settings, no map\n"
               "  semcodec encode in.mp4 -o out.mkv --codec libx265 --roi faces,text --save-maps maps.mp4",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    enc.add_argument("input", help="input video (anything FFmpeg reads), or a folder: batch, every video in it")
    enc.add_argument("-o", "--output", required=True, help="output file: .mp4, .mov or .mkv (a folder in batch mode)")
    enc.add_argument("--codec", default=DEFAULT_CODEC, choices=list(CAPABILITIES),
                     help="encoder (default libx264). libsvtav1 ignores block maps: it is encoded plain. vp9 "
                          "gets no map where libvpx's per-frame segmentation would cost over 6 %% of a frame's "
                          "bytes (small frames at low rates; the report says so)")
    rate = enc.add_mutually_exclusive_group()
    rate.add_argument("--crf", type=finite_float(), help="constant quality (default: 23 x264, 28 x265, 34 vp9, 35 av1)")
    rate.add_argument("--bitrate", type=parse_bitrate,
                      help="target bitrate, e.g. 800k or 2M (ABR; vp9 with a map: the constant quality that spends "
                           "it, fitted with probe encodes, since libvpx's own rate control undoes the map)")
    enc.add_argument("--two-pass", action="store_true", help="two-pass encode to --bitrate (x264, x265)")
    enc.add_argument("--preset", help="encoder preset (x264/x265 names; cpu-used 5-8 for vp9; 0-13 for av1)")
    enc.add_argument("--roi", default="auto", metavar="auto|off|LIST",
                     help="analyzers that build the importance map: auto (all that can run), off (plain "
                          "encode, same settings), or a list from faces,objects,saliency,motion,text,people")
    enc.add_argument("--yolo-weights", metavar="PATH",
                     help="YOLO weights for the objects analyzer: an .onnx export (runs on OpenCV) or a .pt file "
                          "(needs ultralytics); default: the Ultralytics weights folder, if it has any")
    enc.add_argument("--roi-strength", type=finite_float(0, 1), default=0.2, metavar="S",
                     help="map strength in FFmpeg qoffset units, 0..1 (default 0.2 = 10.2 QP between the "
                          "most and least important blocks), scaled down where the map covers over 1/8 of the "
                          "frame; offsets are balanced so the rate stays put")
    enc.add_argument("--fixed-strength", action="store_true", help="--roi-strength as given, never scaled down")
    enc.add_argument("--crf-rate", default="neutral", choices=["neutral", "model", "extra"],
                     help="CRF with a map: neutral (default) lands within a few %% of --roi off's size (probe "
                          "encodes of sampled segments fit a whole-frame offset); model: the allocator's rate "
                          "model only, no probes; extra: bits added to the favoured regions only, the file grows")
    enc.add_argument("--shots", default="auto", choices=["auto", "off"],
                     help="auto (default): a keyframe (IDR) at every detected cut; off: the encoder decides")
    enc.add_argument("--keyframes-from", metavar="TAGS.json|auto",
                     help="shot-aware plan from `semcodec tag` output (or 'auto' to tag first): IDR at each "
                          "shot, ROI strength by scene class, more bits at the selected keyframes; all "
                          "decisions go into the report")
    _text_options(enc)
    add_target_options(enc, required=False)
    par = enc.add_argument_group("scaling out (chunked at shot boundaries, resumable; INPUT may be a folder)")
    par.add_argument("--workers", type=positive_int, metavar="N",
                     help="encode chunks on N local processes (default with --work-dir/--chunk-*: all cores)")
    par.add_argument("--ray", metavar="ADDRESS|local",
                     help="encode chunks as Ray tasks on the cluster at ADDRESS ('auto', 'ray://host:10001'), "
                          "or on a local Ray started for this run ('local'); needs pip install 'semcodec[parallel]'")
    par.add_argument("--chunk-min-s", type=positive_float, default=None, metavar="S",
                     help="shortest chunk (default 2 s)")
    par.add_argument("--chunk-max-s", type=positive_float, default=None, metavar="S",
                     help="longest chunk; longer shots are split, inside a shot where a single-piece encode has its "
                          "keyframes when the encoder's interval fits (default 20 s, or one keyframe interval where "
                          "longer: x264/x265 250 frames)")
    par.add_argument("--chunk-overlap-s", type=finite_float(0, 60), default=None, metavar="S",
                     help="x264/x265: each chunk also encodes S seconds of the next and drops them, so its last "
                          "frames get the lookahead a single-piece encode gives them (default 1; 0: off, faster)")
    par.add_argument("--fresh-process", action="store_true",
                     help="encode each chunk in a new process (isolation, ~1 s start-up per chunk); the bytes "
                          "are the same either way")
    par.add_argument("--work-dir", metavar="DIR",
                     help="keep chunks and the manifest here; a re-run resumes (default: a hidden folder beside "
                          "the output, removed after success)")
    enc.set_defaults(func=cmd_encode)


def _text_options(enc) -> None:
    txt = enc.add_argument_group("text guidance (subtitles, transcripts, prompts)")
    txt.add_argument("--subtitles", metavar="FILE|auto",
                     help="timed text that steers the bits: .srt, .vtt, a timestamped transcript, a video's text "
                          "subtitle track (FILE.mkv, FILE.mkv#N for stream N), or 'auto' (INPUT's .srt/.vtt "
                          "sidecar, else its first text subtitle stream). Intense lines get more bits (the "
                          "rest pays); regions a line talks about get more bits while it is on screen")
    txt.add_argument("--prompt", metavar="TEXT",
                     help="text for the whole video, e.g. 'the faces' or 'the car on the left': the regions it "
                          "names get more bits; naming something absent changes nothing")
    txt.add_argument("--emotion-strength", type=finite_float(0, 24), default=4.0, metavar="QP",
                     help="QP between the calmest and the most intense moment of the subtitles (default 4; "
                          "0 = no temporal shift); balanced so the size stays put at the same CRF")
    txt.add_argument("--emotion-model", metavar="DIR",
                     help="local transformers emotion classifier folder (default: VADER + MiniLM prototypes)")
    enc.add_argument("--save-maps", metavar="PATH", help="also write a video of importance map and offsets")
    enc.add_argument("--report", metavar="FILE.json", help="write the JSON report here")
    enc.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    enc.add_argument("--threads", type=positive_int, metavar="N",
                     help="encoder threads (default: FFmpeg's choice for this machine, frame threads as the "
                          "ffmpeg CLI uses). Output is bit-identical run after run either way; a fixed N also "
                          "makes it identical across machines with different core counts")
    enc.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")



def _summary(report: dict) -> str:
    out, roi = report["output"], report["roi"]
    lines = [f"wrote {out['path']}: {out['frames']} frames, {out['bytes'] / 1024:.1f} KiB, "
             f"{out['bitrate_kbps']} kb/s ({report['settings']['rate_control']}, "
             f"{report['settings']['codec']} preset {report['settings']['preset']}) in "
             f"{report['timings']['total_s']:.1f} s ({report['timings']['fps']} fps)"]
    if roi["status"] != "on":
        lines.append(f"ROI map: {roi['status']}")
    else:
        lines.append(f"ROI map: {roi['block']}x{roi['block']} blocks, offsets {roi['offset_qp_min']:+g}.."
                     f"{roi['offset_qp_max']:+g} QP, analysis at {roi['analysis_size'][0]}x"
                     f"{roi['analysis_size'][1]}")
        for a in roi["analyzers"]:
            if a["available"]:
                how = f" [{a['backend']}]" if a["backend"] else ""
                lines.append(f"  ran  {a['name']:<9}{how} on {a['runs']} frames, {a['ms_per_run']} ms each")
            else:
                lines.append(f"  skip {a['name']:<9} unavailable: {a['note']}")
    shots = report["shots"]
    if shots["method"] != "off":
        lines.append(f"shots: {shots['method']}; keyframes (IDR) at frames {shots['keyframes_at'] or 'none'}")
    text = report.get("text")
    if text:
        src = text["source"]
        what = f"{src['kind']} {os.path.basename(src['path'] or '')}".strip() if src else "prompt only"
        curve = text["curve"]
        line = f"text: {what}, {text['cues']} cues, emotion by {text['emotion_method']}"
        if curve:
            line += (f"; frame offsets {curve['offset_qp_min']:+.2f}..{curve['offset_qp_max']:+.2f} QP "
                     f"({curve['frames_more_bits']} frames get more bits)")
        lines.append(line)
        lines.append(f"  cross-attention boosted regions on {text['frames_boosted']} of {text['frames_analysed']} "
                     "frames" + (f"; prompt {text['prompt']['text']!r}: "
                                 + (", ".join(f"{k} on {v['frames']} frames"
                                              for k, v in text['prompt']['boosted'].items())
                                    or "names nothing in the picture")
                                 if text.get("prompt") and "boosted" in text["prompt"] else ""))
    for d in shots["plan"] or []:
        what = d.get("class") or ", ".join(f"{k}={v}" for k, v in d.items() if k not in ("video", "why", "keyframes"))
        lines.append(f"  plan {('shot ' + str(d['shot'] + 1)) if 'shot' in d else 'video':<8} {what}: {d['why']}")
    return "\n".join(lines)


def _outputs(args) -> list[Output]:
    """Every path this run writes, with the option that named it."""
    if os.path.isdir(args.input):  # batch: -o is a folder of results; each video is checked as it comes
        outs = [Output("-o", args.output, kind="dir", owns=())]
    else:
        outs = [Output("-o", args.output, stream_ok=False)]
    outs += [Output("--save-maps", args.save_maps, stream_ok=False), Output("--report", args.report)]
    return [o for o in outs if o.path]


def _inputs(args) -> list[str]:
    side = [p.split("#")[0] for p in (args.subtitles, args.keyframes_from) if p and p != "auto"]
    return [args.input, *side]


def _emit(args, report: dict) -> None:
    """The report to --report (atomically) and/or stdout (--json): machine output only when asked."""
    if args.report:
        write_json(args.report, report)
    if args.json:
        write_json(STDOUT, report)


def cmd_encode(args) -> int:
    from semcodec import encode
    from semcodec.pipeline import EncodeSettings, Execution

    settings = EncodeSettings(codec=args.codec, crf=args.crf, bitrate=args.bitrate, two_pass=args.two_pass,
                              preset=args.preset, roi=args.roi, roi_strength=args.roi_strength,
                              adapt_strength=not args.fixed_strength,
                              save_maps=args.save_maps, yolo_weights=args.yolo_weights, shots=args.shots,
                              keyframes_from=args.keyframes_from, subtitles=args.subtitles, prompt=args.prompt,
                              emotion_strength=args.emotion_strength, emotion_model=args.emotion_model,
                              crf_rate=args.crf_rate)
    execution = Execution(threads=args.threads, progress=stderr_progress(args.quiet))
    if args.report == STDOUT and args.json:
        raise UsageError("--report - and --json both write the report to stdout: use one")
    outputs = _outputs(args)
    batch = os.path.isdir(args.input)
    check_outputs(_inputs(args), outputs, overwrite="overwrite" if batch else args.overwrite)
    spec = target_spec(args)
    if spec is not None:
        return _cmd_target(args, settings, spec, execution, outputs, batch)
    if batch or _parallel_wanted(args):
        with all_or_nothing(outputs):
            return _cmd_parallel(args, settings, execution)
    with all_or_nothing(outputs):
        report = encode(args.input, args.output, settings, execution)
        _emit(args, report)
    if not args.json and not args.quiet:
        print(_summary(report), file=sys.stderr)
    return 0


def _cmd_target(args, settings, spec, execution, outputs, batch: bool) -> int:
    """--target-*: per-shot CRF search, then the encode (single-piece: one CRF; chunked: one per chunk)."""
    from semcodec.target import encode_chunked, encode_single
    from semcodec.target.video import check

    if batch:
        raise UsageError("a quality target encodes one file at a time (give a file, not a folder)")
    check(settings, spec)
    with all_or_nothing(outputs):
        if _parallel_wanted(args):
            report = encode_chunked(args.input, args.output, settings, spec, _parallel_options(args),
                                    progress=execution.progress)
        else:
            report = encode_single(args.input, args.output, settings, spec, execution)
        _emit(args, report)
    if not args.json and not args.quiet:
        print(_summary(report), file=sys.stderr)
        print(_target_summary(report["target"]), file=sys.stderr)
    return 0


def _num(v) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def _target_summary(t: dict) -> str:
    lines = [f"target: {t['target']}; {t['mode']}; measured on the output: VMAF {t['measured']['vmaf_mean']:.2f}"
             f" (5th pct {t['measured']['vmaf_p5']:.2f}); {t['shots_met_measured']} of {len(t['shots'])} shots "
             f"met; probes {t['timings']['probe_s']:.1f} s"]
    for s in t["shots"]:
        both = ", ".join(f"{k} {_num(s['predicted'].get(k))} -> {_num(v)}" for k, v in (s["measured"] or {}).items())
        lines.append(f"  shot {s['index'] + 1:>3} frames {s['start_frame']:>5}-{s['end_frame'] - 1:<5} CRF "
                     f"{s['crf']:>5g}  predicted -> measured: {both}")
    return "\n".join(lines)


def _parallel_wanted(args) -> bool:
    keys = ("workers", "ray", "chunk_min_s", "chunk_max_s", "chunk_overlap_s", "work_dir")
    return any(getattr(args, k, None) is not None for k in keys) or bool(getattr(args, "fresh_process", False))


def _parallel_options(args):
    from semcodec.parallel import ParallelOptions

    if args.workers is not None and args.workers < 1:
        raise SemcodecError("--workers must be at least 1")
    lo, hi = args.chunk_min_s, args.chunk_max_s  # a default gives way to the other bound when only one is set
    return ParallelOptions(workers=args.workers, ray=args.ray, work_dir=args.work_dir,
                           threads_per_chunk=args.threads or 1, fresh_process_per_chunk=args.fresh_process,
                           chunk_min_s=lo if lo is not None else min(2.0, hi or 2.0),
                           # default: 20 s or one keyframe interval (semcodec.parallel.runner.chunk_lengths)
                           chunk_max_s=hi if hi is not None else (lo if lo is not None and lo > 20.0 else None),
                           overlap_s=1.0 if args.chunk_overlap_s is None else args.chunk_overlap_s)


def _cmd_parallel(args, settings, execution) -> int:
    """Chunked encode (--workers/--ray/...) of one file, or the batch form INPUT_DIR/ -o OUTDIR/."""
    from semcodec.parallel import encode_batch, encode_parallel

    opts = _parallel_options(args)
    if os.path.isdir(args.input):
        def show(row):
            if not args.quiet:
                if row.get("skipped"):
                    print(f"skip {row['input']}: {row['output']} exists (-n)", file=sys.stderr)
                    return
                print(f"{'ok  ' if row['ok'] else 'FAIL'} {row['input']}: " + (
                    f"{row['frames']} frames, {row['bytes'] / 1024:.1f} KiB in {row['seconds']} s" if row["ok"]
                    else row["error"]), file=sys.stderr)

        res = encode_batch(args.input, args.output, settings, opts, parallel=_parallel_wanted(args), on_result=show,
                           overwrite=args.overwrite, execution=execution)
        _emit(args, res)
        n, bad, skipped = len(res["results"]), res["failed"], res["skipped"]
        print(f"semcodec: {n - len(bad) - len(skipped)} of {n} videos encoded"
              + (f", {len(skipped)} skipped (output exists, -n)" if skipped else "")
              + (f"; failed: {', '.join(bad)}" if bad else ""), file=sys.stderr)
        return 1 if bad else 0
    report = encode_parallel(args.input, args.output, settings, opts, progress=execution.progress)
    _emit(args, report)
    if not args.json and not args.quiet:
        par = report["parallel"]
        print(_summary(report), file=sys.stderr)
        print(f"chunks: {len(par['chunks'])} on {par['backend']} ({par['workers']} workers, "
              f"{par['threads_per_chunk']} thread each); reused {len(par['chunks_reused'])}, "
              f"encoded {len(par['chunks_encoded_now'])}" + (
                  f"; budget {par['budget']['video_kbps']} of {par['budget']['target_kbps']} kb/s"
                  if par["budget"] else ""), file=sys.stderr)
    return 0

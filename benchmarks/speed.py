"""Wall time of `semcodec encode` with the semantic map against plain x264 (`--roi off`, same settings), side by
side, at four frame sizes: QCIF (akiyo), 640x480 (his_girl_friday), 720p (the Big Buck Bunny excerpt) and 1080p
(the same excerpt upscaled to 1920x1080 with PyAV into a temporary file: there is no 1080p shared clip).

Per size four modes run interleaved (off, then ROI auto with --crf-rate extra, model and the default neutral),
repeat after repeat, so all see the same machine state; the best of N is reported for each and its ratio to off.
'extra' is the analysis and the map with no rate balance (the favoured regions get bits on top, so the file and
x264's work grow); 'model' balances the map with the allocator's rate model (no probe encodes), the closest to
the analysis cost alone; 'neutral' also pays the probe encodes that fit the rate-neutral CRF offset. Process CPU
seconds are reported beside wall time: on a shared machine they move less. Audio is not copied (every mode alike).

    python benchmarks/speed.py [--sizes qcif,vga,720p,1080p] [--preset medium] [--repeats 3]

Writes benchmarks/results/speed.json (the top-level keys describe the 720p row, as before). Skips sizes whose
clip is absent from ../shared/videos.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import av  # noqa: E402

from semcodec.encoding import codecs  # noqa: E402
from semcodec.io.writer import write_json  # noqa: E402
from semcodec.pipeline import EncodeSettings, Execution, encode  # noqa: E402

VIDEOS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "videos")
SIZES = {"qcif": "akiyo_qcif_news_anchor.mp4", "vga": "his_girl_friday_1940_dialogue.mp4",
         "720p": "big_buck_bunny_excerpt_720p.mp4", "1080p": "big_buck_bunny_excerpt_720p.mp4"}
MODES = {"off": dict(roi="off"), "auto_extra": dict(roi="auto", crf_rate="extra"),
         "auto_model": dict(roi="auto", crf_rate="model"), "auto": dict(roi="auto", crf_rate="neutral")}
UPSCALED_NOTE = "upscaled from {src} to 1920x1080 with PyAV (lanczos, x264 CRF 12 veryfast) into a temporary file"


def upscale_1080p(src: str, dst: str) -> None:
    """A 1080p test clip: every frame of `src` scaled to 1920x1080 and encoded near-losslessly."""
    with av.open(src) as inp, av.open(dst, "w") as out:
        vin = inp.streams.video[0]
        rate = vin.average_rate or Fraction(25)
        vs = out.add_stream("libx264", rate=rate)
        vs.width, vs.height, vs.pix_fmt = 1920, 1080, "yuv420p"
        vs.options = {"crf": "12", "preset": "veryfast"}
        for i, frame in enumerate(inp.decode(vin)):
            big = frame.reformat(width=1920, height=1080, format="yuv420p", interpolation="LANCZOS")
            big.pts, big.time_base = i, Fraction(1) / rate
            big.pict_type = av.video.frame.PictureType.NONE
            out.mux(vs.encode(big))
        out.mux(vs.encode(None))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _run(clip: str, out: str, args, mode: str) -> tuple[float, float, dict]:
    """One encode: (wall s, process CPU s, report)."""
    c0, t0 = _cpu(), time.perf_counter()
    report = encode(clip, out, EncodeSettings(codec=args.codec, crf=args.crf, preset=args.preset, **MODES[mode]),
                    execution=Execution(audio=False))
    return time.perf_counter() - t0, _cpu() - c0, report


def _row(name: str, clip: str, note: str | None, runs: dict) -> dict:
    """Best of N per mode, ratios to off, and the fastest 'extra' run's analysis timings."""
    best = {m: min(r["wall"]) for m, r in runs.items()}
    cpu = {m: min(r["cpu"]) for m, r in runs.items()}
    rep = runs["auto_extra"]["report"]
    frames = runs["off"]["report"]["output"]["frames"]
    row = {
        "size": name, "clip": os.path.basename(clip), "note": note,
        "resolution": f"{rep['input']['width']}x{rep['input']['height']}",
        "frames": frames, "analysis_size": rep["roi"].get("analysis_size"),
        "wall_s": {m: [round(x, 3) for x in r["wall"]] for m, r in runs.items()},
        "best_s": {m: round(x, 3) for m, x in best.items()},
        "fps": {m: round(frames / x, 1) for m, x in best.items()},
        "cpu_s": {m: round(x, 3) for m, x in cpu.items()},
        **{f"ratio_{m}_over_off": round(best[m] / best["off"], 3) for m in MODES if m != "off"},
        **{f"cpu_ratio_{m}_over_off": round(cpu[m] / cpu["off"], 3) for m in MODES if m != "off"},
        "analysis_s": rep["timings"]["analysis_s"],
        "video_bytes": {m: r["report"]["output"]["video_bytes"] for m, r in runs.items()},
        "analyzers": [{k: a[k] for k in ("name", "stride", "runs", "ms_per_run")} for a in rep["roi"]["analyzers"]],
        "schedule": rep["roi"].get("analysis_schedule"),
        "rate_fit_s": runs["auto"]["report"]["timings"].get("rate_fit_s"),
    }
    return row


def _measure(clips: dict, args, tmp: str) -> list[dict]:
    """Interleaved: every repeat runs every size, and per size every mode, back to back."""
    runs = {name: {m: {"wall": [], "cpu": [], "report": None} for m in MODES} for name in clips}
    for rep in range(args.repeats):
        for name, (clip, _) in clips.items():
            for mode in MODES:
                wall, cpu, report = _run(clip, os.path.join(tmp, f"{name}_{mode}.mp4"), args, mode)
                r = runs[name][mode]
                if not r["wall"] or wall < min(r["wall"]):
                    r["report"] = report
                r["wall"].append(wall)
                r["cpu"].append(cpu)
                print(f"repeat {rep + 1}/{args.repeats} {name:5s} {mode:10s} {wall:7.3f} s wall {cpu:7.3f} s CPU",
                      file=sys.stderr)
    return [_row(name, clip, note, runs[name]) for name, (clip, note) in clips.items()]


def _asm_cost(args, clip: str) -> dict:
    """What the deterministic x264 asm list (no AVX-512) costs against x264's own detection: plain encodes,
    interleaved, best of N each."""
    times = {"asm_list": [], "x264_auto": []}
    saved = codecs.X264_ASM
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.repeats):
                for name, asm in (("asm_list", saved), ("x264_auto", None)):
                    codecs.X264_ASM = asm
                    t0 = time.perf_counter()
                    encode(clip, os.path.join(tmp, "o.mp4"), EncodeSettings(
                        codec=args.codec, crf=args.crf, preset=args.preset, roi="off"),
                        execution=Execution(audio=False))
                    times[name].append(time.perf_counter() - t0)
    finally:
        codecs.X264_ASM = saved
    best = {k: round(min(v), 3) for k, v in times.items()}
    return {"asm": saved, "best_s": best, "ratio": round(best["asm_list"] / best["x264_auto"], 3)}


def _clips(names: list[str], tmp: str) -> dict:
    """size -> (path, note); the 1080p clip is made here."""
    clips = {}
    for name in names:
        src = os.path.join(VIDEOS, SIZES[name])
        if not os.path.exists(src):
            print(f"skipped {name}: {src} not found", file=sys.stderr)
            continue
        if name == "1080p":
            dst = os.path.join(tmp, "bbb_1080p_upscaled.mp4")
            upscale_1080p(src, dst)
            clips[name] = (dst, UPSCALED_NOTE.format(src=SIZES[name]))
        else:
            clips[name] = (src, None)
    return clips


def _result(rows: list[dict], args, load: dict, asm_cost: dict | None) -> dict:
    """The 720p row's numbers at the top level (the keys benchmarks/update_readme.py always read), every size
    in `sizes`."""
    main = next((r for r in rows if r["size"] == "720p"), rows[0])
    return {
        "schema": "semcodec.bench.speed/2", "clip": main["clip"], "codec": args.codec, "preset": args.preset,
        "crf": args.crf, "frames": main["frames"], "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average": load, "modes": {m: ", ".join(f"{k}={v}" for k, v in kw.items()) for m, kw in MODES.items()},
        **{k: main[k] for k in ("wall_s", "best_s", "fps", "cpu_s", "ratio_auto_over_off", "ratio_auto_extra_over_off",
                                "ratio_auto_model_over_off", "analysis_s", "video_bytes", "analyzers")},
        "sizes": rows, "x264_asm_cost": asm_cost,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=",".join(SIZES), help=f"comma list of {', '.join(SIZES)}")
    ap.add_argument("--codec", default="libx264")
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--crf", type=float, default=23)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-asm-cost", action="store_true", help="skip the x264 instruction-list comparison")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "speed.json"))
    args = ap.parse_args()
    names = [n.strip() for n in args.sizes.split(",") if n.strip()]
    unknown = [n for n in names if n not in SIZES]
    if unknown:
        ap.error(f"unknown size {', '.join(unknown)}")
    load = {"start": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory() as tmp:
        clips = _clips(names, tmp)
        if not clips:
            return 0
        rows = _measure(clips, args, tmp)
    load["end"] = [round(x, 2) for x in os.getloadavg()]
    main_clip = os.path.join(VIDEOS, SIZES["720p"])
    asm_cost = None
    if codecs.X264_ASM and args.codec == "libx264" and not args.no_asm_cost and os.path.exists(main_clip):
        asm_cost = _asm_cost(args, main_clip)
    result = _result(rows, args, load, asm_cost)
    write_json(args.out, result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

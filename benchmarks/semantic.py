"""Semantic mode (.semz) against x264 and x265 at their lowest usable CRF, on every clip in ../shared/videos.

    python benchmarks/semantic.py [--seconds 5] [--only NAME,...]

For each clip the first --seconds seconds (all of it when shorter) are cut to a lossless H.264 reference
(lossless x264, qp 0, no audio), so every codec sees the same frames and every reconstruction is measured against them:

- semantic: `semcodec semantic encode` with the offline defaults (analyzer captions, 64 px WebP guide
  per shot, upscaling decoder, no weights), decoded to MP4;
- hybrid: the same with --hybrid-threshold HYBRID_DB and --fallback-crf FALLBACK_CRF;
- x264 CRF 45 and 51, x265 CRF 51: semcodec.pipeline.encode with roi='off' (plain encodes).

Bytes: the whole .semz file; for x264/x265 the video stream bytes (the MP4 container is not counted,
which favours them slightly). bpp = bits / (width * height * frames); bps = bits / duration.
Quality: Y-PSNR and SSIM-Y (semcodec.metrics.compare), VMAF for clips up to 640x480 (cheap there), and
with --clip-model DIR (a local CLIP folder) CLIP image-image similarity x 100, one frame a second.
Writes benchmarks/results/semantic.json and semantic.md. Skips cleanly when ../shared/videos is absent.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import av  # noqa: E402

from semcodec.metrics import compare  # noqa: E402
from semcodec.pipeline import EncodeSettings, encode  # noqa: E402
from semcodec.semantic import decode_semantic, encode_semantic  # noqa: E402

VIDEOS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "videos")
EXTS = (".mp4", ".mkv", ".webm", ".avi", ".264", ".mov")
HYBRID_DB = 24.0
FALLBACK_CRF = 45
VMAF_MAX_PIXELS = 640 * 480


def cut_reference(src: str, dst: str, seconds: float) -> dict:
    """First `seconds` of `src` as lossless H.264 (even size, constant frame rate, no audio)."""
    with av.open(src) as inp:
        vs = inp.streams.video[0]
        rate = Fraction(vs.average_rate or vs.guessed_rate or 25).limit_denominator(100000)
        w, h = vs.width - vs.width % 2, vs.height - vs.height % 2
        limit = max(1, int(round(seconds * rate)))
        n = 0
        with av.open(dst, "w", format="matroska") as out:
            # lossless x264 (qp 0), not FFV1: semcodec.pipeline hands decoded frames' picture types to the
            # encoder, and an intra-only reference (FFV1, MJPEG) would force every x264/x265 frame to be I
            st = out.add_stream("libx264", rate=rate)
            st.width, st.height, st.pix_fmt = w, h, "yuv420p"
            st.options = {"qp": "0", "preset": "veryfast"}
            tb = st.time_base = 1 / rate
            for frame in inp.decode(video=0):
                f = av.VideoFrame.from_ndarray(
                    frame.reformat(width=w, height=h, format="yuv420p").to_ndarray(), format="yuv420p")
                f.pts, f.time_base = n, tb
                out.mux(st.encode(f))
                n += 1
                if n >= limit:
                    break
            out.mux(st.encode(None))
    return {"width": w, "height": h, "fps": str(rate), "frames": n, "duration_s": round(float(n / rate), 4)}


CLIP = None  # semcodec.scenes.clip.ClipScenes, with --clip-model


def _sampled_frames(path: str, every: int) -> list:
    with av.open(path) as c:
        return [f.to_ndarray(format="rgb24") for i, f in enumerate(c.decode(video=0)) if i % every == 0]


def clip_score(ref: str, dist: str, every: int) -> float:
    """CLIP image-image similarity x 100 between source and reconstruction, mean over one frame a second."""
    sims = []
    for a, b in zip(_sampled_frames(ref, every), _sampled_frames(dist, every)):
        sims.append(float(CLIP.image_embedding([a]) @ CLIP.image_embedding([b])))
    return round(100 * sum(sims) / max(len(sims), 1), 2)


def quality(ref: str, dist: str, vmaf: bool, every: int = 25) -> dict:
    s = compare(ref, dist, vmaf=vmaf).summary()
    out = {"psnr_y": round(s["psnr_y_mean"], 2), "ssim_y": round(s["ssim_y_mean"], 4)}
    if vmaf:
        out["vmaf"] = round(s["vmaf_mean"], 2)
    if CLIP is not None:
        out["clip"] = clip_score(ref, dist, every)
    return out


def run_clip(path: str, seconds: float, work: str) -> dict:
    name = os.path.basename(path)
    ref = os.path.join(work, "ref.mkv")
    t0 = time.perf_counter()
    info = cut_reference(path, ref, seconds)
    px = info["width"] * info["height"] * info["frames"]
    dur = info["duration_s"]
    vmaf = info["width"] * info["height"] <= VMAF_MAX_PIXELS
    row = {"clip": name, "video": info, "trimmed": None, "results": []}
    with av.open(path) as c:
        vs = c.streams.video[0]
        full = float(vs.duration * vs.time_base) if vs.duration and vs.time_base else (c.duration or 0) / 1e6
    if full > seconds + 0.5:
        row["trimmed"] = f"first {seconds:g} s of {full:.1f} s"

    def add(mode: str, nbytes: int, rec: str, extra: dict):
        r = {"mode": mode, "bytes": nbytes, "bpp": round(nbytes * 8 / px, 6),
             "bps": round(nbytes * 8 / dur, 1),
             **quality(ref, rec, vmaf, max(1, round(info["frames"] / max(dur, 1e-9)))), **extra}
        row["results"].append(r)
        print(f"  {mode:<22} {nbytes:>8} B {r['bps']:>10.0f} bit/s  PSNR {r['psnr_y']:6.2f}  SSIM {r['ssim_y']:.4f}"
              + (f"  VMAF {r['vmaf']:.2f}" if "vmaf" in r else "")
              + (f"  CLIP {r['clip']:.2f}" if "clip" in r else ""), file=sys.stderr)

    for mode, kw in (("semantic", {}), (f"hybrid@{HYBRID_DB:g}dB", {"hybrid_threshold": HYBRID_DB,
                                                                     "fallback_crf": FALLBACK_CRF})):
        semz = os.path.join(work, "a.semz")
        rec = os.path.join(work, "a.mp4")
        rep = encode_semantic(ref, semz, **kw)
        decode_semantic(semz, rec)
        add(mode, rep["bytes"], rec, {"shots": rep["shots"], "hybrid_shots": rep["hybrid_shots"],
                                      "guide_bytes": rep["guide_bytes"], "pixel_bytes": rep["pixel_bytes"],
                                      "captions": [s["caption"] for s in rep["per_shot"]][:3]})
    for codec, crf in (("libx264", 45), ("libx264", 51), ("libx265", 51)):
        out = os.path.join(work, f"{codec}_{crf}.mp4")
        rep = encode(ref, out, EncodeSettings(codec=codec, crf=crf, roi="off"))
        add(f"{codec.replace('lib', '')} CRF {crf}", rep["output"]["video_bytes"], out,
            {"file_bytes": rep["output"]["bytes"]})
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def table(rows: list[dict]) -> str:
    has_clip = any("clip" in r for row in rows for r in row["results"])
    lines = ["| clip | frames | mode | bytes | bpp | bit/s | PSNR-Y | SSIM-Y | VMAF |"
             + (" CLIP-I |" if has_clip else "") + " notes |",
             "|---|---|---|---|---|---|---|---|---|" + ("---|" if has_clip else "") + "---|"]
    for row in rows:
        v = row["video"]
        for r in row["results"]:
            note = ""
            if "shots" in r:
                note = f"{r['shots']} shot{'s' if r['shots'] != 1 else ''}"
                if r["mode"] != "semantic":
                    note += f", {r['hybrid_shots']} as pixels"
            lines.append(f"| {row['clip']} | {v['frames']} ({v['width']}x{v['height']}) | {r['mode']} | {r['bytes']} | "
                         f"{r['bpp']:.5f} | {r['bps']:.0f} | {r['psnr_y']:.2f} | {r['ssim_y']:.3f} | "
                         f"{r.get('vmaf', '-') if 'vmaf' in r else '-'} |"
                         + (f" {r.get('clip', '-')} |" if has_clip else "") + f" {note} |")
    return "\n".join(lines)


def findings(rows: list[dict]) -> str:
    """Plain reading of the table, computed from it."""
    lines = []
    beat, lost, ratios, sizes, vm = [], [], [], [], []
    for row in rows:
        r = {x["mode"]: x for x in row["results"]}
        sem, x265 = r["semantic"], r["x265 CRF 51"]
        name = row["clip"].rsplit(".", 1)[0]
        ratios.append(x265["bytes"] / max(sem["bytes"], 1))
        sizes.append(sem["bps"])
        if "vmaf" in sem:
            vm.append((name, sem["vmaf"]))
        (beat if sem["psnr_y"] >= x265["psnr_y"] else lost).append(
            f"{name} ({sem['psnr_y'] - x265['psnr_y']:+.1f} dB, {ratios[-1]:.0f}x fewer bytes)")
    lines.append(f"- The offline .semz runs at {min(sizes) / 1000:.1f}-{max(sizes) / 1000:.1f} kbit/s (guide images "
                 f"and captions), {min(ratios):.0f}-{max(ratios):.0f}x fewer bytes than x265 at CRF 51. Its Y-PSNR "
                 f"matches or beats x265 CRF 51 on {len(beat)} of {len(rows)} clips: {', '.join(beat) or 'none'}; "
                 f"it is lower on {', '.join(lost) or 'none'}.")
    lines.append("- Where it falls short, honestly: the offline decoder shows one still per shot, so anything "
                 "that moves (people walking, sports, camera motion, dissolves) is lost; a 64 px guide cannot "
                 "carry text (the screen document is unreadable) nor who a face is. VMAF of the semantic rows: "
                 + ", ".join(f"{n} {v:.1f}" for n, v in vm) + ". Captions come from rule-based measurements and "
                 "are sometimes wrong (the overhead office clip is called an animated cartoon, Big Buck Bunny a "
                 "nature landscape). It is competitive only where a shot is nearly a still picture (the news "
                 "anchor; the parking lot is close in SSIM but loses the moving cars).")
    lines.append("- Hybrid at 24 dB keeps pixels for every shot the still cannot carry; where it does, it is a "
                 "single x264 stream per shot at CRF 45 and lands near plain x264 CRF 45 (a little smaller, GOP = "
                 "shot, no SEI); where the still scores 24 dB or more it stays at the semantic size, even when "
                 "people move in it (the office clip): PSNR is a blunt gate for that.")
    lines.append("- Not measured: diffusion generators (no weights here; the loading path is tested on tiny "
                 "random models)" + ("" if any("clip" in r for row in rows for r in row["results"]) else
                                     " and CLIP score (no CLIP folder here; `--clip-model DIR` adds it)") + ".")
    return "\n".join(lines)


def write_results(meta: dict, rows: list[dict], out_dir: str) -> None:
    with open(os.path.join(out_dir, "semantic.json"), "w") as f:
        json.dump({**meta, "clips": rows}, f, indent=2)
    with open(os.path.join(out_dir, "semantic.md"), "w") as f:
        f.write(f"Semantic mode (.semz, offline defaults: analyzer captions, one 64 px WebP guide per shot, "
                f"upscaling decoder) against plain x264/x265 at their lowest usable CRF, first "
                f"{meta['seconds_per_clip']:g} s of each clip (`{meta['command']}`, {meta['total_s']} s on "
                f"{meta['cpus']} CPUs). Hybrid keeps x264 CRF {meta['fallback_crf']} pixels for shots whose "
                f"reconstruction scores below {meta['hybrid_threshold_db']:g} dB Y-PSNR. x264/x265 bytes are video "
                "stream bytes (MP4 overhead not counted); .semz bytes are the whole file. VMAF only up to "
                "640x480.\n\n")
        f.write(table(rows) + "\n")
        trimmed = [f"{r['clip']} ({r['trimmed']})" for r in rows if r["trimmed"]]
        if trimmed:
            f.write("\nTrimmed: " + "; ".join(trimmed) + ".\n")
        f.write("\n" + findings(rows) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0, help="use the first S seconds of each clip (default 5)")
    ap.add_argument("--only", help="comma-separated clip names")
    ap.add_argument("--rewrite", action="store_true", help="only rewrite semantic.md from semantic.json")
    ap.add_argument("--clip-model", metavar="DIR", help="local CLIP folder: add CLIP image-image similarity")
    args = ap.parse_args(argv)
    global CLIP
    if args.clip_model:
        from semcodec.scenes.clip import ClipScenes

        CLIP = ClipScenes(args.clip_model)
    if args.rewrite:
        out_dir = os.path.join(HERE, "results")
        with open(os.path.join(out_dir, "semantic.json")) as f:
            data = json.load(f)
        write_results({k: v for k, v in data.items() if k != "clips"}, data["clips"], out_dir)
        return 0
    if not os.path.isdir(VIDEOS):
        print(f"skipped: {VIDEOS} not found", file=sys.stderr)
        return 0
    names = sorted(n for n in os.listdir(VIDEOS) if n.lower().endswith(EXTS))
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    rows = []
    t0 = time.perf_counter()
    for name in names:
        print(name, file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="semz-bench-") as work:
            rows.append(run_clip(os.path.join(VIDEOS, name), args.seconds, work))
    out_dir = os.path.join(HERE, "results")
    os.makedirs(out_dir, exist_ok=True)
    meta = {"command": f"python benchmarks/semantic.py --seconds {args.seconds:g}"
            + (f" --clip-model {args.clip_model}" if args.clip_model else ""), "seconds_per_clip": args.seconds,
            "hybrid_threshold_db": HYBRID_DB, "fallback_crf": FALLBACK_CRF,
            "total_s": round(time.perf_counter() - t0, 1),
            "cpus": os.cpu_count()}
    write_results(meta, rows, out_dir)
    print(f"wrote {out_dir}/semantic.json and semantic.md in {meta['total_s']} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

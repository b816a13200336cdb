"""Baseline parity with stock FFmpeg: `semcodec encode --roi off` against the `ffmpeg` CLI (imageio-ffmpeg's
binary) with the same codec, preset and rate control, side by side in one run.

For each clip, codec (libx264, libx265) and rate control (CRF, two-pass at the clip's mid-rate): video
bytes (sum of the stream's packets, so container overhead and audio do not count), PSNR-Y, VMAF (libvmaf)
and PSNR-Y inside the hand-checked face boxes of benchmarks/face_boxes.json (where the clip has any),
the wall time of each encoder, and the ratios. Targets (issue 11): size within 1 %, VMAF within 0.1.

    python benchmarks/parity.py [--clips NAME,...] [--codecs libx264,libx265]

Writes benchmarks/results/parity.json and parity.md. Skips cleanly when ../shared/videos is absent.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import av  # noqa: E402

from semcodec.bench.masks import mask_source  # noqa: E402
from semcodec.bench.measure import measure  # noqa: E402
from semcodec.encoding.codecs import X264_ASM  # noqa: E402
from semcodec.io.writer import write_json, write_text  # noqa: E402
from semcodec.metrics.quality import _ffmpeg_with_libvmaf  # noqa: E402
from semcodec.pipeline import EncodeSettings, Execution, encode  # noqa: E402

VIDEOS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "videos")
OUT = os.path.join(HERE, "results")
CLIPS = {  # name -> two-pass mid-rate (bits/s): where plain x264 gives VMAF around 85
    "akiyo_qcif_news_anchor.mp4": 12_000,
    "carphone_qcif_video_call.mp4": 35_000,
    "his_girl_friday_1940_dialogue.mp4": 250_000,
    "big_buck_bunny_excerpt_720p.mp4": 1_000_000,
}
CRF = {"libx264": 26, "libx265": 28}
PRESET = "medium"


def video_bytes(path: str) -> int:
    with av.open(path) as c:
        return sum(p.size for p in c.demux(video=0) if p.size)


def ffmpeg_encode(src: str, out: str, codec: str, rc: dict, tmp: str, same_options: bool = False) -> None:
    """Stock `ffmpeg`; `same_options`: plus exactly the options semcodec adds (x264's asm list without
    AVX-512 where the CPU has it, the full first pass in two-pass), to show those are the only difference."""
    ff = _ffmpeg_with_libvmaf()
    base = [ff, "-nostdin", "-y", "-v", "error", "-i", src, "-an", "-sn", "-c:v", codec, "-preset", PRESET]
    if codec == "libx265":
        base += ["-x265-params", "log-level=error"]
    if same_options and codec == "libx264":
        base += ["-x264-params", f"asm={X264_ASM}"] if X264_ASM else []
        base += ["-fastfirstpass", "0"] if "bitrate" in rc else []
    if "crf" in rc:
        subprocess.run([*base, "-crf", str(rc["crf"]), out], check=True)
        return
    stats = os.path.join(tmp, "ff2pass")
    two = (["-x265-params", f"log-level=error:pass={{}}:stats={stats}"] if codec == "libx265"
           else ["-passlogfile", stats, "-pass", "{}"])
    rate = ["-b:v", str(rc["bitrate"])]
    subprocess.run([*base, *rate, *[a.format(1) for a in two], "-f", "null", "-"], check=True)
    subprocess.run([*base, *rate, *[a.format(2) for a in two], out], check=True)


def semcodec_encode(src: str, out: str, codec: str, rc: dict) -> None:
    s = EncodeSettings(codec=codec, preset=PRESET, roi="off", crf=rc.get("crf"), bitrate=rc.get("bitrate"),
                       two_pass="bitrate" in rc)
    encode(src, out, s, execution=Execution(audio=False))


def score(src: str, out: str) -> dict:
    with av.open(src) as c:
        v = c.streams.video[0]
        w, h, n = v.codec_context.width, v.codec_context.height, v.frames
    boxes = os.path.join(HERE, "face_boxes.json")
    with open(boxes) as f:
        names = json.load(f)["clips"]
    mask = mask_source(boxes, src, w, h, n) if os.path.basename(src) in names else None
    m = measure(src, out, ["psnr", "vmaf"], mask=mask)
    return {"psnr_y": m.get("psnr_y_mean"), "vmaf": m.get("vmaf_mean"), "face_psnr_y": m.get("roi_psnr_y_mean")}


def _timed(fn, out: str, src: str) -> dict:
    t0 = time.perf_counter()
    fn(out)
    return {"wall_s": round(time.perf_counter() - t0, 3), "video_bytes": video_bytes(out), **score(src, out)}


def _equal_size(src: str, codec: str, rc: dict, want: int, tmp: str, got: int) -> dict:
    """semcodec's VMAF at exactly `want` video bytes: two-pass encodes at whole kb/s (x264 and x265 take
    the rate in kb/s) bracketing `want`, VMAF interpolated linearly in bytes between them."""
    def at(kbps: int) -> dict:
        out = os.path.join(tmp, f"semcodec_eq_{kbps}.mp4")
        return {"kbps": kbps, **_timed(lambda o: semcodec_encode(src, o, codec, {"bitrate": kbps * 1000}), out, src)}

    k = max(1, round(rc["bitrate"] / 1000 * want / got))  # start where the size scales to `want`
    lo = hi = at(k)
    for _ in range(12):  # walk until the pair brackets `want`
        if lo["video_bytes"] > want:
            hi, lo = lo, at(lo["kbps"] - 1)
        elif hi["video_bytes"] < want:
            lo, hi = hi, at(hi["kbps"] + 1)
        else:
            break
    if hi["video_bytes"] == lo["video_bytes"]:
        t = 0.0
    else:
        t = min(1.0, max(0.0, (want - lo["video_bytes"]) / (hi["video_bytes"] - lo["video_bytes"])))
    return {"bracket": [lo, hi], "video_bytes": want,
            "vmaf": lo["vmaf"] + t * (hi["vmaf"] - lo["vmaf"]),
            "bracketed": lo["video_bytes"] <= want <= hi["video_bytes"]}


def encoder_build(path: str) -> str | None:
    """The encoder's own version line in its output (x264 and x265 write one in an SEI)."""
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    m = re.search(rb"x264 - core \d+(?: r\d+ \w+)?|x265 \(build \d+\) - [\w.+-]+", head)
    return m.group().decode() if m else None


def _digest(path: str) -> str:
    import hashlib

    with av.open(path) as c:
        return hashlib.sha256(b"".join(bytes(p) for p in c.demux(video=0) if p.size)).hexdigest()


def run_one(src: str, codec: str, rc: dict, tmp: str) -> dict:
    row = {"clip": os.path.basename(src), "codec": codec, "rate_control": "crf" if "crf" in rc else "two-pass",
           **rc}
    outs = {who: os.path.join(tmp, f"{who}.mp4") for who in ("ffmpeg", "semcodec", "ffmpeg_same_options")}
    row["ffmpeg"] = _timed(lambda o: ffmpeg_encode(src, o, codec, rc, tmp), outs["ffmpeg"], src)
    row["semcodec"] = _timed(lambda o: semcodec_encode(src, o, codec, rc), outs["semcodec"], src)
    ffmpeg_encode(src, outs["ffmpeg_same_options"], codec, rc, tmp, same_options=True)
    row["identical_to_ffmpeg_with_same_options"] = _digest(outs["semcodec"]) == _digest(outs["ffmpeg_same_options"])
    row["encoder_builds"] = {who: encoder_build(outs[who]) for who in ("ffmpeg", "semcodec")}
    f, s = row["ffmpeg"], row["semcodec"]
    row["size_ratio"] = round(s["video_bytes"] / f["video_bytes"], 4)
    row["vmaf_delta"] = round(s["vmaf"] - f["vmaf"], 3)
    row["psnr_delta"] = round(s["psnr_y"] - f["psnr_y"], 3)
    row["face_psnr_delta"] = (round(s["face_psnr_y"] - f["face_psnr_y"], 3)
                              if s["face_psnr_y"] is not None and f["face_psnr_y"] is not None else None)
    row["time_ratio"] = round(s["wall_s"] / f["wall_s"], 3)
    if "bitrate" in rc:  # two-pass sizes differ by rate accuracy: compare quality at equal size too
        seconds = _duration(src)
        row["target_bytes"] = round(rc["bitrate"] * seconds / 8)
        eq = row["semcodec_equal_size"] = _equal_size(src, codec, rc, f["video_bytes"], tmp, s["video_bytes"])
        row["vmaf_delta_equal_size"] = round(eq["vmaf"] - f["vmaf"], 3)
        row["meets_target"] = eq["bracketed"] and row["vmaf_delta_equal_size"] >= -0.1
    else:
        row["meets_target"] = abs(row["size_ratio"] - 1) <= 0.01 and abs(row["vmaf_delta"]) <= 0.1
    return row


def _duration(src: str) -> float:
    with av.open(src) as c:
        v = c.streams.video[0]
        return float(v.frames / v.average_rate)


def markdown(rows: list[dict]) -> str:
    lines = ["# Baseline parity: `semcodec encode --roi off` vs stock `ffmpeg`", "",
             f"Preset {PRESET}; CRF {CRF['libx264']} (x264) / {CRF['libx265']} (x265), and two-pass at each clip's "
             "mid-rate. Video bytes only (no container, no audio). Target: at CRF, size within 1 % and VMAF within "
             "0.1 of stock; in two-pass, VMAF no more than 0.1 below stock at equal size (semcodec encoded at the "
             "whole kb/s rates bracketing stock's bytes, VMAF interpolated), since two-pass sizes differ by rate "
             "accuracy. 'same bytes' says "
             "whether semcodec's video stream is bit-identical to `ffmpeg` given the options semcodec adds (x264: "
             f"`asm={X264_ASM}` on AVX-512 CPUs, `-fastfirstpass 0` in two-pass). Generated by "
             "`benchmarks/parity.py`.", "", *_build_note(rows),
             "| clip | codec | rate | ffmpeg bytes | semcodec bytes | size | VMAF ffmpeg | VMAF delta "
             "| at equal size | face PSNR delta | same bytes | time ratio | target |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|"]
    for r in rows:
        rate = f"CRF {r['crf']}" if "crf" in r else f"2-pass {r['bitrate'] // 1000}k"
        face = "n/a" if r["face_psnr_delta"] is None else f"{r['face_psnr_delta']:+.2f} dB"
        eq = f"{r['vmaf_delta_equal_size']:+.2f}" if "vmaf_delta_equal_size" in r else ""
        lines.append(f"| {r['clip'].split('_')[0]} | {r['codec']} | {rate} | {r['ffmpeg']['video_bytes']:,} | "
                     f"{r['semcodec']['video_bytes']:,} | {100 * (r['size_ratio'] - 1):+.2f} % | "
                     f"{r['ffmpeg']['vmaf']:.2f} | {r['vmaf_delta']:+.2f} | {eq} | {face} | "
                     f"{'yes' if r['identical_to_ffmpeg_with_same_options'] else 'no'} | "
                     f"{r['time_ratio']:.2f}x | {'yes' if r['meets_target'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def _build_note(rows: list[dict]) -> list[str]:
    """Where PyAV's encoder library and the ffmpeg binary's are different builds, say so: 'no' in the same
    bytes column can then come from the encoders, not from what semcodec hands them."""
    pairs = sorted({(r["codec"], r["encoder_builds"]["ffmpeg"], r["encoder_builds"]["semcodec"]) for r in rows
                    if r.get("encoder_builds")})
    notes = [f"{codec}: the ffmpeg binary has `{ff}`, PyAV (semcodec) has `{ours}`" for codec, ff, ours in pairs]
    return [f"Encoder builds: {'; '.join(notes)}.", ""] if notes else []


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", default=",".join(CLIPS))
    ap.add_argument("--codecs", default="libx264,libx265")
    args = ap.parse_args()
    clips = [c for c in args.clips.split(",") if c]
    if not all(os.path.exists(os.path.join(VIDEOS, c)) for c in clips):
        print(f"skipped: clips not found in {VIDEOS}", file=sys.stderr)
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="semcodec-parity-") as tmp:
        for codec in args.codecs.split(","):
            for clip in clips:
                for rc in ({"crf": CRF[codec]}, {"bitrate": CLIPS[clip]}):
                    rows.append(run_one(os.path.join(VIDEOS, clip), codec, rc, tmp))
                    r = rows[-1]
                    print(f"{clip} {codec} {r['rate_control']}: size {100 * (r['size_ratio'] - 1):+.2f} %, "
                          f"VMAF {r['vmaf_delta']:+.2f}, time {r['time_ratio']:.2f}x", file=sys.stderr)
    write_json(os.path.join(OUT, "parity.json"), {"schema": "semcodec.parity/1", "preset": PRESET, "rows": rows})
    write_text(os.path.join(OUT, "parity.md"), markdown(rows))
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

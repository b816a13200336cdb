"""Media correctness across codecs, containers and chunking (issue 15): x264, x265, VP9 and SVT-AV1 into .mp4,
.mkv and .mov, as one piece and with `--workers 2`, on a short anamorphic clip with PCM audio, colour tags and a
display rotation, judged by the FFmpeg 9 binary of imageio-ffmpeg (independent of the PyAV that encodes):

- decodes clean (`ffmpeg -v error`), frame count, exact timestamps (packet pts with -copyts, against the source);
- sample aspect ratio, colour tags, pixel format / bit depth (showinfo), display rotation (its side data);
- audio: copied bit-exact (packet md5 against the source's) or, re-encoded to AAC, its sync with the video
  against the source's by cross-correlation (ms; one AAC frame is 21.3 ms at 48 kHz);
- VMAF (libvmaf) of the chunked encode against the single-piece encode of the same codec and container, and of
  every encode against the source;
- unsupported combinations: the up-front refusal's message (nothing is encoded).

    python benchmarks/media_matrix.py [--seconds 2] [--roi auto]

The source is cut from his_girl_friday_1940_dialogue.mp4 (in-sample: every clip in ../shared/videos is):
320x240 pixels shown with a 4:3 SAR (as 426.7x240), BT.709 tags, rotated 90 degrees, audio as 16-bit PCM in
.mov (copied into .mkv, re-encoded to AAC for .mp4/.mov); then the same clip made 10-bit, into .mkv, for the bit
depth. Writes benchmarks/results/media_matrix.json and .md.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import av  # noqa: E402
import imageio_ffmpeg  # noqa: E402
import numpy as np  # noqa: E402

from semcodec.errors import UsageError  # noqa: E402
from semcodec.metrics.quality import vmaf_scores  # noqa: E402
from semcodec.parallel import ParallelOptions, encode_parallel  # noqa: E402
from semcodec.pipeline import EncodeSettings, run  # noqa: E402

FF = imageio_ffmpeg.get_ffmpeg_exe()
VIDEOS = os.path.join(os.path.dirname(ROOT), "shared", "videos")
CLIP = "his_girl_friday_1940_dialogue.mp4"
CODECS = ("libx264", "libx265", "libvpx-vp9", "libsvtav1")
CONTAINERS = (".mp4", ".mkv", ".mov")
SR = 48000


def make_source(dst: str, seconds: float, pix_fmt: str = "yuv420p") -> None:
    """The first `seconds` of CLIP at 320x240, SAR 4:3, BT.709, rotation 90, audio as PCM (48 kHz) in .mov."""
    with av.open(os.path.join(VIDEOS, CLIP)) as inp, av.open(dst, "w", format="mov") as out:
        vin = inp.streams.video[0]
        vs = out.add_stream("libx264", rate=vin.average_rate)
        vs.width, vs.height, vs.pix_fmt = 320, 240, pix_fmt
        cc = vs.codec_context
        cc.sample_aspect_ratio = Fraction(4, 3)
        cc.color_range, cc.colorspace, cc.color_primaries, cc.color_trc = 1, 1, 1, 1  # tv, bt709 x3
        vs.options = {"crf": "16", "preset": "fast"}
        vs.set_display_rotation(90)
        a = out.add_stream("pcm_s16le", rate=SR)
        a.layout = "stereo"
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=SR)
        for frame in inp.decode(vin, inp.streams.audio[0]):
            t = float(frame.pts * frame.time_base)
            if t >= seconds:
                continue
            if isinstance(frame, av.VideoFrame):
                f = frame.reformat(width=320, height=240, format=pix_fmt)
                f.pts, f.time_base = frame.pts, frame.time_base
                out.mux(vs.encode(f))
            else:
                for r in resampler.resample(frame):
                    out.mux(a.encode(r))
        out.mux(vs.encode(None))
        out.mux(a.encode(None))


def _ff(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([FF, "-hide_banner", "-nostdin", *args], capture_output=True, text=True, check=check)


def video_pts(path: str) -> list[float]:
    """Presentation times of the video's packets (s), sorted, as FFmpeg reads them with -copyts."""
    r = _ff("-v", "error", "-copyts", "-i", path, "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-")
    num, den = map(int, re.search(r"#tb 0: (\d+)/(\d+)", r.stdout).groups())
    return sorted(round(int(ln.split(",")[2]) * num / den, 3) for ln in r.stdout.splitlines()
                  if ln and not ln.startswith("#"))


def picture(path: str) -> dict:
    """What FFmpeg hands a filter for the first frame: format, SAR, colour, and the display rotation."""
    r = _ff("-noautorotate", "-i", path, "-vf", "showinfo", "-frames:v", "1", "-an", "-f", "null", "-", check=False)
    info = {k: (re.search(rf"\b{k}:(\S+)", r.stderr) or [None, None])[1]
            for k in ("fmt", "sar", "color_range", "color_space", "color_primaries", "color_trc")}
    rot = re.search(r"rotation of (-?[\d.]+) degrees", r.stderr)
    info["rotation"] = float(rot.group(1)) if rot else 0.0
    return info


def decode_report(path: str) -> tuple[str, int]:
    """FFmpeg's decode of every stream: (its error output, the number of video frames decoded)."""
    r = _ff("-v", "error", "-i", path, "-map", "0:v:0", "-f", "framecrc", "-", check=False)
    frames = sum(1 for ln in r.stdout.splitlines() if ln and not ln.startswith("#"))
    full = _ff("-v", "error", "-i", path, "-f", "null", "-", check=False)
    return (r.stderr + full.stderr).strip(), frames


def audio_md5(path: str) -> tuple[str, str]:
    with av.open(path) as c:
        if not c.streams.audio:
            return "", ""
        name = c.streams.audio[0].codec_context.name
        h = hashlib.md5()
        for p in c.demux(audio=0):
            if p.size:
                h.update(bytes(p))
        return name, h.hexdigest()


def timeline_audio(path: str) -> np.ndarray:
    r = subprocess.run([FF, "-v", "error", "-copyts", "-i", path, "-map", "0:a:0", "-af",
                        f"aresample={SR}:async=1:first_pts=0", "-ac", "1", "-f", "f32le", "-"],
                       capture_output=True, check=True)
    return np.frombuffer(r.stdout, np.float32)


def sync_ms(src: str, out: str, max_s: float = 0.25) -> float:
    """How much later the output's audio plays against its video than the source's (cross-correlation)."""
    a, b = timeline_audio(src), timeline_audio(out)
    n = min(len(a), len(b))
    corr = np.fft.irfft(np.fft.rfft(b[:n], 2 * n) * np.conj(np.fft.rfft(a[:n], 2 * n)))
    m = int(max_s * SR)
    lags = np.concatenate([np.arange(m), np.arange(-m, 0)])
    lag = lags[np.argmax(np.concatenate([corr[:m], corr[-m:]]))] / SR
    return round(1000 * (lag - (video_pts(out)[0] - video_pts(src)[0])), 3)


def measure(src: str, out: str, src_facts: dict, single: str | None) -> dict:
    errors, frames = decode_report(out)
    pic = picture(out)
    acodec, md5 = audio_md5(out)
    row = {"decode_errors": errors, "frames": frames, "frames_ok": frames == src_facts["frames"],
           "pts_exact": video_pts(out) == src_facts["pts"], **pic,
           "sar_ok": pic["sar"] == src_facts["picture"]["sar"],
           "colour_ok": all(pic[k] == src_facts["picture"][k] for k in ("color_space", "color_primaries",
                                                                          "color_trc", "color_range")),
           "rotation_ok": pic["rotation"] == src_facts["picture"]["rotation"], "audio_codec": acodec,
           "audio_bit_exact": md5 == src_facts["audio_md5"],
           "audio_sync_ms": None if md5 == src_facts["audio_md5"] else sync_ms(src, out),
           "vmaf_vs_source": round(float(np.mean(vmaf_scores(src, out))), 2),
           "vmaf_vs_single": round(float(np.mean(vmaf_scores(single, out))), 2) if single else None,
           "bytes": os.path.getsize(out)}
    return row


def encode_one(src: str, out: str, codec: str, chunked: bool, roi: str) -> tuple[str | None, float]:
    """Encode; returns (the refusal message, or None when it encoded) and the wall time."""
    s = EncodeSettings(codec=codec, roi=roi)
    t0 = time.perf_counter()
    try:
        if chunked:
            encode_parallel(src, out, s, ParallelOptions(workers=2, chunk_min_s=0.5, chunk_max_s=1.0))
        else:
            run(src, out, s)
    except UsageError as exc:
        return str(exc), time.perf_counter() - t0
    return None, time.perf_counter() - t0


def source_facts(src: str) -> dict:
    return {"frames": decode_report(src)[1], "pts": video_pts(src), "picture": picture(src),
            "audio_md5": audio_md5(src)[1]}


def run_matrix(src: str, work: str, roi: str, containers=CONTAINERS, label: str = "") -> list[dict]:
    facts = source_facts(src)
    rows = []
    for codec in CODECS:
        for ext in containers:
            single = None
            for chunked in (False, True):
                out = os.path.join(work, f"{codec}_{'w2' if chunked else 'single'}{label.replace(' ', '_')}{ext}")
                refused, wall = encode_one(src, out, codec, chunked, roi)
                row = {"codec": codec, "container": ext[1:], "source": label or "8-bit",
                       "mode": "--workers 2" if chunked else "single piece", "refused": refused,
                       "wall_s": round(wall, 2)}
                if refused is None:
                    row.update(measure(src, out, facts, single))
                    single = single or out
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def markdown(res: dict) -> str:
    src = res["source"]
    lines = ["# Media matrix: codec x container x chunking (`python benchmarks/media_matrix.py`)", "",
             f"Source: {res['seconds']:g} s of {CLIP} (in-sample), {src['frames']} frames at 320x240, SAR "
             f"{src['picture']['sar']}, {src['picture']['color_space']}/{src['picture']['color_primaries']}/"
             f"{src['picture']['color_trc']} {src['picture']['color_range']}, rotation {src['picture']['rotation']:g}, "
             f"PCM audio in .mov; ROI {res['roi']}. Judge: FFmpeg {res['ffmpeg']} (imageio-ffmpeg). Audio is copied "
             "into .mkv (bit-exact: md5 of the packets) and re-encoded to AAC for .mp4/.mov (sync against the "
             "source by cross-correlation; one AAC frame is 21.3 ms). VMAF w2/1: the `--workers 2` encode against "
             "the single-piece one.", "",
             "| codec | container | mode | decode | frames | exact pts | SAR | colour | rotation | pix fmt | audio | "
             "VMAF vs source | VMAF w2/1 |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    if any(r.get("source") == "10-bit" for r in res["rows"]):
        lines[2] += (" The last rows encode the same clip made 10-bit (yuv420p10le) into .mkv: the pixel format column "
                     "shows what came out (PyAV's libvpx is built without high bit depth: VP9 comes out 8-bit, with a "
                     "warning).")
    ok = {True: "yes", False: "**no**"}
    for r in res["rows"]:
        src10 = ", 10-bit source" if r.get("source") == "10-bit" else ""
        head = f"| {r['codec']} | {r['container']} | {r['mode']}{src10} |"
        if r["refused"]:
            lines.append(f"{head} refused up front: {r['refused']} |" + " |" * 9)
            continue
        audio = ("copied, bit-exact" if r["audio_bit_exact"]
                 else f"{r['audio_codec']}, sync {r['audio_sync_ms']:+.2f} ms")
        lines.append(f"{head} {'clean' if not r['decode_errors'] else '**errors**'} | {r['frames']} | "
                     f"{ok[r['pts_exact']]} | {r['sar']} | {ok[r['colour_ok']]} | {r['rotation']:g} | {r['fmt']} | "
                     f"{audio} | {r['vmaf_vs_source']:.2f} | "
                     f"{'-' if r['vmaf_vs_single'] is None else format(r['vmaf_vs_single'], '.2f')} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--roi", default="auto", help="ROI mode of every encode (auto: the real map path)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    if not os.path.exists(os.path.join(VIDEOS, CLIP)):
        print(f"skipped: {CLIP} not in {VIDEOS}")
        return 0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="semcodec-media-") as work:
        src = os.path.join(work, "source.mov")
        make_source(src, args.seconds)
        source = {"frames": decode_report(src)[1], "picture": picture(src), "audio": audio_md5(src)[0]}
        rows = run_matrix(src, work, args.roi)
        src10 = os.path.join(work, "source10.mov")
        make_source(src10, args.seconds, "yuv420p10le")
        rows += run_matrix(src10, work, args.roi, containers=(".mkv",), label="10-bit")
    version = re.search(r"ffmpeg version (\S+)", _ff("-version").stdout)
    res = {"schema": "semcodec.media_matrix/1", "seconds": args.seconds, "roi": args.roi, "clip": CLIP,
           "source": source, "ffmpeg": version.group(1) if version else "?", "pyav": av.__version__,
           "machine": platform.platform(), "total_s": round(time.perf_counter() - t0, 1), "rows": rows}
    with open(os.path.join(args.out, "media_matrix.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(args.out, "media_matrix.md"), "w") as f:
        f.write(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())

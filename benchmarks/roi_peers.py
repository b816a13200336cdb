"""semcodec's ROI against what a user can do with stock FFmpeg at the same size (issue 12).

For each talking-head / dialogue clip with hand-checked face boxes (benchmarks/face_boxes.json), two-pass
x264, preset medium, at the clip's mid-rate (benchmarks/roi_vs_x264.py):

- semcodec: `roi="auto"` at strengths 0.1, 0.2 (default), 0.3, and `roi="off"`;
- peers with the FFmpeg binary of imageio-ffmpeg, run as a user would (`ffmpeg -c:v libx264 -preset medium
  -b:v R -pass 1/2`), each re-encoded until its video bytes are within 1.5 % of semcodec's default point:
  stock x264; `-vf addroi=...` with one static rectangle per person (the union of that person's boxes over
  the clip) at qoffset -0.1 and -0.2; x264 `aq-mode=3`.

Each point: video bytes (packets), PSNR-Y inside the face boxes, whole-frame VMAF and PSNR-Y
(semcodec.metrics.compare), and per family the VMAF at semcodec's default face PSNR where its sweep
brackets it. FFmpeg hands x264 the rate in whole kb/s (1 kb/s is 8 % of akiyo's size); where no whole kb/s
lands within the tolerance, the input frame rate is scaled (`-r` before `-i`, same frames, same order),
which scales x264's two-pass budget and nothing else.

With `--codec libx265` or `--codec libvpx-vp9` the same clips give semcodec's strength sweep (off, 0.1,
0.2, 0.3) against stock FFmpeg plain at equal size only: two-pass x265 medium at the clip's x265 mid-rate
(`-x265-params pass=N:stats=...`), or one-pass VP9 in semcodec's bitrate mode at the clip's x264 mid-rate
against `ffmpeg -c:v libvpx-vp9 -deadline realtime -cpu-used 6 -b:v R`, R bisected (whole kb/s, then the
input-frame-rate budget trim) until the sizes are within the tolerance. The report asks whether the face
gain grows monotonically with the strength and how much of x264's face gain (roi_peers.json) is kept.

    python benchmarks/roi_peers.py [--codec libx264|libx265|libvpx-vp9] [--clips akiyo,carphone,his_girl_friday]
                                   [--out benchmarks/results]

Writes roi_peers.json, roi_peers.md and roi_peers_<clip>.png (x264), roi_peers_<codec>.json and .md (the
others). Skips cleanly when ../shared/videos is absent.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import av  # noqa: E402
from face_boxes import load_face_tracks  # noqa: E402
from parity import video_bytes  # noqa: E402
from roi_vs_x264 import CLIPS, VIDEOS  # noqa: E402

from semcodec import __version__ as SEMCODEC_VERSION  # noqa: E402
from semcodec.metrics import compare  # noqa: E402
from semcodec.pipeline import EncodeSettings, Execution, encode  # noqa: E402

BOXES = os.path.join(HERE, "face_boxes.json")
STRENGTHS = (0.1, 0.2, 0.3)
DEFAULT_S = EncodeSettings.roi_strength
ADDROI_Q = (-0.1, -0.2)
TOL = 0.015  # peers' video bytes within this of semcodec's default point
JITTER = (0.995, 1.005)  # budget factors around the matched plain point, for the noise estimate
# peer name -> (label, -vf builder or None, x264-params or None)
PEERS = {
    "plain": ("ffmpeg plain", None, None),
    "addroi-0.1": ("ffmpeg addroi -0.1", -0.1, None),
    "addroi-0.2": ("ffmpeg addroi -0.2", -0.2, None),
    "aq3": ("ffmpeg aq-mode 3", None, "aq-mode=3"),
}
FAMILIES = {  # family -> its points in sweep order (plain is addroi at qoffset 0; off is semcodec at S=0)
    "semcodec": ["semcodec off", "semcodec S=0.1", "semcodec S=0.2", "semcodec S=0.3"],
    "ffmpeg addroi": ["ffmpeg plain", "ffmpeg addroi -0.1", "ffmpeg addroi -0.2"],
    "ffmpeg aq-mode 3": ["ffmpeg aq-mode 3"],
}
X264_GAIN_KEPT = 0.7  # the question for x265 / VP9: at least this share of x264's face gain at equal size


@dataclass(frozen=True)
class Spec:
    """One codec's run: how semcodec and the stock peers encode, which peers, where the results go."""
    codec: str
    preset: str
    two_pass: bool
    peers: tuple[str, ...]  # keys of PEERS
    rate_of: str  # which CLIPS rate column the clip runs at
    stem: str  # results file name without extension
    ext: str  # container of the encodes


SPECS = {
    "libx264": Spec("libx264", "medium", True, tuple(PEERS), "libx264", "roi_peers", ".mp4"),
    "libx265": Spec("libx265", "medium", True, ("plain",), "libx265", "roi_peers_libx265", ".mkv"),
    # one-pass realtime VP9 (semcodec's only VP9 mode with a map) at x264's mid-rates: CLIPS has no VP9 column
    "libvpx-vp9": Spec("libvpx-vp9", "6", False, ("plain",), "libx264", "roi_peers_libvpx-vp9", ".mkv"),
}


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def person_rects(name: str) -> list[dict]:
    """One static rectangle per person: the union of the track's boxes over the clip. Boxes are linear
    between keyframes, so the union's bounding box is the keyframes' extremes."""
    tracks = load_face_tracks(BOXES, name)
    rects = []
    for t in tracks.tracks:
        x0, y0 = (int(v) for v in t.boxes[:, :2].min(axis=0))
        x1, y1 = (int(round(v)) for v in t.boxes[:, 2:].max(axis=0))
        x1, y1 = min(x1, tracks.width), min(y1, tracks.height)
        rects.append({"id": t.id, "x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0})
    return rects


def addroi_chain(rects: list[dict], qoffset: float) -> str:
    return ",".join(f"addroi=x={r['x']}:y={r['y']}:w={r['w']}:h={r['h']}:qoffset={qoffset:g}" for r in rects)


def stream_rate(src: str) -> Fraction:
    with av.open(src) as c:
        return Fraction(c.streams.video[0].average_rate)


def peer_commands(spec: Spec, src: str, out: str, kbps: int, rate: Fraction | None, vf: str | None,
                  params: str | None, passlog: str) -> list[list[str]]:
    """The `ffmpeg` passes of one peer encode. `rate`: input frame rate override (budget trim)."""
    head = [ffmpeg_exe(), "-nostdin", "-y", "-v", "error"]
    head += ["-r", f"{rate.numerator}/{rate.denominator}"] if rate is not None else []
    base = [*head, "-i", src, "-an", "-sn", *(["-vf", vf] if vf else []), "-c:v", spec.codec]
    if spec.codec == "libvpx-vp9":
        return [[*base, "-deadline", "realtime", "-cpu-used", spec.preset, "-b:v", str(kbps * 1000), out]]
    base += ["-preset", spec.preset]
    if spec.codec == "libx265":  # log-level silences x265's own stderr logging, nothing else
        def x265(n: int) -> list[str]:
            return ["-b:v", str(kbps * 1000), "-x265-params", f"log-level=error:pass={n}:stats={passlog}"]

        return [[*base, *x265(1), "-f", "null", "-"], [*base, *x265(2), out]]
    base += [*(["-x264-params", params] if params else []), "-b:v", str(kbps * 1000), "-passlogfile", passlog]
    return [[*base, "-pass", "1", "-f", "null", "-"], [*base, "-pass", "2", out]]


def run_peer(spec: Spec, src: str, out: str, kbps: int, scale: float, vf: str | None, params: str | None,
             tmp: str) -> dict:
    """Encode one peer at `kbps` whole kb/s with the clip's duration stretched by `scale` (1: none)."""
    rate = None if scale == 1.0 else (stream_rate(src) / Fraction(scale)).limit_denominator(1_000_000)
    passlog = os.path.join(tmp, f"{spec.codec[3:7]}_2pass")
    cmds = peer_commands(spec, src, out, kbps, rate, vf, params, passlog)
    t0 = time.perf_counter()
    for cmd in cmds:
        subprocess.run(cmd, check=True)
    shown = {ffmpeg_exe(): "ffmpeg", src: os.path.basename(src), out: f"out{spec.ext}"}  # as a user would type

    def line(cmd: list[str]) -> str:
        return " ".join(shown.get(a, a) for a in cmd).replace(passlog, os.path.basename(passlog))

    return {"kbps": kbps, "duration_scale": scale, "input_rate": None if rate is None else str(rate),
            "video_bytes": video_bytes(out), "wall_s": round(time.perf_counter() - t0, 2),
            "commands": [line(cmd) for cmd in cmds]}


def _secant(x0: float, y0: float, x1: float, y1: float, target: float) -> float:
    """x where the line through (x0, y0), (x1, y1) reaches target; proportional step if flat."""
    if y1 == y0:
        return x1 * target / y1
    return x1 + (target - y1) * (x1 - x0) / (y1 - y0)


def match_size(encode_at, start_kbps: int, target: int) -> list[dict]:
    """Re-encode until the video bytes are within TOL of `target`: first over whole kb/s (what -b:v gives
    x264), then, if no whole kb/s lands, by scaling the closest one's budget. Returns every try, last = kept."""
    def ok(t: dict) -> bool:
        return abs(t["video_bytes"] / target - 1) <= TOL

    tries = [encode_at(start_kbps, 1.0)]
    while not ok(tries[-1]) and len(tries) < 5:
        last, prev = tries[-1], tries[-2] if len(tries) > 1 else None
        guess = (last["kbps"] * target / last["video_bytes"] if prev is None else
                 _secant(prev["kbps"], prev["video_bytes"], last["kbps"], last["video_bytes"], target))
        k = max(1, round(guess))
        if k in {t["kbps"] for t in tries}:
            break  # whole kb/s bracket the target without landing in it
        tries.append(encode_at(k, 1.0))
    if ok(tries[-1]):
        return tries
    best = min(tries, key=lambda t: abs(t["video_bytes"] - target))
    pts = [(1.0, best["video_bytes"])]
    for _ in range(5):
        (s0, b0), (s1, b1) = (pts[-2] if len(pts) > 1 else (0.0, 0.0)), pts[-1]
        scale = round(_secant(s0, b0, s1, b1, target), 5)
        tries.append(encode_at(best["kbps"], scale))
        pts.append((scale, tries[-1]["video_bytes"]))
        if ok(tries[-1]):
            break
    return tries


def _eff(t: dict) -> float:
    """The effective rate of a try: whole kb/s times the budget trim."""
    return t["kbps"] * t["duration_scale"]


def _bisect_step(tries: list[dict], target: int) -> tuple[int, float] | None:
    """Next (kbps, scale) of the bisection: widen until the target is bracketed (a proportional step, at least
    1 kb/s), halve the whole kb/s bracket, then halve the budget trim between adjacent whole kb/s.
    None when the bracket is inverted (the rate control is not monotonic there) or exhausted."""
    below = [t for t in tries if t["video_bytes"] < target]
    above = [t for t in tries if t["video_bytes"] > target]
    if not below or not above:
        last = tries[-1]
        k = round(_eff(last) * target / last["video_bytes"])
        k = k if k != last["kbps"] else last["kbps"] + (1 if below else -1)
        return max(1, k), 1.0
    lo, hi = max(below, key=_eff), min(above, key=_eff)
    if _eff(lo) >= _eff(hi):
        return None
    if hi["kbps"] - lo["kbps"] >= 2:
        return (lo["kbps"] + hi["kbps"]) // 2, 1.0
    scale = round((_eff(lo) + _eff(hi)) / 2 / lo["kbps"], 5)
    return None if scale in (lo["duration_scale"], round(_eff(hi) / lo["kbps"], 5)) else (lo["kbps"], scale)


def match_bisect(encode_at, start_kbps: int, target: int, max_tries: int = 12) -> list[dict]:
    """One-pass rate control (VP9): bisect R until the video bytes are within TOL of `target`; where no try
    lands, the closest is encoded again so that it is the kept (last) one."""
    tries = [encode_at(start_kbps, 1.0)]
    while abs(tries[-1]["video_bytes"] / target - 1) > TOL and len(tries) < max_tries:
        step = _bisect_step(tries, target)
        if step is None:
            break
        tries.append(encode_at(*step))
    best = min(tries, key=lambda t: abs(t["video_bytes"] - target))
    if best is not tries[-1] and abs(tries[-1]["video_bytes"] / target - 1) > TOL:
        tries.append(encode_at(best["kbps"], best["duration_scale"]))
    return tries


def x264_sei(path: str) -> str | None:
    """x264's version and option string, from the SEI it writes into the stream."""
    with open(path, "rb") as f:
        data = f.read()
    i = data.find(b"x264 - core")
    return None if i < 0 else data[i:data.index(b"\x00", i)].decode("ascii", "replace")


def measure(src: str, out: str, faces) -> dict:
    q = compare(src, out, masks=faces.mask, vmaf=True).summary()
    return {"face_psnr_y": q["roi_psnr_y_global"], "face_psnr_y_frame_mean": q["roi_psnr_y_mean"],
            "background_psnr_y": q["bg_psnr_y_global"], "psnr_y": q["psnr_y_global"], "ssim_y": q["ssim_y_mean"],
            "vmaf": q["vmaf_mean"], "vmaf_p5": q["vmaf_p5"]}


def semcodec_points(spec: Spec, src: str, bitrate: int, tmp: str, faces) -> dict:
    points = {}
    for s in (0.0, *STRENGTHS):
        name = "semcodec off" if s == 0 else f"semcodec S={s:g}"
        out = os.path.join(tmp, f"semcodec_{s:g}{spec.ext}")
        settings = EncodeSettings(codec=spec.codec, bitrate=bitrate, two_pass=spec.two_pass, preset=spec.preset,
                                  roi="off" if s == 0 else "auto", roi_strength=s if s else DEFAULT_S)
        t0 = time.perf_counter()
        report = encode(src, out, settings, execution=Execution(audio=False))
        wall = round(time.perf_counter() - t0, 2)
        points[name] = {
            "family": "semcodec", "strength": s, "default": s == DEFAULT_S,
            "call": (f"semcodec.pipeline.encode(src, out, EncodeSettings(codec={spec.codec!r}, bitrate={bitrate}, "
                     f"two_pass={spec.two_pass}, preset={spec.preset!r}, roi={settings.roi!r}, "
                     f"roi_strength={settings.roi_strength}), execution=Execution(audio=False))"),
            "kbps": bitrate // 1000, "video_bytes": video_bytes(out), "report_video_bytes":
                report["output"]["video_bytes"], "duration_s": report["output"]["duration_s"],
            "rate_control": report["settings"]["rate_control"], "wall_s": wall, "roi": report["roi"],
            "warnings": report["warnings"], **_sei(spec, out), **measure(src, out, faces)}
        print(f"  {name:22} {points[name]['video_bytes']:>8,} B  face {points[name]['face_psnr_y']:.2f}  "
              f"VMAF {points[name]['vmaf']:.2f}  ({wall:.0f} s)", file=sys.stderr)
    return points


def _sei(spec: Spec, out: str) -> dict:
    return {"x264": x264_sei(out)} if spec.codec == "libx264" else {}


def peer_points(spec: Spec, src: str, bitrate: int, target: int, tmp: str, faces) -> dict:
    rects = person_rects(os.path.basename(src))
    points = {}
    for key in spec.peers:
        name, qoffset, params = PEERS[key]
        vf = addroi_chain(rects, qoffset) if qoffset is not None else None
        out = os.path.join(tmp, f"peer_{key}{spec.ext}")

        def encode_at(kbps: int, scale: float, vf=vf, params=params, out=out) -> dict:
            return run_peer(spec, src, out, kbps, scale, vf, params, tmp)

        match = match_size if spec.two_pass else match_bisect
        tries = match(encode_at, bitrate // 1000, target)
        kept = tries[-1]
        points[name] = {
            "family": "ffmpeg addroi" if key != "aq3" else "ffmpeg aq-mode 3",
            "qoffset": 0.0 if key == "plain" else qoffset, "vf": vf, "x264_params": params,
            "rects": rects if vf else None, "kbps": kept["kbps"], "duration_scale": kept["duration_scale"],
            "input_rate": kept["input_rate"], "video_bytes": kept["video_bytes"],
            "within_tolerance": abs(kept["video_bytes"] / target - 1) <= TOL, "commands": kept["commands"],
            "size_search": [{k: t[k] for k in ("kbps", "duration_scale", "video_bytes", "wall_s")} for t in tries],
            "wall_s": kept["wall_s"], **_sei(spec, out), **measure(src, out, faces)}
        p = points[name]
        print(f"  {name:22} {p['video_bytes']:>8,} B  face {p['face_psnr_y']:.2f}  VMAF {p['vmaf']:.2f}  "
              f"({len(tries)} tries: {[(t['kbps'], t['duration_scale']) for t in tries]})", file=sys.stderr)
    return points


def plain_jitter(spec: Spec, src: str, plain: dict, tmp: str, faces) -> list[dict]:
    """Stock encoder again at budgets JITTER apart from its matched point: how much face PSNR and VMAF move
    for a size change far inside the tolerance (x264's two-pass decisions are not smooth in the budget)."""
    out, tries = os.path.join(tmp, f"plain_jitter{spec.ext}"), []
    for f in JITTER:
        scale = round(plain["duration_scale"] * f, 5)
        t = run_peer(spec, src, out, plain["kbps"], scale, None, None, tmp)
        tries.append({"kbps": t["kbps"], "duration_scale": scale, "video_bytes": t["video_bytes"],
                      **measure(src, out, faces)})
    return tries


def vmaf_at_face(points: dict, names: list[str], face: float) -> dict:
    """VMAF of a family at face PSNR `face`: linear between the first consecutive pair (in sweep order)
    whose face PSNRs bracket it; None where the sweep does not reach it."""
    pts = [(n, points[n]["face_psnr_y"], points[n]["vmaf"]) for n in names]
    for n, f, v in pts:
        if abs(f - face) < 1e-9:
            return {"vmaf": v, "between": [n]}
    for (n0, f0, v0), (n1, f1, v1) in zip(pts, pts[1:]):
        if min(f0, f1) <= face <= max(f0, f1):
            return {"vmaf": v0 + (face - f0) / (f1 - f0) * (v1 - v0), "between": [n0, n1]}
    return {"vmaf": None, "between": [], "face_range": [min(p[1] for p in pts), max(p[1] for p in pts)]}


def summarise(entry: dict) -> None:
    """Deltas vs stock plain, bytes vs semcodec's default, VMAF at the default's face PSNR."""
    pts = entry["points"]
    plain, default = pts["ffmpeg plain"], pts[f"semcodec S={DEFAULT_S:g}"]
    for p in pts.values():
        p["bytes_vs_default_pct"] = 100 * (p["video_bytes"] / default["video_bytes"] - 1)
        p["vs_plain"] = {"face_psnr_db": p["face_psnr_y"] - plain["face_psnr_y"], "vmaf": p["vmaf"] - plain["vmaf"],
                         "psnr_db": p["psnr_y"] - plain["psnr_y"]}
    face = default["face_psnr_y"]
    entry["vmaf_at_default_face_psnr"] = {"face_psnr_y": face, **{
        fam: vmaf_at_face(pts, names, face) for fam, names in FAMILIES.items() if all(n in pts for n in names)}}


def run_clip(spec: Spec, key: str, tmp: str) -> dict:
    name, rates = CLIPS[key]
    bitrate = rates[spec.rate_of]
    src = os.path.join(VIDEOS, name)
    faces = load_face_tracks(BOXES, name)
    print(f"{key} at {bitrate // 1000} kb/s", file=sys.stderr)
    t0 = time.perf_counter()
    points = semcodec_points(spec, src, bitrate, tmp, faces)
    target = points[f"semcodec S={DEFAULT_S:g}"]["video_bytes"]
    points.update(peer_points(spec, src, bitrate, target, tmp, faces))
    jitter = plain_jitter(spec, src, points["ffmpeg plain"], tmp, faces)
    entry = {"file": name, "bitrate": bitrate, "target_video_bytes": target, "tolerance": TOL,
             "points": points, "plain_jitter": jitter, "wall_s": round(time.perf_counter() - t0, 1)}
    summarise(entry)
    return entry


def versions() -> dict:
    import imageio_ffmpeg
    import matplotlib

    import semcodec

    ff = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True, check=False).stdout
    pkg = os.path.dirname(os.path.abspath(semcodec.__file__))  # the semcodec that ran, and its checkout's state
    git = subprocess.run(["git", "-C", pkg, "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "-C", pkg, "status", "--porcelain", "--", "."],
                           capture_output=True, text=True, check=False).stdout.strip()
    return {"semcodec": SEMCODEC_VERSION, "semcodec_path": pkg, "git_head": git.stdout.strip() or None,
            "semcodec_uncommitted_changes": dirty.splitlines(),
            "pyav": av.__version__, "pyav_ffmpeg": getattr(av, "ffmpeg_version_info", None),
            "imageio_ffmpeg": imageio_ffmpeg.__version__, "ffmpeg_cli": ff.splitlines()[0] if ff else None,
            "ffmpeg_cli_path": ffmpeg_exe(), "matplotlib": matplotlib.__version__, "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores"}


def _fmt(v, spec: str, none: str = "n/a") -> str:
    return none if v is None else format(v, spec)


def markdown(results: dict) -> str:
    lines = ["# semcodec ROI vs FFmpeg peers at equal size (issue 12)", "",
             f"Two-pass {results['codec']}, preset {results['preset']}, no audio. Peers: the `ffmpeg` CLI of "
             "imageio-ffmpeg "
             f"({results['versions']['ffmpeg_cli']}) run as a user would, each re-encoded until its video bytes "
             f"are within {100 * TOL:g} % of semcodec's default point (S={DEFAULT_S:g}); semcodec's other points "
             "are at the same target bitrate, not re-matched. addroi: one static rectangle per person (the union "
             "of that person's face boxes over the clip), chained `addroi` filters. Face PSNR-Y: PSNR of the mean "
             "MSE inside the hand-checked face boxes of benchmarks/face_boxes.json; PSNR-Y and VMAF (vmaf_v0.6.1, "
             "mean) over the whole frame; all from semcodec.metrics.compare. Deltas are against `ffmpeg plain`.",
             "", "**In-sample:** all clips are the shared clips in ../shared/videos (the project tunes nothing on "
             "them on purpose, but they are the clips it is developed against).", "",
             "FFmpeg gives x264 its rate in whole kb/s; a peer whose `rate` shows `x` followed by a factor was "
             "trimmed by scaling the input frame rate (`-r` before `-i`: same frames, x264's budget scales by "
             f"the factor). Generated by `benchmarks/roi_peers.py` with semcodec at commit "
             f"{str(results['versions']['git_head'])[:10]}"
             f"{' plus uncommitted changes' if results['versions']['semcodec_uncommitted_changes'] else ''}.", "",
             "| clip | point | rate | video bytes | vs semcodec default | face PSNR-Y | VMAF | PSNR-Y "
             "| face vs plain | VMAF vs plain |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines += point_rows(results)
    lines += ["", "VMAF at semcodec's default face PSNR (each family interpolated linearly along its sweep "
              "where the sweep brackets it; semcodec: off, 0.1, 0.2, 0.3; addroi: plain = qoffset 0, -0.1, -0.2; "
              "aq-mode 3 is one point):", "", "| clip | face PSNR-Y | semcodec | ffmpeg addroi | ffmpeg aq-mode 3 |",
              "|---|---:|---:|---:|---:|"]
    for key, e in results["clips"].items():
        v = e["vmaf_at_default_face_psnr"]
        cells = [_fmt(v[f]["vmaf"], ".2f", "not bracketed") for f in FAMILIES]
        lines.append(f"| {key} | {v['face_psnr_y']:.2f} | " + " | ".join(cells) + " |")
    lines += ["", "Noise: stock x264 re-encoded at its matched rate with the budget "
              f"x{' and x'.join(f'{f:g}' for f in JITTER)} (sizes well inside the tolerance). Differences "
              "smaller than these ranges are within x264's own rate-control jitter:", "",
              "| clip | video bytes | face PSNR-Y | VMAF |", "|---|---|---|---|"]
    lines += jitter_rows(results)
    return "\n".join(lines) + "\n"


def point_rows(results: dict) -> list[str]:
    rows = []
    for key, e in results["clips"].items():
        for name, p in e["points"].items():
            rate = f"{p['kbps']}k" + ("" if p.get("duration_scale", 1.0) == 1.0 else f" x{p['duration_scale']:g}")
            d = p["vs_plain"]
            label = name + (" (default)" if p.get("default") else "")
            rows.append(f"| {key} | {label} | {rate} | {p['video_bytes']:,} | {p['bytes_vs_default_pct']:+.2f} % "
                        f"| {p['face_psnr_y']:.2f} | {p['vmaf']:.2f} | {p['psnr_y']:.2f} "
                        f"| {d['face_psnr_db']:+.2f} dB | {d['vmaf']:+.2f} |")
    return rows


def jitter_rows(results: dict) -> list[str]:
    rows = []
    for key, e in results["clips"].items():
        runs = [e["points"]["ffmpeg plain"], *e["plain_jitter"]]
        cols = [[r[k] for r in runs] for k in ("video_bytes", "face_psnr_y", "vmaf")]
        rows.append(f"| {key} | {min(cols[0]):,} .. {max(cols[0]):,} | {min(cols[1]):.2f} .. {max(cols[1]):.2f} "
                    f"| {min(cols[2]):.2f} .. {max(cols[2]):.2f} |")
    return rows


def _x264_results(folder: str) -> dict | None:
    path = os.path.join(folder, "roi_peers.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _gains(entry: dict) -> dict:
    """Face PSNR gain of semcodec's default point over stock plain (equal size) and over semcodec off."""
    pts = entry["points"]
    d = pts[f"semcodec S={DEFAULT_S:g}"]["face_psnr_y"]
    return {"vs_plain": d - pts["ffmpeg plain"]["face_psnr_y"], "vs_off": d - pts["semcodec off"]["face_psnr_y"]}


def question_rows(results: dict, x264: dict | None) -> list[str]:
    """Per clip: the face PSNR and VMAF along the sweep, whether the face PSNR rises strictly with the
    strength, and the default's face gain against x264's (roi_peers.json) at equal size."""
    rows = []
    for key, e in results["clips"].items():
        sweep = [e["points"][n] for n in FAMILIES["semcodec"]]
        faces, vmafs = [p["face_psnr_y"] for p in sweep], [p["vmaf"] for p in sweep]
        mono = all(b > a for a, b in zip(faces, faces[1:]))
        g = _gains(e)
        ref = _gains(x264["clips"][key]) if x264 and key in x264.get("clips", {}) else None
        kept = {k: (None if not ref or ref[k] <= 0 else g[k] / ref[k]) for k in g}
        e["question"] = {"face_monotonic": mono, "gains_db": g, "x264_gains_db": ref, "kept_of_x264": kept,
                         "kept_at_least": X264_GAIN_KEPT}
        verdict = "n/a" if kept["vs_plain"] is None else ("yes" if kept["vs_plain"] >= X264_GAIN_KEPT else "no")
        rows.append(f"| {key} | {' / '.join(f'{f:.2f}' for f in faces)} | {'yes' if mono else 'no'} "
                    f"| {' / '.join(f'{v:.2f}' for v in vmafs)} | {g['vs_plain']:+.2f} dB "
                    f"| {_fmt(ref and ref['vs_plain'], '+.2f')} dB | {_fmt(kept['vs_plain'], '.0%')} | {verdict} "
                    f"| {g['vs_off']:+.2f} dB | {_fmt(ref and ref['vs_off'], '+.2f')} dB "
                    f"| {_fmt(kept['vs_off'], '.0%')} |")
    return rows


def markdown_codec(results: dict, x264: dict | None) -> str:
    """roi_peers_<codec>.md: the sweep against stock plain, and the answer to the x264 comparison."""
    two = results["rate_control"] == "two-pass"
    how = ("two-pass, preset medium, stock `-x265-params pass=N:stats=...`" if two else
           "one pass at a target bitrate (semcodec's bitrate mode; realtime, cpu-used 6) against stock `-deadline "
           "realtime -cpu-used 6 -b:v R`, R bisected over whole kb/s and then the input-frame-rate budget trim")
    v = results["versions"]
    lines = [f"# semcodec ROI strength sweep vs stock {results['codec']} at equal size", "",
             f"{results['codec']}, {how}; no audio. `ffmpeg plain` is the `ffmpeg` CLI of imageio-ffmpeg "
             f"({v['ffmpeg_cli']}) re-encoded until its video bytes are within {100 * TOL:g} % of semcodec's "
             f"default point (S={DEFAULT_S:g}); semcodec's other points are at the same target bitrate, not "
             "re-matched. Face PSNR-Y inside the hand-checked boxes of benchmarks/face_boxes.json, whole-frame "
             "VMAF (vmaf_v0.6.1) and PSNR-Y, from semcodec.metrics.compare. In-sample (the shared clips). "
             f"Generated by `benchmarks/roi_peers.py --codec {results['codec']}` with semcodec at commit "
             f"{str(v['git_head'])[:10]}{' plus uncommitted changes' if v['semcodec_uncommitted_changes'] else ''}.",
             "", "| clip | point | rate | video bytes | vs semcodec default | face PSNR-Y | VMAF | PSNR-Y "
             "| face vs plain | VMAF vs plain |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines += point_rows(results)
    lines += ["", f"Does the map act monotonically in the strength, and does the default keep at least "
              f"{X264_GAIN_KEPT:.0%} of x264's face gain (benchmarks/results/roi_peers.json, "
              f"{'missing' if x264 is None else 'commit ' + str(x264['versions']['git_head'])[:10]})? Face PSNR-Y "
              "and VMAF along off / 0.1 / 0.2 / 0.3; gains of the default point:", "",
              "| clip | face PSNR-Y sweep | rises strictly | VMAF sweep | gain vs plain | x264's | kept "
              f"| >= {X264_GAIN_KEPT:.0%} | gain vs off | x264's | kept |",
              "|---|---|---|---|---:|---:|---:|---|---:|---:|---:|"]
    lines += question_rows(results, x264)
    if not two:
        lines += ["", "Rate: each semcodec point's video bytes against its target (bitrate x duration / 8). "
                  "`--roi off` is libvpx's one-pass ABR; with a map semcodec encodes at the constant quality that "
                  "spends the target, fitted with probe encodes (semcodec.pipeline.ratetarget). Where libvpx's "
                  "per-frame segmentation would cost more than 6 % of a frame's budget, semcodec attaches no map "
                  "(its points are then the --roi off encode, stock libvpx's options):", "",
                  "| clip | target bytes | off | S=0.1 | S=0.2 | S=0.3 | rate control at S=0.2 |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        lines += rate_rows(results)
    lines += ["", f"Noise: stock {results['codec']} re-encoded at its matched rate with the budget "
              f"x{' and x'.join(f'{f:g}' for f in JITTER)}:", "", "| clip | video bytes | face PSNR-Y | VMAF |",
              "|---|---|---|---|"]
    lines += jitter_rows(results)
    return "\n".join(lines) + "\n"


def rate_rows(results: dict) -> list[str]:
    rows = []
    for key, e in results["clips"].items():
        pts = [e["points"][n] for n in FAMILIES["semcodec"]]
        if any("duration_s" not in p for p in pts):
            continue
        target = e["bitrate"] / 8 * pts[0]["duration_s"]
        cells = [f"{100 * (p['video_bytes'] / target - 1):+.1f} %" for p in pts]
        status = pts[2].get("roi", {}).get("status", "on")
        why = "" if status == "on" else f"; no map: {status}"  # refused up front (semcodec.pipeline.job)
        rows.append(f"| {key} | {target:,.0f} | " + " | ".join(cells) + f" | {pts[2].get('rate_control', '')}{why} |")
    return rows


def plot(key: str, entry: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = entry["points"]
    fig, ax = plt.subplots(figsize=(7, 5))
    for (fam, names), style, dy in zip(FAMILIES.items(), ("o-", "s--", "^"), (4, -11, 4)):
        xs, ys = [pts[n]["face_psnr_y"] for n in names], [pts[n]["vmaf"] for n in names]
        ax.plot(xs, ys, style, label=fam, markersize=7)
        for n, x, y in zip(names, xs, ys):
            ax.annotate(n.replace("semcodec ", "").replace("ffmpeg ", ""), (x, y), textcoords="offset points",
                        xytext=(5, dy), fontsize=8)
    jit = entry.get("plain_jitter", [])
    ax.plot([j["face_psnr_y"] for j in jit], [j["vmaf"] for j in jit], ".", color="grey",
            label="plain, budget x" + "/".join(f"{f:g}" for f in JITTER) + " (noise)")
    d = pts[f"semcodec S={DEFAULT_S:g}"]
    ax.plot([d["face_psnr_y"]], [d["vmaf"]], "*", color="black", markersize=14, label="semcodec default")
    ax.axvline(d["face_psnr_y"], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("face PSNR-Y (dB, hand-checked boxes)")
    ax.set_ylabel("whole-frame VMAF")
    ax.set_title(f"{key}: two-pass x264 medium, ~{entry['target_video_bytes']:,} video bytes")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--codec", default="libx264", choices=list(SPECS))
    ap.add_argument("--clips", default=",".join(CLIPS), help="comma list of %(default)s")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args(argv)
    spec = SPECS[args.codec]
    clips = [c for c in args.clips.split(",") if c]
    unknown = [c for c in clips if c not in CLIPS]
    if unknown:
        ap.error(f"unknown clips {unknown}; choose from {', '.join(CLIPS)}")
    if not os.path.isdir(VIDEOS) or not all(os.path.exists(os.path.join(VIDEOS, CLIPS[c][0])) for c in clips):
        print(f"skipped: clips not found in {VIDEOS}", file=sys.stderr)
        return 0
    t0 = time.perf_counter()
    results = {"schema": "semcodec.bench.roi_peers/1", "codec": spec.codec, "preset": spec.preset,
               "rate_control": "two-pass" if spec.two_pass else "one-pass bitrate", "tolerance": TOL,
               "default_strength": DEFAULT_S, "versions": versions(), "clips": {}}
    with tempfile.TemporaryDirectory(prefix="semcodec-roi-peers-") as tmp:
        for key in clips:
            results["clips"][key] = run_clip(spec, key, tmp)
    results["wall_s"] = round(time.perf_counter() - t0, 1)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"{spec.stem}.json"), "w") as f:
        json.dump(results, f, indent=1)
    text = markdown(results) if spec.codec == "libx264" else markdown_codec(results, _x264_results(args.out))
    with open(os.path.join(args.out, f"{spec.stem}.md"), "w") as f:
        f.write(text)
    if spec.codec == "libx264":
        for key, entry in results["clips"].items():
            plot(key, entry, os.path.join(args.out, f"roi_peers_{key}.png"))
    print(text)
    print(f"wall time {results['wall_s']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

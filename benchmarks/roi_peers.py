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

    python benchmarks/roi_peers.py [--clips akiyo,carphone,his_girl_friday] [--out benchmarks/results]

Writes roi_peers.json, roi_peers.md and roi_peers_<clip>.png. Skips cleanly when ../shared/videos is absent.
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
CODEC, PRESET = "libx264", "medium"
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


def peer_commands(src: str, out: str, kbps: int, rate: Fraction | None, vf: str | None, params: str | None,
                  passlog: str) -> list[list[str]]:
    """The two `ffmpeg` passes of one peer encode. `rate`: input frame rate override (budget trim)."""
    head = [ffmpeg_exe(), "-nostdin", "-y", "-v", "error"]
    head += ["-r", f"{rate.numerator}/{rate.denominator}"] if rate is not None else []
    base = [*head, "-i", src, "-an", "-sn", *(["-vf", vf] if vf else []), "-c:v", CODEC, "-preset", PRESET,
            *(["-x264-params", params] if params else []), "-b:v", str(kbps * 1000), "-passlogfile", passlog]
    return [[*base, "-pass", "1", "-f", "null", "-"], [*base, "-pass", "2", out]]


def run_peer(src: str, out: str, kbps: int, scale: float, vf: str | None, params: str | None,
             tmp: str) -> dict:
    """Encode one peer at `kbps` whole kb/s with the clip's duration stretched by `scale` (1: none)."""
    rate = None if scale == 1.0 else (stream_rate(src) / Fraction(scale)).limit_denominator(1_000_000)
    cmds = peer_commands(src, out, kbps, rate, vf, params, os.path.join(tmp, "x264_2pass"))
    t0 = time.perf_counter()
    for cmd in cmds:
        subprocess.run(cmd, check=True)
    shown = {ffmpeg_exe(): "ffmpeg", src: os.path.basename(src), out: "out.mp4", os.path.join(tmp, "x264_2pass"):
             "x264_2pass"}  # the commands as a user would type them
    return {"kbps": kbps, "duration_scale": scale, "input_rate": None if rate is None else str(rate),
            "video_bytes": video_bytes(out), "wall_s": round(time.perf_counter() - t0, 2),
            "commands": [" ".join(shown.get(a, a) for a in cmd) for cmd in cmds]}


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


def semcodec_points(src: str, bitrate: int, tmp: str, faces) -> dict:
    points = {}
    for s in (0.0, *STRENGTHS):
        name = "semcodec off" if s == 0 else f"semcodec S={s:g}"
        out = os.path.join(tmp, f"semcodec_{s:g}.mp4")
        settings = EncodeSettings(codec=CODEC, bitrate=bitrate, two_pass=True, preset=PRESET,
                                  roi="off" if s == 0 else "auto", roi_strength=s if s else DEFAULT_S)
        t0 = time.perf_counter()
        report = encode(src, out, settings, execution=Execution(audio=False))
        wall = round(time.perf_counter() - t0, 2)
        points[name] = {
            "family": "semcodec", "strength": s, "default": s == DEFAULT_S,
            "call": (f"semcodec.pipeline.encode(src, out, EncodeSettings(codec={CODEC!r}, bitrate={bitrate}, "
                     f"two_pass=True, preset={PRESET!r}, roi={settings.roi!r}, roi_strength={settings.roi_strength})"
                     ", execution=Execution(audio=False))"),
            "kbps": bitrate // 1000, "video_bytes": video_bytes(out), "report_video_bytes":
                report["output"]["video_bytes"], "wall_s": wall, "roi": report["roi"],
            "warnings": report["warnings"], "x264": x264_sei(out), **measure(src, out, faces)}
        print(f"  {name:22} {points[name]['video_bytes']:>8,} B  face {points[name]['face_psnr_y']:.2f}  "
              f"VMAF {points[name]['vmaf']:.2f}  ({wall:.0f} s)", file=sys.stderr)
    return points


def peer_points(src: str, bitrate: int, target: int, tmp: str, faces) -> dict:
    rects = person_rects(os.path.basename(src))
    points = {}
    for key, (name, qoffset, params) in PEERS.items():
        vf = addroi_chain(rects, qoffset) if qoffset is not None else None
        out = os.path.join(tmp, f"peer_{key}.mp4")

        def encode_at(kbps: int, scale: float, vf=vf, params=params, out=out) -> dict:
            return run_peer(src, out, kbps, scale, vf, params, tmp)

        tries = match_size(encode_at, bitrate // 1000, target)
        kept = tries[-1]
        points[name] = {
            "family": "ffmpeg addroi" if key != "aq3" else "ffmpeg aq-mode 3",
            "qoffset": 0.0 if key == "plain" else qoffset, "vf": vf, "x264_params": params,
            "rects": rects if vf else None, "kbps": kept["kbps"], "duration_scale": kept["duration_scale"],
            "input_rate": kept["input_rate"], "video_bytes": kept["video_bytes"],
            "within_tolerance": abs(kept["video_bytes"] / target - 1) <= TOL, "commands": kept["commands"],
            "size_search": [{k: t[k] for k in ("kbps", "duration_scale", "video_bytes", "wall_s")} for t in tries],
            "wall_s": kept["wall_s"], "x264": x264_sei(out), **measure(src, out, faces)}
        p = points[name]
        print(f"  {name:22} {p['video_bytes']:>8,} B  face {p['face_psnr_y']:.2f}  VMAF {p['vmaf']:.2f}  "
              f"({len(tries)} tries: {[(t['kbps'], t['duration_scale']) for t in tries]})", file=sys.stderr)
    return points


def plain_jitter(src: str, plain: dict, tmp: str, faces) -> list[dict]:
    """Stock x264 again at budgets JITTER apart from its matched point: how much face PSNR and VMAF move
    for a size change far inside the tolerance (x264's two-pass decisions are not smooth in the budget)."""
    out, tries = os.path.join(tmp, "plain_jitter.mp4"), []
    for f in JITTER:
        scale = round(plain["duration_scale"] * f, 5)
        t = run_peer(src, out, plain["kbps"], scale, None, None, tmp)
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
        fam: vmaf_at_face(pts, names, face) for fam, names in FAMILIES.items()}}


def run_clip(key: str, tmp: str) -> dict:
    name, rates = CLIPS[key]
    bitrate = rates[CODEC]
    src = os.path.join(VIDEOS, name)
    faces = load_face_tracks(BOXES, name)
    print(f"{key} at {bitrate // 1000} kb/s", file=sys.stderr)
    t0 = time.perf_counter()
    points = semcodec_points(src, bitrate, tmp, faces)
    target = points[f"semcodec S={DEFAULT_S:g}"]["video_bytes"]
    points.update(peer_points(src, bitrate, target, tmp, faces))
    jitter = plain_jitter(src, points["ffmpeg plain"], tmp, faces)
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
             f"Two-pass {CODEC}, preset {PRESET}, no audio. Peers: the `ffmpeg` CLI of imageio-ffmpeg "
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
    for key, e in results["clips"].items():
        for name, p in e["points"].items():
            rate = f"{p['kbps']}k" + ("" if p.get("duration_scale", 1.0) == 1.0 else f" x{p['duration_scale']:g}")
            d = p["vs_plain"]
            label = name + (" (default)" if p.get("default") else "")
            lines.append(f"| {key} | {label} | {rate} | {p['video_bytes']:,} | {p['bytes_vs_default_pct']:+.2f} % "
                         f"| {p['face_psnr_y']:.2f} | {p['vmaf']:.2f} | {p['psnr_y']:.2f} "
                         f"| {d['face_psnr_db']:+.2f} dB | {d['vmaf']:+.2f} |")
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
    for key, e in results["clips"].items():
        runs = [e["points"]["ffmpeg plain"], *e["plain_jitter"]]
        cols = [[r[k] for r in runs] for k in ("video_bytes", "face_psnr_y", "vmaf")]
        lines.append(f"| {key} | {min(cols[0]):,} .. {max(cols[0]):,} | {min(cols[1]):.2f} .. {max(cols[1]):.2f} "
                     f"| {min(cols[2]):.2f} .. {max(cols[2]):.2f} |")
    return "\n".join(lines) + "\n"


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
    ap.add_argument("--clips", default=",".join(CLIPS), help="comma list of %(default)s")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args(argv)
    clips = [c for c in args.clips.split(",") if c]
    unknown = [c for c in clips if c not in CLIPS]
    if unknown:
        ap.error(f"unknown clips {unknown}; choose from {', '.join(CLIPS)}")
    if not os.path.isdir(VIDEOS) or not all(os.path.exists(os.path.join(VIDEOS, CLIPS[c][0])) for c in clips):
        print(f"skipped: clips not found in {VIDEOS}", file=sys.stderr)
        return 0
    t0 = time.perf_counter()
    results = {"schema": "semcodec.bench.roi_peers/1", "codec": CODEC, "preset": PRESET, "rate_control": "two-pass",
               "tolerance": TOL, "default_strength": DEFAULT_S, "versions": versions(), "clips": {}}
    with tempfile.TemporaryDirectory(prefix="semcodec-roi-peers-") as tmp:
        for key in clips:
            results["clips"][key] = run_clip(key, tmp)
    results["wall_s"] = round(time.perf_counter() - t0, 1)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "roi_peers.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(args.out, "roi_peers.md"), "w") as f:
        f.write(markdown(results))
    for key, entry in results["clips"].items():
        plot(key, entry, os.path.join(args.out, f"roi_peers_{key}.png"))
    print(markdown(results))
    print(f"wall time {results['wall_s']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

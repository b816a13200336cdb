"""Regenerate the README's results section from the committed JSON in benchmarks/results/.

    python benchmarks/update_readme.py

Nothing in that section is typed by hand: every number comes from a results file, and the section
names the command that produced it.
"""
from __future__ import annotations

import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(os.path.dirname(HERE), "README.md")
RESULTS = os.path.join(HERE, "results")


def _load(name: str) -> dict | None:
    path = os.path.join(RESULTS, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def roi_table(res: dict) -> list[str]:
    lines = [f"**ROI vs plain {res['codec']}**, two-pass at the same target bitrate, preset {res['preset']}, "
             f"default AQ; face PSNR inside hand-checked boxes (`benchmarks/face_boxes.json`), VMAF from libvmaf "
             f"(`python benchmarks/roi_vs_x264.py --codec {res['codec']}`):", "",
             "| clip | mode | strength | video kb/s | face PSNR-Y | background PSNR-Y | VMAF | size vs plain | "
             "face PSNR gain | VMAF change |", "|---|---|---|---|---|---|---|---|---|---|"]
    for key, e in res["clips"].items():
        for mode, m in e["modes"].items():
            d = m.get("vs_off", {})
            name = "plain (--roi off)" if mode == "off" else mode.split("@")[0]
            lines.append(
                f"| {key} | {name} | {m['roi_strength']:g} | {m['video_kbps']:.1f} | {m['face_psnr_y']:.2f} | "
                f"{m['background_psnr_y']:.2f} | {m['vmaf']:.2f} | {d.get('bytes_pct', 0):+.1f}% | "
                f"{d.get('face_psnr_db', 0):+.2f} dB | {d.get('vmaf', 0):+.2f} |")
    return lines + [""]


def speed_table(res: dict) -> list[str]:
    if not res.get("sizes"):  # schema 1: one clip, ROI auto against off
        return [
            f"**Speed**, {res['clip']} ({res['frames']} frames), {res['codec']} preset {res['preset']} CRF "
            f"{res['crf']:g}, best of {len(res['wall_s']['off'])} interleaved runs on {res['machine']} "
            f"(`python benchmarks/speed.py`):", "",
            "| mode | wall s | fps |", "|---|---|---|",
            f"| plain (--roi off) | {res['best_s']['off']} | {res['fps']['off']} |",
            f"| semantic ROI (auto) | {res['best_s']['auto']} | {res['fps']['auto']} |",
            "", f"Ratio ROI / plain: **{res['ratio_auto_over_off']}x** (analysis runs on a worker thread, "
                f"{res['analysis_s']} s of it in total).", ""] + _asm_line(res)
    load = res.get("load_average") or {}
    lines = [f"**Speed**, {res['codec']} preset {res['preset']} CRF {res['crf']:g}, best of "
             f"{len(res['wall_s']['off'])} interleaved runs per mode on {res['machine']}"
             + (f" (load average {load['start'][0]} at the start, {load['end'][0]} at the end)" if load else "")
             + "; wall-time ratio of ROI auto to --roi off by --crf-rate: 'extra' (no rate balance: the file "
             "grows), 'model' (the allocator's balance, no probe encodes) and 'neutral' (the default, with probe "
             "encodes) (`python benchmarks/speed.py`):", "",
             "| size | clip | frames | analysis at | strides faces / people / text | off s | extra | model | neutral "
             "| of which probes s | CPU ratio extra / model / neutral |", "|---" * 11 + "|"]
    for r in res["sizes"]:
        ratio = [r.get(f"ratio_auto{m}_over_off") for m in ("_extra", "_model", "")]
        cpu = [r.get(f"cpu_ratio_auto{m}_over_off") for m in ("_extra", "_model", "")]
        strides = (r.get("schedule") or {}).get("strides") or {}
        lines.append(f"| {r['size']} ({r['resolution']}) | {r['clip']}{' (upscaled)' if r.get('note') else ''} | "
                     f"{r['frames']} | {'x'.join(map(str, r['analysis_size'] or []))} | "
                     + " / ".join(str(strides.get(n, "-")) for n in ("faces", "people", "text"))
                     + f" | {r['best_s']['off']} | "
                     + " | ".join(f"**{x}x**" if x is not None else "n/a" for x in ratio)
                     + f" | {r.get('rate_fit_s', 'n/a')} | "
                     + " / ".join(str(x) if x is not None else "n/a" for x in cpu) + " |")
    notes = [f"{r['size']}: {r['note']}" for r in res["sizes"] if r.get("note")]
    return lines + [""] + [f"{note}." for note in notes] + ([""] if notes else []) + _asm_line(res)


def _asm_line(res: dict) -> list[str]:
    cost = res.get("x264_asm_cost")
    if not cost:
        return []
    return [f"The deterministic x264 instruction list (no AVX-512) against x264's own detection, plain encodes: "
            f"{cost['best_s']['asm_list']} s vs {cost['best_s']['x264_auto']} s, **{cost['ratio']}x**.", ""]


def bd_table(res: dict) -> list[str]:
    st = res["settings"]
    metrics = {"roi_psnr_y_mean": "face-region PSNR-Y", "vmaf_mean": "VMAF", "psnr_y_mean": "PSNR-Y",
               "xpsnr_y_mean": "XPSNR-Y", "wpsnr_y_mean": "importance-weighted PSNR-Y"}
    rows = {}
    for b in res["bd"]:
        if b["anchor"] == st["reference_mode"] and b["metric"] in metrics:
            rows.setdefault(b["clip"], {})[b["metric"]] = b
    head = " | ".join(metrics.values())
    lines = [f"**BD-rate of ROI vs plain {st['codec']}** (two-pass, preset {st['preset']}, four rates per clip, "
             f"PCHIP interpolation, negative = fewer bits for the same quality; "
             f"`python benchmarks/standard.py --codec {st['codec']}`, full report in "
             f"`benchmarks/results/{'standard' if st['codec'] == 'libx264' else 'standard_' + st['codec']}"
             "/report.html`):",
             "",
             f"| clip | {head} |", "|---|" + "---|" * len(metrics)]
    for clip, r in rows.items():
        cells = []
        for m in metrics:
            b = r.get(m)
            cells.append("n/a" if not b or b["bd_rate_pct"] is None else f"{b['bd_rate_pct']:+.1f}%")
        lines.append(f"| {clip.rsplit('.', 1)[0]} | " + " | ".join(cells) + " |")
    return lines + [""]


def markdown_file(name: str) -> list[str]:
    path = os.path.join(RESULTS, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = f.read().strip().splitlines()
    # a results file's own title becomes bold text: the README keeps one heading level here
    return [f"**{ln.lstrip('#').strip()}**" if ln.startswith("#") else ln for ln in lines] + [""]


def render() -> str:
    parts = markdown_file("parity.md")  # the baseline every other number rests on comes first
    parts += markdown_file("determinism.md")
    for name in ("roi_vs_libx264.json", "roi_vs_libx265.json"):
        res = _load(name)
        if res:
            parts += roi_table(res)
    parts += markdown_file("crf_rate.md")
    parts += markdown_file("target_quality.md")
    parts += markdown_file("roi_peers.md")
    parts += markdown_file("roi_peers_libx265.md")
    parts += markdown_file("roi_peers_libvpx-vp9.md")
    parts += markdown_file("roi_readback.md")
    parts += markdown_file("roi_x265.md")
    speed = _load("speed.json")
    if speed:
        parts += speed_table(speed)
    parts += markdown_file("chunk_joins.md")
    for folder in ("standard", "standard_libx265"):
        standard = _load(os.path.join(folder, "results.json"))
        if standard:
            parts += bd_table(standard)
    parts += markdown_file("media_matrix.md")
    parts += markdown_file("shots.md")
    parts += markdown_file("scenes.md")
    parts += markdown_file("people_roi.md")
    parts += markdown_file("text_detect.md")
    parts += markdown_file("analyzer_speed.md")
    if not parts:
        parts = ["Run `make bench` to produce benchmarks/results/ and regenerate this section.", ""]
    return "\n".join(["<!-- results:begin: generated by benchmarks/update_readme.py; do not edit by hand -->", "",
                      *parts, "<!-- results:end -->"])


def main() -> int:
    with open(README) as f:
        text = f.read()
    new, n = re.subn(r"<!-- results:begin.*?<!-- results:end -->", lambda _: render(), text, flags=re.S)
    if n != 1:
        print("README has no results markers", file=sys.stderr)
        return 1
    with open(README, "w") as f:
        f.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())

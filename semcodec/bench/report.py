"""report.html: one self-contained page (plots inlined as base64 PNG) from results.json."""
from __future__ import annotations

import base64
import html
import os

from semcodec.bench.bd import MIN_POINTS
from semcodec.bench.masks import WEIGHT_FLOOR
from semcodec.bench.plots import write_plots
from semcodec.io.writer import atomic_output

# (pooled metric, column title, decimals) in the per-clip tables
COLUMNS = (("psnr_y_mean", "PSNR-Y", 2), ("psnr_yuv_mean", "PSNR-YUV", 2), ("ssim_y_mean", "SSIM-Y", 4),
           ("vmaf_mean", "VMAF", 2), ("vmaf_harmonic_mean", "VMAF hm", 2), ("vmaf_p5", "VMAF p5", 2),
           ("xpsnr_y_mean", "XPSNR-Y", 2), ("roi_psnr_y_mean", "region PSNR-Y", 2),
           ("bg_psnr_y_mean", "outside PSNR-Y", 2), ("roi_ssim_y_mean", "region SSIM-Y", 4),
           ("wpsnr_y_mean", "weighted PSNR-Y", 2))

CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}img{margin:4px;border:1px solid #ddd}
.note{color:#666;font-size:13px}"""


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f'<td class="n">{c}</td>' if isinstance(c, str) and c[:1] in "-+0123456789–" else f"<td>{c}</td>"
        for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _bd_section(doc: dict) -> str:
    if not doc["bd"]:
        return "<p>No BD values: a BD comparison needs two modes.</p>"
    rows = [[html.escape(b["clip"]), html.escape(f"{b['test']} vs {b['anchor']}"), html.escape(b["metric"]),
             "–" if b["bd_rate_pct"] is None else f"{b['bd_rate_pct']:+.2f}%",
             "–" if b["bd_quality"] is None else f"{b['bd_quality']:+.3f}", html.escape(b["note"] or "")]
            for b in doc["bd"]]
    return _table(["clip", "test vs anchor", "metric", "BD-rate", "BD-quality", "note"], rows)


# whole frame | region | outside the region, per metric, for the side-by-side table
VIEWS = (("PSNR-Y", "psnr_y_mean", "roi_psnr_y_mean", "bg_psnr_y_mean", 2),
         ("SSIM-Y", "ssim_y_mean", "roi_ssim_y_mean", "bg_ssim_y_mean", 4))


def _views_section(name: str, clip: dict, doc: dict) -> str:
    """Whole-frame and region scores next to each other, and both BD-rates of every mode against the anchor."""
    points = [(mode, p) for mode, pts in clip["modes"].items() for p in pts]
    if not any(p["metrics"].get("roi_psnr_y_mean") is not None for _, p in points):
        return ""
    views = [v for v in VIEWS if any(v[1] in p["metrics"] for _, p in points)]
    rows = [[html.escape(mode), html.escape(p["rate"]["label"]), _fmt(p["video_bitrate_kbps"]),
             *(_fmt(p["metrics"].get(k), d) for _, *keys, d in views for k in keys),
             _fmt(p["metrics"].get("wpsnr_y_mean")), _fmt(p["metrics"].get("roi_area_mean"), 3)] for mode, p in points]
    headers = ["mode", "rate point", "video kb/s",
               *(f"{t} {where}" for t, *_ in views for where in ("whole frame", "region", "outside")),
               "weighted PSNR-Y", "region share"]
    bd = {(b["test"], b["metric"]): b["bd_rate_pct"] for b in doc["bd"]
          if b["clip"] == name and b["anchor"] == doc["settings"]["reference_mode"]}
    bd_rows = [[html.escape(test), *("–" if bd.get((test, k)) is None else f"{bd[(test, k)]:+.2f}%"
                                     for _, *keys, _ in views for k in keys)]
               for test in clip["modes"] if (test, "psnr_y_mean") in bd]
    out = ("<h3>Whole frame and region, side by side</h3>" + _table(headers, rows))
    if bd_rows:
        out += (f"<p class=note>BD-rate against {html.escape(doc['settings']['reference_mode'])} on each view "
                "(&lt; 0: fewer bits for the same quality there).</p>"
                + _table(["mode", *(f"{t} {where}" for t, *_ in views for where in ("whole frame", "region",
                                                                                    "outside"))], bd_rows))
    return out


def _clip_section(name: str, clip: dict, plots: list[dict], folder: str, doc: dict) -> str:
    present = [c for c in COLUMNS if any(c[0] in p["metrics"] for pts in clip["modes"].values() for p in pts)]
    rows = []
    for mode, points in clip["modes"].items():
        for p in points:
            rows.append([html.escape(mode), html.escape(p["rate"]["label"]), _fmt(p["video_bitrate_kbps"]),
                         _fmt(p["bytes"]), *(_fmt(p["metrics"].get(k), d) for k, _, d in present),
                         _fmt(p["encode_s"]), _fmt(p["encode_fps"], 1), _fmt(p["analysis_s"]),
                         _fmt(p["time_ratio"], 3)])
    mask = clip["mask"]["text"] if clip["mask"] else "none given: region metrics not measured"
    mask = mask if mask.startswith("default mask") else f"region mask: {mask}"
    imgs = ""
    for plot in (p for p in plots if p["clip"] == name):
        with open(plot["path"], "rb") as f:
            data = base64.b64encode(f.read()).decode()
        imgs += f'<img alt="{html.escape(plot["metric"])}" src="data:image/png;base64,{data}">'
    return (f"<h2>{html.escape(name)}</h2><p>{clip['width']}x{clip['height']}, {clip['frames']} frames at "
            f"{clip['fps']:g} fps. {html.escape(mask[:1].upper() + mask[1:])}.</p>"
            + _table(["mode", "rate point", "video kb/s", "file bytes", *(t for _, t, _ in present), "encode s",
                      "fps", "analysis s", "time ratio"], rows) + _views_section(name, clip, doc) + imgs)


def _methods(doc: dict) -> str:
    s = doc["settings"]
    return f"""<h2>Method</h2><ul class="note">
<li>Every clip is encoded once per mode and rate point with <code>semcodec.pipeline.encode</code>; the first mode
(<b>{html.escape(s['reference_mode'])}</b>) is the reference for the time ratio and the anchor of BD values.
Modes run interleaved at each rate point, so their wall times are measured side by side.</li>
<li>PSNR and SSIM follow FFmpeg's psnr/ssim filters (per plane, 8-bit; YUV pools MSE by plane size); VMAF is
libvmaf vmaf_v0.6.1 through FFmpeg; XPSNR is FFmpeg's xpsnr filter (reference as the original). Pooling:
<code>_mean</code> over frames, <code>_p5</code> 5th percentile, <code>_global</code> PSNR of the mean MSE
(XPSNR: FFmpeg's square-mean-root), <code>vmaf_harmonic_mean</code> as libvmaf.</li>
<li>Region metrics use a mask from a source chosen by the user (<code>--roi-mask</code>) or, by default when
ROI modes run, the faces semcodec's face analyzer finds on every source frame (tight boxes; a clip without a face is
measured whole-frame only); never the encoder's own map. Region/outside
PSNR-Y: MSE over the pixels in/out of the region; region/outside SSIM-Y: FFmpeg's 8x8 SSIM windows lying at
least half in/out of the region. Importance-weighted PSNR-Y (EW-PSNR style): MSE weighted per pixel by
{WEIGHT_FLOOR:g} + {1 - WEIGHT_FLOOR:g} x (soft region map), normalised by the weight sum.</li>
<li>BD-rate / BD-quality: <code>bjontegaard</code> package, <b>{html.escape(s['bd_method'])}</b> interpolation
of (log10 video bitrate, quality) over the overlapping interval, on the <code>_mean</code> pooled metrics.
BD-rate &lt; 0: the test mode needs fewer bits for the same quality; BD-quality &gt; 0: better quality at
the same rate. Given only with &ge; {MIN_POINTS} rate points per curve and, for BD-rate, quality rising
strictly with rate; otherwise a note says why not.</li></ul>"""


def _default_mask(doc: dict) -> str:
    masks = [c["mask"] for c in doc["clips"].values() if c["mask"]]
    if not masks:
        return "none"
    return "default: faces detected on the source (" + "; ".join(
        f"{n}: {c['mask']['frames_with_faces']} of {c['mask']['frames']} frames with faces"
        for n, c in doc["clips"].items() if c["mask"]) + ")"


def write_report(doc: dict, folder: str) -> str:
    """Write plots/*.png and report.html into `folder`; return the report's path."""
    plots = write_plots(doc, os.path.join(folder, "plots"))
    s = doc["settings"]
    modes = [[html.escape(m["name"]), html.escape(m["roi"]), _fmt(m["roi_strength"]),
              html.escape(m["preset"] or s["preset"] or "codec default")] for m in s["modes"]]
    settings = [[k, html.escape(str(v))] for k, v in (
        ("codec", s["codec"]), ("rate control", s["rate_control"] + (" (two-pass)" if s["two_pass"] else "")),
        ("preset", s["preset"] or "codec default"), ("metrics", ", ".join(s["metrics"])),
        ("region mask", s["roi_mask"] or _default_mask(doc)), ("BD interpolation", s["bd_method"]),
        ("created / updated", f"{doc['created']} / {doc['updated']}"),
        ("last run", f"{doc['run']['encoded']} points encoded, {doc['run']['reused']} reused"))]
    env = [[html.escape(k), html.escape(str(v))] for k, v in {**doc["machine"], **doc["versions"]}.items()]
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>semcodec bench</title><style>{CSS}</style>"
            f"</head><body><h1>semcodec bench: {html.escape(s['codec'])}</h1>"
            + _table(["setting", "value"], settings) + _table(["mode", "--roi", "strength", "preset"], modes)
            + "<h2>BD-rate and BD-quality</h2>" + _bd_section(doc)
            + "".join(_clip_section(n, c, plots, folder, doc) for n, c in doc["clips"].items())
            + _methods(doc) + "<h2>Machine and versions</h2>" + _table(["", ""], env) + "</body></html>\n")
    path = os.path.join(folder, "report.html")
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    return path

"""Rate-distortion plots: one PNG per clip and metric, one curve per mode.

Drawn on a bare matplotlib Figure with the Agg canvas (no pyplot, no display, no global backend).
"""
from __future__ import annotations

import io
import os
import re

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from semcodec.bench.results import RATE_KEY
from semcodec.io.writer import write_bytes

# (pooled metric, axis label); a plot is drawn when the metric was measured.
PLOTTED = (
    ("psnr_y_mean", "PSNR-Y (dB, mean over frames)"),
    ("vmaf_mean", "VMAF (mean)"),
    ("xpsnr_y_mean", "XPSNR-Y (dB, mean)"),
    ("roi_psnr_y_mean", "PSNR-Y inside the region (dB)"),
    ("bg_psnr_y_mean", "PSNR-Y outside the region (dB)"),
    ("wpsnr_y_mean", "importance-weighted PSNR-Y (dB)"),
)


def plot_name(clip: str, metric: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.splitext(clip)[0])
    return f"{stem}__{metric}.png"


def write_plots(doc: dict, folder: str) -> list[dict]:
    """Write the plots into `folder`; return [{"clip", "metric", "label", "path"}]."""
    os.makedirs(folder, exist_ok=True)
    written = []
    for clip_name, clip in doc["clips"].items():
        for metric, label in PLOTTED:
            curves = {mode: [(p[RATE_KEY], p["metrics"].get(metric)) for p in points]
                      for mode, points in clip["modes"].items()}
            curves = {m: sorted(c for c in pts if c[1] is not None) for m, pts in curves.items()}
            if not any(curves.values()):
                continue
            fig = Figure(figsize=(6.0, 3.8), dpi=90)
            FigureCanvasAgg(fig)
            ax = fig.add_subplot()
            for mode, pts in curves.items():
                if pts:
                    ax.plot([r for r, _ in pts], [q for _, q in pts], marker="o", label=mode)
            ax.set_xlabel("video bitrate (kb/s)")
            ax.set_ylabel(label)
            ax.set_title(f"{clip_name}: {metric}", fontsize=10)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
            fig.tight_layout()
            path = os.path.join(folder, plot_name(clip_name, metric))
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
            write_bytes(path, buf.getvalue())
            written.append({"clip": clip_name, "metric": metric, "label": label, "path": path})
    keep = {os.path.basename(p["path"]) for p in written}
    for stale in (n for n in os.listdir(folder) if n.endswith(".png") and n not in keep):
        os.unlink(os.path.join(folder, stale))  # from an earlier run with other clips or metrics
    return written

"""Bits per frame of an encoded file, and the plot of the emotion curve against them."""
from __future__ import annotations

import io
import os

import numpy as np

from semcodec.errors import SemcodecError
from semcodec.io.writer import write_bytes


def frame_bits(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(presentation times, bits) of every video frame of `path`, in display order, from the packets."""
    import av

    from semcodec.io.reader import open_input

    rows = []
    try:
        with open_input(path) as c:
            st = c.streams.video[0]
            tb = float(st.time_base)
            for p in c.demux(st):
                if p.size and p.pts is not None:
                    rows.append((p.pts * tb, p.size * 8))
    except av.error.FFmpegError as exc:
        raise SemcodecError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not rows:
        raise SemcodecError(f"{path}: no video packets with timestamps")
    rows.sort()
    a = np.array(rows, np.float64)
    return a[:, 0], a[:, 1]


def rolling_mean(t: np.ndarray, v: np.ndarray, window_s: float = 0.5) -> np.ndarray:
    """Mean of v over the frames within +-window_s/2 of each frame: bits per frame without the I/P/B
    pattern, so it can be compared with a slow curve."""
    t, v = np.asarray(t, np.float64), np.asarray(v, np.float64)
    c = np.concatenate([[0.0], np.cumsum(v)])
    a = np.searchsorted(t, t - window_s / 2, side="left")
    b = np.searchsorted(t, t + window_s / 2, side="right")
    return (c[b] - c[a]) / np.maximum(b - a, 1)


def correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson correlation, None when either side is constant."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) < 3 or x.std() < 1e-12 or y.std() < 1e-12:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def plot_emotion_vs_bits(out_path: str, times: np.ndarray, emotion: np.ndarray, offsets: np.ndarray | None,
                         series: list[tuple[str, np.ndarray, np.ndarray]], cues=(), title: str = "") -> None:
    """Top: emotion curve (and its QP offsets); bottom: bits per frame of each encoded series
    (label, times, bits), with the cue spans shaded. Written with matplotlib's Agg canvas."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    folder = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(folder):
        raise SemcodecError(f"plot folder does not exist: {folder}")
    ratio = len(series) >= 2
    fig = Figure(figsize=(11, 8.5 if ratio else 6.5), dpi=110)
    axes = fig.subplots(3 if ratio else 2, 1, sharex=True,
                        gridspec_kw={"height_ratios": [1, 1.3, 0.8] if ratio else [1, 1.3]})
    ax1, ax2 = axes[0], axes[1]
    for k, c in enumerate(cues):
        e = c.emotion.get("intensity", 0.0) if c.emotion else 0.0
        for ax in (ax1, ax2):
            ax.axvspan(c.start, c.end, color="tab:orange", alpha=0.05 + 0.3 * e, lw=0)
        if len(cues) <= 40:
            label = c.text[:30] + ("..." if len(c.text) > 30 else "")
            ax1.text(c.start, 1.04 + 0.1 * (k % 3), f"{label} ({e:.2f})", fontsize=7, ha="left", va="bottom",
                     clip_on=True)
    ax1.plot(times, emotion, color="tab:red", lw=2, label="emotion intensity (smoothed)")
    ax1.set_ylim(0, 1.45)
    ax1.set_ylabel("emotion intensity")
    if offsets is not None and len(offsets):
        tw = ax1.twinx()
        tw.plot(times, offsets, color="tab:blue", lw=1, ls="--", label="frame QP offset")
        tw.set_ylabel("QP offset (neg. = more bits)")
        lim = max(1.0, float(np.abs(offsets).max()) * 1.3)
        tw.set_ylim(lim, -lim)  # inverted: up = more bits, like the emotion curve
        tw.legend(loc="lower right", fontsize=8)
    ax1.legend(loc="lower left", fontsize=8)
    colors = ["tab:green", "tab:gray", "tab:purple", "tab:brown"]
    for i, (label, t, bits) in enumerate(series):
        col = colors[i % len(colors)]
        ax2.plot(t, bits / 1000, lw=0.6, color=col, alpha=0.35)
        ax2.plot(t, rolling_mean(t, bits) / 1000, lw=2, color=col, label=f"{label} (0.5 s mean)")
    ax2.set_ylabel("kbit per frame")
    axes[-1].set_xlabel("time (s)")
    ax2.set_yscale("log")
    if ratio:  # the frame-type pattern cancels in the ratio of two encodes of the same frames
        (l0, t0, b0), (l1, t1, b1) = series[0], series[1]
        n = min(len(b0), len(b1))
        r = rolling_mean(t0[:n], b0[:n]) / np.maximum(rolling_mean(t1[:n], b1[:n]), 1)
        ax3 = axes[2]
        ax3.axhline(1.0, color="black", lw=0.8)
        ax3.plot(t0[:n], r, color="tab:green", lw=2)
        ax3.set_ylabel(f"bits ratio\n{l0} / {l1}", fontsize=8)
        for c in cues:
            e = c.emotion.get("intensity", 0.0) if c.emotion else 0.0
            ax3.axvspan(c.start, c.end, color="tab:orange", alpha=0.05 + 0.3 * e, lw=0)
    if series:
        ax2.legend(loc="upper right", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()  # rendered in memory, then written completely or not at all
    ext = os.path.splitext(out_path)[1].lower().lstrip(".")
    fig.savefig(buf, format={"jpg": "jpeg"}.get(ext, ext) if ext else "png")
    write_bytes(out_path, buf.getvalue())

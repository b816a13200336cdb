"""Score one encode against its source: the standard metrics, XPSNR, and the ROI-aware metrics.

PSNR, SSIM and VMAF come from semcodec.metrics.compare (FFmpeg-compatible definitions, libvmaf).
XPSNR and the region metrics need one more decoding pass, shared between them. Reference and
distorted frames are paired by index; mismatched sizes or frame counts raise SemcodecError.
"""
from __future__ import annotations

from fractions import Fraction

from semcodec.bench import roi_metrics
from semcodec.bench.masks import MaskSource, weights
from semcodec.bench.xpsnr import Xpsnr
from semcodec.errors import SemcodecError
from semcodec.metrics import compare
from semcodec.metrics.quality import frame_pairs, yuv_planes  # the same pairing and checks as compare()

METRICS = ("psnr", "ssim", "vmaf", "xpsnr")


def parse_metrics(text: str) -> list[str]:
    names = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise SemcodecError(f"unknown metric {', '.join(unknown) or '(none)'}; choose from {', '.join(METRICS)}")
    return [m for m in METRICS if m in names]


def measure(reference: str, distorted: str, metrics: list[str], mask: MaskSource | None = None,
            rate: Fraction | float = 25) -> dict:
    """Pooled scores of `distorted` against `reference` (flat dict of floats / None)."""
    summary = compare(reference, distorted, vmaf="vmaf" in metrics).summary()
    keep = tuple(m for m in ("psnr", "ssim", "vmaf") if m in metrics)
    out = {k: v for k, v in summary.items() if k.startswith(keep) and not k.startswith(("roi_", "bg_"))}
    if "xpsnr" in metrics or mask is not None:
        out.update(_second_pass(reference, distorted, "xpsnr" in metrics, mask, rate))
    return {k: None if v is None else round(v, 6) for k, v in out.items()}  # more digits are noise


def _second_pass(reference: str, distorted: str, want_xpsnr: bool, mask: MaskSource | None, rate) -> dict:
    xpsnr = None
    masks = mask.frames() if mask is not None else None
    columns: dict[str, list] = {}
    for i, (ref, dist) in enumerate(frame_pairs(reference, distorted)):
        if masks is not None:
            region, soft = next(masks, (None, None))
            if region is None:
                raise SemcodecError(f"the mask ({mask.describe()['text']}) ends before frame {i} of {reference}")
            if region.shape != (ref.height, ref.width):
                raise SemcodecError(f"mask for frame {i} is {region.shape[1]}x{region.shape[0]}, "
                                    f"the clip is {ref.width}x{ref.height}")
            ref_y, dist_y = yuv_planes(ref)[0], yuv_planes(dist)[0]
            scores = roi_metrics.frame_scores(ref_y, dist_y, region, weights(soft))
            for key, value in scores.items():
                columns.setdefault(key, []).append(value)
        if want_xpsnr:
            xpsnr = xpsnr or Xpsnr(ref.width, ref.height, rate)
            xpsnr.push(ref, dist)
    out = {}
    if xpsnr is not None:
        xpsnr.finish()
        out.update(xpsnr.summary())
    if columns:
        out.update(roi_metrics.pool(columns))
    return out

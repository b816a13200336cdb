"""Luma quality inside and outside a region, and importance-weighted PSNR, frame by frame.

- ``roi_psnr_y`` / ``bg_psnr_y``: PSNR of the MSE over the region's pixels / the other pixels.
- ``roi_ssim_y`` / ``bg_ssim_y``: FFmpeg's SSIM (8x8 windows on a 4-pixel step, vf_ssim.c) averaged
  over the windows that lie mostly (>= half their pixels) inside / outside the region.
- ``wpsnr_y``: importance-weighted PSNR in the style of EW-PSNR (eye-tracking-weighted PSNR):
  ``10 log10(255^2 / (sum(w * err^2) / sum(w)))`` with a per-pixel weight map ``w``; a uniform map
  gives plain PSNR.
A frame whose region is empty (or covers everything) has no roi (bg) value; pooling skips it.
"""
from __future__ import annotations

import math

import numpy as np

from semcodec.metrics import PSNR_CAP_DB

# vf_ssim.c constants for 8-bit samples, scaled to sums over 64 pixels.
_C1 = int(0.01 * 0.01 * 255 * 255 * 64 + 0.5)
_C2 = int(0.03 * 0.03 * 255 * 255 * 64 * 63 + 0.5)
NAMES = ("roi_psnr_y", "bg_psnr_y", "roi_ssim_y", "bg_ssim_y", "wpsnr_y")


def psnr(mse: float) -> float:
    return PSNR_CAP_DB if mse <= 0 else min(PSNR_CAP_DB, 10.0 * math.log10(255.0 * 255.0 / mse))


def weighted_mse(ref: np.ndarray, dist: np.ndarray, weight: np.ndarray) -> float:
    err = np.square(ref.astype(np.float64) - dist)
    return float((weight * err).sum() / weight.sum())


def _window_sums(x: np.ndarray) -> np.ndarray:
    """Sums over vf_ssim.c's 8x8 windows (2x2 neighbouring 4x4 blocks) of a plane cropped to 4*k."""
    h4, w4 = x.shape[0] // 4, x.shape[1] // 4
    s = x[: 4 * h4, : 4 * w4].reshape(h4, 4, w4, 4).sum(axis=(1, 3))
    return s[:-1, :-1] + s[1:, :-1] + s[:-1, 1:] + s[1:, 1:]


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-window SSIM of two 8-bit planes; its mean is FFmpeg's SSIM of the plane."""
    a, b = a.astype(np.int64), b.astype(np.int64)
    s1, s2 = _window_sums(a), _window_sums(b)
    ss, s12 = _window_sums(a * a + b * b), _window_sums(a * b)
    var = ss * 64 - s1 * s1 - s2 * s2
    covar = s12 * 64 - s1 * s2
    return ((2 * s1 * s2 + _C1) * (2 * covar + _C2)) / ((s1 * s1 + s2 * s2 + _C1) * (var + _C2)).astype(np.float64)


def window_in_region(mask: np.ndarray) -> np.ndarray:
    """For each SSIM window: True when at least half of its 64 pixels are in the region."""
    return _window_sums(mask.astype(np.int64)) >= 32


def frame_scores(ref_y: np.ndarray, dist_y: np.ndarray, mask: np.ndarray, weight: np.ndarray) -> dict:
    err = np.square(ref_y.astype(np.int32) - dist_y)
    roi_mse = float(err[mask].mean()) if mask.any() else None
    bg_mse = float(err[~mask].mean()) if not mask.all() else None
    wmse = weighted_mse(ref_y, dist_y, weight)
    smap, inside = ssim_map(ref_y, dist_y), window_in_region(mask)
    return {
        "roi_psnr_y": None if roi_mse is None else psnr(roi_mse), "roi_mse_y": roi_mse,
        "bg_psnr_y": None if bg_mse is None else psnr(bg_mse), "bg_mse_y": bg_mse,
        "roi_ssim_y": float(smap[inside].mean()) if inside.any() else None,
        "bg_ssim_y": float(smap[~inside].mean()) if not inside.all() else None,
        "wpsnr_y": psnr(wmse), "wmse_y": wmse,
        "roi_area": float(mask.mean()),
    }


def _defined(values: list) -> np.ndarray:
    return np.asarray([v for v in values if v is not None], dtype=np.float64)


def pool(columns: dict[str, list]) -> dict:
    """Mean and 5th percentile of each metric over the frames that have it; the PSNRs also get
    ``_global``, the PSNR of the mean (weighted) MSE, as FFmpeg pools plain PSNR."""
    out = {}
    for name in NAMES:
        values = _defined(columns[name])
        out[f"{name}_mean"] = float(values.mean()) if values.size else None
        out[f"{name}_p5"] = float(np.percentile(values, 5)) if values.size else None
        if "psnr" in name:
            mses = _defined(columns[name.replace("psnr", "mse")])
            out[f"{name}_global"] = psnr(float(mses.mean())) if mses.size else None
    out["roi_area_mean"] = float(np.mean(columns["roi_area"]))
    return out

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

import numpy as np

# one implementation of PSNR, FFmpeg's SSIM windows and masked MSE: semcodec.metrics.quality
from semcodec.metrics.quality import masked_mse, psnr, ssim_map, window_sums

NAMES = ("roi_psnr_y", "bg_psnr_y", "roi_ssim_y", "bg_ssim_y", "wpsnr_y")
__all__ = ["NAMES", "frame_scores", "pool", "psnr", "ssim_map", "weighted_mse", "window_in_region"]


def weighted_mse(ref: np.ndarray, dist: np.ndarray, weight: np.ndarray) -> float:
    err = np.square(ref.astype(np.float64) - dist)
    return float((weight * err).sum() / weight.sum())


def window_in_region(mask: np.ndarray) -> np.ndarray:
    """For each SSIM window: True when at least half of its 64 pixels are in the region."""
    return window_sums(mask.astype(np.int64)) >= 32


def frame_scores(ref_y: np.ndarray, dist_y: np.ndarray, mask: np.ndarray, weight: np.ndarray) -> dict:
    err = np.square(ref_y.astype(np.int32) - dist_y)
    roi_mse, bg_mse = masked_mse(err, mask)
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

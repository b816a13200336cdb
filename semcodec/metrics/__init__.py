"""Full-reference quality metrics (PSNR, SSIM, masked PSNR, VMAF)."""

from semcodec.metrics.quality import (
    PSNR_CAP_DB,
    QualityResult,
    compare,
    ffmpeg_filter_reference,
    vmaf_scores,
)

__all__ = ["PSNR_CAP_DB", "QualityResult", "compare", "ffmpeg_filter_reference", "vmaf_scores"]

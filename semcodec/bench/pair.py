"""Score any pair of files, outside a benchmark run: `semcodec metrics DIST REF` (ffmpeg-quality-metrics' and
ab-av1 vmaf's job). The same code as `semcodec bench` (semcodec.bench.measure, the same masks), so a number
printed here is the number the bench would print for that encode."""
from __future__ import annotations

import os

from semcodec.bench.masks import DetectedFacesMask, MaskSource, count_frames, mask_source
from semcodec.bench.measure import METRICS, measure
from semcodec.errors import SemcodecError
from semcodec.io.reader import probe
from semcodec.progress import Progress

SCHEMA = "semcodec.metrics/1"
FACES = "faces"  # --roi-mask faces: the bench's default region, faces detected on the reference


def _check_files(distorted: str, reference: str) -> None:
    for name, path in (("distorted", distorted), ("reference", reference)):
        if not os.path.exists(path):
            raise SemcodecError(f"{name} file not found: {path}")
        if os.path.isdir(path):
            raise SemcodecError(f"{name} {path} is a folder, not a video")


def _mask(spec: str | None, reference: str, progress: Progress | None) -> MaskSource | None:
    if not spec:
        return None
    info = probe(reference)
    if spec == FACES:
        faces = DetectedFacesMask(reference, info.width, info.height, progress)
        return faces if faces.usable else None
    return mask_source(spec, reference, info.width, info.height, count_frames(reference))


def score_pair(distorted: str, reference: str, metrics: list[str] | None = None, roi_mask: str | None = None,
               progress: Progress | None = None) -> dict:
    """Pooled scores of `distorted` against `reference` (JSON-ready, schema semcodec.metrics/1).

    Args:
        metrics: any of psnr, ssim, vmaf, xpsnr (default all).
        roi_mask: 'faces' (faces detected on the reference, as the bench's default), a face-boxes JSON, a mask
            video or analyzer:NAME (semcodec.bench.masks); adds roi_/bg_ PSNR and SSIM and weighted PSNR.

    Raises:
        SemcodecError: a missing or unreadable file, different frame sizes or frame counts, a mask that does
        not fit the reference; one line naming the problem."""
    _check_files(distorted, reference)
    metrics = list(metrics or METRICS)
    ref_info, dist_info = probe(reference), probe(distorted)
    if (ref_info.width, ref_info.height) != (dist_info.width, dist_info.height):
        raise SemcodecError(f"frame size mismatch: reference {reference} is {ref_info.width}x{ref_info.height}, "
                            f"distorted {distorted} is {dist_info.width}x{dist_info.height}")
    mask = _mask(roi_mask, reference, progress)
    scores = measure(reference, distorted, metrics, mask, rate=ref_info.average_rate or 25)
    region = None
    if roi_mask:
        region = mask.describe() if mask is not None else {"kind": FACES, "text": "no face detected on the "
                                                           "reference: whole-frame metrics only"}
    return {"schema": SCHEMA, "distorted": os.path.abspath(distorted), "reference": os.path.abspath(reference),
            "width": ref_info.width, "height": ref_info.height, "metrics": metrics, "mask": region,
            "scores": scores}

"""What the final encode reached, per shot: an independent libvmaf run on the whole output against the
source (per-frame scores, pooled per shot as the search pooled its probes), and the face metrics on the same
faces the probes used (CenterFace boxes on the source)."""
from __future__ import annotations

import numpy as np

from semcodec.metrics.quality import frame_pairs, psnr, vmaf_scores, yuv_planes
from semcodec.target.probe import FaceBoxes, pool, union_crop
from semcodec.target.shots import ShotResult
from semcodec.target.spec import TargetSpec


def _face_columns(input_path: str, output_path: str, faces: FaceBoxes) -> tuple[list, list]:
    """Per frame: the face boxes and the luma PSNR inside them (None without a face)."""
    boxes, psnrs = [], []
    for i, (ref, dist) in enumerate(frame_pairs(input_path, output_path)):
        b = faces(ref, i)
        boxes.append(b)
        if not b:
            psnrs.append(None)
            continue
        m = np.zeros((ref.height, ref.width), bool)
        for x0, y0, x1, y1 in b:
            m[max(0, y0):max(0, min(y1, ref.height)), max(0, x0):max(0, min(x1, ref.width))] = True
        ry, dy = yuv_planes(ref)[0], yuv_planes(dist)[0]
        psnrs.append(psnr(float(np.square(ry[m].astype(np.int32) - dy[m]).mean())))
    return boxes, psnrs


def measure_shots(input_path: str, output_path: str, shots: list[ShotResult], spec: TargetSpec) -> dict:
    """Fill each shot's `measured` and return the whole video's scores (mean and 5th percentile of VMAF)."""
    vmaf = vmaf_scores(input_path, output_path)
    metrics = {g.metric for g in spec.goals}
    boxes = face_psnr = None
    if metrics & {"face_psnr", "roi_vmaf"}:
        info_w, info_h = _size(output_path)
        boxes, face_psnr = _face_columns(input_path, output_path, FaceBoxes(info_w, info_h))
    for shot in shots:
        a, b = shot.start_frame, shot.end_frame
        got = {"vmaf": pool(vmaf[a:b], spec.percentile)}
        if face_psnr is not None:
            got["face_psnr"] = pool([v for v in face_psnr[a:b] if v is not None], spec.percentile)
        if "roi_vmaf" in metrics:
            crop = union_crop([x for f in boxes[a:b] for x in f], *_size(output_path))
            got["roi_vmaf"] = None if crop is None else pool(
                vmaf_scores(input_path, output_path, trim=(a, b), crop=crop), spec.percentile)
        shot.measured = got
    whole = {"vmaf_mean": float(np.mean(vmaf)), "vmaf_p5": float(np.percentile(vmaf, 5))}
    if face_psnr is not None and any(v is not None for v in face_psnr):
        whole["face_psnr_mean"] = float(np.mean([v for v in face_psnr if v is not None]))
    return whole


def _size(path: str) -> tuple[int, int]:
    from semcodec.io.reader import probe

    info = probe(path)
    return info.width, info.height

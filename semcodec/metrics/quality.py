"""Full-reference video quality: PSNR, SSIM (FFmpeg-compatible), masked PSNR, VMAF.

Both files are decoded with PyAV one frame at a time, converted to 8-bit
yuv420p, and frame i of the reference is compared with frame i of the
distorted file.  Any mismatch (unreadable file, resolution, frame count)
raises SemcodecError instead of returning a number.

PSNR follows FFmpeg's ``psnr`` filter: per plane 10*log10(255^2 / MSE), and
the "yuv" value is the PSNR of the MSE pooled over all samples (planes
weighted by their pixel counts, i.e. 4:1:1 for Y:U:V = 6:1:1 of the total).
FFmpeg prints ``inf`` for identical planes; we cap every PSNR at
PSNR_CAP_DB so that results stay finite and JSON-serialisable.

SSIM follows FFmpeg's ``ssim`` filter: 8x8 windows stepped by 4 pixels,
built from 4x4 block sums, constants C1=(0.01*255)^2, C2=(0.03*255)^2 scaled
as in FFmpeg, averaged over the plane; "all" weights Y/U/V SSIM by plane size.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import NamedTuple

import av
import numpy as np

from semcodec.errors import SemcodecError

PSNR_CAP_DB = 100.0  # used instead of FFmpeg's "inf" (identical planes)
_PEAK = 255.0
# FFmpeg vf_ssim.c constants for 8-bit (sums over 64 pixels, hence the scaling).
_SSIM_C1 = int(0.01 * 0.01 * 255 * 255 * 64 + 0.5)
_SSIM_C2 = int(0.03 * 0.03 * 255 * 255 * 64 * 63 + 0.5)

MaskFn = Callable[[int, int, int], np.ndarray]


@dataclass
class QualityResult:
    """Per-frame scores (index i = frame i) plus MSEs needed for global PSNR."""

    frames: int
    psnr_y: list[float]
    psnr_u: list[float]
    psnr_v: list[float]
    psnr_yuv: list[float]
    ssim_y: list[float]
    ssim_all: list[float]
    mse_y: list[float]
    mse_u: list[float]
    mse_v: list[float]
    mse_yuv: list[float]
    vmaf: list[float] | None = None
    roi_psnr_y: list[float | None] | None = None  # None per frame: empty mask
    bg_psnr_y: list[float | None] | None = None  # None per frame: mask covers all
    roi_mse_y: list[float | None] | None = None
    bg_mse_y: list[float | None] | None = None

    def summary(self) -> dict:
        """Pooled scores (plain floats/None, JSON-serialisable).

        ``<m>_mean``: mean of per-frame values; ``<m>_p5``: 5th percentile
        (the bad frames); ``psnr_<p>_global``: PSNR of the mean per-frame MSE,
        which is what FFmpeg's psnr filter prints as its overall value;
        ``vmaf_harmonic_mean``: libvmaf's definition 1/mean(1/(1+x)) - 1.
        """
        out: dict = {"frames": self.frames}
        for name in ("psnr_y", "psnr_u", "psnr_v", "psnr_yuv", "roi_psnr_y", "bg_psnr_y"):
            values = getattr(self, name)
            if values is None:
                continue
            out.update(_pool(name, values))
            mses = [m for m in getattr(self, name.replace("psnr", "mse")) if m is not None]
            out[f"{name}_global"] = psnr(float(np.mean(mses))) if mses else None
        for name in ("ssim_y", "ssim_all", "vmaf"):
            if getattr(self, name) is not None:
                out.update(_pool(name, getattr(self, name)))
        if self.vmaf:
            out["vmaf_harmonic_mean"] = float(1.0 / np.mean(1.0 / (1.0 + np.asarray(self.vmaf))) - 1.0)
        return out

    def to_dict(self) -> dict:
        return asdict(self)


def _pool(name: str, values: list) -> dict:
    """Mean and 5th percentile of the defined (non-None) values."""
    defined = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if defined.size == 0:
        return {f"{name}_mean": None, f"{name}_p5": None}
    return {f"{name}_mean": float(defined.mean()), f"{name}_p5": float(np.percentile(defined, 5))}


def psnr(mse: float) -> float:
    """PSNR in dB for 8-bit samples, capped at PSNR_CAP_DB (identical samples: the cap)."""
    if mse <= 0:
        return PSNR_CAP_DB
    return min(PSNR_CAP_DB, 10.0 * math.log10(_PEAK * _PEAK / mse))



# --------------------------------------------------------------------------- decoding


def _decode(path: str) -> Iterator[av.VideoFrame]:
    """Stream the decoded frames of the first video stream of ``path``."""
    try:
        container = av.open(os.fspath(path))
    except (av.FFmpegError, OSError) as err:
        raise SemcodecError(f"cannot read video {path}: {err}") from None
    try:
        if not container.streams.video:
            raise SemcodecError(f"no video stream in {path}")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            yield from container.decode(stream)
        except av.FFmpegError as err:
            raise SemcodecError(f"cannot decode {path}: {err}") from None
    finally:
        container.close()


def frame_pairs(reference: str, distorted: str, max_frames: int | None = None):
    """Yield (ref, dist) yuv420p frame pairs, at most ``max_frames`` of them.

    Both files are always decoded to the end so that a frame-count mismatch is
    detected; the error is raised after the last pair, so callers must consume
    the whole iterator before trusting what they computed.
    """
    refs, dists = _decode(reference), _decode(distorted)
    n = 0
    for ref, dist in itertools.zip_longest(refs, dists):
        if ref is None or dist is None:
            n_ref = n + (ref is not None) + sum(1 for _ in refs)
            n_dist = n + (dist is not None) + sum(1 for _ in dists)
            raise SemcodecError(
                f"frame count mismatch: reference {reference} has {n_ref} frames, "
                f"distorted {distorted} has {n_dist}"
            )
        if (ref.width, ref.height) != (dist.width, dist.height):
            raise SemcodecError(
                f"resolution mismatch at frame {n}: reference {reference} is "
                f"{ref.width}x{ref.height}, distorted {distorted} is {dist.width}x{dist.height}"
            )
        if max_frames is None or n < max_frames:
            yield ref.reformat(format="yuv420p"), dist.reformat(format="yuv420p")
        n += 1
    if n == 0:
        raise SemcodecError(f"no video frames in {reference} or {distorted}")


def yuv_planes(frame: av.VideoFrame) -> list[np.ndarray]:
    """Y, U, V of a yuv420p frame as uint8 arrays (line padding removed)."""
    out = []
    for plane in frame.planes:
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        out.append(rows[:, : plane.width])
    return out


# --------------------------------------------------------------------------- metrics


def window_sums(x: np.ndarray) -> np.ndarray:
    """Sums over vf_ssim.c's 8x8 windows (2x2 neighbouring 4x4 blocks, a 4-pixel step) of a plane
    cropped to 4*k rows and columns."""
    h4, w4 = x.shape[0] // 4, x.shape[1] // 4
    s = x[: 4 * h4, : 4 * w4].reshape(h4, 4, w4, 4).sum(axis=(1, 3))
    return s[:-1, :-1] + s[1:, :-1] + s[:-1, 1:] + s[1:, 1:]


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-window SSIM of two 8-bit planes (vf_ssim.c: ssim_4x4xn/ssim_end1, exact integer sums); its
    mean is FFmpeg's SSIM of the plane."""
    a, b = a.astype(np.int64), b.astype(np.int64)
    s1, s2 = window_sums(a), window_sums(b)
    ss, s12 = window_sums(a * a + b * b), window_sums(a * b)
    var = ss * 64 - s1 * s1 - s2 * s2
    covar = s12 * 64 - s1 * s2
    return ((2 * s1 * s2 + _SSIM_C1) * (2 * covar + _SSIM_C2)) / (
        (s1 * s1 + s2 * s2 + _SSIM_C1) * (var + _SSIM_C2)
    ).astype(np.float64)


def _ssim_plane(a: np.ndarray, b: np.ndarray) -> float:
    """FFmpeg's SSIM of one 8-bit plane (vf_ssim.c: ssim_plane/ssim_end1)."""
    if a.shape[0] // 4 < 2 or a.shape[1] // 4 < 2:
        raise SemcodecError(f"plane {a.shape[1]}x{a.shape[0]} is too small for SSIM (needs 8x8)")
    return float(ssim_map(a, b).mean())


def masked_mse(sq_err: np.ndarray, mask: np.ndarray) -> tuple[float | None, float | None]:
    """(MSE inside the mask, MSE outside it) of per-pixel squared errors; None where that side is empty."""
    inside = float(sq_err[mask].mean()) if mask.any() else None
    outside = float(sq_err[~mask].mean()) if not mask.all() else None
    return inside, outside


def _frame_scores(ref: av.VideoFrame, dist: av.VideoFrame, mask: np.ndarray | None) -> dict:
    """All PyAV-side metrics of one frame pair."""
    ref_planes, dist_planes = yuv_planes(ref), yuv_planes(dist)
    sizes = np.array([p.size for p in ref_planes], dtype=np.float64)
    weights = sizes / sizes.sum()  # FFmpeg's planeweight / coefs
    sq_y = np.square(ref_planes[0].astype(np.int32) - dist_planes[0])
    mses = [float(sq_y.mean())] + [
        float(np.square(r.astype(np.int32) - d).mean()) for r, d in zip(ref_planes[1:], dist_planes[1:])
    ]
    mse_yuv = float(np.dot(mses, weights))
    ssims = [_ssim_plane(r, d) for r, d in zip(ref_planes, dist_planes)]
    scores = {
        "mse_y": mses[0], "mse_u": mses[1], "mse_v": mses[2], "mse_yuv": mse_yuv,
        "psnr_y": psnr(mses[0]), "psnr_u": psnr(mses[1]), "psnr_v": psnr(mses[2]),
        "psnr_yuv": psnr(mse_yuv),
        "ssim_y": ssims[0], "ssim_all": float(np.dot(ssims, weights)),
    }
    if mask is not None:
        roi, bg = masked_mse(sq_y, mask)
        scores.update(
            roi_mse_y=roi, bg_mse_y=bg,
            roi_psnr_y=None if roi is None else psnr(roi),
            bg_psnr_y=None if bg is None else psnr(bg),
        )
    return scores


def _get_mask(masks: MaskFn, index: int, width: int, height: int) -> np.ndarray:
    mask = np.asarray(masks(index, width, height), dtype=bool)
    if mask.shape != (height, width):
        raise SemcodecError(
            f"mask for frame {index} has shape {mask.shape}, expected ({height}, {width})"
        )
    return mask


def compare(
    reference: str,
    distorted: str,
    *,
    masks: MaskFn | None = None,
    vmaf: bool = True,
    max_frames: int | None = None,
) -> QualityResult:
    """Compare ``distorted`` against ``reference`` frame by frame.

    ``masks(frame_index, width, height)`` returns a bool (H, W) luma mask
    (True = region of interest) and adds ``roi_psnr_y``/``bg_psnr_y``.
    ``max_frames`` limits the scored frames; frame counts are still checked
    over the whole files.  ``vmaf=True`` needs FFmpeg with libvmaf
    (imageio-ffmpeg's binary).
    """
    columns: dict[str, list] = {}
    n = 0
    for n, (ref, dist) in enumerate(frame_pairs(reference, distorted, max_frames), start=1):
        mask = None if masks is None else _get_mask(masks, n - 1, ref.width, ref.height)
        for key, value in _frame_scores(ref, dist, mask).items():
            columns.setdefault(key, []).append(value)
    result = QualityResult(frames=n, **columns)
    if vmaf:
        result.vmaf = vmaf_scores(reference, distorted, max_frames=max_frames)
        if len(result.vmaf) != n:
            raise SemcodecError(f"libvmaf scored {len(result.vmaf)} frames, PyAV decoded {n}")
    return result


# --------------------------------------------------------------------------- VMAF


@functools.lru_cache(maxsize=1)
def _ffmpeg_with_libvmaf() -> str:
    """Path of imageio-ffmpeg's binary, checked to have the libvmaf filter."""
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as err:
        raise SemcodecError(f"VMAF needs the imageio-ffmpeg binary: {err}") from None
    filters = subprocess.run(
        [exe, "-hide_banner", "-filters"], capture_output=True, text=True, check=False
    ).stdout
    if " libvmaf " not in filters:
        raise SemcodecError(f"VMAF unavailable: {exe} was built without libvmaf (use vmaf=False)")
    return exe


class RawVideo(NamedTuple):
    """A raw yuv420p file (frames back to back), as the CRF search keeps its reference segments."""

    path: str
    width: int
    height: int


def _vmaf_input(src: str | RawVideo) -> list[str]:
    if isinstance(src, RawVideo):
        return ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{src.width}x{src.height}", "-framerate", "25",
                "-i", os.path.abspath(src.path)]
    return ["-noautorotate", "-i", os.path.abspath(src)]


def vmaf_scores(reference: str | RawVideo, distorted: str, *, max_frames: int | None = None,
                trim: tuple[int, int] | None = None, crop: tuple[int, int, int, int] | None = None,
                n_subsample: int = 1) -> list[float]:
    """Per-frame VMAF (vmaf_v0.6.1) from FFmpeg's libvmaf filter.

    Frames are paired by index (timestamps rewritten to 0,1,2,... on both
    inputs), exactly like compare(), so differing frame rates or start
    times cannot shift the pairing. Both sides are cropped to even sizes, as
    the encoder crops. ``trim``: frames [a, b) of both; ``crop``: (x, y, w, h)
    of both (a region's VMAF); ``n_subsample``: libvmaf scores every n-th
    frame only (the list then has one score per scored frame).
    """
    exe = _ffmpeg_with_libvmaf()
    cut = f"trim=start_frame={trim[0]}:end_frame={trim[1]}," if trim else ""
    cut += f"trim=end_frame={max_frames}," if max_frames is not None else ""
    box = f"crop={crop[2]}:{crop[3]}:{crop[0]}:{crop[1]}," if crop else "crop=trunc(iw/2)*2:trunc(ih/2)*2:0:0,"
    prep = f"{cut}settb=1/25,setpts=N,{box}format=yuv420p"
    sub = f"n_subsample={n_subsample}:" if n_subsample > 1 else ""
    graph = (
        f"[0:v:0]{prep}[dist];[1:v:0]{prep}[ref];"
        f"[dist][ref]libvmaf={sub}log_fmt=json:log_path=vmaf.json:n_threads=2"  # main=distorted
    )
    with tempfile.TemporaryDirectory(prefix="semcodec-vmaf-") as tmp:
        cmd = [
            exe, "-hide_banner", "-nostdin", "-loglevel", "error", *_vmaf_input(distorted), *_vmaf_input(reference),
            "-an", "-lavfi", graph, "-fps_mode", "passthrough", "-f", "null", "-",
        ]
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=False)
        log_path = os.path.join(tmp, "vmaf.json")
        if proc.returncode != 0 or not os.path.exists(log_path):
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            ref_name = reference.path if isinstance(reference, RawVideo) else reference
            raise SemcodecError(f"libvmaf failed on {distorted} vs {ref_name}: {last}")
        with open(log_path) as fh:
            log = json.load(fh)
    frames = sorted(log["frames"], key=lambda f: f["frameNum"])
    return [float(f["metrics"]["vmaf"]) for f in frames]


# --------------------------------------------------------------------------- FFmpeg cross-check


def _ffmpeg_graph(width: int, height: int):
    """Graph: (dist, ref) -> psnr -> ssim -> sink; scores land in frame metadata."""
    graph = av.filter.Graph()
    tb = Fraction(1, 25)
    src_ref = graph.add_buffer(width=width, height=height, format="yuv420p", time_base=tb)
    src_dist = graph.add_buffer(width=width, height=height, format="yuv420p", time_base=tb)
    split, psnr, ssim, sink = graph.add("split"), graph.add("psnr"), graph.add("ssim"), graph.add("buffersink")
    src_dist.link_to(psnr, 0, 0)
    src_ref.link_to(split)
    split.link_to(psnr, 0, 1)
    split.link_to(ssim, 1, 1)
    psnr.link_to(ssim, 0, 0)
    ssim.link_to(sink)
    graph.configure()
    return graph, src_ref, src_dist, sink  # contexts only weakly reference the graph


def _drain(sink) -> list[dict]:
    out = []
    while True:
        try:
            out.append(dict(sink.pull().metadata))
        except (av.BlockingIOError, av.EOFError):
            return out


def ffmpeg_filter_reference(reference: str, distorted: str) -> dict:
    """PSNR and SSIM computed by FFmpeg's own ``psnr``/``ssim`` filters.

    Returns per-frame lists (``psnr_y``, ``psnr_u``, ``psnr_v``, ``psnr_avg``,
    ``ssim_y``, ``ssim_all``; PSNR may be ``inf``) and the overall values as
    FFmpeg pools them: ``psnr_<p>_global`` from the mean per-frame MSE,
    ``ssim_<p>_mean`` as the mean of per-frame SSIM.
    """
    metas: list[dict] = []
    graph = None
    for i, (ref, dist) in enumerate(frame_pairs(reference, distorted)):
        if graph is None:
            graph, src_ref, src_dist, sink = _ffmpeg_graph(ref.width, ref.height)
        for frame in (ref, dist):
            frame.pts, frame.time_base = i, Fraction(1, 25)  # framesync pairs by pts
        src_ref.push(ref)
        src_dist.push(dist)
        metas += _drain(sink)
    src_ref.push(None)
    src_dist.push(None)
    metas += _drain(sink)

    def column(key: str) -> list[float]:
        return [float(m[key]) for m in metas]

    def global_psnr(mse_key: str) -> float:
        mse = float(np.mean(column(mse_key)))
        return math.inf if mse == 0 else 10.0 * math.log10(_PEAK * _PEAK / mse)

    out: dict = {"frames": len(metas)}
    for name, psnr_key, mse_key in (
        ("y", "lavfi.psnr.psnr.y", "lavfi.psnr.mse.y"),
        ("u", "lavfi.psnr.psnr.u", "lavfi.psnr.mse.u"),
        ("v", "lavfi.psnr.psnr.v", "lavfi.psnr.mse.v"),
        ("avg", "lavfi.psnr.psnr_avg", "lavfi.psnr.mse_avg"),
    ):
        out[f"psnr_{name}"] = column(psnr_key)
        out[f"psnr_{name}_global"] = global_psnr(mse_key)
    for name, key in (("y", "lavfi.ssim.Y"), ("all", "lavfi.ssim.All")):
        out[f"ssim_{name}"] = column(key)
        out[f"ssim_{name}_mean"] = float(np.mean(out[f"ssim_{name}"]))
    return out

"""semcodec.metrics.quality against FFmpeg's own psnr/ssim filters and libvmaf."""

import json

import av
import numpy as np
import pytest

from semcodec.errors import SemcodecError
from semcodec.metrics import PSNR_CAP_DB, compare, ffmpeg_filter_reference

# 100x60: not a multiple of 8 (SSIM crops partial blocks) and padded plane lines.
W, H, N = 100, 60, 12


def _encode(path, crf, width=W, height=H, frames=N):
    """Smooth moving gradient plus a moving noise patch, encoded with libx264."""
    rng = np.random.default_rng(1)
    patch = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for i in range(frames):
            img = np.stack([xx * 2 + i * 4, yy * 3 + i * 2, xx + yy + i * 3], axis=-1) % 256
            img = img.astype(np.uint8)
            x0 = 8 + 3 * i
            img[20:36, x0 : x0 + 16] = patch
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode())
    return str(path)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    text = d / "notavideo.mp4"
    text.write_text("hello, not a video\n")
    return {
        "ref": _encode(d / "ref.mp4", crf=0),
        "dist": _encode(d / "dist.mp4", crf=35),
        "small": _encode(d / "small.mp4", crf=20, width=64, height=48),
        "short": _encode(d / "short.mp4", crf=20, frames=N - 3),
        "text": str(text),
    }


@pytest.fixture(scope="module")
def result(clips):
    return compare(clips["ref"], clips["dist"], vmaf=True)


@pytest.fixture(scope="module")
def ffmpeg(clips):
    return ffmpeg_filter_reference(clips["ref"], clips["dist"])


@pytest.mark.parametrize("ours,theirs", [("y", "y"), ("u", "u"), ("v", "v"), ("yuv", "avg")])
def test_psnr_matches_ffmpeg_filter(result, ffmpeg, ours, theirs):
    assert result.frames == ffmpeg["frames"] == N
    per_frame = np.abs(np.array(getattr(result, f"psnr_{ours}")) - ffmpeg[f"psnr_{theirs}"])
    assert per_frame.max() < 0.01
    assert abs(result.summary()[f"psnr_{ours}_global"] - ffmpeg[f"psnr_{theirs}_global"]) < 0.01


@pytest.mark.parametrize("name", ["y", "all"])
def test_ssim_matches_ffmpeg_filter(result, ffmpeg, name):
    per_frame = np.abs(np.array(getattr(result, f"ssim_{name}")) - ffmpeg[f"ssim_{name}"])
    assert per_frame.max() < 0.001
    assert abs(result.summary()[f"ssim_{name}_mean"] - ffmpeg[f"ssim_{name}_mean"]) < 0.001


def test_summary_is_json_and_pools_sensibly(result):
    summary = result.summary()
    json.dumps(summary, allow_nan=False)
    # Mean of per-frame PSNR and PSNR of the mean MSE are different poolings.
    assert summary["psnr_y_global"] <= summary["psnr_y_mean"] + 1e-9
    assert summary["psnr_y_p5"] <= summary["psnr_y_mean"]
    assert summary["vmaf_harmonic_mean"] <= summary["vmaf_mean"]


def test_vmaf_range_and_identical_is_better(clips, result):
    assert len(result.vmaf) == N
    assert all(0.0 <= v <= 100.0 for v in result.vmaf)
    same = compare(clips["ref"], clips["ref"], vmaf=True)
    assert same.summary()["vmaf_mean"] > result.summary()["vmaf_mean"]
    assert same.psnr_y == [PSNR_CAP_DB] * N  # FFmpeg says inf; we cap


def test_max_frames_limits_scoring(clips):
    part = compare(clips["ref"], clips["dist"], vmaf=True, max_frames=5)
    assert part.frames == 5 and len(part.psnr_y) == 5 and len(part.vmaf) == 5


def test_masked_psnr(clips, result):
    full = compare(clips["ref"], clips["dist"], vmaf=False, masks=lambda i, w, h: np.ones((h, w), bool))
    assert full.roi_psnr_y == result.psnr_y
    assert full.bg_psnr_y == [None] * N

    empty = compare(clips["ref"], clips["dist"], vmaf=False, masks=lambda i, w, h: np.zeros((h, w), bool))
    assert empty.roi_psnr_y == [None] * N
    assert empty.bg_psnr_y == result.psnr_y
    assert empty.summary()["roi_psnr_y_mean"] is None

    def left_half(i, w, h):
        mask = np.zeros((h, w), bool)
        mask[:, : w // 2] = True
        return mask

    half = compare(clips["ref"], clips["dist"], vmaf=False, masks=left_half)
    # Inside and outside MSEs recombine into the whole-frame MSE.
    pooled = (np.array(half.roi_mse_y) + np.array(half.bg_mse_y)) / 2
    np.testing.assert_allclose(pooled, result.mse_y, rtol=1e-12)


def test_bad_mask_shape(clips):
    with pytest.raises(SemcodecError, match="mask"):
        compare(clips["ref"], clips["dist"], vmaf=False, masks=lambda i, w, h: np.ones((w, h), bool))


def test_resolution_mismatch(clips):
    with pytest.raises(SemcodecError, match=r"100x60.*64x48"):
        compare(clips["ref"], clips["small"], vmaf=False)


def test_frame_count_mismatch(clips):
    with pytest.raises(SemcodecError, match=rf"{N} frames.*{N - 3}"):
        compare(clips["ref"], clips["short"], vmaf=False)
    with pytest.raises(SemcodecError, match=rf"{N - 3} frames.*{N}"):
        ffmpeg_filter_reference(clips["short"], clips["ref"])


def test_unreadable_file(clips, tmp_path):
    with pytest.raises(SemcodecError, match="notavideo.mp4"):
        compare(clips["text"], clips["dist"], vmaf=False)
    with pytest.raises(SemcodecError, match="missing.mp4"):
        compare(clips["ref"], str(tmp_path / "missing.mp4"), vmaf=False)

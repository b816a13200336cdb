"""QPs read back from the encoder's output (VIDEO_ENC_PARAMS side data): the block map lands where intended."""
import os
from fractions import Fraction

import av
import numpy as np
import pytest

from conftest import face_mask, make_clip
from semcodec.encoding.codecs import CAPABILITIES, RateControl, configure_threads, encoder_options
from semcodec.encoding.qp_readback import (
    FrameQp,
    QpReadbackError,
    decode_qps,
    mean_grid,
    parse_enc_params,
    read_qps,
)
from semcodec.encoding.qpmap import QpMap
from semcodec.encoding.roi_sidedata import RoiAttacher

W, H, N = 128, 96, 10
CRF = 26  # far from both ends of the QP range: no offset is clamped


@pytest.fixture(scope="module")
def noise():
    """Fresh noise in every frame: nothing is predictable, so every macroblock codes a residual and carries the
    QP the encoder chose (a macroblock without residual repeats its neighbour's QP in H.264)."""
    rng = np.random.default_rng(11)
    return [rng.integers(0, 256, (H, W), dtype=np.uint8) for _ in range(N)]


def encode_file(path, frames, qpmap: QpMap | None) -> str:
    """x264 with the library's own options into an MP4, `qpmap` attached to every frame as the encoder does."""
    caps = CAPABILITIES["libx264"]
    opts, _ = encoder_options(caps, RateControl(crf=CRF), None)
    attacher = RoiAttacher()
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
        vs.codec_context.time_base = Fraction(1, 25)
        configure_threads(vs.codec_context)
        vs.options = opts
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(img, format="gray").reformat(format="yuv420p")
            f.pts = i
            if qpmap is not None:
                attacher.attach(f, qpmap.regions(W, H, caps.qp_range(8)))
            out.mux(vs.encode(f))
        out.mux(vs.encode(None))
    return str(path)


def halves(qps: list[FrameQp]) -> np.ndarray:
    """(frames, 2): each frame's mean QP over the left and the right half."""
    grids = [q.grid(16) for q in qps]
    return np.array([[g[:, : g.shape[1] // 2].mean(), g[:, g.shape[1] // 2:].mean()] for g in grids])


@pytest.fixture(scope="module")
def encodes(noise, tmp_path_factory):
    d = tmp_path_factory.mktemp("qp_readback")
    cols = -(-W // 16)
    offsets = np.full((-(-H // 16), cols), 6.0, np.float32)
    offsets[:, : cols // 2] = -6.0  # left half favoured by 6 QP, right half 6 QP coarser
    return {"plain": read_qps(encode_file(d / "plain.mp4", noise, None)),
            "neutral": read_qps(encode_file(d / "neutral.mp4", noise, QpMap.zeros(offsets.shape, 16))),
            "split": read_qps(encode_file(d / "split.mp4", noise, QpMap(offsets, 16)))}


def test_every_h264_frame_exports_one_qp_per_macroblock(encodes):
    qps = encodes["split"]
    assert len(qps) == N and all(q is not None for q in qps)
    for q in qps:
        assert (q.kind, q.unit, q.width, q.height) == ("H264", "QP", W, H)
        assert q.blocks.shape == ((W // 16) * (H // 16), 5)
        assert (q.blocks[:, 2:4] == 16).all()
        assert q.grid(16).shape == (H // 16, W // 16) and np.isfinite(q.grid(16)).all()


def test_map_lands_on_the_intended_half(encodes):
    split, plain = halves(encodes["split"]), halves(encodes["plain"])
    left, right = split.mean(axis=0)
    assert right - left >= 0.75 * 12, (left, right)  # intended: 12 QP between the halves
    assert (split[:, 1] - split[:, 0] >= 9).all(), split  # in every frame, not only on average
    # the offsets sit around the QP the encode has without a map
    assert abs((left + right) / 2 - plain.mean()) <= 1.5, (left, right, plain.mean())


def test_neutral_map_gives_equal_halves(encodes):
    neutral = halves(encodes["neutral"])
    assert np.abs(neutral[:, 0] - neutral[:, 1]).max() < 0.5, neutral
    # a zero map is attached (QpMap.regions never sends an empty list) and changes nothing at all
    for a, b in zip(encodes["neutral"], encodes["plain"]):
        np.testing.assert_array_equal(a.blocks, b.blocks)


def test_raw_parse_agrees_with_pyavs_own_qp_map(noise):
    """parse_enc_params reads the struct from the buffer; PyAV's typed accessor reads it through its headers."""
    caps = CAPABILITIES["libx264"]
    opts, _ = encoder_options(caps, RateControl(crf=CRF), None)
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = W, H, "yuv420p"
    ctx.time_base = Fraction(1, 25)
    ctx.options = opts
    packets = []
    for i, img in enumerate(noise[:3]):
        f = av.VideoFrame.from_ndarray(img, format="gray").reformat(format="yuv420p")
        f.pts = i
        packets += ctx.encode(f)
    packets += ctx.encode(None)
    dec = av.CodecContext.create("h264", "r")
    dec.options = {"export_side_data": "venc_params"}
    frames = [f for p in [*packets, None] for f in dec.decode(p)]
    assert len(frames) == 3
    for f in frames:
        (sd,) = [s for s in f.side_data if s.type.name == "VIDEO_ENC_PARAMS"]
        kind, qp, blocks = parse_enc_params(sd)
        assert kind == "H264" and qp == sd.qp
        np.testing.assert_array_equal((qp + blocks[:, 4]).reshape(H // 16, W // 16), sd.qp_map())
    assert [q.qp for q in decode_qps("h264", packets)] == [sd.qp] * 3


def test_layout_guards():
    header = bytearray(64)
    header[0:4] = (1000).to_bytes(4, "little")  # 1000 blocks...
    header[8:16] = (64).to_bytes(8, "little")
    header[16:24] = (20).to_bytes(8, "little")
    header[24:28] = (1).to_bytes(4, "little", signed=True)
    with pytest.raises(QpReadbackError, match="does not fit"):  # ...in a buffer with room for none
        parse_enc_params(bytes(header) + bytes(40))
    with pytest.raises(QpReadbackError, match="shorter than its header"):
        parse_enc_params(bytes(30))
    header[24:28] = (7).to_bytes(4, "little", signed=True)
    with pytest.raises(QpReadbackError, match="unknown AVVideoEncParamsType"):
        parse_enc_params(bytes(header))


def test_grid_averages_blocks_of_any_size():
    # an 8x8 block grid (VP9-like) with one 16x16 block, over a 32x24 frame
    blocks = [[0, 0, 16, 16, 10]]
    blocks += [[x, y, 8, 8, 20] for y in (0, 8, 16) for x in (16, 24)]
    blocks += [[x, 16, 8, 8, 40] for x in (0, 8)]
    q = FrameQp(0, "P", "VP9", "q-index", 0, 32, 24, np.array(blocks, np.int32))
    np.testing.assert_array_equal(q.grid(16), [[10, 20], [40, 20]])
    np.testing.assert_array_equal(q.grid(8), [[10, 10, 20, 20], [10, 10, 20, 20], [40, 40, 20, 20]])
    partial = FrameQp(0, "P", "VP9", "q-index", 0, 32, 24, np.array(blocks[:1], np.int32))
    g = partial.grid(16)
    assert g[0, 0] == 10 and np.isnan(g[0, 1]) and np.isnan(g[1]).all()  # no block: no value
    frame_level = FrameQp(0, "I", "VP9", "q-index", 47, 32, 24, np.zeros((0, 5), np.int32))
    np.testing.assert_array_equal(frame_level.grid(16), np.full((2, 2), 47.0))
    np.testing.assert_array_equal(mean_grid([q, None, frame_level], 16), [[28.5, 33.5], [43.5, 33.5]])
    assert mean_grid([None, None]) is None


def test_hevc_exports_nothing(tmp_path):
    """FFmpeg's hevc decoder has no VIDEO_ENC_PARAMS export: read_qps says so with None, frame by frame."""
    clip = make_clip(tmp_path / "x265.mp4", frames=4, size=(64, 64), codec="libx265")
    assert read_qps(clip) == [None] * 4


def test_semcodec_encode_favours_the_face(tmp_path):
    """The product's own encode (faces analyzer): in the keyframe, whose every macroblock is coded, the face's
    macroblocks get lower QPs than the rest; without a map they do not."""
    from semcodec.pipeline import EncodeSettings, encode

    size = (160, 96)
    clip = make_clip(tmp_path / "face.mp4", content="face", frames=8, size=size)
    cells = face_mask(size).reshape(size[1] // 16, 16, size[0] // 16, 16).mean(axis=(1, 3)) > 0.5
    gaps = {}
    for roi in ("off", "faces"):
        out = str(tmp_path / f"{roi}.mp4")
        encode(clip, out, EncodeSettings(roi=roi, crf=23, adapt_strength=False))  # a face filling the frame
        key = read_qps(out)[0]
        assert key.pict_type == "I"
        grid = key.grid(16)
        gaps[roi] = grid[~cells].mean() - grid[cells].mean()
    # the face fills most of this frame, so the +2 QP payer cap leaves most of its cost to the whole frame:
    # measured gap -1.98 QP plain, +1.95 with the map (+5.70 before the cap)
    assert gaps["faces"] >= 1 and gaps["faces"] > gaps["off"] + 3, gaps


def _x265_log_qp(noise, tmp_path, qpmap: QpMap | None) -> float:
    """x265 at the library's CRF options plus its own per-frame log, `qpmap` attached to every frame; the
    P/B frames' mean QP as benchmarks/roi_x265.py reads it from that log."""
    import gc
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
    try:
        from roi_x265 import x265_inter_qp
    finally:
        sys.path.pop(0)
    caps = CAPABILITIES["libx265"]
    opts, _ = encoder_options(caps, RateControl(crf=CRF), None)
    log = tmp_path / f"x265_{qpmap is not None}.csv"
    opts["x265-params"] += f":csv={log}:csv-log-level=1"
    ctx = av.CodecContext.create("libx265", "w")
    configure_threads(ctx)
    ctx.width, ctx.height, ctx.pix_fmt = W, H, "yuv420p"
    ctx.time_base, ctx.framerate = Fraction(1, 25), Fraction(25)
    ctx.options = opts
    attacher = RoiAttacher()
    for i, img in enumerate(noise):
        f = av.VideoFrame.from_ndarray(img, format="gray").reformat(format="yuv420p")
        f.pts = i
        attacher.attach(f, (qpmap or QpMap.zeros((H // 16, W // 16), 16)).regions(W, H, caps.qp_range(8)))
        ctx.encode(f)
    ctx.encode(None)
    del ctx  # x265 writes its log when the encoder closes, which PyAV does when the context is freed
    gc.collect()
    return x265_inter_qp(str(log))


def test_x265_log_shows_the_map(noise, tmp_path):
    """hevc exports no block QPs, so benchmarks/roi_x265.py reads x265's own per-frame log: its P/B frame QP is
    the mean after AQ and the map. A map of -8 QP on the whole frame lowers it by about 8 at a CRF."""
    plain = _x265_log_qp(noise, tmp_path, None)
    favoured = _x265_log_qp(noise, tmp_path, QpMap(np.full((H // 16, W // 16), -8.0, np.float32), 16))
    assert plain - favoured == pytest.approx(8, abs=1.5), (plain, favoured)

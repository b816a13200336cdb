"""ROI side data: the ctypes attacher, the offset-grid -> region-list conversion, and real encodes
that prove the encoders read the map."""

import av
import cv2
import numpy as np
import pytest

from conftest import region_mse, textured_frames
from semcodec.encoding.codecs import CAPABILITIES, roundtrip, self_check
from semcodec.encoding.roi_sidedata import ROI_STRUCT_SIZE, SIDE_DATA_ROI, RoiAttacher, regions_from_offsets


@pytest.fixture(scope="module")
def attacher():
    return RoiAttacher()  # verifies the layout on a probe frame; raises RoiUnavailable if wrong


def roi_rows(frame) -> list[np.ndarray]:
    """The ROI side-data entries of a frame, each parsed back into (N, 7) int32 rows."""
    return [np.frombuffer(bytes(s), np.int32).reshape(-1, 7)
            for s in frame.side_data if s.type.value == SIDE_DATA_ROI]


# ---- RoiAttacher ---------------------------------------------------------------------------------

def test_side_data_type_is_ffmpeg_regions_of_interest():
    assert SIDE_DATA_ROI == av.sidedata.sidedata.Type.REGIONS_OF_INTEREST.value
    assert ROI_STRUCT_SIZE == 28  # uint32 + 4 * int32 + AVRational


@pytest.mark.parametrize("make", ["blank", "from_ndarray", "reformatted", "decoded"])
def test_attach_reads_back_through_pyav(attacher, make, clips):
    if make == "blank":
        frame = av.VideoFrame(160, 96, "yuv420p")
    elif make == "from_ndarray":
        frame = av.VideoFrame.from_ndarray(textured_frames(1, (160, 96))[0], format="rgb24")
    elif make == "reformatted":
        frame = av.VideoFrame.from_ndarray(textured_frames(1, (160, 96))[0], format="rgb24").reformat(
            format="yuv420p")
    else:
        with av.open(clips("plain16.mp4")) as c:
            frame = next(c.decode(video=0))
    rows = np.array([[ROI_STRUCT_SIZE, 0, 32, 16, 80, -200, 1000],
                     [ROI_STRUCT_SIZE, 32, 96, 0, 160, 150, 1000]], np.int32)
    # (PyAV caches frame.side_data on first access, so it is read only after attaching)
    attacher.attach(frame, rows)
    got = roi_rows(frame)
    assert len(got) == 1
    np.testing.assert_array_equal(got[0], rows)


def test_attach_accepts_other_int_dtypes_and_empty_list(attacher):
    frame = av.VideoFrame(64, 48, "yuv420p")
    attacher.attach(frame, np.zeros((0, 7), np.int32))
    assert roi_rows(frame) == []  # no regions: no side data at all
    frame = av.VideoFrame(64, 48, "yuv420p")
    rows64 = np.array([[ROI_STRUCT_SIZE, 0, 16, 0, 16, -1, 2]], np.int64)
    attacher.attach(frame, rows64)
    np.testing.assert_array_equal(roi_rows(frame)[0], rows64.astype(np.int32))


# ---- regions_from_offsets ------------------------------------------------------------------------

def test_runs_merge_zero_blocks_skipped_and_edges_clipped():
    # 2 rows x 6 blocks of 16 px over a 90 x 20 frame: the last column and last row are partial
    offsets = np.array([[-5.1, -5.1, 0.0, 2.0, 2.0, 2.0],
                        [2.0, 0.0, 0.0, 0.0, -5.1, 0.0]], np.float32)
    rows = regions_from_offsets(offsets, 16, 90, 20, qp_range=51.0)
    q1, q2 = int(np.rint(-5.1 / 51 * 1000)), int(np.rint(2.0 / 51 * 1000))
    expected = np.array([
        # size, top, bottom, left, right, num, den
        [28, 0, 16, 0, 32, q1, 1000],
        [28, 0, 16, 48, 90, q2, 1000],  # right edge clipped to the frame width
        [28, 16, 20, 0, 16, q2, 1000],  # bottom clipped to the frame height; no merge across rows
        [28, 16, 20, 64, 80, q1, 1000],
    ], np.int32)
    assert rows.dtype == np.int32
    np.testing.assert_array_equal(rows, expected)


def test_all_zero_grid_gives_no_regions():
    rows = regions_from_offsets(np.zeros((4, 5), np.float32), 16, 80, 64, 51.0)
    assert rows.shape == (0, 7)
    # offsets too small to survive the qoffset rounding count as zero as well
    tiny = np.full((2, 2), 0.01, np.float32)
    assert regions_from_offsets(tiny, 16, 32, 32, 51.0).shape == (0, 7)


def test_qoffset_scaling_and_clipping():
    offsets = np.array([[-100.0, -25.5, 12.75, 100.0]], np.float32)
    rows = regions_from_offsets(offsets, 8, 32, 8, qp_range=51.0, den=1000)
    np.testing.assert_array_equal(rows[:, 5], [-1000, -500, 250, 1000])  # clipped to [-1, 1]
    assert (rows[:, 6] == 1000).all()
    rows = regions_from_offsets(offsets, 8, 32, 8, qp_range=63.0, den=100)  # 10-bit x264 scale
    np.testing.assert_array_equal(rows[:, 5], [-100, -40, 20, 100])
    assert (rows[:, 6] == 100).all()


def test_values_equal_after_rounding_merge_into_one_run():
    offsets = np.array([[3.0, 3.001, 2.999, 0.0]], np.float32)
    rows = regions_from_offsets(offsets, 16, 64, 16, 51.0)
    assert len(rows) == 1 and tuple(rows[0, 1:5]) == (0, 16, 0, 48)


def rasterize(rows: np.ndarray, width: int, height: int) -> np.ndarray:
    """Paint regions in reverse order so the first row wins where regions overlap."""
    img = np.zeros((height, width), np.int64)
    for r in rows[::-1]:
        img[r[1]:r[2], r[3]:r[4]] = r[5]
    return img


@pytest.mark.parametrize("seed", range(12))
def test_regions_reproduce_the_grid_exactly(seed):
    rng = np.random.default_rng(seed)
    block = int(rng.choice([8, 16, 64]))
    width, height = int(rng.integers(20, 300)), int(rng.integers(20, 200))
    gh, gw = -(-height // block), -(-width // block)
    # few distinct values, many zeros, so runs of several blocks occur
    offsets = rng.choice([0, 0, 0, -6, -3, 2.5, 7], size=(gh, gw)).astype(np.float32)
    rows = regions_from_offsets(offsets, block, width, height, 51.0)

    q = np.rint(offsets / 51.0 * 1000).astype(np.int64)
    expected = np.kron(q, np.ones((block, block), np.int64))[:height, :width]
    np.testing.assert_array_equal(rasterize(rows, width, height), expected)

    assert (rows[:, 0] == ROI_STRUCT_SIZE).all() and (rows[:, 5] != 0).all()
    assert (rows[:, 1] < rows[:, 2]).all() and (rows[:, 3] < rows[:, 4]).all()
    assert rows[:, 2].max(initial=0) <= height and rows[:, 4].max(initial=0) <= width
    # row-major order, top to bottom and left to right, and no two regions overlap
    keys = list(zip(rows[:, 1], rows[:, 3]))
    assert keys == sorted(keys)
    area = ((rows[:, 2] - rows[:, 1]) * (rows[:, 4] - rows[:, 3])).sum()
    assert area == (expected != 0).sum()
    # maximal runs: two neighbouring regions in a row never carry the same value
    for a, b in zip(rows[:-1], rows[1:]):
        if a[1] == b[1] and a[4] == b[3]:
            assert a[5] != b[5]


# ---- real encodes --------------------------------------------------------------------------------

W, H, N = 128, 96, 12


@pytest.fixture(scope="module")
def source():
    return [cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) for img in textured_frames(N, (W, H))]


def encode_frames(codec: str, source, offsets, attacher, crf: float = 32):
    """Encode grey frames with the library's own options, optionally with a QP-offset grid; return
    (packet bytes, decoded grey frames)."""
    caps = CAPABILITIES[codec]
    regions = None
    if offsets is not None:
        regions = regions_from_offsets(offsets, caps.block, W, H, caps.qp_range(8))
    return roundtrip(codec, source, regions, crf=crf, attacher=attacher)


@pytest.mark.parametrize("codec", ["libx264", "libx265", "libvpx-vp9"])
def test_map_changes_bitstream_and_favours_the_region(codec, source, attacher):
    caps = CAPABILITIES[codec]
    gh, gw = -(-H // caps.block), -(-W // caps.block)
    top = gh // 2
    offsets = np.zeros((gh, gw), np.float32)
    offsets[:top] = -6   # top half: finer quantiser
    offsets[top:] = 6    # bottom half: coarser
    plain_bits, plain = encode_frames(codec, source, None, attacher)
    again_bits, _ = encode_frames(codec, source, None, attacher)
    zero_bits, _ = encode_frames(codec, source, np.zeros((gh, gw), np.float32), attacher)
    roi_bits, roi = encode_frames(codec, source, offsets, attacher)
    assert plain_bits == again_bits, "encoder is not deterministic: the comparison below means nothing"
    assert zero_bits == plain_bits  # an all-zero map attaches nothing
    assert roi_bits != plain_bits
    assert len(roi) == len(plain) == N
    split = top * caps.block
    top_plain = np.mean([region_mse(o[:split], s[:split]) for o, s in zip(plain, source)])
    top_roi = np.mean([region_mse(o[:split], s[:split]) for o, s in zip(roi, source)])
    bot_plain = np.mean([region_mse(o[split:], s[split:]) for o, s in zip(plain, source)])
    bot_roi = np.mean([region_mse(o[split:], s[split:]) for o, s in zip(roi, source)])
    assert top_roi < 0.8 * top_plain, (top_roi, top_plain)
    assert bot_roi > bot_plain, (bot_roi, bot_plain)


@pytest.mark.parametrize("codec,honoured,readable", [("libx264", True, True), ("libx265", True, False),
                                                     ("libvpx-vp9", True, True), ("libsvtav1", False, False)])
def test_self_check(codec, honoured, readable):
    result = self_check(codec)
    assert result["codec"] == codec
    assert result["honoured"] is honoured
    assert result["expected"] is CAPABILITIES[codec].roi is honoured
    assert result["note"] == CAPABILITIES[codec].note  # no "table is wrong" note
    if honoured:
        assert result["left_mse_roi"] < 0.9 * result["left_mse_plain"] and not result["identical"]
    else:  # the map was attached all the same, and the bitstream came out byte for byte as without it
        assert result["identical"] and result["left_mse_roi"] == result["left_mse_plain"]
    if not readable:  # FFmpeg's hevc and libdav1d decoders export no VIDEO_ENC_PARAMS
        assert result["qp_plain"] is None and result["qp_roi"] is None
        return
    (plain_left, plain_right), (left, right) = result["qp_plain"], result["qp_roi"]
    assert abs(plain_left - plain_right) < 1  # noise: both halves alike without a map
    if codec == "libx264":  # -8 QP left, +8 right, exactly as asked (every macroblock codes a residual)
        assert result["qp_unit"] == "QP" and right - left == pytest.approx(16, abs=1)
    else:  # VP9 q-index (0-255): +-8 QP is qoffset +-0.51, +-32 libvpx q steps, about +-128 q-index (floor 0)
        assert result["qp_unit"] == "q-index" and right - left > 100


# ---- which libavutil allocates the side data ----------------------------------------------------

_WHICH_AVUTIL = r"""
import json, sys
for name in sys.argv[1].split(","):
    __import__(name)
import av, numpy as np
from semcodec.encoding.roi_sidedata import ROI_STRUCT_SIZE, SIDE_DATA_ROI, RoiAttacher
attacher = RoiAttacher()
frame = av.VideoFrame(64, 48, "yuv420p")
rows = np.array([[ROI_STRUCT_SIZE, 0, 16, 0, 32, -100, 1000]], np.int32)
attacher.attach(frame, rows)
got = [bytes(s) for s in frame.side_data if s.type.value == SIDE_DATA_ROI]
with open("/proc/self/maps") as f:
    mapped = sorted({ln.split()[-1] for ln in f if "libavutil" in ln})
print(json.dumps({"library": attacher.library, "read_back": got == [rows.tobytes()], "mapped": mapped}))
"""


@pytest.mark.parametrize("order", ["cv2,av", "av,cv2"])
def test_side_data_comes_from_pyavs_libavutil_with_opencv_loaded(order):
    """OpenCV's wheel bundles its own libavutil; whichever is imported first, the attacher uses PyAV's."""
    import json
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    pyav_libs = os.path.realpath(os.path.join(os.path.dirname(av.__file__), os.pardir, "av.libs"))
    if not os.path.isdir(pyav_libs):
        pytest.skip("this PyAV has no bundled libraries (av.libs/)")
    r = subprocess.run([sys.executable, "-c", _WHICH_AVUTIL, order], capture_output=True, text=True, cwd=root,
                       env=dict(os.environ, PYTHONPATH=root), timeout=120)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert os.path.dirname(d["library"]) == pyav_libs
    assert d["library"] in d["mapped"]
    if len(d["mapped"]) < 2:
        pytest.skip("OpenCV brings no libavutil of its own here: nothing to confuse PyAV's with")
    assert d["read_back"]


def test_elf_needed_names_pyavs_libavutil():
    import glob
    import os

    from semcodec.encoding.roi_sidedata import _elf_needed

    core = glob.glob(os.path.join(os.path.dirname(av.__file__), "_core*.so"))
    if not core:
        pytest.skip("PyAV has no _core extension module here")
    assert any(n.startswith("libavutil") for n in _elf_needed(core[0]))
    assert _elf_needed(__file__) == []  # not an ELF file


def test_no_usable_libavutil_is_a_clear_reason(monkeypatch):
    import semcodec.encoding.roi_sidedata as rs

    monkeypatch.setattr(rs, "_avutil_candidates", lambda: [])
    with pytest.raises(rs.RoiUnavailable, match="cannot find the libavutil PyAV links"):
        RoiAttacher()
    monkeypatch.setattr(rs, "_avutil_candidates", lambda: ["/nonexistent/libavutil.so.60"])
    with pytest.raises(rs.RoiUnavailable, match=r"PyAV's libavutil \(/nonexistent/libavutil.so.60\) is not loaded"):
        RoiAttacher()

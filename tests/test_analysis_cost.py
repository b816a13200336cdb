"""Analysis cost follows the frame (issue 12, speed): never upscaled, the face net only as large as the smallest
useful face needs, small views without a swscale context per frame, fusion without per-analyzer temporaries."""
import av
import cv2
import numpy as np
import pytest

from conftest import face_box_in_clip, face_frames, texture_image
from semcodec.analysis import netpool
from semcodec.analysis.base import ANALYSIS_LONG_SIDE, AnalysisFrame, Analyzer, Detections
from semcodec.analysis.faces import MIN_FACE_PX, NET_FACE_PX, FaceAnalyzer, net_size
from semcodec.analysis.fusion import GATE_HOLD, ImportanceMapper, analysis_size
from semcodec.frames import FrameViews, small_luma, small_rgb


@pytest.mark.parametrize("w,h", [(176, 144), (175, 143), (128, 96), (161, 97), (3, 3), (319, 241), (320, 240),
                                 (640, 480), (1280, 720), (1920, 1080), (1080, 1920), (401, 225)])
def test_analysis_never_upscales(w, h):
    aw, ah = analysis_size(w, h)
    assert aw <= w and ah <= h and aw % 2 == 0 and ah % 2 == 0
    assert max(aw, ah) <= ANALYSIS_LONG_SIDE
    if max(w, h) <= ANALYSIS_LONG_SIDE:  # a small frame is analysed at its own size (even)
        assert (aw, ah) == (max(2, w // 2 * 2), max(2, h // 2 * 2))


def test_face_net_follows_the_smallest_useful_face():
    # a frame analysed at its own size: faces of MIN_FACE_PX stay NET_FACE_PX wide at the net's input
    nw, nh = net_size(176, 144)
    assert (nw, nh) == (128, 96)
    assert nw >= 176 * NET_FACE_PX / MIN_FACE_PX and nh >= 144 * NET_FACE_PX / MIN_FACE_PX
    # a frame already reduced for analysis: the net sees all of it (multiples of 32, never smaller)
    assert net_size(320, 180) == (320, 192)
    assert net_size(320, 240) == (320, 256)
    assert net_size(180, 320) == (192, 320)
    for w, h in [(2, 2), (40, 30), (176, 144), (318, 178), (320, 132)]:
        nw, nh = net_size(w, h)
        assert nw % 32 == 0 and nh % 32 == 0 and nw >= 32 and nh >= 32


def test_face_found_on_a_qcif_frame_through_the_small_net():
    fa = FaceAnalyzer()
    assert fa.load(), fa.reason
    size = (176, 144)
    rgb = face_frames(1, size)[0]
    det = fa.analyze(AnalysisFrame(0, 0.0, rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)))
    assert ("centerface", (128, 96)) in netpool.built  # the net's input: 2/3 of the frame, in multiples of 32
    assert len(det.regions) == 1
    r, t = det.regions[0].box, face_box_in_clip(size)
    ix = max(0.0, min(r[2], t[2]) - max(r[0], t[0]))
    iy = max(0.0, min(r[3], t[3]) - max(r[1], t[1]))
    inter = ix * iy
    assert inter / ((r[2] - r[0]) * (r[3] - r[1]) + (t[2] - t[0]) * (t[3] - t[1]) - inter) > 0.5


def _frame(fmt: str, w: int = 175, h: int = 143) -> av.VideoFrame:
    rgb = cv2.GaussianBlur(texture_image(h, w), (9, 9), 3)
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=fmt)


def _swscale_rgb(frame: av.VideoFrame, w: int, h: int) -> np.ndarray:
    yuv = frame.reformat(width=w, height=h, format="yuv420p", interpolation="AREA").to_ndarray()
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv420p10le", "yuvj420p", "nv12", "rgb24"])
@pytest.mark.parametrize("size", [(174, 142), (88, 72), (64, 48)])
def test_small_rgb_matches_swscale(fmt, size):
    """The plane-by-plane path (4:2:0) gives the picture swscale's scale-and-convert gave; other formats still
    take swscale."""
    frame = _frame(fmt)
    got, ref = small_rgb(frame, *size), _swscale_rgb(frame, *size)
    assert got.shape == (size[1], size[0], 3) and got.dtype == np.uint8 and got.flags.c_contiguous
    diff = np.abs(got.astype(int) - ref.astype(int))
    assert diff.mean() < 1.5 and diff.max() <= 8, (diff.mean(), diff.max())


def test_small_luma_at_the_frame_size_is_the_plane():
    frame = _frame("yuv420p", 176, 144)
    y = small_luma(frame, 176, 144)
    assert y.flags.c_contiguous and y.shape == (144, 176)
    assert np.array_equal(y, frame.to_ndarray()[:144])
    assert small_luma(frame, 88, 72).shape == (72, 88)


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv420p10le", "yuvj420p", "nv12", "rgb24"])
def test_frame_views_scale_the_full_frame_once_and_match_the_separate_views(fmt):
    """The analysis thread's views (semcodec.frames.FrameViews): luma and colour as small_luma/small_rgb give them,
    the shot detector's half-size view scaled from the analysis-size picture, within rounding of a direct one."""
    frame = _frame(fmt, 320, 180)
    for first in ("luma", "rgb"):  # either view may be asked for first
        v = FrameViews(frame, 160, 90)
        got = {"luma": v.luma(), "rgb": v.rgb()} if first == "luma" else {"rgb": v.rgb(), "luma": v.luma()}
        assert np.array_equal(got["luma"], small_luma(frame, 160, 90)) and got["luma"].flags.c_contiguous
        assert np.array_equal(got["rgb"], small_rgb(frame, 160, 90))
    half, ref = v.rgb_at(80, 44), small_rgb(frame, 80, 44)
    assert half.shape == ref.shape == (44, 80, 3)
    diff = np.abs(half.astype(int) - ref.astype(int))
    assert diff.mean() < 1.0 and diff.max() <= 8, (diff.mean(), diff.max())
    assert v.rgb_at(160, 90) is v.rgb()


class _Const(Analyzer):
    name, weight = "const", 0.5

    def __init__(self, value):
        super().__init__()
        self.value = value

    def analyze(self, frame):
        return Detections([], np.full(frame.gray.shape, self.value, np.float32))


def test_fused_maps_are_independent_arrays():
    """Fusion works in place: each frame's map must still be its own array, untouched by later frames."""
    a, b = _Const(0.8), _Const(0.4)
    b.name = "other"
    mapper = ImportanceMapper([a, b], fade=0.5)
    g = np.zeros((6, 8), np.uint8)
    first = mapper(AnalysisFrame(0, 0.0, None, g))
    kept = first.copy()
    a.value = b.value = 0.0
    second = mapper(AnalysisFrame(1, 0.04, None, g))
    assert np.array_equal(first, kept) and second is not first
    assert second == pytest.approx(np.full((6, 8), 0.5 * kept[0, 0]))  # fades from the first map
    assert mapper(AnalysisFrame(2, 0.08, None, np.zeros((4, 4), np.uint8))).shape == (4, 4)  # a new size


# ---- strides weighed against the encoder (semcodec.analysis.schedule) -------------------------------------------
from semcodec.analysis.fusion import build_analyzers  # noqa: E402
from semcodec.analysis.schedule import ANALYSIS_SHARE, plan_strides  # noqa: E402
from semcodec.analysis.text import TextAnalyzer  # noqa: E402
from semcodec.encoding.cost import encoder_ms_per_frame  # noqa: E402


def _auto():
    return [a for a in build_analyzers("auto") if a.load()]


def test_strides_keep_analysis_a_share_of_the_encode_or_sit_at_their_caps():
    analyzers = _auto()
    base = {a.name: a.stride for a in analyzers}
    for (w, h), codec, preset in [((176, 144), "libx264", "medium"), ((640, 480), "libx264", "medium"),
                                  ((1280, 720), "libx264", "medium"), ((1280, 720), "libx264", "veryfast"),
                                  ((1920, 1080), "libx265", "slow")]:
        enc = encoder_ms_per_frame(codec, preset, w, h)
        s = plan_strides(analyzers, analysis_size(w, h), enc, 25.0)
        capped = all(s.strides[a.name] == max(a.stride, int(a.max_stride_s * 25)) for a in analyzers)
        assert s.analysis_ms <= ANALYSIS_SHARE * enc + 1e-9 or capped, (w, h, codec, s)
        assert all(s.strides[n] >= base[n] for n in base)  # never more often than an analyzer's own stride
        assert s == plan_strides(analyzers, analysis_size(w, h), enc, 25.0)  # the same settings, the same maps
    # a dearer encode affords more analysis: QCIF x264 stretches the face stride, 1080p x265 slow does not
    qcif = plan_strides(analyzers, (176, 144), encoder_ms_per_frame("libx264", "medium", 176, 144), 25.0)
    big = plan_strides(analyzers, (320, 180), encoder_ms_per_frame("libx265", "slow", 1920, 1080), 25.0)
    assert qcif.strides["faces"] > base["faces"] and big.strides["faces"] == base["faces"]
    assert qcif.strides["faces"] <= 25  # faces held for at most max_stride_s (1 s)


def test_encoder_cost_grows_with_pixels_and_slower_presets():
    assert encoder_ms_per_frame("libx264", "medium", 1280, 720) > encoder_ms_per_frame("libx264", "medium", 640, 360)
    assert encoder_ms_per_frame("libx264", "slow", 640, 480) > encoder_ms_per_frame("libx264", "veryfast", 640, 480)
    assert encoder_ms_per_frame("libx265", "medium", 640, 480) > encoder_ms_per_frame("libx264", "medium", 640, 480)
    assert encoder_ms_per_frame("libsvtav1", "4", 640, 480) > encoder_ms_per_frame("libsvtav1", "10", 640, 480)
    assert encoder_ms_per_frame("libvpx-vp9", None, 640, 480) > 0


class _Counting(Analyzer):
    """A stand-in analyzer (the mapper is under test) that counts its runs and returns an empty map."""

    name = "counting"
    stride = 2
    max_stride_s = 10.0

    def analyze(self, frame):
        return Detections([], np.zeros(frame.gray.shape, np.float32))


def test_a_stretched_stride_is_renewed_when_the_picture_changes():
    a = _Counting()
    mapper = ImportanceMapper([a])
    mapper.use_strides({"counting": 100})
    still, cut = np.full((36, 64), 60, np.uint8), np.full((36, 64), 200, np.uint8)
    for i in range(30):  # a still picture: held from frame 0 on
        mapper(AnalysisFrame(i, i / 25, None, still))
    assert mapper.summary()[0]["runs"] == 1 and mapper.summary()[0]["stride"] == 100
    for i in range(30, 40):  # a cut at frame 30: run there, then held again
        mapper(AnalysisFrame(i, i / 25, None, cut))
    assert mapper.summary()[0]["runs"] == 2


class _Costly(_Counting):
    def cost_ms(self, width, height):
        return 10.0


def _pan(i: int) -> np.ndarray:
    """A picture that drifts a little every frame (a pan): no two consecutive frames far apart."""
    x = np.arange(64, dtype=np.float32)
    return np.tile(128 + 100 * np.sin((x + 0.6 * i) / 9.0), (36, 1)).astype(np.uint8)


def _runs_on_a_pan_then_a_cut(renew_ms: float | None) -> tuple[int, int]:
    a = _Costly()
    mapper = ImportanceMapper([a])
    mapper.use_strides({"counting": 100}, renew_ms)
    for i in range(60):
        mapper(AnalysisFrame(i, i / 25, None, _pan(i)))
    on_pan = mapper.summary()[0]["runs"]
    for i in (60, 61):  # a cut (a result renewed on frame 59 is held for the analyzer's own stride)
        mapper(AnalysisFrame(i, i / 25, None, np.full((36, 64), 250, np.uint8)))
    return on_pan, mapper.summary()[0]["runs"] - on_pan


def test_early_renewals_on_a_moving_picture_stay_within_their_credit_and_a_cut_still_renews():
    """A result held on a stretched stride is renewed when the picture has moved on; with a budget (the schedule's
    renew_ms) those renewals spend at most the credit earned, and a cut renews at once, credit or not."""
    free, _ = _runs_on_a_pan_then_a_cut(None)
    assert free >= 15  # without a budget: whenever the pan has moved the picture on (every few frames)
    budgeted, at_cut = _runs_on_a_pan_then_a_cut(1.0)  # 1 ms a frame buys a 10 ms run every 10 frames
    assert 4 <= budgeted <= 1 + 60 * 1.0 / 10  # the first run, then what the credit earned
    assert at_cut == 1
    starved, at_cut = _runs_on_a_pan_then_a_cut(0.0)
    assert starved <= 2 and at_cut == 1


def test_strided_runs_fall_on_the_same_frames_in_a_chunk():
    whole, piece = _Counting(), _Counting()
    a, b = ImportanceMapper([whole]), ImportanceMapper([piece])
    b.origin = 7  # a chunk that starts at frame 7 of the video
    ran_whole, ran_piece = [], []
    frame = np.full((36, 64), 60, np.uint8)
    for i in range(20):
        a(AnalysisFrame(i, 0.0, None, frame))
        ran_whole.append(a.summary()[0]["runs"])
    for i in range(13):
        b(AnalysisFrame(i, 0.0, None, frame))
        ran_piece.append(b.summary()[0]["runs"])
    # after its own first frame, the chunk runs the analyzer on the video's even frames, as the whole encode does
    new_whole = {i for i in range(8, 20) if ran_whole[i] > ran_whole[i - 1]}
    new_piece = {i + 7 for i in range(1, 13) if ran_piece[i] > ran_piece[i - 1]}
    assert new_whole == new_piece == {8, 10, 12, 14, 16, 18}


def test_text_detection_input_is_at_most_twice_the_frame():
    t = TextAnalyzer()
    assert t.det_size(320, 180) == (640, 360)
    assert t.det_size(176, 144) == (352, 288)
    assert t.det_size(1024, 768) == (640, 480)
    assert t.cost_ms(176, 144) < t.cost_ms(320, 240)


def test_held_faces_are_followed_in_crops():
    """Between whole-frame runs, a held face is found again in a small crop: it moves with the face."""
    fa = FaceAnalyzer()
    assert fa.load(), fa.reason
    size = (320, 240)
    frames = face_frames(2, size)
    first = fa.analyze(AnalysisFrame(0, 0.0, frames[0], cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY)))
    assert len(first.regions) == 1
    shifted = np.roll(frames[1], (12, 20), axis=(0, 1))  # the face moved 20 px right, 12 px down
    moved = AnalysisFrame(1, 0.04, shifted, cv2.cvtColor(shifted, cv2.COLOR_RGB2GRAY))
    refined = fa.refine(moved, first)
    full = fa.analyze(moved)
    assert len(refined.regions) == 1 and len(full.regions) == 1
    (a, b), (c, d) = ((r.box[0] * 320, r.box[1] * 240) for r in (refined.regions[0], full.regions[0]))
    assert abs(a - c) <= 6 and abs(b - d) <= 6  # about where a whole-frame run finds it (a 64 px net)
    x0, y0 = first.regions[0].box[0] * 320, first.regions[0].box[1] * 240
    assert a - x0 >= 15 and b - y0 >= 8  # it followed the face
    blank = np.zeros_like(shifted)  # no face in the crop: the held box stays
    kept = fa.refine(AnalysisFrame(2, 0.08, blank, blank[..., 0]), first)
    assert [r.box for r in kept.regions] == [r.box for r in first.regions]


class _FindsBright(Analyzer):
    """A stand-in detector of single pictures (the mapper's gate is under test): it finds the bright pixels."""

    name = "bright"
    stride = 4
    max_stride_s = 10.0
    gated = True

    def __init__(self):
        super().__init__()
        self.refined = 0

    def analyze(self, frame):
        return Detections([], (frame.gray > 150).astype(np.float32))

    def refine(self, frame, held):
        self.refined += 1
        return held


def test_a_gated_detector_skips_runs_on_a_still_picture_and_reruns_when_it_changes():
    """Change gate: on a still picture the due runs of a detector of single pictures are skipped (at most
    GATE_HOLD strides), and so are its refinements; a change inside what it found calls a refinement, not a run;
    something new elsewhere calls a run (at its next due frame), a cut at once. A detector that compares frames
    (motion-like, not gated) runs on every stride."""
    gated, plain = _FindsBright(), _Counting()
    plain.stride = 4
    mapper = ImportanceMapper([gated, plain])
    picture = np.full((72, 128), 60, np.uint8)
    picture[20:40, 40:60] = 200  # what the detector finds
    runs = lambda: {s["name"]: s["runs"] for s in mapper.summary()}  # noqa: E731
    n = 4 * GATE_HOLD + 1
    for i in range(n):  # still: a run at frame 0, then held until GATE_HOLD strides have passed
        mapper(AnalysisFrame(i, i / 25, None, picture))
    assert runs() == {"bright": 2, "counting": len(range(0, n, 4))}
    assert mapper.summary()[0]["skipped_unchanged"] == GATE_HOLD - 1
    assert gated.refined == 0  # nothing it found moved: nothing to follow
    moving = picture.copy()
    moving[20:40, 44:64] = 200
    moving[20:40, 40:44] = 60  # the found object moved a few pixels: inside its own cells
    for i in range(n, n + 8):
        mapper(AnalysisFrame(i, i / 25, None, moving))
    assert runs()["bright"] == 2 and gated.refined >= 1  # followed by its cheap refinement instead
    new = moving.copy()
    new[50:66, 90:110] = 220  # something new elsewhere: a few cells, far from a cut
    for i in range(n + 8, n + 12):
        mapper(AnalysisFrame(i, i / 25, None, new))
    assert runs()["bright"] == 3
    cut = np.full((72, 128), 200, np.uint8)
    mapper(AnalysisFrame(n + 16, (n + 16) / 25, None, cut))  # not a due frame: the cut renews it at once
    assert runs()["bright"] == 4

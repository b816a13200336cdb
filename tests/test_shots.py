"""Shot boundaries (semcodec/shots): cuts, fades and dissolves at the exact frame, on clips built here."""
from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np
import pytest

from conftest import texture_image, textured_frames
from semcodec.errors import SemcodecError
from semcodec.shots import Boundary, Shot, ShotDetector, detect_shots
from semcodec.shots.video import small_frame

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIDEOS = os.path.join(os.path.dirname(ROOT), "shared", "videos")
SIZE = (320, 180)
FPS = 25


def write_clip(path, frames: list[np.ndarray], fps: int = FPS) -> str:
    """Encode RGB frames losslessly enough (x264 CRF 16) that the picture is what we drew."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        vs.options = {"crf": "16", "preset": "ultrafast"}
        vs.codec_context.time_base = Fraction(1, fps)
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, fps)
            out.mux(vs.encode(f))
        out.mux(vs.encode(None))
    return str(path)


def panning(n: int, seed: int, speed: int = 1, flip: bool = False) -> list[np.ndarray]:
    """A texture panning `speed` px per frame; `flip` swaps colour channels (a different palette)."""
    w, h = SIZE
    big = texture_image(h, w + speed * n, seed)
    if flip:
        big = np.ascontiguousarray(big[..., ::-1])
    return [np.ascontiguousarray(big[:, speed * i:speed * i + w]) for i in range(n)]


def scaled(img: np.ndarray, a: float) -> np.ndarray:
    return np.clip(img.astype(np.float32) * a, 0, 255).astype(np.uint8)


def blend(x: np.ndarray, y: np.ndarray, w: float) -> np.ndarray:
    return np.clip(x * (1 - w) + y.astype(np.float32) * w, 0, 255).astype(np.uint8)


def starts(shots: list[Shot]) -> list[tuple[int, str]]:
    return [(s.start_frame, s.transition) for s in shots]


@pytest.fixture(scope="module")
def cuts_clip(tmp_path_factory):
    """Three shots (two textures with different palettes around a photo), hard cuts at 20 and 45."""
    from conftest import face_frames

    frames = panning(20, 3) + face_frames(25, SIZE) + panning(25, 11, flip=True)
    return write_clip(tmp_path_factory.mktemp("shots") / "cuts.mp4", frames)


def test_hard_cuts_at_the_exact_frame(cuts_clip):
    shots = detect_shots(cuts_clip)
    assert starts(shots) == [(0, "start"), (20, "cut"), (45, "cut")]
    assert [s.end_frame for s in shots] == [20, 45, 70]
    assert shots[1].start_time == pytest.approx(20 / FPS) and shots[0].end_time == shots[1].start_time
    assert shots[-1].end_time == pytest.approx(70 / FPS)
    assert shots[1].to_json() == {"index": 1, "start_frame": 20, "end_frame": 45, "start_time": 0.8,
                                  "end_time": 1.8, "transition": "cut"}


def test_fade_to_black_and_back_is_one_fade(tmp_path):
    a, b = panning(30, 3), panning(30, 11, flip=True)
    frames = a[:20] + [scaled(a[20 + k], x) for k, x in enumerate((0.75, 0.5, 0.25))]  # 20..22 fade out
    frames += [np.zeros_like(a[0])] * 5  # 23..27 black
    frames += [scaled(b[k], x) for k, x in enumerate((0.25, 0.5, 0.75))] + b[3:25]  # 28.. fade in
    shots = detect_shots(write_clip(tmp_path / "fade.mp4", frames))
    # the new shot starts with its first visible frame; black frames never start a shot
    assert starts(shots) == [(0, "start"), (28, "fade")]


def test_dissolve_found_at_its_middle(tmp_path):
    a, b = panning(50, 3), panning(50, 11, flip=True)
    mix = [blend(a[20 + k], b[k], (k + 1) / 13) for k in range(12)]  # frames 20..31
    shots = detect_shots(write_clip(tmp_path / "dissolve.mp4", a[:20] + mix + b[12:40]))
    assert len(shots) == 2 and shots[1].transition == "dissolve"
    assert abs(shots[1].start_frame - 26) <= 1  # the frame where the mix tips to the new picture


def test_slow_pan_flash_blink_and_lighting_change_are_one_shot(tmp_path):
    frames = textured_frames(80, SIZE)  # pans right and down, a bright patch crossing it
    frames[15] = np.zeros_like(frames[15])  # one black frame, back to the same picture
    frames[30] = np.full_like(frames[30], 255)  # a one-frame flash
    frames[50:62] = [scaled(f, 1 - 0.04 * (i + 1)) for i, f in enumerate(frames[50:62])]  # lights dim
    frames[62:] = [scaled(f, 0.52) for f in frames[62:]]
    shots = detect_shots(write_clip(tmp_path / "pan.mp4", frames))
    assert starts(shots) == [(0, "start")] and shots[0].end_frame == 80


def test_zoom_and_camera_shake_are_one_shot():
    """Frames pushed straight in (no file): a fast zoom and a shaking camera change every pixel, yet the
    picture stays the same, so neither is a cut."""
    import cv2

    big = texture_image(360, 640, 4)
    zoom = [cv2.resize(big[3 * i:360 - 3 * i, 5 * i:640 - 5 * i], SIZE, interpolation=cv2.INTER_AREA)
            for i in range(50)]
    rng = np.random.default_rng(0)
    shake = [np.ascontiguousarray(big[60 + dy:240 + dy, 100 + dx:420 + dx])
             for dy, dx in rng.integers(-12, 13, size=(50, 2))]
    for frames in (zoom, shake):
        det = ShotDetector(FPS)
        for i, f in enumerate(frames):
            det.push(i, i / FPS, f)
        assert len(det.shots(len(frames), len(frames) / FPS)) == 1


def test_streaming_matches_detect_shots(cuts_clip):
    """Push frames from one's own decode loop: boundaries come `delay` frames late, naming their frame."""
    det = ShotDetector(FPS)
    returned, n = [], 0
    with av.open(cuts_clip) as c:
        for frame in c.decode(video=0):
            b = det.push(n, float(frame.time), small_frame(frame))
            assert det.pending() <= det.delay
            if b is not None:
                assert isinstance(b, Boundary) and b.frame == n - det.delay
                returned.append(b)
            n += 1
    returned += det.flush()
    assert det.pending() == 0
    shots = det.shots(n, n / FPS)
    assert [(b.frame, b.transition) for b in returned] == [(20, "cut"), (45, "cut")]
    assert starts(shots) == starts(detect_shots(cuts_clip))
    # without dissolves the delay is two frames: what an encoder placing keyframes at cuts needs
    assert ShotDetector(FPS, dissolves=False).delay == 2


def test_analysis_frames_give_the_same_cuts(cuts_clip):
    """The encoder's 320-px analysis copies (what the pipeline and the tagger push) find the same cuts."""
    from semcodec.frames import small_rgb

    det = ShotDetector(FPS)
    with av.open(cuts_clip) as c:
        for n, frame in enumerate(c.decode(video=0)):
            det.push(n, float(frame.time), small_rgb(frame, 320, 180))
    assert starts(det.shots(n + 1, (n + 1) / FPS)) == [(0, "start"), (20, "cut"), (45, "cut")]


def test_pyscenedetect_detectors_on_our_frames(cuts_clip):
    """PySceneDetect's detectors, fed our frames through their per-frame API, find the same cuts."""
    pytest.importorskip("scenedetect")
    for method in ("psd-adaptive", "psd-content", "psd-hash"):
        assert [s.start_frame for s in detect_shots(cuts_clip, method=method)] == [0, 20, 45], method


def test_demo_clip_cut_at_frame_75():
    shots = detect_shots(os.path.join(ROOT, "sample_videos", "demo.mp4"))
    assert starts(shots) == [(0, "start"), (75, "cut")]
    assert shots[1].start_time == pytest.approx(3.0)


def test_min_shot_length_and_bad_use(tmp_path):
    a, b = panning(30, 3), panning(30, 11, flip=True)
    flicker = write_clip(tmp_path / "flicker.mp4", a[:20] + b[:4] + a[24:30] + b[4:20])  # 4-frame shot
    assert [s.start_frame for s in detect_shots(flicker)] == [0, 20, 30]
    assert [s.start_frame for s in detect_shots(flicker, min_shot_s=0.5)] == [0, 20]
    with pytest.raises(ValueError):
        ShotDetector(FPS, method="nope")
    det = ShotDetector(FPS)
    det.push(0, 0.0, a[0])
    with pytest.raises(ValueError):
        det.push(0, 0.0, a[1])
    assert det.shots(1, 0.04)[0].end_frame == 1
    with pytest.raises(RuntimeError):
        det.push(5, 0.2, a[5])
    assert ShotDetector(FPS).shots(0, 0.0) == []
    with pytest.raises(SemcodecError):
        detect_shots(str(tmp_path / "missing.mp4"))


def test_grey_frames(clips):
    """Grey input works (luma only); make_clip's texture-then-face clip cuts at its middle."""
    path = clips("tf.mp4", frames=30, content="texture_then_face", size=(162, 96))
    assert starts(detect_shots(path)) == [(0, "start"), (15, "cut")]
    det = ShotDetector(FPS)
    with av.open(path) as c:
        for n, frame in enumerate(c.decode(video=0)):
            det.push(n, n / FPS, frame.to_ndarray(format="gray"))
    assert [s.start_frame for s in det.shots(30, 30 / FPS)] == [0, 15]


# ---- real clips (../shared/videos), skipped when absent ------------------------------------------------
def _video(name: str) -> str:
    path = os.path.join(VIDEOS, name)
    if not os.path.exists(path):
        pytest.skip(f"{path} not found")
    return path


@pytest.mark.release
def test_bikes_cuts_exact():
    shots = detect_shots(_video("bikes_street_edit_scenecuts.mp4"))
    assert starts(shots)[1:] == [(f, "cut") for f in (30, 76, 137, 187, 242)]


@pytest.mark.release
def test_tears_of_steel_cuts_within_two_frames():
    listed = [52, 122, 158, 221, 309, 715, 788, 872, 901, 987, 1127, 1157, 1203, 1234, 1284, 1345, 1378,
              1430, 1472, 1525, 1571, 1618, 1650, 1665, 1689]
    found = [s.start_frame for s in detect_shots(_video("tears_of_steel_battle_clip.webm"))[1:]]
    hits = [g for g in listed if any(abs(g - f) <= 2 for f in found)]
    extra = [f for f in found if all(abs(g - f) > 2 for g in listed)]
    assert len(hits) >= 24 and len(extra) <= 2, (found, extra)


@pytest.mark.release
@pytest.mark.parametrize("name", ["akiyo_qcif_news_anchor.mp4", "carphone_qcif_video_call.mp4",
                                  "football_qcif_sports.avi", "his_girl_friday_1940_dialogue.mp4",
                                  "flower_opening_nature.mp4", "parking_lot_cars_overhead.mp4",
                                  "screen_pdf_document_1024x768.264"])
def test_clips_without_cuts_are_one_shot(name):
    assert len(detect_shots(_video(name))) == 1


# ---- edited material: cards, fades, black cards, slideshows, fast pans (semcodec.shots.synthetic) -----
SMALL = (160, 96)


def _detect(tmp_path, material) -> list[tuple[int, str]]:
    return starts(detect_shots(write_clip(tmp_path / f"{material.name}.mp4", material.frames)))[1:]


def test_plain_grey_fade_is_one_shot(tmp_path):
    """A flat picture fading crosses histogram bins one after another; no step may score as a cut."""
    from semcodec.shots.synthetic import flat_fade

    assert _detect(tmp_path, flat_fade(SMALL)) == []
    assert _detect(tmp_path, flat_fade(SMALL, n=30, top=255)) == []  # fast: 25 levels a frame


@pytest.mark.parametrize("grey", [False, True])
def test_cards_sharing_a_title_and_timecode_are_cut(tmp_path, grey):
    """Flat cards whose only structure is the same burnt-in text: not 'the same picture, brighter'."""
    from semcodec.shots.synthetic import text_cards

    m = text_cards(SMALL, FPS, [20, 15, 25, 15], grey=grey)
    assert _detect(tmp_path, m) == m.truth == [(20, "cut"), (35, "cut"), (60, "cut")]


def test_cut_to_a_black_card_starts_a_shot(tmp_path):
    from semcodec.shots.synthetic import black_card

    m = black_card(SMALL, FPS, before=20, black=15, after=20)
    assert _detect(tmp_path, m) == m.truth == [(20, "cut"), (35, "cut")]
    # a blink of black (shorter than min_shot_s) is still no shot, and a fade through black is one fade
    frames = m.frames[:20] + m.frames[20:23] + m.frames[:20]
    assert _detect(tmp_path, type(m)("blink", frames)) == []


def test_slideshow_cuts_zoom_dissolve_and_fade(tmp_path):
    from semcodec.shots.synthetic import slideshow

    m = slideshow(SMALL, FPS, hold=20, dissolve=10)
    shots = detect_shots(write_clip(tmp_path / "slides.mp4", m.frames))
    found = starts(shots)[1:]
    assert [k for _, k in found] == [k for _, k in m.truth] == ["cut", "dissolve", "cut", "fade"]
    assert all(abs(f - t) <= (1 if k != "fade" else 2) for (f, k), (t, _) in zip(found, m.truth)), found
    # the frames of each gradual transition: the 10 mixed frames (40..49); fade out, black, fade in (90..105)
    assert [s.transition_span for s in shots] == [None, None, (40, 49), None, (90, 105)]


def test_times_count_from_the_first_frame(tmp_path):
    """A stream that starts late (first pts 2 s) still starts at 0."""
    frames = panning(20, 3) + panning(20, 11, flip=True)
    path = str(tmp_path / "late.mp4")
    with av.open(path, "w") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = 50 + i, Fraction(1, FPS)
            out.mux(vs.encode(f))
        out.mux(vs.encode(None))
    shots = detect_shots(path)
    assert [s.start_time for s in shots] == [0.0, pytest.approx(0.8)] and shots[1].end_time == pytest.approx(1.6)


@pytest.mark.parametrize("speed", [0.08, 0.16])
def test_fast_pan_over_sky_and_ground_is_no_dissolve(tmp_path, speed):
    """The smeared middle of a whip pan looks like a mix of its ends; it holds neither where they were."""
    from semcodec.shots.synthetic import fast_pan

    assert _detect(tmp_path, fast_pan(SMALL, speed=speed)) == []


def test_last_short_shot_merged_on_request(cuts_clip):
    det = ShotDetector(FPS)
    with av.open(cuts_clip) as c:
        for n, frame in enumerate(c.decode(video=0)):
            if n >= 50:  # the third shot is 5 frames long: under min_shot_s (10 frames)
                break
            det.push(n, n / FPS, small_frame(frame))
    assert [s.start_frame for s in det.shots(50, 2.0)] == [0, 20, 45]  # the encoder keeps the cut
    assert [(s.start_frame, s.end_frame) for s in det.shots(50, 2.0, merge_short_last=True)] == [(0, 20), (20, 50)]


def test_tag_finds_the_shots_detect_shots_finds(tmp_path):
    """`semcodec tag` pushes the frames detect_shots uses, so both give the same boundaries."""
    from semcodec.shots.synthetic import slideshow
    from semcodec.tagging.tagger import tag_video

    path = write_clip(tmp_path / "slides.mp4", slideshow(SMALL, FPS, hold=20, dissolve=10).frames)
    tags, _ = tag_video(path, max_keyframes=2, sample_fps=1)
    assert [(s["start_frame"], s["transition"]) for s in tags["shots"]] == starts(detect_shots(path))


def test_percentile99_is_numpys_number():
    """The shot features' partial-sort 99th percentile gives np.percentile's value exactly (thresholds stay put)."""
    from semcodec.shots.features import _percentile99

    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 100, 101, 6336):
        for _ in range(30):
            a = (rng.random(n) * 100 * rng.random()).astype(np.float32).reshape(1, -1)
            assert _percentile99(a) == float(np.percentile(a, 99))


def _soft_histogram_per_pixel(rgb: np.ndarray) -> np.ndarray:
    """The soft HSV histogram computed pixel by pixel in float32 (how semcodec computed it before its tables)."""
    import cv2

    from semcodec.shots.features import _CORNERS, HIST_AXES

    px = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).reshape(-1, 3).astype(np.float32)
    idx, weight = np.zeros((8, px.shape[0]), np.int64), np.ones((8, px.shape[0]), np.float32)
    for ch, (n, span, circular) in enumerate(HIST_AXES):
        c = px[:, ch] * (n / span) - 0.5
        lo = np.floor(c)
        pair = np.stack([lo, lo + 1]).astype(np.int64)
        pair = pair % n if circular else np.clip(pair, 0, n - 1)
        idx = idx * n + pair[_CORNERS[:, ch]]
        weight *= np.stack([1 - (c - lo), c - lo])[_CORNERS[:, ch]]
    hist = np.bincount(idx.ravel(), weight.ravel(), minlength=256)
    return (hist / hist.sum()).astype(np.float32)


def test_soft_histogram_tables_give_the_per_pixel_histogram():
    """The table look-up gives, bit for bit, the histogram of the per-pixel evaluation (cut scores stay put),
    on every 8-bit value of each axis (grey ramps, saturated colours) and on noise."""
    from semcodec.shots.features import soft_histogram

    rng = np.random.default_rng(3)
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
    hues = cv2_hue_wheel()
    for rgb in (ramp, hues, rng.integers(0, 256, (36, 44, 3), dtype=np.uint8),
                rng.integers(0, 256, (13, 32, 3), dtype=np.uint8)):
        assert np.array_equal(soft_histogram(np.ascontiguousarray(rgb)), _soft_histogram_per_pixel(rgb))


def cv2_hue_wheel() -> np.ndarray:
    """Every hue OpenCV's 8-bit HSV has, at every 8th saturation and value."""
    import cv2

    h, s, v = np.meshgrid(np.arange(180), np.arange(0, 256, 8), np.arange(0, 256, 8), indexing="ij")
    hsv = np.stack([h, s, v], axis=-1).reshape(180, -1, 3).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def test_detector_view_is_no_larger_than_the_features_need():
    """The encode's view for the detector: half the analysis size, or a long side of THUMB where that half would
    reach the features unreduced (small frames); even sizes, never larger than the analysis copy."""
    from semcodec.shots.features import THUMB, view_size

    assert view_size(176, 144) == (64, 52)  # QCIF: its half (88x72) is under 2 * THUMB
    assert view_size(160, 96) == (64, 38)
    assert view_size(320, 180) == (160, 90)  # 720p and up: the half, reduced by 2 inside features
    assert view_size(320, 240) == (160, 120)
    assert view_size(256, 144) == (128, 72)  # a half of 2 * THUMB is reduced by an integer factor already
    assert view_size(120, 90) == (60, 44)  # a half under THUMB is kept
    for w in range(2, 330, 2):
        for h in (2, 36, 72, 98, 144, 180, 240):
            vw, vh = view_size(w, h)
            assert vw % 2 == 0 and vh % 2 == 0 and 2 <= vw <= max(2, w // 2) and 2 <= vh <= max(2, h // 2)
            assert max(vw, vh) <= max(THUMB, w // 2, h // 2)


def test_features_without_the_dissolve_parts_are_the_same_features():
    """A detector that looks for no dissolves skips what only the dissolve test reads; the rest is unchanged, so
    its cuts and fades are those of the full features."""
    from conftest import face_frames
    from semcodec.shots.features import features

    for rgb in face_frames(3, (88, 72)) + panning(2, 5):
        full, cut_only = features(rgb), features(rgb, gradual=False)
        assert cut_only.vec is None and cut_only.detail is None and cut_only.contrast is None
        assert full.vec is not None and full.detail > 0 and full.contrast > 0
        for name in ("ycc", "hist", "edges"):
            assert np.array_equal(getattr(full, name), getattr(cut_only, name))
        assert (full.brightness, full.textured) == (cut_only.brightness, cut_only.textured)
    det = ShotDetector(FPS, dissolves=False)
    det.push(0, 0.0, panning(1, 3)[0])
    assert det._feat[0].vec is None

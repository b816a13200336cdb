"""Keyframe selection, scene rules and the contact sheet, on synthetic inputs whose answer is known."""
import numpy as np
import pytest

from semcodec.errors import SemcodecError
from semcodec.scenes.classify import CLASSES, classify, summarize
from semcodec.scenes.features import FrameFeatures, measure
from semcodec.tagging.contact_sheet import render, save_image
from semcodec.tagging.keyframes import Candidate, colour_hist, frame_quality, select


def _cand(index, rgb, score):
    return Candidate(index, index / 25, rgb, score, colour_hist(rgb), {})


def _solid(color, h=40, w=64):
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = color
    return img


def test_sharp_frame_scores_higher_than_blurred():
    import cv2
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 4)
    g = lambda x: cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)  # noqa: E731
    assert frame_quality(sharp, g(sharp), 0.0)[0] > 2 * frame_quality(blurred, g(blurred), 0.0)[0]


def test_dark_frame_scores_lower():
    import cv2
    rng = np.random.default_rng(1)
    img = rng.integers(60, 200, (90, 160, 3), dtype=np.uint8)
    dark = (img // 8).astype(np.uint8)
    g = lambda x: cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)  # noqa: E731
    assert frame_quality(img, g(img), 0.0)[0] > frame_quality(dark, g(dark), 0.0)[0]


def test_select_takes_one_per_shot_first_and_skips_look_alikes():
    red, red2, blue, green = _solid((200, 30, 30)), _solid((205, 32, 30)), _solid((30, 30, 200)), _solid((30, 200, 30))
    shots = [(4.0, [_cand(0, red, 0.9), _cand(5, red2, 0.8)]),   # two look-alike frames
             (1.0, [_cand(20, blue, 0.2)]),
             (2.0, [_cand(40, green, 0.3)])]
    chosen = select(shots, budget=4)
    assert [c.index for c in chosen] == [0, 20, 40]  # the look-alike red frame is redundant
    assert [c.index for c in select(shots, budget=2)] == [0, 40]  # longest shots first


def test_select_respects_budget_and_time_order():
    import cv2
    rng = np.random.default_rng(2)
    hues = [cv2.cvtColor(np.uint8([[[h, 220, 200]]]), cv2.COLOR_HSV2RGB)[0, 0] for h in range(0, 180, 15)]
    cands = [_cand(i, _solid(tuple(int(v) for v in c)), float(rng.random())) for i, c in enumerate(hues)]
    chosen = select([(1.0, cands)], budget=5)
    assert len(chosen) == 5
    assert min(c.score for c in chosen) >= sorted(c.score for c in cands)[-5]  # the five best
    assert [c.index for c in chosen] == sorted(c.index for c in chosen)


def _features(**kw):
    base = dict(brightness=0.5, saturation=0.3, colourfulness=0.3, grey=False, edge_density=0.1, flat_fraction=0.2,
                palette_ratio=0.05, green=0.0, sky=0.0, line_density=0.5, palette_entropy=0.55, motion_valid=True)
    base.update(kw)
    return FrameFeatures(**base)


@pytest.mark.parametrize("kw,expected", [
    (dict(faces=1, face_area=0.08), "talking_head"),
    (dict(faces=4, face_area=0.005), "people"),
    (dict(green=0.5, sky=0.2, saturation=0.5), "landscape_nature"),
    (dict(text_area=0.12, line_density=20, saturation=0.03, flat_fraction=0.3), "screen_content"),
    (dict(motion=0.5, camera_speed=0.6), "sports_action"),
    (dict(palette_entropy=0.2, saturation=0.45, flat_fraction=0.85), "animation"),
])
def test_scene_rules_pick_the_obvious_class(kw, expected):
    label, conf, scores = classify(summarize([_features(**kw)] * 5))
    assert label == expected, scores
    assert 0 < conf <= 1 and set(scores) == set(CLASSES)


def test_measure_on_real_photo():
    import cv2
    from skimage import data
    rgb = cv2.resize(data.coffee(), (320, 213))
    f = measure(rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    assert not f.grey and 0 < f.saturation < 1 and 0 < f.edge_density < 0.5
    g = cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    assert measure(g, g[..., 0]).grey


def test_contact_sheet_grid_and_formats(tmp_path):
    kf = [_cand(i, _solid((40 * i, 100, 200), 90, 160), 0.5) for i in range(5)]
    sheet = render(kf, [f"shot {i}" for i in range(5)], columns=4, width=160)
    assert sheet.shape[1] == 4 * 168 + 8 and sheet.shape[0] > 2 * 90
    save_image(str(tmp_path / "s.jpg"), sheet)
    assert (tmp_path / "s.jpg").stat().st_size > 1000
    with pytest.raises(SemcodecError):
        save_image(str(tmp_path / "s.gif"), sheet)
    with pytest.raises(SemcodecError):
        save_image(str(tmp_path / "missing" / "s.png"), sheet)
    with pytest.raises(SemcodecError):
        render([], [])

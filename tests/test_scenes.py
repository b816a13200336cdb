"""Scene classes on short real clips whose class is not in doubt (drawn slides, a UI window, a cartoon, a real
photo filmed with a moving camera), the within-shot motion measurement, and the honest `other`."""
from __future__ import annotations

import os
import sys

import cv2
import numpy as np
import pytest

from semcodec.scenes.classify import CLASSES, classify, evidence, load_model, summarize
from semcodec.scenes.features import FrameFeatures, drawn_face, measure
from semcodec.scenes.motion import pair_motion
from semcodec.tagging.tagger import tag_video

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import scene_clips  # noqa: E402

FRAMES = 30


def _gray(rgb):
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scenes")
    made = {
        "slide": scene_clips.slide(FRAMES, seed=4),
        "ui": scene_clips.ui_window(FRAMES, seed=5),
        "cartoon": scene_clips.cartoon(FRAMES, seed=6),
        "grass_pan": scene_clips.camera(scene_clips.photo("grass"), "pan", FRAMES),
        "coffee_dof": scene_clips.camera(scene_clips.shallow_focus(scene_clips.photo("coffee"), (0.5, 0.45), 0.3),
                                         "zoom", FRAMES),
    }
    return {k: scene_clips.write(str(folder / f"{k}.mp4"), v) for k, v in made.items()}


def _only_shot(path):
    result, _ = tag_video(path, max_keyframes=2, sample_fps=8.0)
    assert len(result["shots"]) == 1, [s["start_frame"] for s in result["shots"]]
    return result["shots"][0]


@pytest.mark.parametrize("name", ["slide", "ui"])
def test_screen_with_text_is_screen_content(clips, name):
    shot = _only_shot(clips[name])
    assert shot["scene"]["class"] == "screen_content", shot["scene"]
    # the UI's drawn avatar is not a person
    assert not any(t["tag"] == "face" for t in shot["tags"])


def test_flat_colour_cartoon_is_animation(clips):
    shot = _only_shot(clips["cartoon"])
    assert shot["scene"]["class"] == "animation", shot["scene"]


@pytest.mark.parametrize("name", ["grass_pan", "coffee_dof"])
def test_photo_filmed_with_a_moving_camera_is_not_action_or_animation(clips, name):
    shot = _only_shot(clips[name])
    assert shot["scene"]["class"] not in ("sports_action", "animation"), shot["scene"]
    assert not any(t["tag"] == "fast motion" for t in shot["tags"])
    assert shot["measurements"]["motion"] < 0.05  # the camera moved, nothing in the picture did


def test_pan_is_camera_motion_not_object_motion():
    img = scene_clips.photo("coffee")
    frames = [_gray(f) for f in scene_clips.camera(img, "pan", 10, size=(160, 90))]
    pm = pair_motion(frames[4], frames[5])
    assert pm.valid and pm.camera > 0.002 and pm.moving < 0.05, pm
    still = pair_motion(frames[4], frames[4])
    assert still.valid and still.camera < 1e-3 and still.moving == 0.0


def test_cut_and_brightness_ramp_are_not_motion():
    a = _gray(scene_clips.camera(scene_clips.photo("coffee"), "still", 1, size=(160, 90))[0])
    b = _gray(scene_clips.camera(scene_clips.photo("chelsea"), "still", 1, size=(160, 90))[0])
    cut = pair_motion(a, b)
    assert not cut.valid, cut
    ramp = pair_motion(a, np.clip(a.astype(np.int16) + 20, 0, 255).astype(np.uint8))
    assert not ramp.valid and ramp.why == "brightness ramp"
    # a gentle fade step (gain change) is normalised away: valid and still
    dim = pair_motion(a, (a * 0.97).astype(np.uint8))
    assert dim.valid and dim.moving < 0.02, dim


def test_unsplit_cuts_do_not_make_a_still_shot_fast():
    # a still photo with two cut-aways the shot detector did not split: four pairs across a cut
    a, b = (scene_clips.camera(scene_clips.photo(n), "still", 1, size=(160, 90))[0] for n in ("coffee", "chelsea"))
    frames = [b if i in (4, 9) else a for i in range(12)]
    base = measure(a, _gray(a))
    feats = []
    for prev, cur in zip(frames, frames[1:]):
        pm = pair_motion(_gray(prev), _gray(cur))
        feats.append(FrameFeatures(**{**base.__dict__, "motion": pm.moving, "camera_motion": pm.camera,
                                      "motion_valid": pm.valid}))
    s = summarize(feats)
    assert s["motion_pairs"] == 7 and s["motion"] < 0.01 and s["motion_p90"] < 0.01
    assert evidence(s)["sports_action"] == 0.0


def test_invalid_pairs_do_not_count_as_motion():
    base = measure(*(lambda r: (r, _gray(r)))(scene_clips.cartoon(1)[0]))
    frames = [FrameFeatures(**{**base.__dict__, "motion": 0.9, "motion_valid": False}) for _ in range(4)]
    frames += [FrameFeatures(**{**base.__dict__, "motion": 0.01, "motion_valid": True}) for _ in range(2)]
    s = summarize(frames)
    assert s["motion"] == pytest.approx(0.01) and s["motion_pairs"] == 2


def test_defocus_is_soft_and_cartoon_is_flat():
    dof = scene_clips.shallow_focus(scene_clips.photo("chelsea"), (0.45, 0.4), 0.25)
    photo = measure(*(lambda r: (r, _gray(r)))(scene_clips.camera(dof, "still", 1)[0]))
    cartoon = measure(*(lambda r: (r, _gray(r)))(scene_clips.cartoon(1)[0]))
    assert photo.soft_fraction > 0.15 and cartoon.soft_fraction < 0.05
    assert cartoon.flat_fraction > 0.6 > photo.flat_fraction
    assert cartoon.palette_entropy < photo.palette_entropy


def test_drawn_face_is_not_a_real_face():
    img = np.full((180, 320, 3), 235, np.uint8)
    scene_clips.cartoon_face(img, (160, 90), 40)
    assert drawn_face(_gray(img), (120 / 320, 50 / 180, 200 / 320, 130 / 180))
    astronaut = cv2.resize(scene_clips.photo("astronaut"), (320, 320))
    box = (177 / 512, 66 / 512, 272 / 512, 161 / 512)  # tests/conftest.py ASTRONAUT_FACE
    assert not drawn_face(_gray(astronaut), box)


def test_nothing_recognised_is_other_with_low_confidence():
    model = load_model()
    label, conf, scores = classify({"face_frames": 0.0, "text_area": 0.0, "flat_fraction": 0.2,
                                    "palette_entropy": 0.55, "grey": 0.0})
    assert label == "other" and set(scores) == set(CLASSES)
    assert max(evidence({"flat_fraction": 0.2, "palette_entropy": 0.55}).values()) == 0.0
    assert conf < model["min_confidence"] or scores["other"] == max(scores.values())
    assert classify({})[0] == "other"


def test_a_tie_is_not_named():
    # a large real face in a fast-moving shot: talking_head and sports_action have equal evidence
    s = {"face_frames": 1.0, "face_area_max": 0.2, "motion": 0.6, "motion_p90": 0.6, "camera_speed": 0.6,
         "flat_fraction": 0.0}
    ev = evidence(s)
    assert ev["talking_head"] == ev["sports_action"] == 1.0
    model = {"other_level": 0.25, "temperature": 0.1, "min_confidence": 0.55}
    label, conf, scores = classify(s, model)
    assert label == "other" and conf < 0.55 and scores["talking_head"] == scores["sports_action"]
    assert classify({**s, "motion": 0.0, "motion_p90": 0.0}, model)[0] == "talking_head"


def test_only_text_that_reads_counts_as_text():
    from semcodec.analysis.text import TextResult
    from semcodec.scenes.sampler import read_text_area

    fur = TextResult(((0.1, 0.1, 0.5, 0.5),), ("O",), (0.43,), 0.16)  # the detector on a cat's fur
    pipes = TextResult(((0.2, 0.0, 0.6, 0.45),), ("",), (0.0,), 0.18)  # on organ pipes: nothing read
    assert read_text_area(fur) == 0.0 and read_text_area(pipes) == 0.0
    # a page: six boxes read, two more beyond the recognised ones count with them
    page = TextResult(tuple((0.1, 0.1 * k, 0.9, 0.1 * k + 0.05) for k in range(8)),
                      ("Overview of the", "Scalable", "Video", "Coding", "H.264", "AVC", "", ""),
                      (0.97, 0.98, 0.6, 0.62, 0.9, 0.91, 0.0, 0.0), 0.32)
    assert read_text_area(page) == pytest.approx(0.32, abs=0.02)
    sign = TextResult(((0.4, 0.4, 0.5, 0.45), (0.0, 0.0, 0.5, 0.5)), ("TAXI", "K"), (0.95, 0.13), 0.25)
    assert read_text_area(sign) == pytest.approx(0.005, abs=0.001)  # the word, not the texture beside it


def test_grey_surfaces_in_colour_footage_are_paved_not_black_and_white():
    rng = np.random.default_rng(0)
    lot = np.clip(118 + rng.normal(0, 0.8, (180, 320, 1)), 0, 255).astype(np.uint8).repeat(3, axis=2)
    cv2.line(lot, (0, 90), (319, 90), (235, 235, 235), 2)  # a lane marking
    car = lot.copy()
    cv2.rectangle(car, (140, 60), (170, 80), (200, 30, 30), -1)  # a red car: 1 % of the frame
    empty, passing = measure(lot, _gray(lot)), measure(car, _gray(car))
    assert empty.grey and passing.grey  # each frame alone looks black-and-white (mean saturation)
    assert passing.coloured > 0.005 and empty.coloured == 0.0 and empty.paved > 0.8
    s = summarize([empty, empty, passing])
    assert s["grey"] == 0.0  # a coloured car once: colour footage of a grey scene
    ev = evidence(s)
    assert ev["vehicles_street"] > load_model()["other_level"] and ev["animation"] == 0.0
    # black-and-white film never shows a coloured pixel: its grey flat areas are not paved
    bw = cv2.resize(scene_clips.photo("camera"), (320, 180))
    b = measure(bw, _gray(bw))
    assert b.coloured == 0.0 and summarize([b, b])["grey"] == 1.0
    assert evidence(summarize([b, b]))["vehicles_street"] == evidence({**summarize([b, b]), "paved": 0.0})[
        "vehicles_street"]

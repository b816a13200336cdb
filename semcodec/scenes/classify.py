"""Scene class per shot, from what the analyzers measured (embedded, offline, no weights to fetch).

Vocabulary (fixed, versioned with the tag schema):

    talking_head      one or two large faces facing the camera (news, interview, video call)
    people            people in frame: several, small, or seen without a face
    sports_action     fast object and camera motion
    landscape_nature  vegetation, sky, no people
    vehicles_street   streets, cars, buildings
    animation         cartoon or CG: flat paint with hard edges
    screen_content    documents, slides, UI: text and straight lines on flat backgrounds
    other             none of the above clearly wins

Each class gets evidence in [0, 1] from a few rules over the shot's measurements (`evidence`): the signals
that generalise (faces that are real and large, people, text area, flat paint against defocus, motion
measured within the shot). Three numbers turn evidence into a decision, and only they are fitted, by
benchmarks/scenes.py on the labelled set benchmarks/scene_labels.json with leave-one-clip-out checks
(`python benchmarks/scenes.py --fit` rewrites model.json next to this file): the constant evidence of
`other`, the softmax temperature, and `min_confidence`: where the winner's probability is below it, the
shot is called `other` with that low confidence, since a class the measurements cannot tell apart is
better left open than named wrongly. With CLIP weights (`clip.py`) classification is zero-shot.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache

import numpy as np

from semcodec.scenes.features import FrameFeatures

CLASSES = ("talking_head", "people", "sports_action", "landscape_nature", "vehicles_street",
           "animation", "screen_content", "other")
MODEL_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model.json")



def _ramp(x: float, lo: float, hi: float) -> float:
    """0 below lo, 1 above hi, linear in between."""
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))


def evidence(s: dict) -> dict:
    """Evidence in [0, 1] for each named class, from the signals that generalise: real (not drawn) faces and
    their size, people, text area, flat paint with a small palette against soft defocus, vegetation and sky,
    axis-aligned structure, flat neutral-grey surfaces in colour footage, and motion measured within the shot.
    The ramps were set from the physical scale of each signal and checked on the labelled set; the model
    (model.json) weighs them."""
    g = s.get
    face = _ramp(g("face_frames", 0), 0.25, 0.7)
    big_face = _ramp(np.sqrt(g("face_area_max", 0)), 0.17, 0.32)
    text = _ramp(g("text_area", 0), 0.03, 0.08)
    flat = _ramp(g("flat_fraction", 0), 0.45, 0.8)
    colour = 1 - _ramp(g("grey", 0), 0.3, 0.7)
    small_palette = _ramp(0.45 - g("palette_entropy", 1), 0.0, 0.2) * colour
    # a person-shaped blob in flat paint is a drawn figure; real faces were already told from drawn ones
    person = max(face, _ramp(g("people_frames", 0), 0.25, 0.7) * (1 - flat * small_palette))
    soft = _ramp(g("soft_fraction", 0), 0.15, 0.45)  # defocus or smooth shading: a camera, not paint
    # the median and the 90th percentile of the within-shot motion together: one burst (or a cut the
    # shot detector missed and the motion fit did not catch) cannot make a still shot fast
    moving = 0.5 * (g("motion", 0) + g("motion_p90", 0))
    fast = _ramp(moving, 0.15, 0.4) * (0.6 + 0.4 * _ramp(g("camera_speed", 0), 0.15, 0.5))
    # blue sky alone is weak evidence (a bluish wall, a screen); vegetation is strong
    nature = max(_ramp(g("green", 0), 0.08, 0.3), 0.4 * _ramp(g("sky", 0), 0.15, 0.5))
    built = _ramp(g("axis_edges", 0), 0.18, 0.35) * (1 - _ramp(g("saturation", 0), 0.2, 0.4))
    # large untextured neutral-grey surfaces in colour footage: asphalt, concrete, roofs (b/w film is all grey)
    paved = _ramp(g("paved", 0), 0.15, 0.4) * colour
    paint = _ramp(g("saturation", 0), 0.12, 0.25)  # flat regions are paint only where they are coloured
    drawn = _ramp(g("drawn_face_frames", 0), 0.2, 0.5)
    return {
        "talking_head": face * big_face * (1 - text),
        "people": person * (1 - 0.8 * big_face * face) * (1 - text),
        "sports_action": fast * (1 - text) * (1 - flat),
        "landscape_nature": nature * (1 - person) * (1 - text) * (1 - flat),
        # straight lines with muted colour, or grey surfaces, are weak evidence (walls and machines have them
        # too): capped
        "vehicles_street": 0.6 * max(built, paved) * (1 - person) * (1 - nature) * (1 - text)
        * (1 - flat * paint),
        # paint is coloured: a grey road, a white wall or a dim room is flat with few colours too
        "animation": max(flat * small_palette * paint, drawn)
        * (1 - text) * (1 - soft) * (1 - 0.5 * face),
        "screen_content": text * (0.6 + 0.4 * max(flat, small_palette)),
    }


def summarize(frames: list[FrameFeatures]) -> dict:
    """Shot-level measurements: the median of each over the sampled frames (robust to a few odd frames),
    face and text statistics, and motion over the valid pairs only (no cut, no brightness ramp)."""
    if not frames:
        return {}
    keys = [k for k, v in frames[0].__dict__.items()
            if isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))]
    out = {k: float(np.median([getattr(f, k) for f in frames])) for k in keys}
    out["faces_max"] = float(max(f.faces for f in frames))
    out["face_frames"] = float(np.mean([f.faces > 0 for f in frames]))
    out["people_max"] = float(max(f.people for f in frames))
    out["people_frames"] = float(np.mean([f.people > 0 for f in frames]))
    out["face_area_max"] = float(np.percentile([f.face_area for f in frames], 75))
    out["drawn_face_frames"] = float(np.mean([f.drawn_faces > 0 for f in frames]))
    # black-and-white film never shows a coloured area; a grey scene in colour footage does now and then (a red
    # car crossing a parking lot), so such a shot is colour even where most of its frames look grey
    colour_seen = max(f.coloured for f in frames) >= 0.005
    out["grey"] = 0.0 if colour_seen else float(np.mean([f.grey for f in frames]))
    valid = [f for f in frames if f.motion_valid]
    out["motion_pairs"] = float(len(valid))
    for key, src in (("motion", "motion"), ("camera_motion", "camera_motion"), ("camera_speed", "camera_speed")):
        out[key] = float(np.median([getattr(f, src) for f in valid])) if valid else 0.0
    out["motion_p90"] = float(np.percentile([f.motion for f in valid], 90)) if valid else 0.0
    out["camera_p90"] = float(np.percentile([f.camera_speed for f in valid], 90)) if valid else 0.0
    return out


@lru_cache(maxsize=1)
def load_model(path: str = MODEL_PATH) -> dict:
    """The calibration: the `other` level, the softmax temperature and the abstention threshold."""
    with open(path) as f:
        return json.load(f)


def probabilities(s: dict, model: dict) -> dict:
    """Softmax over the vocabulary of the evidence, with `other` at the model's constant level."""
    ev = evidence(s)
    ev["other"] = model["other_level"]
    v = np.array([ev[c] for c in CLASSES]) / model["temperature"]
    p = np.exp(v - v.max())
    return dict(zip(CLASSES, p / p.sum()))


def classify(s: dict, model: dict | None = None) -> tuple[str, float, dict]:
    """(class, confidence, probability per class). Below the model's min_confidence the class is `other`
    and the confidence is the rejected winner's probability (low by construction)."""
    model = model or load_model()
    p = probabilities(s, model) if s else {c: float(c == "other") for c in CLASSES}
    best = max(p, key=p.get)
    sc = {c: round(float(v), 4) for c, v in p.items()}
    if p[best] < model["min_confidence"]:
        return "other", round(float(p[best]), 3), sc
    return best, round(float(p[best]), 3), sc

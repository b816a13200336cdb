"""Scene class per shot, from what the analyzers measured (embedded, offline, no weights).

Vocabulary (fixed, versioned with the tag schema):

    talking_head      one or two large faces facing the camera (news, interview, video call)
    people            several people or small faces in frame
    sports_action     fast object and camera motion
    landscape_nature  vegetation, sky, no people
    vehicles_street   streets, cars, buildings: straight lines, muted colours, no faces
    animation         cartoon or CG: few flat colours with sharp edges
    screen_content    documents, slides, UI: text and straight lines on flat backgrounds
    other             none of the above clearly wins

Each class gets a score in [0, 1] from a few soft rules over the shot's median measurements; the
confidence is the winner's share after a softmax. These are hand-set rules, not a trained model: the
README's table says where they go wrong. With CLIP weights (`clip.py`) classification is zero-shot.
"""
from __future__ import annotations

import numpy as np

from semcodec.scenes.features import FrameFeatures

CLASSES = ("talking_head", "people", "sports_action", "landscape_nature", "vehicles_street",
           "animation", "screen_content", "other")


def _ramp(x: float, lo: float, hi: float) -> float:
    """0 below lo, 1 above hi, linear in between."""
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))


def summarize(frames: list[FrameFeatures]) -> dict:
    """Median of every measurement over the sampled frames of a shot (robust to a few odd frames)."""
    if not frames:
        return {}
    keys = [k for k, v in frames[0].__dict__.items()
            if isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))]
    out = {k: float(np.median([getattr(f, k) for f in frames])) for k in keys}
    out["faces_max"] = float(max(f.faces for f in frames))
    out["face_frames"] = float(np.mean([f.faces > 0 for f in frames]))
    out["people_max"] = float(max(f.people for f in frames))
    out["people_frames"] = float(np.mean([f.people > 0 for f in frames]))
    out["grey"] = float(np.mean([f.grey for f in frames]))
    out["motion_p90"] = float(np.percentile([f.motion for f in frames], 90))
    return out


def scores(s: dict) -> dict:
    """Soft score per class from a shot summary."""
    no_faces = 1.0 - _ramp(s["face_frames"], 0.1, 0.4)
    big_face = _ramp(s["face_area"], 0.015, 0.06)
    few_faces = 1.0 if s["faces"] <= 2 else 0.5
    moving = max(_ramp(s["motion"], 0.03, 0.15), _ramp(s["motion_p90"], 0.08, 0.3))
    camera = _ramp(s["camera_motion"], 0.004, 0.02)
    out = {
        "talking_head": big_face * few_faces * _ramp(s["face_frames"], 0.3, 0.7) * (1 - 0.5 * moving),
        "people": max(_ramp(s["faces_max"], 1.5, 3.5) * _ramp(s["face_frames"], 0.2, 0.5),
                      0.6 * _ramp(s["face_frames"], 0.2, 0.6) * (1 - big_face)),
        "sports_action": 0.6 * moving + 0.4 * camera * moving,
        "landscape_nature": (0.75 * _ramp(s["green"] + 0.5 * s["sky"], 0.12, 0.35)
                             + 0.25 * _ramp(s["saturation"], 0.2, 0.45))
        * no_faces * (1 - _ramp(s["text_area"], 0.02, 0.08)),
        "vehicles_street": no_faces * (0.45 * (1 - _ramp(s["saturation"], 0.15, 0.35))
                                       + 0.3 * _ramp(s["line_density"], 0.3, 2.0)
                                       + 0.25 * _ramp(s["motion_p90"], 0.05, 0.2))
        * (1 - _ramp(s["text_area"], 0.03, 0.1)) * (1 - _ramp(s["green"], 0.1, 0.3)),
        # cel animation: few distinct colours, yet saturated (a grey or dim picture has few colours too)
        "animation": _ramp(0.025 - s["palette_ratio"], 0.0, 0.015) * _ramp(s["saturation"], 0.25, 0.4)
        * (1 - _ramp(s["flat_fraction"], 0.4, 0.7)) * (1 - 0.5 * big_face),
        "screen_content": 0.45 * _ramp(s["text_area"], 0.02, 0.08) + 0.35 * _ramp(s["line_density"], 6, 15)
        + 0.2 * (1 - _ramp(s["saturation"], 0.05, 0.2)) * (1 - moving),
        "other": 0.3,
    }
    return {k: round(float(v), 4) for k, v in out.items()}


def classify(s: dict, temperature: float = 0.12) -> tuple[str, float, dict]:
    """(class, confidence, all scores). Confidence is the winner's softmax share."""
    sc = scores(s)
    names = list(sc)
    v = np.array([sc[n] for n in names]) / temperature
    p = np.exp(v - v.max())
    p /= p.sum()
    best = int(np.argmax(p))
    return names[best], round(float(p[best]), 3), sc

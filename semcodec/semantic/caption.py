"""Captions for shots: a transformers image-to-text model from a user folder, or (default, no weights)
a sentence composed from what semcodec's analyzers measured."""
from __future__ import annotations

import os

import cv2
import numpy as np

from semcodec.errors import SemcodecError

SCENE_WORDS = {
    "talking_head": "a person talking to the camera", "people": "a scene with people",
    "sports_action": "a fast sports or action scene", "landscape_nature": "a nature landscape",
    "vehicles_street": "a street scene with vehicles", "animation": "an animated cartoon scene",
    "screen_content": "a computer screen or document", "other": "a scene",
}
NUMBER = {1: "one", 2: "two", 3: "three", 4: "four"}

# named colours (RGB) for describing a palette in words
COLOURS = {
    "black": (15, 15, 15), "dark grey": (70, 70, 70), "grey": (128, 128, 128), "light grey": (190, 190, 190),
    "white": (245, 245, 245), "red": (200, 30, 30), "dark red": (110, 20, 20), "orange": (230, 130, 30),
    "brown": (120, 80, 45), "beige": (215, 195, 160), "yellow": (230, 210, 50), "olive": (120, 120, 40),
    "green": (50, 150, 50), "dark green": (25, 75, 30), "teal": (30, 130, 130), "light blue": (130, 180, 230),
    "blue": (40, 80, 190), "navy": (20, 30, 80), "purple": (120, 50, 150), "pink": (230, 140, 170),
    "skin tone": (205, 150, 120),
}
_NAMES = list(COLOURS)
_LAB = cv2.cvtColor(np.array([list(COLOURS.values())], np.uint8), cv2.COLOR_RGB2LAB)[0].astype(np.float32)


def dominant_colours(rgb: np.ndarray, k: int = 3) -> list[tuple[str, float]]:
    """Named dominant colours with their share of the picture (nearest named colour in CIELAB)."""
    small = cv2.resize(rgb, (48, max(1, 48 * rgb.shape[0] // max(rgb.shape[1], 1))), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    d = ((lab[:, None, :] - _LAB[None]) ** 2).sum(-1)
    idx = np.bincount(d.argmin(1), minlength=len(_NAMES)) / len(lab)
    order = np.argsort(-idx)[:k]
    return [(_NAMES[i], float(idx[i])) for i in order if idx[i] >= 0.08]


def where(box) -> str:
    cx = (box[0] + box[2]) / 2
    cy = (box[1] + box[3]) / 2
    h = "left" if cx < 0.36 else "right" if cx > 0.64 else "centre"
    v = "top" if cy < 0.3 else "bottom" if cy > 0.72 else ""
    return f"{v} {h}".strip() if v and h != "centre" else (v or h)


def _people_words(regions: list) -> list[str]:
    """Who is in the picture and where: from the faces, or from the person masks where no face shows."""
    faces = [r for r in regions if r.label == "face"]
    persons = [r for r in regions if r.label == "person"]
    n = max(len(faces), len(persons))
    if not n:
        return []
    who = "a person" if n == 1 else f"{NUMBER.get(n, 'several')} people" if n <= 4 else "a group of people"
    places = sorted({where(r.box) for r in (faces or persons)}, key=lambda p: ("left" not in p, "right" in p))
    big = max(((r.box[2] - r.box[0]) * (r.box[3] - r.box[1]) for r in faces), default=0.0)
    detail = " in close-up" if big > 0.08 else "" if faces else ", face not visible,"
    return [f"{who}{detail} at the {' and '.join(places)}"]


def compose_caption(scene: str, measurements: dict, regions: list, rgb: np.ndarray) -> str:
    """The offline caption: scene class, people and where they are, labelled objects and where they
    are, on-screen text, dominant colours in words, motion, black and white."""
    parts = [SCENE_WORDS.get(scene, "a scene")]
    parts += _people_words(regions)
    objects: dict = {}
    for r in regions:
        if r.label not in ("face", "text", "person"):
            objects.setdefault(r.label.replace("_", " "), []).append(where(r.box))
    for label, places in list(objects.items())[:4]:
        n = len(places)
        parts.append(f"{NUMBER.get(n, 'several') if n > 1 else 'a'} {label}{'s' if n > 1 else ''} "
                     f"at the {' and '.join(sorted(set(places)))}")
    texts = [r for r in regions if r.label == "text"]
    if texts:
        parts.append(f"on-screen text at the {where(texts[0].box)}")
    grey = measurements.get("grey", 0) > 0.5
    cols = dominant_colours(rgb)
    if grey:
        parts.append("black and white")
    if cols:
        names = [c for c, _ in cols if not (grey and c not in ("black", "dark grey", "grey", "light grey", "white"))]
        if names:
            parts.append("mostly " + ", ".join(names[:3]))
    if measurements.get("brightness", 0.5) < 0.22:
        parts.append("dark")
    if measurements.get("motion_pairs", 0) >= 2 and measurements.get("motion", 0) > 0.2:  # as tag's "fast motion"
        parts.append("fast motion")
    cam = measurements.get("camera_motion")
    if cam is not None:
        parts.append("moving camera" if cam > 0.006 else "static camera" if cam < 0.001 else "")
    if measurements.get("green", 0) > 0.15:
        parts.append("vegetation")
    return ", ".join(p for p in parts if p)


class ModelCaptioner:
    """A transformers image-to-text model from a local folder (VisionEncoderDecoder, BLIP, GIT, ...),
    loaded with local_files_only=True; greedy decoding, so the same frame gives the same caption."""

    def __init__(self, folder: str, max_new_tokens: int = 30):
        if not os.path.isdir(folder):
            raise SemcodecError(f"--captioner folder not found: {folder}")
        try:
            import torch  # noqa: F401
            import transformers
        except ImportError:
            raise SemcodecError("--captioner needs torch and transformers (pip install 'semcodec[semantic]')") from None
        self.name = os.path.basename(os.path.normpath(folder))
        self.max_new_tokens = max_new_tokens
        try:
            config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True)
            if config.model_type == "vision-encoder-decoder":
                self.model = transformers.VisionEncoderDecoderModel.from_pretrained(folder, local_files_only=True)
                self.processor = transformers.AutoImageProcessor.from_pretrained(folder, local_files_only=True)
                self.tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
            else:
                auto = getattr(transformers, "AutoModelForImageTextToText", None) or \
                    transformers.AutoModelForVision2Seq
                self.model = auto.from_pretrained(folder, local_files_only=True)
                self.processor = transformers.AutoProcessor.from_pretrained(folder, local_files_only=True)
                self.tokenizer = getattr(self.processor, "tokenizer", None) or self.processor
        except Exception as exc:  # noqa: BLE001 - a folder the user named that does not load is one line
            raise SemcodecError(f"cannot load captioner from --captioner {folder}: "
                                f"{(str(exc).splitlines() or [type(exc).__name__])[0][:160]}") from None
        self.model.eval()

    def __call__(self, rgb: np.ndarray) -> str:
        import torch
        from PIL import Image

        image = Image.fromarray(rgb)
        with torch.no_grad():
            inputs = self.processor(images=image, return_tensors="pt")
            pixel = inputs["pixel_values"]
            kw = {k: v for k, v in inputs.items() if k != "pixel_values"}
            model = self.model
            gen_cfg = getattr(model, "generation_config", None)
            extra = {}
            if gen_cfg is not None and gen_cfg.pad_token_id is None:
                eos = gen_cfg.eos_token_id
                if eos is None:
                    eos = getattr(self.tokenizer, "eos_token_id", None)
                extra["pad_token_id"] = eos if not isinstance(eos, list) else eos[0]
            if getattr(model.config, "model_type", "") == "vision-encoder-decoder" and \
                    model.config.decoder_start_token_id is None:
                bos = getattr(self.tokenizer, "bos_token_id", None)
                extra["decoder_start_token_id"] = bos if bos is not None else 0
            out = model.generate(pixel_values=pixel, **kw, max_new_tokens=self.max_new_tokens,
                                 do_sample=False, num_beams=1, **extra)
        text = self.tokenizer.batch_decode(out, skip_special_tokens=True)[0]
        return " ".join(text.split())[:500]

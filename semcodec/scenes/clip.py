"""Zero-shot scene classes and free-text tags with CLIP weights the user supplies (`--clip-model PATH`).

Loads with transformers from a local folder only (`local_files_only=True`: nothing is downloaded).
A shot's keyframe candidates are embedded and averaged; the scene class is the vocabulary prompt
with the highest similarity (softmax over CLIP's logit scale gives the confidence), and tags are the
best-matching phrases of a fixed, readable list.
"""
from __future__ import annotations

import os

import numpy as np

from semcodec.errors import SemcodecError
from semcodec.scenes.classify import CLASSES

PROMPTS = {
    "talking_head": "a close-up of a person talking to the camera",
    "people": "a group of people",
    "sports_action": "a fast action or sports scene",
    "landscape_nature": "a landscape or nature scene",
    "vehicles_street": "cars and vehicles on a street",
    "animation": "a cartoon or animated film",
    "screen_content": "a computer screen with text or a document",
    "other": "a photo",
}
TAG_PHRASES = [
    "a person", "a face", "a crowd", "a child", "a man", "a woman", "a dog", "a cat", "a bird", "a horse",
    "a car", "a bus", "a bicycle", "a motorcycle", "a train", "an airplane", "a boat", "a robot", "a weapon",
    "an explosion", "fire", "smoke", "a city street", "a building", "an office", "a kitchen", "a classroom",
    "a stage", "a stadium", "a football game", "a beach", "the sea", "a mountain", "a forest", "a flower",
    "a garden", "the sky", "snow", "rain", "night", "sunset", "a desert", "an island", "a ship", "food",
    "a computer screen", "a document", "a slide presentation", "a game", "a cartoon", "a news studio",
    "a phone call", "a car interior", "a parking lot", "a battle", "a dance", "music", "a concert",
]


def _features(out):
    """transformers 4 returns a tensor, 5 an output object whose pooler_output is the projection."""
    return out if hasattr(out, "norm") else out.pooler_output


class ClipScenes:
    def __init__(self, path: str):
        if not os.path.isdir(path):
            raise SemcodecError(f"--clip-model {path}: not a folder (give a local CLIP folder with config.json)")
        try:
            import torch
            from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel
        except ImportError:
            raise SemcodecError("--clip-model needs torch and transformers (pip install 'semcodec[clip]')") from None
        self.torch = torch
        try:
            self.model = CLIPModel.from_pretrained(path, local_files_only=True).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.processor = AutoImageProcessor.from_pretrained(path, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - a folder the user named that does not load is one line
            raise SemcodecError(f"cannot load CLIP from --clip-model {path}: "
                                f"{(str(exc).splitlines() or [type(exc).__name__])[0][:160]}") from None
        self.name = os.path.basename(os.path.normpath(path))
        self.class_emb = self._text([PROMPTS[c] for c in CLASSES])
        self.tag_emb = self._text(TAG_PHRASES)

    def _text(self, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        with self.torch.no_grad():
            e = _features(self.model.get_text_features(**batch))
        e = e / e.norm(dim=-1, keepdim=True)
        return e.numpy()

    def image_embedding(self, images: list[np.ndarray]) -> np.ndarray:
        """Mean, re-normalised embedding of RGB uint8 images."""
        batch = self.processor(images=images, return_tensors="pt")
        with self.torch.no_grad():
            e = _features(self.model.get_image_features(**batch))
        e = e / e.norm(dim=-1, keepdim=True)
        m = e.mean(0)
        return (m / m.norm()).numpy()

    def classify(self, images: list[np.ndarray], top_tags: int = 5) -> tuple[str, float, dict, list]:
        """(class, confidence, per-class probabilities, [(tag, score)]) for one shot's frames."""
        img = self.image_embedding(images)
        scale = float(self.model.logit_scale.detach().exp())
        logits = scale * self.class_emb @ img
        p = np.exp(logits - logits.max())
        p /= p.sum()
        best = int(np.argmax(p))
        sims = self.tag_emb @ img
        order = np.argsort(-sims)[:top_tags]
        tags = [(TAG_PHRASES[i].removeprefix("a ").removeprefix("an ").removeprefix("the "),
                 round(float((sims[i] + 1) / 2), 3)) for i in order]
        return CLASSES[best], round(float(p[best]), 3), {c: round(float(v), 4) for c, v in zip(CLASSES, p)}, tags

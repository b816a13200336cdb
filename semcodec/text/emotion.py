"""Emotion of a line of text: intensity in [0, 1], valence in [-1, 1], and a category.

Default, offline, no training: VADER (vaderSentiment, MIT; lexicon and rules for negation, degree
words, "!" and CAPS emphasis) gives valence; the packaged all-MiniLM-L6-v2 sentence embeddings are
compared with a few prototype sentences per category (cosine similarity, softmax) for the category.
Intensity blends how strong the sentiment is, how aroused the likely category is, and typographic
emphasis (exclamation marks, capitals). When the sentence model is not installed the category comes
from VADER alone (neutral / joy / anger-or-sadness by valence), and the report says so.

Optional, stronger: a transformer emotion classifier from a folder the user supplies
(`--emotion-model DIR`, any `AutoModelForSequenceClassification` with `id2label`), loaded with
`local_files_only=True`; its labels are mapped onto the categories below.
"""
from __future__ import annotations

import os
import re
import threading

import numpy as np

from semcodec.errors import SemcodecError

CATEGORIES = ("joy", "anger", "fear", "sadness", "surprise", "disgust", "neutral")
# how much each category raises the pulse: weights the category's share of the intensity
AROUSAL = {"anger": 1.0, "fear": 0.9, "surprise": 0.8, "joy": 0.7, "disgust": 0.7, "sadness": 0.55, "neutral": 0.0}
PROTOTYPES = {
    "joy": ["I'm so happy!", "This is wonderful, I love it!", "We won! That's fantastic!",
            "What a beautiful day, I feel great.", "Ha ha, that's hilarious!", "I'm thrilled to see you!",
            "[laughter]", "[crowd cheering]"],
    "anger": ["I hate you!", "Get out of here, you idiot!", "I'm furious with you!", "How dare you do that to me!",
              "Shut up! I've had enough of this!", "You'll pay for this, damn you!",
              "[shouting angrily]", "[growling and roaring]"],
    "fear": ["I'm scared.", "Help! Somebody help me!", "Run, they're coming for us!",
             "I'm afraid something terrible will happen.", "Please don't hurt me!", "Watch out, it's going to explode!",
             "[screaming]", "[explosion]", "[gunshots]"],
    "sadness": ["I'm so sad.", "I miss her so much.", "He died last night.", "I feel lonely and hopeless.",
                "It's over, I've lost everything.", "Please don't leave me, I'm crying.",
                "[sobbing]"],
    "surprise": ["Wow, I can't believe it!", "What? Really?", "Oh my god, look at that!",
                 "That's unexpected!", "No way! Are you serious?", "I never saw that coming!"],
    "disgust": ["That's disgusting.", "Ugh, it smells awful.", "You make me sick.", "How revolting, gross!",
                "That's nasty, I'm going to throw up.", "What a vile, repulsive thing to do."],
    "neutral": ["The meeting is at three o'clock.", "Please pass me the salt.", "I'll call you tomorrow.",
                "This is the kitchen.", "The report is on the desk.", "We take the train at nine.",
                "Okay.", "Let me check.",
                "[music playing]", "[door closes]", "[footsteps]"],
}
LABEL_ALIASES = {  # classifier label -> category
    "joy": "joy", "happy": "joy", "happiness": "joy", "love": "joy", "optimism": "joy", "amusement": "joy",
    "excitement": "joy", "gratitude": "joy", "pride": "joy", "admiration": "joy", "relief": "joy",
    "positive": "joy", "anger": "anger", "angry": "anger", "annoyance": "anger", "rage": "anger",
    "fear": "fear", "scared": "fear", "nervousness": "fear", "anxiety": "fear", "sadness": "sadness",
    "sad": "sadness", "grief": "sadness", "remorse": "sadness", "disappointment": "sadness",
    "pessimism": "sadness", "negative": "sadness", "surprise": "surprise", "surprised": "surprise",
    "realization": "surprise", "confusion": "surprise", "disgust": "disgust", "disapproval": "disgust",
    "embarrassment": "disgust", "neutral": "neutral", "none": "neutral", "other": "neutral", "others": "neutral",
}
_EXCLAIM = re.compile(r"!")
_WORD = re.compile(r"[A-Za-z][A-Za-z']+")


def emphasis(text: str) -> float:
    """Typographic arousal in [0, 1]: exclamation marks, '?!', words in capitals."""
    words = _WORD.findall(text)
    caps = sum(1 for w in words if len(w) > 1 and w.isupper()) / max(1, len(words))
    bangs = len(_EXCLAIM.findall(text))
    e = 0.3 * min(bangs, 3)  # one '!' = 0.3, up to three
    if "?!" in text or "!?" in text:
        e = max(e, 0.45)
    return float(min(1.0, e + 0.6 * caps))


def _combine(strength: float, arousal: float, emph: float) -> float:
    """Intensity: a probabilistic OR of the three cues, so any one of them can carry a line."""
    keep = (1 - 0.85 * strength) * (1 - 0.75 * arousal) * (1 - 0.5 * emph)
    return float(np.clip(1 - keep, 0.0, 1.0))


class _Vader:
    _lock = threading.Lock()
    _inst = None

    @classmethod
    def get(cls):
        with cls._lock:
            if cls._inst is None:
                try:
                    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
                except ImportError:
                    raise SemcodecError("emotion needs vaderSentiment (pip install vaderSentiment)") from None
                cls._inst = SentimentIntensityAnalyzer()
            return cls._inst


class EmotionScorer:
    """VADER valence + MiniLM prototype categories (or VADER alone without the sentence model)."""

    def __init__(self, embedder=None, temperature: float = 0.05, neutral_floor: float = 0.36):
        self.vader = _Vader.get()
        self.embedder = embedder
        self.temperature = temperature
        # a line must resemble some emotion's prototypes at least this much (cosine) to leave neutral:
        # unrelated dialogue sits around 0.1-0.3 against every prototype, clear emotion at 0.45+
        self.neutral_floor = neutral_floor
        self.method = "vader+minilm-prototypes" if embedder is not None else "vader"
        if embedder is not None:
            texts = [s for c in CATEGORIES for s in PROTOTYPES[c]]
            self._proto = embedder(texts)
            self._owner = np.array([CATEGORIES.index(c) for c in CATEGORIES for _ in PROTOTYPES[c]])

    def category_probs(self, texts: list[str]) -> np.ndarray:
        """(n, len(CATEGORIES)): softmax over each category's mean of its two best prototype matches."""
        sims = self.embedder(texts) @ self._proto.T  # (n, prototypes)
        scores = np.zeros((len(texts), len(CATEGORIES)), np.float32)
        for k in range(len(CATEGORIES)):
            s = np.sort(sims[:, self._owner == k], axis=1)[:, -2:]
            scores[:, k] = s.mean(1)
        n = CATEGORIES.index("neutral")
        scores[:, n] = np.maximum(scores[:, n], self.neutral_floor)
        z = scores / self.temperature
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(1, keepdims=True)

    def score(self, texts: list[str]) -> list[dict]:
        vs = [self.vader.polarity_scores(t) for t in texts]
        probs = self.category_probs(texts) if self.embedder is not None else None
        out = []
        for i, (t, v) in enumerate(zip(texts, vs)):
            valence = float(v["compound"])
            if probs is not None:
                p = _agree_with_valence(probs[i].copy(), valence)
            else:
                p = _vader_only(valence)
            out.append(_result(t, valence, p))
        return out


def _agree_with_valence(p: np.ndarray, valence: float) -> np.ndarray:
    """Damp categories the sentiment contradicts (a clearly positive line is not anger)."""
    neg = [CATEGORIES.index(c) for c in ("anger", "fear", "sadness", "disgust")]
    if valence > 0.4:
        p[neg] *= 1 - 0.8 * (valence - 0.4) / 0.6
    elif valence < -0.4:
        p[CATEGORIES.index("joy")] *= 1 - 0.8 * (-valence - 0.4) / 0.6
    return p / p.sum()


def _vader_only(valence: float) -> np.ndarray:
    p = np.zeros(len(CATEGORIES), np.float32)
    a = min(1.0, abs(valence) / 0.6)
    p[CATEGORIES.index("neutral")] = 1 - a
    if valence >= 0:
        p[CATEGORIES.index("joy")] = a
    else:
        p[CATEGORIES.index("anger")] = a / 2
        p[CATEGORIES.index("sadness")] = a / 2
    return p


def _result(text: str, valence: float, p: np.ndarray) -> dict:
    best = int(np.argmax(p))
    arousal = float(sum(p[k] * AROUSAL[c] for k, c in enumerate(CATEGORIES)))
    emph = emphasis(text)
    # VADER scores mild politeness ("Please", "Okay") as sentiment: a dead zone, and less weight on
    # valence when the line reads as neutral
    strength = max(0.0, abs(valence) - 0.15) / 0.85 * (0.5 + 0.5 * (1 - float(p[CATEGORIES.index("neutral")])))
    intensity = _combine(strength, arousal, emph)
    return {"category": CATEGORIES[best], "confidence": round(float(p[best]), 3),
            "intensity": round(intensity, 3), "valence": round(valence, 3),
            "arousal": round(arousal, 3), "emphasis": round(emph, 3),
            "probabilities": {c: round(float(p[k]), 3) for k, c in enumerate(CATEGORIES)}}


class ClassifierEmotion:
    """A transformer emotion classifier from a local folder (`--emotion-model DIR`)."""

    def __init__(self, folder: str):
        if not os.path.isdir(folder):
            raise SemcodecError(f"--emotion-model {folder}: not a folder (give a local transformers model folder)")
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError:
            raise SemcodecError("--emotion-model needs torch and transformers (pip install 'semcodec[text]')") from None
        from semcodec.text.embed import quiet_transformers

        quiet_transformers()
        self.torch = torch
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self.model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True).eval()
        except Exception as exc:  # noqa: BLE001 - a folder the user named that does not load is one line
            raise SemcodecError(f"cannot load an emotion classifier from --emotion-model {folder}: "
                                f"{(str(exc).splitlines() or [type(exc).__name__])[0][:160]}") from None
        id2label = getattr(self.model.config, "id2label", None) or {}
        self.labels = [str(id2label.get(i, f"LABEL_{i}")) for i in range(self.model.config.num_labels)]
        self.mapping = [LABEL_ALIASES.get(lbl.strip().lower()) for lbl in self.labels]
        if not any(self.mapping):
            raise SemcodecError(f"--emotion-model {folder}: its labels ({', '.join(self.labels[:8])}) name no "
                                f"emotion semcodec knows ({', '.join(CATEGORIES)})")
        self.multi_label = getattr(self.model.config, "problem_type", None) == "multi_label_classification"
        self.vader = _Vader.get()
        self.method = f"classifier:{os.path.basename(os.path.normpath(folder))}"

    def score(self, texts: list[str], batch: int = 32) -> list[dict]:
        torch = self.torch
        out = []
        for i in range(0, len(texts), batch):
            chunk = texts[i:i + batch]
            enc = self.tokenizer(chunk, padding=True, truncation=True, max_length=128, return_tensors="pt")
            with torch.inference_mode():
                logits = self.model(**enc).logits.float()
            raw = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, -1)
            for t, r in zip(chunk, raw.numpy()):
                p = np.zeros(len(CATEGORIES), np.float32)
                for k, cat in enumerate(self.mapping):
                    if cat:
                        p[CATEGORIES.index(cat)] += r[k]
                if p.sum() <= 0:
                    p[CATEGORIES.index("neutral")] = 1.0
                p /= p.sum()
                valence = float(self.vader.polarity_scores(t)["compound"])
                res = _result(t, valence, p)
                res["labels"] = {lbl: round(float(v), 3) for lbl, v in zip(self.labels, r)}
                out.append(res)
        return out


def make_scorer(model_dir: str | None = None, embedder=None):
    """The classifier from `model_dir` when given, else VADER + prototypes on `embedder` (or VADER)."""
    if model_dir:
        return ClassifierEmotion(model_dir)
    return EmotionScorer(embedder)


def describe(e: dict) -> str:
    return f"{e['category']} {e['intensity']:.2f}"


__all__ = ["CATEGORIES", "EmotionScorer", "ClassifierEmotion", "make_scorer", "emphasis"]

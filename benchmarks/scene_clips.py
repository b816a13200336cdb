"""Short synthetic clips with an unambiguous scene class, for benchmarks/scenes.py and the tests.

Real photos that ship inside installed wheels (scikit-image's data folder, matplotlib's sample data,
scikit-learn's sample images)
filmed with a synthetic camera (pan, push-in, handheld shake; optionally a shallow depth of field made
by blurring all but the subject), plus drawn screen content (slides, a scrolling document, a terminal, a
UI window with a drawn face) and flat-colour cartoons. Each clip is encoded with x264 through PyAV, so
the classifier sees real coding noise. Nothing is downloaded.
"""
from __future__ import annotations

import os
from fractions import Fraction

import av
import cv2
import numpy as np

SIZE = (320, 180)  # w, h
FPS = 25
FRAMES = 75  # a labelled synthetic clip: 3 s


def photo(name: str) -> np.ndarray:
    """An RGB photo from an installed wheel: a scikit-image data name, matplotlib's grace_hopper, or one of
    scikit-learn's two sample photos ('sklearn:flower', 'sklearn:china')."""
    if name.startswith("sklearn:"):
        from sklearn.datasets import load_sample_image

        return np.ascontiguousarray(load_sample_image(name.split(":", 1)[1] + ".jpg"))
    if name == "grace_hopper":
        import matplotlib

        path = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "sample_data", "grace_hopper.jpg")
        return cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
    from skimage import data

    # stereo_motorcycle() returns a tuple; its left view is a plain file in the same folder
    img = getattr(data, name)() if hasattr(data, name) else \
        cv2.cvtColor(cv2.imread(os.path.join(os.path.dirname(data.__file__), name + ".png")), cv2.COLOR_BGR2RGB)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB) if img.ndim == 2 else np.ascontiguousarray(img[..., :3])


def shallow_focus(img: np.ndarray, centre: tuple[float, float], radius: float, blur: float = 9.0) -> np.ndarray:
    """Keep an ellipse around `centre` (fractions of the size) sharp and blur the rest, with a soft edge."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.hypot((xx / w - centre[0]) / radius, (yy / h - centre[1]) / radius)
    alpha = np.clip((d - 1.0) / 0.4, 0, 1)[..., None]
    blurred = cv2.GaussianBlur(img, (0, 0), blur * max(h, w) / 512)
    return (img * (1 - alpha) + blurred * alpha).astype(np.uint8)


def camera(img: np.ndarray, move: str, frames: int, size=SIZE, seed: int = 0, cy: float = 0.5,
           span: float = 0.75) -> list[np.ndarray]:
    """Film `img` with a virtual camera: 'pan', 'zoom' (push-in), 'shake' (handheld) or 'still'. The
    window covers `span` of the photo's width (or height), centred at height `cy` (a fraction)."""
    w, h = size
    ih, iw = img.shape[:2]
    cy_frac = cy
    rng = np.random.default_rng(seed)
    shake = np.cumsum(rng.normal(0, 0.8, (frames, 2)), axis=0)
    scale = max(w / iw, h / ih) * 1.4  # room to move
    big = cv2.resize(img, (int(iw * scale), int(ih * scale)), interpolation=cv2.INTER_AREA)
    bh, bw = big.shape[:2]
    cw0 = min(bw, bh * w / h) * span
    out = []
    for i in range(frames):
        t = i / max(frames - 1, 1)
        cw = cw0 * (1 - 0.3 * t) if move == "zoom" else cw0
        ch = cw * h / w
        cx = bw / 2 + ((t - 0.5) * (bw - cw) * 0.9 if move == "pan" else 0)
        cy = bh * cy_frac + (shake[i, 1] if move == "shake" else 0)
        cx += shake[i, 0] if move == "shake" else 0
        x0, y0 = np.clip(cx - cw / 2, 0, bw - cw), np.clip(cy - ch / 2, 0, bh - ch)
        m = np.float32([[w / cw, 0, -x0 * w / cw], [0, h / ch, -y0 * h / ch]])
        out.append(cv2.warpAffine(big, m, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT))
    return out


FONT = cv2.FONT_HERSHEY_SIMPLEX
WORDS = ("video encoding quality bitrate motion vector block frame shot scene analysis model results table "
         "figure section method network layer image region face text colour signal output input").split()


def _sentence(rng, n: int) -> str:
    return " ".join(rng.choice(WORDS, n))


def slide(frames: int, seed: int = 0, bg=(250, 250, 245), fg=(30, 30, 40), accent=(40, 90, 200),
          size=SIZE) -> list[np.ndarray]:
    """A presentation slide: a title bar, bullets appearing one by one, a small chart."""
    w, h = size
    rng = np.random.default_rng(seed)
    base = np.full((h, w, 3), bg, np.uint8)
    cv2.rectangle(base, (0, 0), (w, 34), accent, -1)
    cv2.putText(base, _sentence(rng, 3).title(), (10, 24), FONT, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    bullets = [_sentence(rng, int(rng.integers(3, 6))) for _ in range(5)]
    heights = rng.uniform(0.2, 1.0, 4)
    out = []
    for i in range(frames):
        img = base.copy()
        for k, text in enumerate(bullets[: 1 + i * len(bullets) // frames]):
            y = 56 + 22 * k
            cv2.circle(img, (14, y - 4), 3, fg, -1)
            cv2.putText(img, text, (24, y), FONT, 0.4, fg, 1, cv2.LINE_AA)
        for k, v in enumerate(heights):
            cv2.rectangle(img, (w - 90 + 18 * k, h - 15 - int(60 * v)), (w - 78 + 18 * k, h - 15), accent, -1)
        out.append(img)
    return out


def document(frames: int, seed: int = 0, size=SIZE) -> list[np.ndarray]:
    """A page of small text in a viewer window, scrolling slowly, with a toolbar."""
    w, h = size
    rng = np.random.default_rng(seed)
    page = np.full((h * 3, w, 3), 255, np.uint8)
    for k in range(3 * h // 11):
        cv2.putText(page, _sentence(rng, 7), (30, 14 + 11 * k), FONT, 0.3, (20, 20, 20), 1, cv2.LINE_AA)
    out = []
    for i in range(frames):
        img = np.full((h, w, 3), (200, 200, 205), np.uint8)
        y = int(i * 1.5)
        img[20:, 20:w - 20] = page[y:y + h - 20, 20:w - 20]
        cv2.rectangle(img, (0, 0), (w, 18), (60, 60, 70), -1)
        for k in range(6):
            cv2.rectangle(img, (6 + 18 * k, 4), (16 + 18 * k, 14), (180, 180, 190), -1)
        out.append(img)
    return out


def terminal(frames: int, seed: int = 0, size=SIZE) -> list[np.ndarray]:
    """A dark terminal with green monospace lines being typed."""
    w, h = size
    rng = np.random.default_rng(seed)
    lines = [("$ " if k % 3 == 0 else "") + _sentence(rng, int(rng.integers(2, 7))) for k in range(14)]
    out = []
    for i in range(frames):
        img = np.full((h, w, 3), (18, 20, 24), np.uint8)
        typed = int(len(lines) * 40 * i / frames)
        for k, text in enumerate(lines):
            shown = text[: max(0, typed - 40 * k)]
            cv2.putText(img, shown, (6, 14 + 12 * k), cv2.FONT_HERSHEY_PLAIN, 0.8, (90, 230, 110), 1, cv2.LINE_AA)
        out.append(img)
    return out


def cartoon_face(img: np.ndarray, c: tuple[int, int], r: int, skin=(250, 210, 170)) -> None:
    """A drawn face: flat skin, black outline, eyes and a smile."""
    cv2.circle(img, c, r, skin, -1, cv2.LINE_AA)
    cv2.circle(img, c, r, (0, 0, 0), 2, cv2.LINE_AA)
    for dx in (-r // 3, r // 3):
        cv2.circle(img, (c[0] + dx, c[1] - r // 4), max(2, r // 7), (0, 0, 0), -1, cv2.LINE_AA)
    cv2.ellipse(img, (c[0], c[1] + r // 5), (r // 2, r // 3), 0, 20, 160, (0, 0, 0), 2, cv2.LINE_AA)


def ui_window(frames: int, seed: int = 0, size=SIZE) -> list[np.ndarray]:
    """An application window: title bar, sidebar, a search field being filled, a drawn avatar face."""
    w, h = size
    rng = np.random.default_rng(seed)
    base = np.full((h, w, 3), (235, 238, 242), np.uint8)
    cv2.rectangle(base, (0, 0), (w, 22), (30, 60, 110), -1)
    cv2.putText(base, "Initiate Search Program", (8, 15), FONT, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.rectangle(base, (0, 22), (80, h), (210, 214, 222), -1)
    for k in range(7):
        cv2.putText(base, _sentence(rng, 1), (6, 42 + 18 * k), FONT, 0.35, (40, 40, 60), 1, cv2.LINE_AA)
    cartoon_face(base, (w - 50, 80), 30)
    query = _sentence(rng, 3)
    out = []
    for i in range(frames):
        img = base.copy()
        cv2.rectangle(img, (92, 34), (w - 100, 54), (255, 255, 255), -1)
        cv2.rectangle(img, (92, 34), (w - 100, 54), (120, 120, 130), 1)
        cv2.putText(img, query[: int(len(query) * (i + 1) / frames)], (96, 49), FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        for k in range(4):
            cv2.putText(img, _sentence(np.random.default_rng(seed + k), 3), (92, 80 + 20 * k), FONT,
                        0.35, (60, 60, 80), 1, cv2.LINE_AA)
        out.append(img)
    return out


def cartoon(frames: int, seed: int = 0, size=SIZE, shaded: bool = False) -> list[np.ndarray]:
    """A flat-colour cartoon: sky, hills, a sun, a character with a black outline walking across while the
    background pans. `shaded`: cel shading (a darker tone on one side) and a soft sky gradient, as in anime."""
    w, h = size
    rng = np.random.default_rng(seed)
    sky, ground = rng.integers(120, 255, 3), rng.integers(40, 200, 3)
    bgw = w * 2
    bg = np.zeros((h, bgw, 3), np.uint8)
    if shaded:
        t = np.linspace(0, 1, h)[:, None, None]
        bg[:] = (sky * (1 - 0.4 * t)).astype(np.uint8)
    else:
        bg[:] = sky
    for _ in range(5):
        cx, axes = int(rng.integers(0, bgw)), (int(rng.integers(60, 140)), int(rng.integers(40, 90)))
        colour = [int(v) for v in np.clip(ground * rng.uniform(0.7, 1.1), 0, 255)]
        cv2.ellipse(bg, (cx, h), axes, 0, 180, 360, colour, -1, cv2.LINE_AA)
        cv2.ellipse(bg, (cx, h), axes, 0, 180, 360, (0, 0, 0), 2, cv2.LINE_AA)
    cv2.circle(bg, (int(rng.integers(20, bgw - 20)), 30), 16, (255, 220, 60), -1, cv2.LINE_AA)
    body = [int(v) for v in rng.integers(30, 255, 3)]
    out = []
    for i in range(frames):
        t = i / max(frames - 1, 1)
        x0 = int(t * (bgw - w) * 0.5)
        img = np.ascontiguousarray(bg[:, x0:x0 + w])
        cx, cy = int(40 + t * (w - 80)), int(h * 0.6 + 6 * np.sin(i * 0.6))
        cv2.ellipse(img, (cx, cy + 25), (18, 28), 0, 0, 360, body, -1, cv2.LINE_AA)
        if shaded:
            cv2.ellipse(img, (cx + 6, cy + 25), (10, 26), 0, -90, 90, [int(v * 0.7) for v in body], -1, cv2.LINE_AA)
        cv2.ellipse(img, (cx, cy + 25), (18, 28), 0, 0, 360, (0, 0, 0), 2, cv2.LINE_AA)
        cartoon_face(img, (cx, cy - 12), 16)
        out.append(img)
    return out


def write(path: str, frames: list[np.ndarray], fps: int = FPS, crf: int = 20) -> str:
    """Encode RGB frames to an H.264 MP4 (x264 through PyAV)."""
    with av.open(path, "w") as out:
        st = out.add_stream("libx264", rate=Fraction(fps))
        st.width, st.height, st.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        st.options = {"crf": str(crf), "preset": "veryfast"}
        for f in frames:
            for pkt in st.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path


def from_label(entry: dict, folder: str) -> str:
    """Make the synthetic clip an entry of benchmarks/scene_labels.json describes; return its path."""
    a = dict(entry["args"])
    gen = entry["generator"]
    if gen == "photo":
        img = photo(a.pop("source"))
        dof = a.pop("dof", None)
        if dof:
            img = shallow_focus(img, (dof[0], dof[1]), dof[2])
        frames = camera(img, a.pop("move"), FRAMES, **a)
    else:
        for k in ("bg", "fg", "accent"):
            if k in a:
                a[k] = tuple(a[k])
        frames = globals()[gen](FRAMES, **a)
    return write(os.path.join(folder, entry["clip"].split(":", 1)[1] + ".mp4"), frames)

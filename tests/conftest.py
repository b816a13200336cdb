"""Shared helpers: tiny real clips built with PyAV, decoding and hashing helpers."""
from __future__ import annotations

import hashlib
import logging
import os
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

CONTAINER_FOR_EXT = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi", ".nut": "nut"}

# Face of Eileen Collins in skimage.data.astronaut() (512x512), x0, y0, x1, y1 in photo pixels.
ASTRONAUT_FACE = (177.0, 66.0, 272.0, 161.0)
# Crop of the photo used for face clips: a 5:3 window in which the face fills about half the width.
FACE_CROP = (125, 50, 325, 170)  # x0, y0, x1, y1


def texture_image(h: int, w: int, seed: int = 3) -> np.ndarray:
    """Natural-looking RGB texture: smoothed noise at several scales plus a colour gradient."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for scale, amp in ((1, 40), (4, 60), (16, 80)):
        n = rng.standard_normal((h // scale + 2, w // scale + 2, 3)).astype(np.float32)
        n = cv2.resize(n, (w, h), interpolation=cv2.INTER_CUBIC)
        img += amp * n / 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img[..., 0] += 255 * xx / w
    img[..., 1] += 255 * yy / h
    img[..., 2] += 128
    return np.clip(img, 0, 255).astype(np.uint8)


def textured_frames(frames: int, size: tuple[int, int], seed: int = 3) -> list[np.ndarray]:
    """RGB frames of a textured background panning right/down, with a bright patch moving across."""
    w, h = size
    big = texture_image(h + 2 * frames + 8, w + 3 * frames + 8, seed)
    patch = texture_image(24, 24, seed + 1)[..., ::-1]
    patch = np.ascontiguousarray(255 - patch)
    out = []
    for i in range(frames):
        img = big[2 * i:2 * i + h, 3 * i:3 * i + w].copy()
        x0 = int(4 + (w - 32) * i / max(frames - 1, 1))
        y0 = h // 2 - 12
        img[y0:y0 + 24, x0:x0 + 24] = patch
        out.append(np.ascontiguousarray(img))
    return out


def face_frames(frames: int, size: tuple[int, int] = (160, 96)) -> list[np.ndarray]:
    """The astronaut's face, large, with a slight drift (real photo, so CenterFace finds it)."""
    from skimage import data as skdata

    photo = skdata.astronaut()
    x0, y0, x1, y1 = FACE_CROP
    out = []
    for i in range(frames):
        dx = i % 4  # tiny movement so the clip is not static
        crop = photo[y0:y1, x0 + dx:x1 + dx]
        out.append(np.ascontiguousarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA)))
    return out


def face_box_in_clip(size: tuple[int, int] = (160, 96)) -> tuple[float, float, float, float]:
    """ASTRONAUT_FACE mapped into normalised coordinates of a face_frames() frame."""
    x0, y0, x1, y1 = FACE_CROP
    fx0, fy0, fx1, fy1 = ASTRONAUT_FACE
    return ((fx0 - x0) / (x1 - x0), (fy0 - y0) / (y1 - y0), (fx1 - x0) / (x1 - x0), (fy1 - y0) / (y1 - y0))


def vfr_pts_ms(frames: int) -> list[int]:
    """Irregular, strictly increasing timestamps in milliseconds (durations 20..90 ms)."""
    steps = [40, 20, 90, 33, 47, 60, 25, 80]
    pts, t = [], 0
    for i in range(frames):
        pts.append(t)
        t += steps[i % len(steps)]
    return pts


def make_clip(path, frames: int = 16, size: tuple[int, int] = (160, 96), fps: int = 25, audio: bool = False,
              codec: str = "libx264", pix_fmt: str = "yuv420p", vfr: bool = False, rotation: int = 0,
              content: str = "texture", options: dict | None = None, container_options: dict | None = None,
              crf: int = 18, sar: Fraction | None = None) -> str:
    """Write a small real clip with PyAV and return its path.

    content: 'texture' (panning texture with a moving patch), 'face' (astronaut photo) or
    'texture_then_face' (first half texture, second half face: a face that appears mid-clip), 'two_textures'
    (two different panning textures: a hard cut between busy shots).
    vfr: irregular timestamps in a 1/1000 time base. audio: a 48 kHz stereo AAC track (sine tones).
    rotation: display-matrix rotation in degrees on the video stream.
    sar: sample aspect ratio in the encoder context (bitstream VUI, MP4 pasp).
    """
    path = str(path)
    fmt = CONTAINER_FOR_EXT[os.path.splitext(path)[1].lower()]
    if content == "texture_then_face":
        imgs = textured_frames(frames // 2, size) + face_frames(frames - frames // 2, size)
    elif content == "two_textures":  # a hard cut between two busy shots
        imgs = textured_frames(frames // 2, size) + textured_frames(frames - frames // 2, size, seed=11)
    else:
        imgs = face_frames(frames, size) if content == "face" else textured_frames(frames, size)
    with av.open(path, "w", format=fmt, options=container_options or {}) as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], pix_fmt
        if sar:
            vs.codec_context.sample_aspect_ratio = sar
        opts = {}
        if codec in ("libx264", "libx265"):
            opts = {"crf": str(crf), "preset": "ultrafast"}
            if codec == "libx265":
                opts["x265-params"] = "log-level=error"
        opts.update(options or {})
        vs.options = opts
        tb = Fraction(1, 1000) if vfr else Fraction(1, fps)
        vs.codec_context.time_base = tb
        vs.time_base = tb
        if rotation:
            vs.set_display_rotation(rotation)
        a_stream = None
        if audio:
            a_stream = out.add_stream("aac", rate=48000)
            a_stream.layout = "stereo"
            a_stream.bit_rate = 96000
        times = vfr_pts_ms(frames) if vfr else list(range(frames))
        duration_s = (times[-1] / 1000 + 0.1) if vfr else frames / fps
        audio_t = 0
        n_audio = int(duration_s * 48000)

        def mux_audio_until(t_s: float):
            nonlocal audio_t
            while a_stream is not None and audio_t < min(n_audio, int(t_s * 48000)):
                n = 1024
                tt = (np.arange(audio_t, audio_t + n) / 48000.0).astype(np.float32)
                left = 0.2 * np.sin(2 * np.pi * 220 * tt)
                right = 0.2 * np.sin(2 * np.pi * 330 * tt + 0.3)
                af = av.AudioFrame.from_ndarray(np.stack([left, right]).astype(np.float32), format="fltp",
                                                layout="stereo")
                af.sample_rate = 48000
                af.pts = audio_t
                af.time_base = Fraction(1, 48000)
                audio_t += n
                out.mux(a_stream.encode(af))

        for img, t in zip(imgs, times):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=pix_fmt)
            frame.pts = t
            frame.time_base = tb
            out.mux(vs.encode(frame))
            mux_audio_until(float(t * tb) + 0.05)
        out.mux(vs.encode(None))
        if a_stream is not None:
            mux_audio_until(duration_s + 1)
            out.mux(a_stream.encode(None))
    return path


def decode_video(path) -> list[av.VideoFrame]:
    with av.open(str(path)) as c:
        return list(c.decode(video=0))


def video_timestamps(path) -> list[float]:
    """Presentation times (seconds) of every decoded video frame, sorted."""
    with av.open(str(path)) as c:
        return sorted(float(f.pts * f.time_base) for f in c.decode(video=0))


def audio_packets(path) -> list[bytes]:
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        return [bytes(p) for p in c.demux(audio=0) if p.size]


def sha256(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def region_mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def face_mask(size: tuple[int, int] = (160, 96)) -> np.ndarray:
    """Boolean (h, w) mask of the known face box in a face_frames() frame."""
    w, h = size
    x0, y0, x1, y1 = face_box_in_clip(size)
    m = np.zeros((h, w), bool)
    m[int(y0 * h):int(np.ceil(y1 * h)), int(x0 * w):int(np.ceil(x1 * w))] = True
    return m


def folder_state(folder) -> dict:
    """name -> sha256 of every file in `folder` (hidden files included)."""
    folder = str(folder)
    return {n: sha256(os.path.join(folder, n)) for n in sorted(os.listdir(folder))
            if os.path.isfile(os.path.join(folder, n))}


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    """Clips shared by several test modules (built lazily, once per session)."""
    root = tmp_path_factory.mktemp("clips")
    cache: dict = {}

    def get(name: str, **kw) -> str:
        if name not in cache:
            cache[name] = make_clip(root / name, **kw)
        return cache[name]

    return get


@pytest.fixture
def cli(capsys):
    """Run the `semcodec` command in-process as a fresh process would: with no root log handlers, so that
    main's logging setup installs its stderr handler and warnings count towards the lines on stderr (pytest's
    own handlers would otherwise take them). Returns (exit code, stdout, stderr)."""
    from cli.main import main

    def run(*argv):
        root = logging.getLogger()
        saved, level = root.handlers[:], root.level
        root.handlers.clear()
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:  # main() returns argparse's codes; a direct parser call may still exit
            rc = exc.code
        finally:
            root.handlers[:] = saved
            root.setLevel(level)
        out, err = capsys.readouterr()
        return rc, out, err

    return run


def make_cut_clip(path, frames: int = 96, every: int = 12, size: tuple[int, int] = (160, 96)) -> str:
    """Shots of a face and of texture, a hard cut every `every` frames (x264 mp4)."""
    faces, texture = face_frames(frames, size), textured_frames(frames, size)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        vs.options = {"crf": "18", "preset": "ultrafast"}
        for i in range(frames):
            img = faces[i] if (i // every) % 2 == 0 else texture[i]
            out.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(vs.encode(None))
    return str(path)

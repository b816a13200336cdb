#!/usr/bin/env python
"""Build the semcodec demo clip (``sample_videos/demo.mp4``) from real photos.

The clip is made entirely from photographs that ship inside scikit-image
(``skimage.data``), so it can be rebuilt offline, byte for byte:

* 640x360, 25 fps, 6.0 s (150 frames), H.264 (libx264, yuv420p, CRF 18,
  preset slow, one thread) plus a quiet AAC stereo track at 48 kHz, in MP4.
* Shot 1, frames 0-74: ``skimage.data.astronaut()`` (NASA, public domain) with
  a smooth camera move: a slow zoom towards the face plus a slight pan.  Every
  frame is resampled from the full-resolution photo with ``cv2.warpAffine``
  (``INTER_CUBIC``), so the motion is sub-pixel smooth, not integer crops.
* A lower-third title (semi-transparent dark bar, anti-aliased white text)
  over shot 1, frames 10-64 inclusive.
* Frame 75: HARD CUT to ``skimage.data.coffee()`` (CC0, Rachel Michetti) with a
  slow horizontal pan, frames 75-149.
* Audio: a soft A3 + E4 chord (two sine tones, slight stereo spread) with a
  slow attack/release envelope and a gentle swell, peak around -20 dBFS.

Usage::

    python sample_videos/make_sample.py [--out sample_videos/demo.mp4]

or, from Python::

    from make_sample import build_sample
    meta = build_sample("demo.mp4", seconds=6.0)

``build_sample`` returns a metadata dict (cut frame, title frame range and box,
face box on the first and last frame of shot 1, computed from the camera
move) and
``main`` prints it as JSON.  The output is written to a temporary file in the
destination folder and renamed into place only once complete.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from fractions import Fraction

import av
import cv2
import numpy as np
from skimage import data as skdata

# --------------------------------------------------------------------------
# Fixed design constants (documented in sample_videos/README.md)
# --------------------------------------------------------------------------
WIDTH, HEIGHT = 640, 360
FPS = 25
SECONDS = 6.0
AUDIO_RATE = 48000

TITLE_TEXT = "semcodec demo - astronaut (scikit-image sample)"
# Title shown on frames [TITLE_START, TITLE_END] inclusive (inside shot 1).
TITLE_START, TITLE_END = 10, 64
# Bar box in output pixels: x0, y0, x1, y1 (x1/y1 exclusive).
TITLE_BOX = (24, 298, 574, 338)
TITLE_ALPHA = 0.62  # opacity of the dark bar
TITLE_FONT = cv2.FONT_HERSHEY_SIMPLEX
TITLE_SCALE = 0.62
TITLE_THICKNESS = 2  # 2 px strokes read well at 360p

# Face of Eileen Collins in the 512x512 astronaut photo (x0, y0, x1, y1),
# as found by OpenCV's haarcascade_frontalface_default (177, 66, 95, 95).
ASTRONAUT_FACE = (177.0, 66.0, 272.0, 161.0)

# Shot 1 camera: source window (centre x, centre y, width); height = width*9/16.
# Start: nearly the whole photo; end: a ~1.55x tighter framing on the face,
# drifting slightly right/down (pan) while zooming in.
SHOT1_START = (256.0, 168.0, 500.0)
SHOT1_END = (236.0, 136.0, 320.0)

# Shot 2 camera: coffee photo (600x400), fixed width 520 px window
# (scale ~1.23, rows ~14-306 so the cup rim stays in frame), panning
# left-to-right by 70 source px (~86 output px) over the shot.
SHOT2_WIDTH = 520.0
SHOT2_CY = 160.0
SHOT2_CX_START = 265.0
SHOT2_CX_END = 335.0


def _smooth(t: float) -> float:
    """Gentle ease-in/ease-out on [0, 1].

    A mix of linear and cosine easing: the move accelerates and settles like
    a real camera operator's, but never quite stops, so every frame of a shot
    has some motion (no frozen frames at either end of the cut).
    """
    t = min(max(t, 0.0), 1.0)
    return 0.4 * t + 0.6 * (0.5 - 0.5 * math.cos(math.pi * t))


def _window_matrix(cx: float, cy: float, win_w: float, out_w: int, out_h: int) -> np.ndarray:
    """Affine matrix mapping a source window (centre, width) onto the output.

    Uses pixel-centre conventions (OpenCV's): output pixel (u, v) samples the
    source at cx + (u - (out_w-1)/2) / s, cy + (v - (out_h-1)/2) / s.
    """
    s = out_w / win_w
    tx = (out_w - 1) / 2.0 - s * cx
    ty = (out_h - 1) / 2.0 - s * cy
    return np.array([[s, 0.0, tx], [0.0, s, ty]], dtype=np.float64)


def _shot1_camera(i: int, n: int) -> tuple[float, float, float]:
    """Camera window for frame i of n in shot 1 (log-interpolated zoom)."""
    t = _smooth(i / max(n - 1, 1))
    (cx0, cy0, w0), (cx1, cy1, w1) = SHOT1_START, SHOT1_END
    w = math.exp(math.log(w0) + (math.log(w1) - math.log(w0)) * t)
    return cx0 + (cx1 - cx0) * t, cy0 + (cy1 - cy0) * t, w


def _shot2_camera(i: int, n: int) -> tuple[float, float, float]:
    t = _smooth(i / max(n - 1, 1))
    return SHOT2_CX_START + (SHOT2_CX_END - SHOT2_CX_START) * t, SHOT2_CY, SHOT2_WIDTH


def _map_box(m: np.ndarray, box) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    s, tx, ty = m[0, 0], m[0, 2], m[1, 2]
    return (
        int(round(s * x0 + tx)),
        int(round(s * y0 + ty)),
        int(round(s * x1 + tx)),
        int(round(s * y1 + ty)),
    )


def _render(src: np.ndarray, m: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    # src is float32, so cubic resampling is quantised only once, at the end.
    out = cv2.warpAffine(
        src,
        m,
        (out_w, out_h),
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    return out


def _draw_title(frame: np.ndarray, box, text: str) -> None:
    """Semi-transparent dark bar + anti-aliased white text, in place (RGB uint8)."""
    x0, y0, x1, y1 = box
    roi = frame[y0:y1, x0:x1].astype(np.float32)
    roi *= 1.0 - TITLE_ALPHA
    roi += TITLE_ALPHA * np.array([12.0, 14.0, 20.0], dtype=np.float32)
    frame[y0:y1, x0:x1] = np.clip(roi + 0.5, 0, 255).astype(np.uint8)
    (tw, th), base = cv2.getTextSize(text, TITLE_FONT, TITLE_SCALE, TITLE_THICKNESS)
    tx = x0 + (x1 - x0 - tw) // 2  # centred; ~14 px padding each side
    ty = y0 + (y1 - y0 + th) // 2 - 1
    cv2.putText(frame, text, (tx, ty), TITLE_FONT, TITLE_SCALE, (255, 255, 255),
                TITLE_THICKNESS, cv2.LINE_AA)


def _make_audio(n_samples: int, rate: int) -> np.ndarray:
    """Soft A3 + E4 chord, stereo float32 (2, n), slow envelope, ~-20 dBFS peak."""
    t = np.arange(n_samples, dtype=np.float64) / rate
    dur = n_samples / rate
    a3 = np.sin(2 * np.pi * 220.0 * t)
    e4 = np.sin(2 * np.pi * 329.63 * t)
    # A whisper of the octave for warmth.
    a4 = np.sin(2 * np.pi * 440.0 * t) * 0.15
    attack, release = 1.2, 1.5
    env = np.ones_like(t)
    env = np.minimum(env, 0.5 - 0.5 * np.cos(np.pi * np.clip(t / attack, 0, 1)))
    env = np.minimum(env, 0.5 - 0.5 * np.cos(np.pi * np.clip((dur - t) / release, 0, 1)))
    swell = 0.85 + 0.15 * np.sin(2 * np.pi * 0.25 * t - np.pi / 2)  # 4 s breathing
    env = env * swell
    left = (0.60 * a3 + 0.40 * e4 + a4) * env
    right = (0.40 * a3 + 0.60 * e4 + a4) * env
    stereo = np.stack([left, right])
    stereo *= 0.1 / np.max(np.abs(stereo))  # peak -20 dBFS
    return stereo.astype(np.float32)


def _picture(i: int, cut: int, n_frames: int, astro: np.ndarray, coffee: np.ndarray, width: int, height: int,
             title: tuple[int, int]) -> tuple[np.ndarray, tuple | None]:
    """Frame i as RGB, and the astronaut's face box in it (None in shot 2, which starts at `cut`)."""
    box = None
    if i < cut:
        cx, cy, w = _shot1_camera(i, cut)
        m = _window_matrix(cx, cy, w, width, height)
        img = _render(astro, m, width, height)
        box = _map_box(m, ASTRONAUT_FACE)
    else:
        cx, cy, w = _shot2_camera(i - cut, n_frames - cut)
        m = _window_matrix(cx, cy, w, width, height)
        img = _render(coffee, m, width, height)
    rgb = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    if title[0] <= i <= title[1]:
        _draw_title(rgb, TITLE_BOX, TITLE_TEXT)
    return rgb, box


def _write_audio(container, stream, n_samples: int) -> None:
    """The soundtrack (_make_audio), AAC in blocks of 1024 samples."""
    pcm = _make_audio(n_samples, AUDIO_RATE)
    chunk = 1024
    for start in range(0, n_samples, chunk):
        block = np.ascontiguousarray(pcm[:, start:start + chunk])
        af = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
        af.sample_rate = AUDIO_RATE
        af.pts = start
        af.time_base = Fraction(1, AUDIO_RATE)
        for pkt in stream.encode(af):
            container.mux(pkt)
    for pkt in stream.encode(None):
        container.mux(pkt)


def _metadata(out_path: str, width: int, height: int, fps: int, n_frames: int, cut: int, title: tuple[int, int],
              face_boxes: list, audio: bool) -> dict:
    return {
        "path": out_path,
        "bytes": os.path.getsize(out_path),
        "width": width,
        "height": height,
        "fps": fps,
        "frames": n_frames,
        "cut_frame": cut,
        "shots": [
            {"source": "skimage.data.astronaut", "frames": [0, cut - 1]},
            {"source": "skimage.data.coffee", "frames": [cut, n_frames - 1]},
        ],
        "title": {
            "text": TITLE_TEXT,
            "frames": list(title),
            "box_xyxy": list(TITLE_BOX),
        },
        "face_box_xyxy": {
            "first": list(face_boxes[0]),
            "last_of_shot1": list(face_boxes[-1]),
        },
        "audio": {"codec": "aac", "rate": AUDIO_RATE, "layout": "stereo"} if audio else None,
    }


def build_sample(
    out_path: str,
    seconds: float = SECONDS,
    fps: int = FPS,
    width: int = WIDTH,
    height: int = HEIGHT,
    crf: int = 18,
    preset: str = "slow",
    audio: bool = True,
) -> dict:
    """Render the demo clip to ``out_path`` and return its metadata.

    The cut is at ``round(seconds * fps / 2)`` (frame 75 for the defaults).
    The title is drawn at the fixed frame range TITLE_START..TITLE_END
    (clamped to shot 1) and the fixed box TITLE_BOX (designed for 640x360).
    """
    n_frames = int(round(seconds * fps))
    cut = n_frames // 2
    title_start, title_end = TITLE_START, min(TITLE_END, cut - 1)

    astro = skdata.astronaut().astype(np.float32)
    coffee = skdata.coffee().astype(np.float32)

    out_path = os.path.abspath(out_path)
    out_dir = os.path.dirname(out_path)
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(out_path) + "-",
                                    suffix=".mp4", dir=out_dir)
    os.close(fd)

    face_boxes = []
    try:
        # fflags=+bitexact keeps the muxer from writing version strings that
        # change between library builds; x264 runs single-threaded for
        # bit-exact, reproducible output.
        with av.open(tmp_path, mode="w", format="mp4",
                     options={"fflags": "+bitexact"}) as container:
            vs = container.add_stream("libx264", rate=fps)
            vs.width, vs.height = width, height
            vs.pix_fmt = "yuv420p"
            vs.codec_context.thread_count = 1
            vs.codec_context.time_base = Fraction(1, fps)
            vs.options = {
                "crf": str(crf),
                "preset": preset,
                "threads": "1",
                "x264-params": "threads=1:lookahead-threads=1",
            }
            as_ = None
            if audio:
                as_ = container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
                as_.bit_rate = 96000

            for i in range(n_frames):
                rgb, box = _picture(i, cut, n_frames, astro, coffee, width, height, (title_start, title_end))
                if box is not None:
                    face_boxes.append(box)
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = i
                frame.time_base = Fraction(1, fps)
                for pkt in vs.encode(frame):
                    container.mux(pkt)
            for pkt in vs.encode(None):
                container.mux(pkt)

            if as_ is not None:
                _write_audio(container, as_, int(round(seconds * AUDIO_RATE)))
        # mkstemp creates 0600 files; give the clip ordinary permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, out_path)
    except BaseException:
        try:
            os.unlink(tmp_path)
        except OSError:
            pass
        raise

    return _metadata(out_path, width, height, fps, n_frames, cut, (title_start, title_end), face_boxes, audio)


def main(argv=None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(here, "demo.mp4"),
                    help="output path (default: sample_videos/demo.mp4)")
    ap.add_argument("--seconds", type=float, default=SECONDS)
    ap.add_argument("--crf", type=int, default=18)
    ap.add_argument("--preset", default="slow")
    ap.add_argument("--no-audio", action="store_true")
    args = ap.parse_args(argv)
    meta = build_sample(args.out, seconds=args.seconds, crf=args.crf,
                        preset=args.preset, audio=not args.no_audio)
    json.dump(meta, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

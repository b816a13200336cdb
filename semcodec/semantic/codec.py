"""Semantic mode: video -> .semz (captions + tiny guide images + optional pixel fallback) -> video.

encode_semantic():
  1. `tag_video` (one decode): shots, scene classes, measurements, keyframes.
  2. one decode: the guide frame(s) of every shot (a keyframe, or the middle frame), kept small.
  3. per guide: shrink to --guide-size, code with WebP/AVIF/JPEG, decode back (what the decoder sees);
     per shot: caption (model or analyzers) and region layout (faces, text, objects).
  4. one decode: Y-PSNR of the offline reconstruction per shot; with --hybrid-threshold, each shot is
     also coded with libx264 at --fallback-crf and kept where the reconstruction scores below it.
decode_semantic(): the guides go through the generator (default: upscaler), held over each shot (or
blended between a shot's guides); hybrid shots are decoded from their H.264 segment; libx264 MP4 out.
"""
from __future__ import annotations

import io
import logging
import math
import os
import time
from fractions import Fraction

import av
import cv2
import numpy as np

from semcodec import __version__
from semcodec.errors import SemcodecError, UsageError
from semcodec.metrics.quality import psnr
from semcodec.progress import Progress
from semcodec.progress import bar as progress_bar
from semcodec.semantic import format as semz
from semcodec.semantic.caption import ModelCaptioner, compose_caption
from semcodec.semantic.generate import OfflineGenerator

log = logging.getLogger("semcodec")
ANALYSIS_LONG_SIDE = 320

# Decode budget. A valid .semz of a few hundred bytes may claim semz.MAX_FRAMES (50M) frames: 10 h of work at
# QCIF, months at 4K. Above these the decoder refuses unless the caller names a frame count (--max-frames).
DEFAULT_MAX_FRAMES = 324_000  # 3 h at 30 fps
DEFAULT_MAX_PIXELS = DEFAULT_MAX_FRAMES * 1920 * 1080  # frames x pixels: 3 h of 1080p30
OUTPUT_BYTES_PER_PIXEL = 0.5  # 4 bits per pixel: far above what x264 CRF 16 writes for held, upscaled pictures
MIN_OUTPUT_BUDGET = 64 << 20


def decode_budget(f: semz.SemzFile, max_frames: int | None = None) -> tuple[int, int]:
    """(frames, output bytes) a decode of `f` may produce: `max_frames` when given, else the defaults."""
    pixels = f.width * f.height
    frames = max_frames if max_frames is not None else min(DEFAULT_MAX_FRAMES, DEFAULT_MAX_PIXELS // pixels)
    return frames, max(MIN_OUTPUT_BUDGET, int(frames * pixels * OUTPUT_BYTES_PER_PIXEL))


def check_decode_budget(path: str, f: semz.SemzFile, max_frames: int | None = None) -> tuple[int, int]:
    """Refuse, before any work, a file that claims more frames than the budget; return the budget."""
    frames, out_bytes = decode_budget(f, max_frames)
    if f.frames > frames:
        secs = int(float(f.duration))
        length = f"{secs // 3600}:{secs // 60 % 60:02d}:{secs % 60:02d}"
        limit = f"--max-frames {max_frames}" if max_frames is not None else \
            f"the default budget for {f.width}x{f.height} ({frames} frames)"
        raise SemcodecError(f"{path} claims {f.frames} frames of {f.width}x{f.height} ({length} at "
                            f"{float(f.fps):g} fps), more than {limit}; to decode it anyway, pass "
                            f"--max-frames {f.frames}")
    return frames, out_bytes


def _luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 limited-range luma, as swscale makes it for yuv420p."""
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    return 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def _y_plane(frame: av.VideoFrame, w: int, h: int) -> np.ndarray:
    f = frame.reformat(format="yuv420p") if frame.format.name != "yuv420p" else frame
    plane = f.planes[0]
    y = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:h, :w]
    return y.astype(np.float32)


def _fit(w: int, h: int, long_side: int) -> tuple[int, int]:
    s = min(1.0, long_side / max(w, h))
    return max(1, int(round(w * s))), max(1, int(round(h * s)))


def strip_sei(stream: bytes) -> bytes:
    """Drop SEI NAL units (x264 writes its full settings string, ~600 bytes, in one) from Annex-B H.264."""
    out, i, n = bytearray(), 0, len(stream)
    starts = []
    while True:
        j = stream.find(b"\x00\x00\x01", i)
        if j < 0:
            break
        starts.append(j)
        i = j + 3
    for k, s in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else n
        while end > s + 3 and k + 1 < len(starts) and stream[end - 1] == 0:
            end -= 1  # the zero of a 4-byte start code belongs to the next unit
        nal = stream[s + 3:end]
        if nal and nal[0] & 0x1F == 6:
            continue
        out += b"\x00\x00\x00\x01" + nal
    return bytes(out)


class _ShotEncoder:
    """libx264 (Annex-B elementary stream, in memory) for one shot's frames."""

    def __init__(self, w: int, h: int, fps: Fraction, crf: int, frames: int):
        self.buf = io.BytesIO()
        self.out = av.open(self.buf, "w", format="h264")
        self.stream = self.out.add_stream("libx264", rate=fps)
        self.stream.width, self.stream.height, self.stream.pix_fmt = w, h, "yuv420p"
        self.tb = self.stream.time_base = 1 / fps  # kept: the muxer changes the stream's time base
        self.stream.options = {"crf": str(crf), "preset": "medium", "keyint": str(max(frames, 1)),
                               "x264-params": f"keyint={max(frames, 1)}:scenecut=0"}
        self.n = 0

    def add(self, frame: av.VideoFrame) -> None:
        f = frame.reformat(width=self.stream.width, height=self.stream.height, format="yuv420p")
        f = av.VideoFrame.from_ndarray(f.to_ndarray(), format="yuv420p")
        f.pts, f.time_base = self.n, self.tb
        self.n += 1
        for p in self.stream.encode(f):
            self.out.mux(p)

    def finish(self) -> bytes:
        for p in self.stream.encode(None):
            self.out.mux(p)
        self.out.close()
        return strip_sei(self.buf.getvalue())


def reconstruction_for(shot: semz.ShotEntry, pictures, frame: int) -> np.ndarray:
    """The offline hold: the guide picture of the shot; with several guides, a linear blend between
    the two around `frame` (held before the first and after the last). No camera motion is invented.
    `pictures` is a list, or a function k -> picture of guide k (made on demand)."""
    get = pictures.__getitem__ if isinstance(pictures, list) else pictures
    frames = [g.frame for g in shot.guides]
    if len(frames) == 1 or frame <= frames[0]:
        return get(0)
    if frame >= frames[-1]:
        return get(len(frames) - 1)
    k = int(np.searchsorted(frames, frame, side="right")) - 1
    a = (frame - frames[k]) / (frames[k + 1] - frames[k])
    return cv2.addWeighted(get(k), 1 - a, get(k + 1), a, 0)


class _Pictures:
    """Generated pictures of one shot's guides, made when first needed; at most two are held (the
    decoder walks frames in order), so memory stays at two frames whatever the guide count."""

    def __init__(self, f: semz.SemzFile, shot: semz.ShotEntry, gen, seed: int, w: int, h: int):
        self.f, self.shot, self.gen, self.seed, self.w, self.h = f, shot, gen, seed, w, h
        self.cache: dict = {}

    def __call__(self, k: int) -> np.ndarray:
        if k not in self.cache:
            for old in [j for j in self.cache if j < k - 1 or j > k + 1]:
                del self.cache[old]
            g = self.shot.guides[k]
            self.cache[k] = self.gen(self.shot.caption, semz.decode_guide(self.f, g), self.w, self.h,
                                     self.seed + g.chunk)
        return self.cache[k]


def _check_encode_options(input_path: str, output_path: str, guide_size: int, guide_codec: str,
                          guide_quality: int, guide_every: float, hybrid_threshold: float | None,
                          fallback_crf: int) -> None:
    """Every option of encode_semantic checked before any work (UsageError / SemcodecError)."""
    if not 8 <= guide_size <= semz.MAX_GUIDE_DIM:
        raise UsageError(f"--guide-size must be in [8, {semz.MAX_GUIDE_DIM}]")
    if guide_codec not in semz.GUIDE_CODECS:
        raise UsageError(f"--guide-codec must be one of {', '.join(semz.GUIDE_CODECS)}")
    if guide_codec not in semz.guide_codecs_available():
        raise SemcodecError(f"Pillow here cannot write {guide_codec}; "
                            f"available: {', '.join(semz.guide_codecs_available())}")
    if not 1 <= guide_quality <= 100:
        raise UsageError("--guide-quality must be in [1, 100]")
    if not 0 <= fallback_crf <= 51:
        raise UsageError("--fallback-crf must be in [0, 51]")
    if not (math.isfinite(guide_every) and guide_every >= 0):
        raise UsageError(f"--guide-every must be a finite number >= 0, not {guide_every}")
    if hybrid_threshold is not None and not (math.isfinite(hybrid_threshold) and 0 <= hybrid_threshold <= 100):
        raise UsageError(f"--hybrid-threshold must be a Y-PSNR in [0, 100] dB, not {hybrid_threshold}")
    if not output_path.lower().endswith(".semz"):
        raise UsageError("output must end in .semz")
    out_dir = os.path.dirname(os.path.abspath(output_path))
    if not os.path.isdir(out_dir):
        raise SemcodecError(f"output folder does not exist: {out_dir}")
    if os.path.exists(input_path) and os.path.abspath(input_path) == os.path.abspath(output_path):
        raise SemcodecError(f"output path is the input file: {output_path}")


def _guide_frames(shots_json: list[dict], guide_every: float, fps: Fraction) -> list[list[int]]:
    """The guide frame(s) of every shot: every `guide_every` seconds, else its best keyframe, else its
    middle frame."""
    plan: list[list[int]] = []
    for s in shots_json:
        a, b = s["start_frame"], s["end_frame"]
        if guide_every > 0:
            k = max(1, math.ceil((b - a) / max(1.0, guide_every * float(fps))))
            plan.append(sorted({a + int((j + 0.5) * (b - a) / k) for j in range(k)}))
        elif s.get("keyframes"):
            best = max(s["keyframes"], key=lambda kf: kf["score"])
            plan.append([best["frame"]])
        else:
            plan.append([(a + b - 1) // 2])
    return plan


def _keep_frames(input_path: str, wanted: dict, width: int, height: int) -> dict[int, np.ndarray]:
    """One decode: the `wanted` frames as small RGB pictures (width x height)."""
    from semcodec.io.reader import DecodeStats, iter_packets_and_frames, open_input

    kept: dict[int, np.ndarray] = {}
    stats = DecodeStats()
    with open_input(input_path) as container:
        videos = (frame for kind, frame in iter_packets_and_frames(container, stats) if kind == "video")
        for n, frame in enumerate(videos):
            if n in wanted:
                kept[n] = frame.reformat(width=width, height=height, format="rgb24",
                                         interpolation="AREA").to_ndarray()
            if len(kept) == len(wanted):
                break
    return kept


def _shot_regions(af, measurements: dict, faces, text, objects, people=None) -> list:
    """Faces, people, text (where the shot has some) and objects (with --yolo-weights) on the shot's first
    guide."""
    from semcodec.analysis.people import person_boxes

    regions = []
    if faces.available:
        regions += [semz.Region("face", tuple(r.box)) for r in faces.analyze(af).regions]
    if people is not None and people.available:
        face_boxes = [r.box for r in regions]
        regions += [semz.Region("person", tuple(b)) for b in person_boxes(people.segment(af), face_boxes)][:8]
    if text.available and measurements.get("text_area", 0) > 0.002:  # the shot had text on its sampled frames
        regions += [semz.Region("text", tuple(r.box)) for r in text.analyze(af).regions
                    if (r.box[2] - r.box[0]) * (r.box[3] - r.box[1]) > 0.002][:8]
    if objects is not None:
        regions += [semz.Region(r.label[:semz.MAX_LABEL_CHARS], tuple(r.box))
                    for r in objects.analyze(af).regions][:16]
    return regions


def _shot_entries(shots_json: list[dict], plan: list[list[int]], kept: dict, keep_size: tuple[int, int],
                  guide_size: tuple[int, int], guide_codec: str, guide_quality: int, model, objects
                  ) -> list[semz.ShotEntry]:
    """Per shot: its coded guides, region layout and caption."""
    from semcodec.analysis.base import AnalysisFrame
    from semcodec.analysis.faces import FaceAnalyzer
    from semcodec.analysis.people import PeopleAnalyzer
    from semcodec.analysis.text import TextAnalyzer

    (kw, kh), (gw, gh) = keep_size, guide_size
    faces, text, people = FaceAnalyzer(), TextAnalyzer(), PeopleAnalyzer()
    for analyzer in (faces, text, people):
        analyzer.load()
    entries: list[semz.ShotEntry] = []
    chunk = 0
    for i, s in enumerate(shots_json):
        entry = semz.ShotEntry(s["start_frame"], s["end_frame"], "", s["scene"]["class"])
        for f in plan[i]:
            rgb = kept.get(f)
            if rgb is None:  # decode ended early (should not happen): use the last kept frame
                rgb = kept[max(kept)] if kept else np.zeros((kh, kw, 3), np.uint8)
            small = cv2.resize(rgb, (gw, gh), interpolation=cv2.INTER_AREA)
            entry.guides.append(semz.Guide(f, chunk, semz.encode_guide(small, guide_codec, guide_quality)))
            chunk += 1
        first = kept.get(plan[i][0])
        if first is None:
            first = np.zeros((kh, kw, 3), np.uint8)
        aw, ah = _fit(first.shape[1], first.shape[0], ANALYSIS_LONG_SIDE)
        arg = cv2.resize(first, (aw, ah), interpolation=cv2.INTER_AREA)
        af = AnalysisFrame(plan[i][0], 0.0, arg, cv2.cvtColor(arg, cv2.COLOR_RGB2GRAY))
        regions = _shot_regions(af, s["measurements"], faces, text, objects, people)
        entry.regions = [semz.Region(r.label, tuple(min(1.0, max(0.0, float(v))) for v in r.box))
                         for r in regions][:semz.MAX_REGIONS]
        entry.caption = model(first) if model else compose_caption(entry.scene, s["measurements"], regions, first)
        entry.caption = entry.caption[:semz.MAX_CAPTION_CHARS]
        entries.append(entry)
    return entries


def _measure_shots(input_path: str, f: semz.SemzFile, n_frames: int, hybrid: bool, fallback_crf: int,
                   progress: Progress | None) -> tuple[list[float], dict[int, bytes]]:
    """One decode: per shot the sum of per-frame luma MSEs of the offline reconstruction and, in hybrid
    mode, the shot coded with libx264 at `fallback_crf`."""
    from semcodec.io.reader import DecodeStats, iter_packets_and_frames, open_input

    entries, fps = f.shots, f.fps
    w, h = f.width, f.height
    offline = OfflineGenerator()
    sse = [0.0] * len(entries)
    segments: dict[int, bytes] = {}
    shot_of = np.zeros(n_frames, np.int32)
    for i, e in enumerate(entries):
        shot_of[e.start:e.end] = i
    enc = None
    cur = -1
    bar = progress_bar(progress, "measure", n_frames)
    with open_input(input_path) as container:
        stats = DecodeStats()
        n = 0
        for kind, frame in iter_packets_and_frames(container, stats):
            if kind != "video" or n >= n_frames:
                continue
            i = int(shot_of[n])
            if i != cur:
                if enc is not None:
                    segments[cur] = enc.finish()
                cur = i
                recon = _Pictures(f, entries[i], offline, 0, w, h)  # what the offline decoder will show
                enc = _ShotEncoder(w, h, fps, fallback_crf, entries[i].end - entries[i].start) if hybrid else None
            ref = _y_plane(frame, w, h)
            rec = _luma(reconstruction_for(entries[i], recon, n))
            rec = np.clip(np.floor(rec + 0.5), 0, 255)
            sse[i] += float(np.mean((ref - rec) ** 2))
            if enc is not None:
                enc.add(frame)
            n += 1
            bar.update(1)
        bar.close()
        if enc is not None:
            segments[cur] = enc.finish()
    return sse, segments


def _choose_hybrid(entries: list[semz.ShotEntry], sse: list[float], segments: dict[int, bytes],
                   hybrid_threshold: float | None) -> int:
    """Score every shot; in hybrid mode send the pixels of those below the threshold (their guides are
    dropped) and renumber the remaining guide chunks. Returns the number of hybrid shots."""
    pix = 0
    for i, e in enumerate(entries):
        e.psnr = psnr(sse[i] / max(1, e.end - e.start))
        if hybrid_threshold is not None and e.psnr < hybrid_threshold and segments.get(i):
            e.pixels, e.pixel_data = pix, segments[i]
            pix += 1
            # a hybrid shot needs no guide: its pixels are sent; drop the guides to save bytes
            e.guides = []
    c = 0
    for e in entries:
        for g in e.guides:
            g.chunk = c
            c += 1
    return pix


def _encode_report(input_path: str, output_path: str, f: semz.SemzFile, size: int, pix: int,
                   guide_quality: int, t_tag: float, seconds: float) -> dict:
    entries, w, h, n_frames = f.shots, f.width, f.height, f.frames
    dur = float(n_frames / f.fps)
    return {
        "schema": "semcodec.semantic_report/1", "input": input_path, "output": output_path,
        "bytes": size, "bits_per_second": round(size * 8 / dur, 1) if dur else None,
        "bits_per_pixel": size * 8 / (w * h * n_frames),
        "video": {"width": w, "height": h, "fps": str(f.fps), "frames": n_frames, "duration_s": round(dur, 4)},
        "shots": len(entries), "hybrid_shots": pix, "guide": {"codec": f.guide_codec, "width": f.guide_width,
                                                              "height": f.guide_height, "quality": guide_quality},
        "guide_bytes": sum(len(g.data) for e in entries for g in e.guides),
        "pixel_bytes": sum(len(e.pixel_data) for e in entries),
        "captioner": f.captioner,
        "per_shot": [{"start": e.start, "end": e.end, "caption": e.caption, "scene": e.scene,
                      "psnr_y": round(e.psnr, 2), "hybrid": e.pixels is not None} for e in entries],
        "timings": {"tag_s": round(t_tag, 2), "total_s": round(seconds, 2)},
    }


def encode_semantic(input_path: str, output_path: str, *, captioner: str | None = None, guide_size: int = 64,
                    guide_codec: str = "webp", guide_quality: int = 50, guide_every: float = 0.0,
                    hybrid_threshold: float | None = None, fallback_crf: int = 40,
                    yolo_weights: str | None = None, progress: Progress | None = None) -> dict:
    """Encode `input_path` to a .semz file.

    Args:
        input_path: source video.
        output_path: the .semz file to write (its folder must exist).
        captioner: local transformers image-to-text model folder; None: captions from the analyzers.
        guide_size: long side of the guide pictures, in pixels.
        guide_codec, guide_quality: how the guides are coded (webp, avif or jpeg; 1-100).
        guide_every: one guide every this many seconds of a shot (0: one per shot).
        hybrid_threshold: Y-PSNR (dB) under which a shot is sent as libx264 pixels at `fallback_crf`.
        yolo_weights: YOLO weights for object regions (a path that cannot load is an error).
        progress: the front end's bars (semcodec.progress); None: silent.

    Returns:
        The encode report (JSON-ready, schema semcodec.semantic_report/1).

    Raises:
        UsageError: an option out of range. SemcodecError: unreadable input, unusable output or model.
    """
    from semcodec.analysis.objects import ObjectAnalyzer
    from semcodec.io.reader import probe
    from semcodec.tagging.tagger import tag_video

    t0 = time.perf_counter()
    _check_encode_options(input_path, output_path, guide_size, guide_codec, guide_quality, guide_every,
                          hybrid_threshold, fallback_crf)
    model = ModelCaptioner(captioner) if captioner else None  # fail before decoding anything
    objects = ObjectAnalyzer(yolo_weights) if yolo_weights else None
    if objects is not None and not objects.load():  # likewise: a named path that cannot load is an error
        raise SemcodecError(objects.reason)

    info = probe(input_path)
    tags, _ = tag_video(input_path, max_keyframes=4096, progress=progress)
    fps = Fraction(info.average_rate).limit_denominator(1_000_000)
    w, h = info.width - info.width % 2, info.height - info.height % 2
    n_frames = tags["video"]["frames"]
    shots_json = tags["shots"]
    t_tag = time.perf_counter() - t0

    plan = _guide_frames(shots_json, guide_every, fps)
    wanted = {f: i for i, fr in enumerate(plan) for f in fr}
    kw, kh = _fit(w, h, max(ANALYSIS_LONG_SIDE, guide_size))
    kw, kh = max(2, kw // 2 * 2), max(2, kh // 2 * 2)
    kept = _keep_frames(input_path, wanted, kw, kh)
    gw, gh = _fit(w, h, guide_size)
    entries = _shot_entries(shots_json, plan, kept, (kw, kh), (gw, gh), guide_codec, guide_quality, model, objects)
    f = semz.SemzFile(w, h, fps, n_frames, guide_codec, gw, gh, entries, info.duration_s,
                      f"semcodec {__version__}", f"model:{model.name}" if model else "analyzers")
    del kept  # what follows needs only the coded guides

    sse, segments = _measure_shots(input_path, f, n_frames, hybrid_threshold is not None, fallback_crf, progress)
    pix = _choose_hybrid(entries, sse, segments, hybrid_threshold)
    size = semz.write(output_path, f)
    return _encode_report(input_path, output_path, f, size, pix, guide_quality, t_tag, time.perf_counter() - t0)


def _check_decode_options(crf: int, max_frames: int | None, strength: float) -> None:
    if not 0 <= crf <= 51:
        raise UsageError(f"--crf {crf} is out of range for libx264 (0-51)")
    if max_frames is not None and max_frames < 1:
        raise UsageError(f"--max-frames must be at least 1, not {max_frames}")
    if not (math.isfinite(strength) and 0 < strength <= 1):
        raise UsageError(f"--strength must be in (0, 1], not {strength}")


def _emit_shot(f: semz.SemzFile, e: semz.ShotEntry, gen, seed: int, w: int, h: int, emit) -> None:
    """Every frame of one shot to `emit`: a hybrid shot's decoded pixels (a short segment is padded with
    its last frame, or with the reconstruction where it has none), else the reconstruction from its
    generated guides."""
    length = e.end - e.start
    if e.pixels is not None:
        got = 0
        last = None
        for vf in _segment_frames(e.pixel_data, f.width, f.height, length):
            emit(vf)
            last, got = vf, got + 1
        if got == 0 and not e.guides:
            raise SemcodecError(f"pixel segment of the shot at frame {e.start} holds no frame")
        if got < length:
            fill = last.to_ndarray(format="rgb24") if last is not None else None
            for k in range(got, length):
                emit(fill if fill is not None else
                     reconstruction_for(e, _Pictures(f, e, gen, seed, w, h), e.start + k))
        return
    pics = _Pictures(f, e, gen, seed, w, h)
    for k in range(length):
        emit(reconstruction_for(e, pics, e.start + k))


def decode_semantic(input_path: str, output_path: str, *, generator: str | None = None, seed: int = 0,
                    steps: int = 20, generator_mode: str = "img2img", strength: float = 0.55,
                    gen_size: int = 512, crf: int = 16, max_frames: int | None = None,
                    progress: Progress | None = None) -> dict:
    """Decode a .semz file to a playable MP4/MKV (libx264) with the source's frame count and rate.
    The work is bounded (check_decode_budget): a file that claims more frames than the default budget for
    its frame size is refused unless `max_frames` allows them; the output is capped in bytes as well."""
    from semcodec.io.writer import atomic_output, check_output_path, container_format

    t0 = time.perf_counter()
    _check_decode_options(crf, max_frames, strength)
    check_output_path(input_path, output_path)
    fmt = container_format(output_path)
    f = semz.read(input_path)
    _, max_bytes = check_decode_budget(input_path, f, max_frames)  # before a generator is loaded
    gen = OfflineGenerator()
    if generator:
        from semcodec.semantic.generate import DiffusersGenerator

        gen = DiffusersGenerator(generator, steps=steps, mode=generator_mode, strength=strength, size=gen_size)
    w, h = f.width - f.width % 2, f.height - f.height % 2
    bar = progress_bar(progress, "decode", f.frames)
    written = out_bytes = 0
    with atomic_output(output_path) as tmp:
        out = av.open(tmp, "w", format=fmt)
        try:
            st = out.add_stream("libx264", rate=f.fps)
            st.width, st.height, st.pix_fmt = w, h, "yuv420p"
            tb = st.time_base = 1 / f.fps  # kept: the muxer changes the stream's time base on first write
            st.options = {"crf": str(crf), "preset": "veryfast"}

            def emit(img: np.ndarray | av.VideoFrame):
                nonlocal written, out_bytes
                if isinstance(img, np.ndarray):
                    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                else:  # a decoded segment frame: copy the pixels only (no timestamps, picture type, side data)
                    vf = av.VideoFrame.from_ndarray(
                        img.reformat(width=w, height=h, format="yuv420p").to_ndarray(), format="yuv420p")
                vf = vf.reformat(width=w, height=h, format="yuv420p")
                vf.pts, vf.time_base = written, tb
                for p in st.encode(vf):
                    out_bytes += p.size
                    out.mux(p)
                if out_bytes > max_bytes:  # never expected from real content: a hostile file, or a bug
                    raise SemcodecError(f"output of {input_path} passed {max_bytes} bytes after {written + 1} of "
                                        f"{f.frames} frames, the output budget; a larger --max-frames raises it")
                written += 1
                bar.update(1)

            for e in f.shots:
                _emit_shot(f, e, gen, seed, w, h, emit)
            for p in st.encode(None):
                out.mux(p)
        except av.error.FFmpegError as exc:
            raise SemcodecError(f"cannot write {output_path}: {exc.strerror or exc}") from exc
        finally:
            out.close()
            bar.close()
    return {"input": input_path, "output": output_path, "frames": written, "fps": str(f.fps),
            "duration_s": round(float(f.duration), 4), "width": w, "height": h, "generator": gen.name,
            "seed": seed, "hybrid_shots": sum(e.pixels is not None for e in f.shots),
            "seconds": round(time.perf_counter() - t0, 2)}


def _segment_frames(data: bytes, width: int, height: int, limit: int):
    """Frames of an H.264 elementary stream held in memory; at most `limit`, each checked for size."""
    n = 0
    try:
        with av.open(io.BytesIO(data), "r", format="h264") as c:
            if not c.streams.video:
                raise SemcodecError("not a valid .semz file: pixel segment holds no video stream")
            vs = c.streams.video[0]
            # FFmpeg refuses (rather than allocates) pictures larger than the video: a hostile SPS
            # cannot make the decoder allocate more than one frame of the declared size
            vs.codec_context.options = {"max_pixels": str((width + 64) * (height + 64))}  # + alignment padding
            for packet in c.demux(vs):
                for vf in packet.decode():
                    if (vf.width, vf.height) != (width - width % 2, height - height % 2) and \
                            (vf.width, vf.height) != (width, height):
                        raise SemcodecError(f"pixel segment is {vf.width}x{vf.height}, video is {width}x{height}")
                    yield vf
                    n += 1
                    if n >= limit:
                        return
    except av.error.FFmpegError as exc:
        raise SemcodecError(f"not a valid .semz file: pixel segment does not decode ({exc.strerror or exc})") from None

"""`semcodec analyze`: what the text guidance would do to a video, as JSON (and a plot).

Per cue: its emotion (category, intensity, valence, probabilities) and the cross-attention weights of
its phrases over the labelled regions of the frames under it. The analyzers run on a sample of frames
(`sample_fps`, plus the middle frame of every cue), each with its preceding frame so motion is
measured as in an encode. Per frame: the emotion curve and its QP offset. With an encoded file (or
one the caller encodes on the spot, `encode_for_plot`), the bits of every frame and their correlation
with the emotion curve. This module never calls the encoder itself.
"""
from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np

from semcodec import __version__
from semcodec.errors import SemcodecError, UsageError
from semcodec.text.curve import DEFAULT_STRENGTH
from semcodec.text.guide import TextGuide, video_frame_times
from semcodec.text.plot import correlation, frame_bits, plot_emotion_vs_bits, rolling_mean

log = logging.getLogger("semcodec")
MAX_SAMPLES = 3000
EncodeForPlot = Callable[[str], dict]  # output path -> encode report (semcodec.encode's)


def _sample_frames(times: np.ndarray, cues, sample_fps: float) -> list[int]:
    n = len(times)
    if n == 0:
        return []
    duration = float(times[-1] - times[0]) if n > 1 else 0.0
    rate = (n - 1) / duration if duration > 0 else 1.0
    step = max(1, int(round(rate / sample_fps)))
    picks = set(range(0, n, step))
    for c in cues:  # the middle of every cue, so each cue has at least one analysed frame
        mid = (c.start + min(c.end, float(times[-1]))) / 2
        i = int(np.clip(np.searchsorted(times, mid), 0, n - 1))
        picks.add(i)
    picks = sorted(picks)
    if len(picks) > MAX_SAMPLES:
        picks = picks[:: math.ceil(len(picks) / MAX_SAMPLES)]
    return picks


def _check_arguments(subtitles: str | None, prompt: str | None, sample_fps: float, encoded: list[str] | None) -> None:
    if not subtitles and prompt is None:
        raise UsageError("analyze needs --subtitles FILE|auto or --prompt TEXT")
    if sample_fps <= 0:
        raise UsageError("--sample-fps must be positive")
    for f in encoded or []:
        if not os.path.isfile(f):
            raise SemcodecError(f"--encoded {f}: no such file")


def _importance_mapper(roi: str, yolo_weights: str | None, warn):
    """The analyzers that find the regions for the cross-attention; None with --roi off or when none runs."""
    from semcodec.analysis.fusion import ImportanceMapper, RoiMode, build_analyzers

    mode = RoiMode.parse(roi)
    if mode.off:
        return None
    mapper = ImportanceMapper(build_analyzers(mode, yolo_weights), required=mode.required)
    if not mapper.active:
        warn("no analyzer could run: no regions for the cross-attention")
        return None
    return mapper


def _importance(mapper, frames: list, t: float, aw: int, ah: int) -> np.ndarray:
    """Importance of the last of `frames` (the sample, after its preceding frame), from a fresh mapper
    state, so motion is measured as in an encode."""
    from semcodec.analysis.base import AnalysisFrame
    from semcodec.frames import small_luma, small_rgb

    strides = [a.stride for a in mapper.active]
    every = math.lcm(*strides) if strides else 1
    mapper.reset()
    importance = None
    for k, fr in enumerate(frames):
        yuv = fr.reformat(format="yuv420p") if fr.format.name != "yuv420p" else fr
        if yuv.width % 2 or yuv.height % 2:
            yuv = yuv.reformat(width=yuv.width // 2 * 2, height=yuv.height // 2 * 2)
        gray = small_luma(yuv, aw, ah)
        af = AnalysisFrame(k * every, t, None, gray, make_rgb=lambda y=yuv: small_rgb(y, aw, ah))
        importance = mapper(af)
    return importance


def _sample_entry(guide: TextGuide, importance: np.ndarray, regions: list, i: int, t: float) -> dict:
    """What the text guidance does on analysed frame `i` at time `t`."""
    guided, gain = guide.apply(importance, regions, t, i)
    att = []
    for it, w in (guide.active(t) if guide.attention is not None else []):
        a = guide.attention(it.queries, it.q_emb, regions)
        att.append({"cue": "prompt" if it.cue.source == "prompt" else it.cue.index,
                    "ramp": round(w, 3), **a.to_json(top=len(regions))})
    return {
        "frame": i, "time": round(t, 3),
        "regions": [{"label": r.label, "box": [round(float(v), 4) for v in r.box],
                     "score": round(float(r.score), 3), "source": r.source} for r in regions],
        "importance_mean": round(float(importance.mean()), 4),
        "importance_with_text_mean": round(float(guided.mean()), 4),
        "roi_strength_factor": round(gain, 3),
        "emotion": round(guide.curve.emotion_at(t), 4) if guide.curve else 0.0,
        "qp_offset": round(guide.frame_offset(t), 3),
        "attention": att,
    }


def _analyse_samples(path: str, times: np.ndarray, picks: set, mapper, guide: TextGuide, aw: int,
                     ah: int) -> list[dict]:
    """One decode up to the last picked frame: the analyzers and the cross-attention on every pick."""
    from semcodec.io.reader import open_input

    samples: list[dict] = []
    if not picks:
        return samples
    prev = None
    with open_input(path) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i > max(picks):
                break
            if i in picks:
                t = float(times[min(i, len(times) - 1)])
                importance = _importance(mapper, [f for f in (prev, frame) if f is not None], t, aw, ah)
                samples.append(_sample_entry(guide, importance, list(mapper.last_regions), i, t))
            prev = frame
    return samples


def _cue_entries(guide: TextGuide, samples: list[dict]) -> list[dict]:
    """Per cue: its emotion and the attention of its phrases on the samples under it."""
    cues = []
    for cue in guide.cues:
        d = cue.to_json()
        under = [s for s in samples if cue.start - 1e-6 <= s["time"] <= cue.end]
        d["attention"] = [{"frame": s["frame"], "time": s["time"],
                           "regions": next((a["regions"] for a in s["attention"] if a["cue"] == cue.index), []),
                           "queries": next((a["queries"] for a in s["attention"] if a["cue"] == cue.index), [])}
                          for s in under]
        cues.append(d)
    return cues


def _bits_entry(path: str | None, t: np.ndarray, bits: np.ndarray, curve) -> dict:
    """Bits of one encoded file and their correlation with the emotion curve (`path` None: made on the spot)."""
    entry = {"path": path, "frames": int(len(bits)), "video_bits": int(bits.sum())}
    if curve is not None and len(bits):
        emo = np.array([curve.emotion_at(x) for x in t])
        r, rs = correlation(emo, bits), correlation(emo, rolling_mean(t, bits))
        entry["correlation_emotion_bits"] = None if r is None else round(r, 4)
        entry["correlation_emotion_bits_0.5s"] = None if rs is None else round(rs, 4)
    return entry


def _bits_and_plot(result: dict, path: str, times: np.ndarray, guide: TextGuide, encoded: list[str] | None,
                   plot: str | None, encode_for_plot: EncodeForPlot | None) -> None:
    """Bits per frame of the encoded files (or of an on-the-spot encode by `encode_for_plot`, in a
    temporary folder removed afterwards) into `result`, and the plot."""
    curve = guide.curve
    series = []
    with tempfile.TemporaryDirectory(prefix="semcodec-analyze-") as tmp:
        files = list(encoded or [])
        if plot and not files and encode_for_plot is not None:
            out = os.path.join(tmp, "encoded.mp4")
            rep = encode_for_plot(out)
            result["encoded_on_the_spot"] = {"settings": rep["settings"]["rate_control"],
                                             "video_bytes": rep["output"]["video_bytes"]}
            files = [out]
        result["encoded"] = []
        for f in files:
            t, bits = frame_bits(f)
            label = "semcodec encode (text guided)" if f.startswith(tmp) else os.path.basename(f)
            series.append((label, t, bits))
            result["encoded"].append(_bits_entry(None if f.startswith(tmp) else f, t, bits, curve))
        if plot:
            plot_emotion_vs_bits(plot, curve.times if curve else times,
                                 curve.smooth if curve else np.zeros(len(times)),
                                 curve.offsets if curve else None, series, guide.cues,
                                 title=f"{os.path.basename(path)}: emotion curve vs bits per frame")
            result["plot"] = plot


def analyze_video(path: str, subtitles: str | None = None, prompt: str | None = None,
                  emotion_strength: float = DEFAULT_STRENGTH, emotion_model: str | None = None,
                  roi: str = "auto", yolo_weights: str | None = None, sample_fps: float = 2.0,
                  encoded: list[str] | None = None, plot: str | None = None,
                  encode_for_plot: EncodeForPlot | None = None) -> dict:
    """What the text guidance would do to an encode of `path` (schema semcodec.text_analysis/1).

    Args:
        path: the video.
        subtitles, prompt: the text (as for encode); at least one is needed.
        emotion_strength: QP between the calmest and the most intense moment.
        emotion_model: a local transformers emotion classifier folder.
        roi: the analyzers that find the regions ('auto', 'off' or a comma list).
        yolo_weights: YOLO weights for the objects analyzer.
        sample_fps: frames per second analysed (plus the middle frame of every cue).
        encoded: encoded files whose bits per frame are correlated with the emotion curve (and plotted).
        plot: write the emotion curve against bits per frame here (.png, .pdf, .svg, .jpg).
        encode_for_plot: with `plot` and no `encoded`: called with a temporary output path, it encodes
            `path` there and returns the encode report; that encode is plotted, then deleted. The library
            does not encode by itself (the CLI passes a text-guided semcodec encode).

    Returns:
        The JSON-ready analysis.

    Raises:
        UsageError: no text, or a bad option. SemcodecError: unreadable input, text or encoded file.
    """
    from semcodec.analysis.fusion import analysis_size
    from semcodec.io.reader import probe

    _check_arguments(subtitles, prompt, sample_fps, encoded)
    t_start = time.perf_counter()
    warnings: list[str] = []

    def warn(msg: str) -> None:
        warnings.append(msg)
        log.warning(msg)

    info = probe(path)
    times = video_frame_times(path)
    guide = TextGuide.for_video(path, subtitles, prompt, emotion_strength, emotion_model, warn=warn, times=times)
    mapper = _importance_mapper(roi, yolo_weights, warn)
    aw, ah = analysis_size(info.width // 2 * 2, info.height // 2 * 2)
    picks = set(_sample_frames(times, guide.cues, sample_fps)) if mapper else set()
    t_analysis = time.perf_counter()
    samples = _analyse_samples(path, times, picks, mapper, guide, aw, ah)
    analysis_s = time.perf_counter() - t_analysis
    cues = _cue_entries(guide, samples)
    curve = guide.curve
    result = {
        "schema": "semcodec.text_analysis/1", "semcodec": __version__,
        "input": {"path": path, "width": info.width, "height": info.height, "frames": int(len(times)),
                  "fps": round(float(info.average_rate), 3),
                  "duration_s": round(float(times[-1] - times[0]) + 1 / float(info.average_rate or 25), 3)},
        "text": {k: v for k, v in guide.report().items() if k not in ("cue_list", "frames_analysed", "frames_boosted")},
        "analyzers": mapper.summary() if mapper else [],
        "sample_fps": sample_fps,
        "cues": cues,
        "prompt": ({"text": guide.prompt.text,
                    "attention": [{"frame": s["frame"], "time": s["time"],
                                   **next((a for a in s["attention"] if a["cue"] == "prompt"), {})} for s in samples]}
                   if guide.prompt else None),
        "samples": samples,
        "frames": {"time": [round(float(t), 4) for t in times],
                   "emotion": [round(float(v), 4) for v in curve.smooth] if curve else [0.0] * len(times),
                   "qp_offset": [round(float(v), 3) for v in curve.offsets] if curve else [0.0] * len(times)},
        "timings": {"setup_s": round(guide.setup_s, 3), "analysis_s": round(analysis_s, 3)},
        "warnings": warnings,
    }
    _bits_and_plot(result, path, times, guide, encoded, plot, encode_for_plot)
    result["timings"]["total_s"] = round(time.perf_counter() - t_start, 3)
    return result

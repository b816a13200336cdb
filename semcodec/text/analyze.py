"""`semcodec analyze`: what the text guidance would do to a video, as JSON (and a plot).

Per cue: its emotion (category, intensity, valence, probabilities) and the cross-attention weights of
its phrases over the labelled regions of the frames under it. The analyzers run on a sample of frames
(`sample_fps`, plus the middle frame of every cue), each with its preceding frame so motion is
measured as in an encode. Per frame: the emotion curve and its QP offset. With an encoded file (or
one encoded on the spot), the bits of every frame and their correlation with the emotion curve.
"""
from __future__ import annotations

import logging
import math
import os
import tempfile
import time

import numpy as np

from semcodec import __version__
from semcodec.errors import SemcodecError, UsageError
from semcodec.text.curve import DEFAULT_STRENGTH
from semcodec.text.guide import TextGuide, video_frame_times
from semcodec.text.plot import correlation, frame_bits, plot_emotion_vs_bits, rolling_mean

log = logging.getLogger("semcodec")
MAX_SAMPLES = 3000


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


def analyze_video(path: str, subtitles: str | None = None, prompt: str | None = None,
                  emotion_strength: float = DEFAULT_STRENGTH, emotion_model: str | None = None,
                  roi: str = "auto", yolo_weights: str | None = None, sample_fps: float = 2.0,
                  encoded: list[str] | None = None, plot: str | None = None, encode_for_plot: bool = True,
                  progress: bool = False) -> dict:
    from semcodec.analysis.base import AnalysisFrame
    from semcodec.analysis.fusion import ImportanceMapper, analysis_size, build_analyzers
    from semcodec.encoding.frames import small_luma, small_rgb
    from semcodec.io.reader import open_input, probe

    if not subtitles and prompt is None:
        raise UsageError("analyze needs --subtitles FILE|auto or --prompt TEXT")
    if sample_fps <= 0:
        raise UsageError("--sample-fps must be positive")
    for f in encoded or []:
        if not os.path.isfile(f):
            raise SemcodecError(f"--encoded {f}: no such file")
    t_start = time.perf_counter()
    warnings: list[str] = []

    def warn(msg: str) -> None:
        warnings.append(msg)
        log.warning(msg)

    info = probe(path)
    times = video_frame_times(path)
    guide = TextGuide.for_video(path, subtitles, prompt, emotion_strength, emotion_model, warn=warn, times=times)
    mapper = None
    if roi.strip().lower() != "off":
        mapper = ImportanceMapper(build_analyzers(roi, yolo_weights), required=roi.strip().lower() != "auto")
        if not mapper.active:
            warn("no analyzer could run: no regions for the cross-attention")
            mapper = None
    aw, ah = analysis_size(info.width // 2 * 2, info.height // 2 * 2)
    picks = set(_sample_frames(times, guide.cues, sample_fps)) if mapper else set()
    samples = []
    t_analysis = time.perf_counter()
    if picks:
        strides = [a.stride for a in mapper.active]
        every = math.lcm(*strides) if strides else 1
        prev = None
        with open_input(path) as c:
            for i, frame in enumerate(c.decode(video=0)):
                if i > max(picks):
                    break
                if i in picks:
                    t = float(times[min(i, len(times) - 1)])
                    mapper.reset()
                    importance = None
                    for k, fr in enumerate(f for f in (prev, frame) if f is not None):
                        yuv = fr.reformat(format="yuv420p") if fr.format.name != "yuv420p" else fr
                        if yuv.width % 2 or yuv.height % 2:
                            yuv = yuv.reformat(width=yuv.width // 2 * 2, height=yuv.height // 2 * 2)
                        gray = small_luma(yuv, aw, ah)
                        af = AnalysisFrame(k * every, t, None, gray,
                                           make_rgb=lambda y=yuv: small_rgb(y, aw, ah))
                        importance = mapper(af)
                    regions = list(mapper.last_regions)
                    guided, gain = guide.apply(importance, regions, t, i)
                    att = []
                    for it, w in (guide.active(t) if guide.attention is not None else []):
                        a = guide.attention(it.queries, it.q_emb, regions)
                        att.append({"cue": "prompt" if it.cue.source == "prompt" else it.cue.index,
                                    "ramp": round(w, 3), **a.to_json(top=len(regions))})
                    samples.append({
                        "frame": i, "time": round(t, 3),
                        "regions": [{"label": r.label, "box": [round(float(v), 4) for v in r.box],
                                     "score": round(float(r.score), 3), "source": r.source} for r in regions],
                        "importance_mean": round(float(importance.mean()), 4),
                        "importance_with_text_mean": round(float(guided.mean()), 4),
                        "roi_strength_factor": round(gain, 3),
                        "emotion": round(guide.curve.emotion_at(t), 4) if guide.curve else 0.0,
                        "qp_offset": round(guide.frame_offset(t), 3),
                        "attention": att,
                    })
                prev = frame
    analysis_s = time.perf_counter() - t_analysis

    cues = []
    for cue in guide.cues:
        d = cue.to_json()
        under = [s for s in samples if cue.start - 1e-6 <= s["time"] <= cue.end]
        d["attention"] = [{"frame": s["frame"], "time": s["time"],
                           "regions": next((a["regions"] for a in s["attention"] if a["cue"] == cue.index), []),
                           "queries": next((a["queries"] for a in s["attention"] if a["cue"] == cue.index), [])}
                          for s in under]
        cues.append(d)
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
    series = []
    with tempfile.TemporaryDirectory(prefix="semcodec-analyze-") as tmp:
        files = list(encoded or [])
        if plot and not files and encode_for_plot:
            from semcodec.pipeline import EncodeSettings, encode

            out = os.path.join(tmp, "encoded.mp4")
            rep = encode(path, out, EncodeSettings(roi=roi, yolo_weights=yolo_weights, subtitles=subtitles,
                                                   prompt=prompt, emotion_strength=emotion_strength,
                                                   emotion_model=emotion_model, progress=progress))
            result["encoded_on_the_spot"] = {"settings": rep["settings"]["rate_control"],
                                             "video_bytes": rep["output"]["video_bytes"]}
            files = [out]
        result["encoded"] = []
        for f in files:
            t, bits = frame_bits(f)
            label = "semcodec encode (text guided)" if f.startswith(tmp) else os.path.basename(f)
            series.append((label, t, bits))
            entry = {"path": None if f.startswith(tmp) else f, "frames": int(len(bits)),
                     "video_bits": int(bits.sum())}
            if curve is not None and len(bits):
                emo = np.array([curve.emotion_at(x) for x in t])
                r, rs = correlation(emo, bits), correlation(emo, rolling_mean(t, bits))
                entry["correlation_emotion_bits"] = None if r is None else round(r, 4)
                entry["correlation_emotion_bits_0.5s"] = None if rs is None else round(rs, 4)
            result["encoded"].append(entry)
        if plot:
            plot_emotion_vs_bits(plot, curve.times if curve else times,
                                 curve.smooth if curve else np.zeros(len(times)),
                                 curve.offsets if curve else None, series, guide.cues,
                                 title=f"{os.path.basename(path)}: emotion curve vs bits per frame")
            result["plot"] = plot
    result["timings"]["total_s"] = round(time.perf_counter() - t_start, 3)
    return result

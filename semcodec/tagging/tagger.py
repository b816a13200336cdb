"""`semcodec tag`: shots, scene classes, tags and keyframes of a short video, in one decode.

Every frame goes through the shot detector (cheap); a few frames per second are measured in full (faces,
text, picture statistics, motion from the frame before) and kept as keyframe candidates.
The JSON schema is documented in docs/tags-schema.md (`semcodec.tags/1`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from fractions import Fraction

import av
import cv2

from semcodec import __version__
from semcodec.analysis.base import AnalysisFrame
from semcodec.analysis.faces import FaceAnalyzer
from semcodec.analysis.fusion import analysis_size
from semcodec.analysis.people import PeopleAnalyzer
from semcodec.analysis.text import TextAnalyzer, tag_words
from semcodec.frames import small_rgb
from semcodec.io.reader import DecodeStats, damage_warnings, iter_packets_and_frames, open_input, probe
from semcodec.progress import Progress
from semcodec.progress import bar as progress_bar
from semcodec.scenes.classify import CLASSES, classify, summarize
from semcodec.scenes.sampler import SceneSampler
from semcodec.shots import ShotDetector
from semcodec.shots.video import FrameClock, small_frame
from semcodec.tagging.keyframes import Candidate, colour_hist, frame_quality, select, thin_out, visible
from semcodec.tagging.words import topic_tags

SCHEMA = "semcodec.tags/1"
MAX_CANDIDATES_PER_SHOT = 24  # bounds memory on long shots: thinned out evenly over time (thin_out)


@dataclass
class _Display:
    """How a player shows the video (applied to saved keyframes) and where its first frame sits on the
    container's timeline (subtitle times are measured there)."""

    rotation: int = 0
    sar: Fraction | None = None
    cue_offset: float = 0.0


@dataclass
class _ShotState:
    features: list = field(default_factory=list)
    candidates: list = field(default_factory=list)


def _visual_tags(s: dict) -> list[tuple[str, float]]:
    """Plain-language attributes of a shot, with a score in [0, 1]."""
    tags = []
    if s.get("face_frames", 0) > 0.2:
        tags.append(("face", s["face_frames"]))
    if s.get("people_frames", 0) > 0.2:
        tags.append(("people", s["people_frames"]))
    most = max(s.get("faces_max", 0), s.get("people_max", 0))
    if most >= 2:
        tags.append(("several people", min(1.0, most / 4)))
    if s.get("text_area", 0) > 0.01:
        tags.append(("on-screen text", min(1.0, s["text_area"] / 0.05)))
    if s.get("grey", 0) > 0.5:
        tags.append(("black and white", s["grey"]))
    if s.get("brightness", 1) < 0.22:
        tags.append(("dark", 1 - s["brightness"] / 0.22))
    # motion is measured within the shot only (no pair across a cut, no brightness ramp: see
    # semcodec/scenes/motion.py); 'fast' needs most of the shot moving, not one burst
    if s.get("motion_pairs", 0) >= 2 and s.get("motion", 0) > 0.2:
        tags.append(("fast motion", min(1.0, s["motion"] / 0.4)))
    if s.get("camera_motion", 0) > 0.006:
        tags.append(("moving camera", min(1.0, s["camera_motion"] / 0.02)))
    elif s.get("camera_motion", 1) < 0.001:
        tags.append(("static camera", 1.0))
    if s.get("green", 0) > 0.15:
        tags.append(("vegetation", min(1.0, s["green"] / 0.4)))
    return [(t, round(float(v), 3)) for t, v in tags]


class _Sampler:
    """The full measurement of a sampled frame (semcodec.scenes.sampler: statistics, faces, people, text,
    motion from the frame before) and its keyframe candidate. Text is read from a larger copy (`text_size`, a
    long side of 640) than the analysis frame."""

    def __init__(self, aw: int, ah: int, tw: int, step: int, faces, text, fps: float, people=None,
                 text_size: tuple[int, int] | None = None):
        self.aw, self.ah, self.tw, self.step = aw, ah, tw, step
        self.scene = SceneSampler(faces, text, fps, people)
        self.text_size = text_size

    def __call__(self, frame, n: int, t: float, prev_tiny, tiny, state: _ShotState) -> None:
        rgb = small_rgb(frame, self.aw, self.ah)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        big = small_rgb(frame, *self.text_size) if self.text_size and self.scene.text_turn() else None
        f = self.scene(AnalysisFrame(n, t, rgb, gray), prev_tiny, tiny, text_rgb=big)
        state.features.append(f)
        importance = min(1.0, (1.0 if f.faces else 0.0) * 0.7 + min(f.text_area / 0.05, 1.0) * 0.3)
        if not visible(gray):
            return  # a black or blank frame is never a keyframe
        score, parts = frame_quality(rgb, gray, importance)
        state.candidates.append(Candidate(n, t, rgb, score, colour_hist(rgb), parts))
        thin_out(state.candidates, MAX_CANDIDATES_PER_SHOT)


def _decode(path: str, info, fps: float, shots: ShotDetector, sampler: _Sampler, th: int,
            progress: Progress | None) -> tuple[list[_ShotState], FrameClock, _Display, DecodeStats]:
    """The one decode: every frame through the shot detector (the frames detect_shots uses), every `step`-th
    frame measured in full (with the motion from the frame before it, on a quarter-area view). Times are
    seconds from the first frame (FrameClock). Returns (states per detected shot, the clock (frames, end),
    how the pictures are shown and where the video starts on the container's timeline, decode stats)."""
    states: list[_ShotState] = [_ShotState()]
    stats = DecodeStats()
    clock = FrameClock(fps)
    prev_tiny = None
    with open_input(path) as container:
        start = container.start_time / av.time_base if container.start_time is not None else 0.0
        shown = _Display(sar=container.streams.video[0].codec_context.sample_aspect_ratio)
        bar = progress_bar(progress, "tag", info.frames)
        for kind, frame in iter_packets_and_frames(container, stats):
            if kind != "video":
                continue
            n = clock.frames
            t = clock(frame)
            if n == 0:
                shown.rotation = int(frame.rotation or 0)  # FFmpeg puts the display matrix on the frames
            tiny = small_rgb(frame, sampler.tw, th)
            if shots.push(n, t, small_frame(frame)):  # the frames detect_shots uses: the same shots
                states.append(_ShotState())
            tiny_gray = cv2.cvtColor(tiny, cv2.COLOR_RGB2GRAY)
            if n % sampler.step == 0:
                sampler(frame, n, t, prev_tiny, tiny_gray, states[-1])
            prev_tiny = tiny_gray
            bar.update(1)
        bar.close()
    shown.cue_offset = max(0.0, (clock.origin or 0.0) - start)
    return states, clock, shown, stats


def _shot_scene(summary: dict, c_in: list, clip) -> tuple[dict, list]:
    """(scene entry, CLIP free-text tags) of one shot: the embedded rules, or CLIP zero-shot."""
    if summary:
        label, conf, sc = classify(summary)
    else:
        label, conf, sc = "other", 0.0, {}
    scene = {"class": label, "confidence": conf, "scores": sc, "method": "rules"}
    clip_tags: list = []
    if clip is not None and c_in:
        c_label, c_conf, c_scores, clip_tags = clip.classify([c.thumb for c in c_in])
        scene = {"class": c_label, "confidence": c_conf, "scores": c_scores, "method": f"clip:{clip.name}",
                 "rules": {"class": label, "confidence": conf}}
    return scene, clip_tags


def _tag_shots(shot_list: list, states: list[_ShotState], n: int, step: int, clip, cues: list,
               cue_offset: float = 0.0, faded: list | None = None) -> tuple[list[dict], list]:
    """Per true shot range: scene, tags and measurements (JSON), and (duration, keyframe candidates)
    for the keyframe selection. The detector may confirm a cut a few frames late, so measurements are
    regrouped by the final shot ranges. `cue_offset`: where the first frame is on the subtitles' timeline;
    `faded`: frames of fades to or from black (ShotDetector.faded), never keyframes."""
    feats = [f for s in states for f in s.features]
    cands = [c for s in states for c in s.candidates]
    per_shot = []
    out_shots = []
    feat_index = [i for i in range(n) if i % step == 0]
    spans = [s.transition_span for s in shot_list if s.transition_span] + list(faded or [])
    for shot in shot_list:
        # a sample's motion pair must lie inside the shot, clear of the transition into it
        in_shot = [f if i > shot.start_frame + 2 else replace(f, motion_valid=False)
                   for i, f in zip(feat_index, feats) if shot.start_frame <= i < shot.end_frame]
        # frames right at a cut, and every frame of a fade or a dissolve, are mid-transition: never keyframes
        clean = [c for c in cands if shot.start_frame <= c.index < shot.end_frame
                 and not any(a <= c.index <= b for a, b in spans)]
        c_in = [c for c in clean if shot.start_frame + 2 <= c.index < shot.end_frame - 2] or clean
        summary = summarize(in_shot)
        scene, clip_tags = _shot_scene(summary, c_in, clip)
        per_shot.append((shot.end_time - shot.start_time, c_in))
        tags = [{"tag": scene["class"], "kind": "scene", "score": scene["confidence"]}]
        tags += [{"tag": t, "kind": "visual", "score": v} for t, v in _visual_tags(summary)]
        tags += [{"tag": t, "kind": "clip", "score": v} for t, v in clip_tags]
        tags += _emotion_tags(cues, shot.start_time + cue_offset, shot.end_time + cue_offset)
        out_shots.append({**shot.to_json(), "scene": scene,
                          "tags": tags, "measurements": {k: round(v, 4) for k, v in summary.items()}})
    return out_shots, per_shot


def tag_video(path: str, *, max_keyframes: int = 12, sample_fps: float = 2.0, shot_method: str = "adaptive",
              clip_model: str | None = None, words: list[str] | None = None, subtitles: str | None = None,
              progress: Progress | None = None) -> tuple[dict, list[Candidate]]:
    """Tag `path`: shots, scene classes, tags and keyframes in one decode.

    Args:
        path: the video.
        max_keyframes: at most this many keyframes over the whole video.
        sample_fps: frames per second measured in full (faces, text, statistics).
        shot_method: the shot detector's method (semcodec.shots).
        clip_model: a local CLIP folder: zero-shot scene classes and free-text tags.
        words: extra text for the topic tags (title, description).
        subtitles: subtitle source as for encode (FILE, FILE#N or 'auto'): emotion and topic tags.
        progress: the front end's bar (semcodec.progress); None: silent.

    Returns:
        (the JSON-ready result, schema semcodec.tags/1; the chosen keyframes, with thumbnails).

    Raises:
        SemcodecError: unreadable video, subtitles or CLIP folder.
    """
    t0 = time.perf_counter()
    clip = None
    if clip_model:
        from semcodec.scenes.clip import ClipScenes

        clip = ClipScenes(clip_model)  # load first: a bad folder fails before the decode
    cues, text_warnings = _scored_cues(subtitles, path)  # likewise: a broken subtitle file fails first
    info = probe(path)
    fps = float(info.average_rate)
    aw, ah = analysis_size(info.width - info.width % 2, info.height - info.height % 2)
    step = max(1, int(round(fps / sample_fps)))
    tw, th = max(2, aw // 4 * 2), max(2, ah // 4 * 2)  # half the analysis size
    faces, text, people = FaceAnalyzer(), TextAnalyzer(), PeopleAnalyzer()
    for analyzer in (faces, text, people):
        analyzer.load()
    shots = ShotDetector(fps=fps, method=shot_method)
    sampler = _Sampler(aw, ah, tw, step, faces, text, fps, people,
                       text_size=analysis_size(info.width - info.width % 2, info.height - info.height % 2, 640))
    states, clock, shown, stats = _decode(path, info, fps, shots, sampler, th, progress)
    n, end_time = clock.frames, clock.end
    shot_list = shots.shots(n, end_time, merge_short_last=True)  # too short to describe: part of the shot before
    out_shots, per_shot = _tag_shots(shot_list, states, n, step, clip, cues, shown.cue_offset, shots.faded)
    chosen = select(per_shot, max_keyframes)
    for c in chosen:
        shot_no = next(i for i, s in enumerate(shot_list) if s.start_frame <= c.index < s.end_frame)
        out_shots[shot_no].setdefault("keyframes", []).append(c.to_json())
    for s in out_shots:
        s.setdefault("keyframes", [])
    result = {
        "schema": SCHEMA, "semcodec": __version__, "input": info.path,
        "video": {"width": info.width, "height": info.height, "fps": round(fps, 3), "frames": n,
                  "duration_s": round(end_time, 3), "start_time_s": round(clock.origin or 0.0, 4),
                  "rotation": shown.rotation, "sample_aspect_ratio": str(shown.sar or Fraction(1))},
        "scene_vocabulary": list(CLASSES),
        "analyzers": {"faces": faces.backend or f"unavailable: {faces.reason}",
                      "text": text.backend or f"unavailable: {text.reason}",
                      "people": people.backend or f"unavailable: {people.reason}",
                      "motion": "within-shot global fit and residual", "shots": shot_method,
                      "scene": f"clip:{clip.name}" if clip else "embedded rules (semcodec/scenes/classify.py)"},
        "shots": out_shots,
        "tags": _video_tags(out_shots) + [{"tag": t, "kind": "topic", "score": v} for t, v in
                                          topic_tags((words or []) + [c.text for c in cues] + screen_words(sampler))],
        "on_screen_text": on_screen_text(sampler),
        "keyframes": [{**c.to_json(), "shot": next(i for i, s in enumerate(shot_list)
                                                   if s.start_frame <= c.index < s.end_frame)} for c in chosen],
        "timings": {"total_s": round(time.perf_counter() - t0, 3), "fps": None},
        "decode": {"corrupt_packets_skipped": stats.bad_packets, "timestamp_gaps": stats.gaps,
                   "frames_missing_in_gaps": stats.gap_frames},
        "warnings": text_warnings + damage_warnings(stats),
    }
    result["timings"]["fps"] = round(n / max(result["timings"]["total_s"], 1e-9), 1)
    return result, chosen


def screen_words(sampler: _Sampler) -> list[str]:
    """The confident words read on screen (semcodec.analysis.text.tag_words), each distinct string once."""
    return list(dict.fromkeys(tag_words([r for _, _, r in sampler.scene.read])))


def on_screen_text(sampler: _Sampler, limit: int = 50) -> list[dict]:
    """Each distinct string read on screen, where it was first seen (all reads, not only tag-worthy ones)."""
    seen: dict = {}
    for n, t, r in sampler.scene.read:
        for word, score in zip(r.words, r.scores):
            if word and word not in seen:
                seen[word] = {"text": word, "frame": n, "time": round(t, 3), "score": score}
    return list(seen.values())[:limit]


def plan_from_video(path: str, codec: str, progress: Progress | None = None):
    """The shot plan `--keyframes-from auto` means: tag `path` (tag_video's defaults), then
    `ShotPlan.from_tags`. For callers that resolve 'auto' before an encode and pass the plan in.

    Returns:
        semcodec.planning.ShotPlan.

    Raises:
        SemcodecError: as tag_video.
    """
    from semcodec.planning import ShotPlan

    tags, _ = tag_video(path, progress=progress)
    return ShotPlan.from_tags(tags, codec)


def _scored_cues(subtitles: str | None, video: str) -> tuple[list, list[str]]:
    """Subtitle cues with their emotion (VADER, plus MiniLM categories when that package is installed)."""
    if not subtitles:
        return [], []
    from semcodec.text.embed import embedder_status, shared_embedder
    from semcodec.text.emotion import make_scorer
    from semcodec.text.sources import resolve

    warnings: list[str] = []
    source = resolve(subtitles, video, warn=warnings.append)
    if source is None or not source.cues:
        return [], warnings
    warnings += source.warnings
    scorer = make_scorer(None, shared_embedder() if embedder_status()[0] else None)
    for cue, e in zip(source.cues, scorer.score([c.text for c in source.cues])):
        cue.emotion = e
    return source.cues, warnings


def _emotion_tags(cues: list, start: float, end: float) -> list[dict]:
    """The strongest emotion among the cues shown during [start, end), as a tag (neutral is no tag)."""
    shown = [c for c in cues if c.start < end and c.end > start and c.emotion.get("category") != "neutral"]
    if not shown:
        return []
    top = max(shown, key=lambda c: c.emotion["intensity"])
    return [{"tag": top.emotion["category"], "kind": "emotion", "score": top.emotion["intensity"]}]


def _video_tags(shots: list[dict]) -> list[dict]:
    """Whole-video tags: each shot's tag scores weighted by the shot's share of the duration."""
    total = sum(s["end_time"] - s["start_time"] for s in shots) or 1.0
    acc: dict = {}
    for s in shots:
        w = (s["end_time"] - s["start_time"]) / total
        for t in s["tags"]:
            key = (t["tag"], t["kind"])
            acc[key] = acc.get(key, 0.0) + w * t["score"]
    ranked = sorted(acc.items(), key=lambda kv: -kv[1])
    return [{"tag": t, "kind": k, "score": round(v, 3)} for (t, k), v in ranked if v >= 0.05]

"""Text guidance for one encode: subtitles/transcript/prompt -> region boosts and per-frame QP offsets.

Built once before encoding (all text is read up front): the cues get their emotion, the emotion curve
over the video's frame times becomes rate-balanced frame offsets, and each cue's (and the prompt's)
phrase queries are embedded. Per frame, on the pipeline's analysis thread, `apply` runs the
cross-attention against that frame's labelled regions and raises the importance of the regions the
text talks about while its cue is on screen (with a short ramp in and out); `frame_offset` gives the
emotion curve's QP offset. Everything is recorded for the encode report ("text").
"""
from __future__ import annotations

import bisect
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from semcodec.errors import SemcodecError
from semcodec.text.attention import Attention, RegionAttention, queries
from semcodec.text.cues import Cue, prompt_cue
from semcodec.text.curve import DEFAULT_STRENGTH, EmotionCurve, build_curve
from semcodec.text.embed import embedder_status, shared_embedder
from semcodec.text.emotion import make_scorer
from semcodec.text.sources import TextSource, resolve

log = logging.getLogger("semcodec")

RAMP_S = 0.3  # region boosts fade in before a cue and out after it over this long
FOCUS = 0.5  # how much the rest of the map is lowered while the text points at something
GAIN = 0.5  # and how much stronger the map gets (ROI strength x 1.5 when a region is fully named)
MAX_REPORT_CUES = 500


def video_frame_times(path: str) -> np.ndarray:
    """Presentation times of every video frame, from the packets (no decoding): exact for VFR."""
    import av

    from semcodec.io.reader import open_input

    with open_input(path) as c:
        st = c.streams.video[0]
        tb = st.time_base
        pts = [p.pts for p in c.demux(st) if p.pts is not None and p.size]
        rate = float(st.average_rate or 25)
        if not pts:  # no timestamps in the container: a regular grid from the stream's rate
            n = st.frames or int(float(c.duration or 0) / av.time_base * rate)
            return np.arange(max(n, 1)) / rate
    times = np.unique(np.array(pts, np.int64)) * float(tb)
    return times.astype(np.float64)


@dataclass
class _Item:
    """A cue or the prompt, with its phrase queries and what the attention did with them."""

    cue: Cue
    queries: list
    q_emb: np.ndarray | None
    frames: int = 0
    label_boost: dict = field(default_factory=dict)  # label -> [frames boosted, max boost, sum boost]
    best: tuple = (0.0, None)  # (boost, attention json) of the frame where it boosted most

    def ramp(self, t: float) -> float:
        c = self.cue
        if c.source == "prompt":
            return 1.0
        a = min(1.0, max(0.0, (t - (c.start - RAMP_S)) / RAMP_S))
        b = min(1.0, max(0.0, ((c.end + RAMP_S) - t) / RAMP_S))
        return min(a, b)

    def record(self, att: Attention, w: float, t: float, index: int) -> None:
        self.frames += 1
        per_label: dict = {}
        for r, reg in enumerate(att.regions):
            per_label[reg.label] = max(per_label.get(reg.label, 0.0), float(att.boost[r]) * w)
        for label, b in per_label.items():
            if b <= 0.01:
                continue
            s = self.label_boost.setdefault(label, [0, 0.0, 0.0])  # frames, max, sum of the frame maxima
            s[0] += 1
            s[1] = max(s[1], b)
            s[2] += b
        top = float(att.boost.max()) * w if len(att.boost) else 0.0
        if top > self.best[0] + 1e-6:
            self.best = (top, {"frame": index, "time": round(t, 3), "ramp": round(w, 3), **att.to_json()})

    def summary(self) -> dict:
        return {"phrases": [q.text for q in self.queries], "frames_seen": self.frames,
                "boosted": {lbl: {"frames": n, "max_boost": round(m, 3), "mean_boost": round(s / max(n, 1), 3)}
                            for lbl, (n, m, s) in sorted(self.label_boost.items())},
                "strongest": self.best[1]}


class TextGuide:
    def __init__(self, source: TextSource | None, prompt: str | None, times: np.ndarray,
                 strength: float = DEFAULT_STRENGTH, cuts=(), emotion_model: str | None = None,
                 attention: bool = True, warn=None):
        t0 = time.perf_counter()
        self.warn = warn or log.warning
        self.source = source
        self.times = np.asarray(times, np.float64)
        self.strength = float(strength)
        if not 0 <= self.strength <= 24:
            raise SemcodecError("--emotion-strength must be in [0, 24] QP")
        end = float(self.times[-1]) + 1.0 if len(self.times) else 0.0
        cues = list(source.cues) if source else []
        self.dropped = sum(1 for c in cues if c.start > end)
        self.cues = [c for c in cues if c.start <= end]
        if self.dropped:
            self.warn(f"{self.dropped} subtitle cue(s) start after the video ends ({end - 1:.2f} s): ignored")
        if source:
            for w in source.warnings:
                self.warn(w)
        self.prompt = prompt_cue(prompt) if prompt and prompt.strip() else None
        if prompt is not None and not (prompt and prompt.strip()):
            raise SemcodecError("--prompt is empty")
        # the sentence model: emotion categories and cross-attention need it
        self.embedder = None
        ok, why = embedder_status()
        if ok:
            self.embedder = shared_embedder()
        else:
            self.warn(f"no sentence model ({why}): emotion from VADER only, no cross-attention")
        self.scorer = make_scorer(emotion_model, self.embedder)
        if self.cues:
            for c, e in zip(self.cues, self.scorer.score([c.text for c in self.cues])):
                c.emotion = e
        self.cuts = sorted(float(c) for c in cuts)
        self.curve: EmotionCurve | None = None
        if self.cues and self.strength > 0 and len(self.times):
            self.curve = build_curve(self.cues, self.times, self.strength, self.cuts)
        self.attention = RegionAttention(self.embedder) if (attention and self.embedder is not None) else None
        self.items: list[_Item] = []  # cues with phrase queries, by start time
        self.prompt_item: _Item | None = None
        if self.attention is not None:
            built = [(c, queries(c.text)) for c in ([self.prompt] if self.prompt else []) + self.cues]
            built = [(c, q) for c, q in built if q]
            self.attention.embedder([q.text for _, qs in built for q in qs])  # one batch, then cached
            for c, qs in built:
                item = _Item(c, qs, self.attention.encode_queries(qs))
                if c is self.prompt:
                    self.prompt_item = item
                else:
                    self.items.append(item)
            if self.prompt and self.prompt_item is None:
                self.warn(f"--prompt {prompt!r}: no word in it that could name a region")
        self._starts = [it.cue.start for it in self.items]
        self._longest = max((it.cue.end - it.cue.start for it in self.items), default=0.0)
        self.frames = 0
        self.frames_boosted = 0
        self.setup_s = time.perf_counter() - t0

    # ---- construction for a video ----------------------------------------------------------------
    @classmethod
    def for_video(cls, path: str, subtitles: str | None = None, prompt: str | None = None,
                  strength: float = DEFAULT_STRENGTH, emotion_model: str | None = None, cut_frames=(),
                  warn=None, times: np.ndarray | None = None) -> TextGuide:
        warn = warn or log.warning
        source = resolve(subtitles, path, warn) if subtitles else None
        if times is None:
            times = video_frame_times(path)
        cuts = [float(times[f]) for f in cut_frames if 0 < f < len(times)]
        return cls(source, prompt, times, strength, cuts, emotion_model, warn=warn)

    # ---- per frame --------------------------------------------------------------------------------
    def active(self, t: float) -> list[tuple[_Item, float]]:
        """Items whose (ramped) span covers t, with their weight."""
        out = [(self.prompt_item, 1.0)] if self.prompt_item is not None else []
        hi = bisect.bisect_right(self._starts, t + RAMP_S)
        for i in range(hi - 1, -1, -1):
            it = self.items[i]
            if it.cue.start < t - RAMP_S - self._longest:
                break
            w = it.ramp(t)
            if w > 0:
                out.append((it, w))
        return out

    def frame_offset(self, t: float) -> float:
        """QP offset of the frame at `t` from the emotion curve (0 without cues)."""
        return self.curve.offset_at(t) if self.curve is not None else 0.0

    def boosts(self, regions: list, t: float, index: int = -1, record: bool = True) -> np.ndarray:
        """Per region, the strongest boost any active text item gives it at time t."""
        boost = np.zeros(len(regions), np.float32)
        if self.attention is None or not regions:
            return boost
        for it, w in self.active(t):
            att = self.attention(it.queries, it.q_emb, regions)
            if record:
                it.record(att, w, t, index)
            np.maximum(boost, att.boost * w, out=boost)
        return boost

    def apply(self, importance: np.ndarray, regions: list, t: float, index: int = -1) -> tuple[np.ndarray, float]:
        """(importance, strength factor) of a frame: the regions the text names raised and the rest
        lowered (a new array; the input, which the mapper keeps for its temporal smoothing, is left
        alone), and the ROI strength multiplied by up to 1 + GAIN while the text points at something.
        A frame whose regions the text does not name comes back as it was, factor 1."""
        self.frames += 1
        boost = self.boosts(regions, t, index)
        top = float(boost.max()) if len(boost) else 0.0
        if top < 1e-3:
            return importance, 1.0
        from semcodec.analysis.base import Region, render_regions

        self.frames_boosted += 1
        marked = [Region(r.label, r.box, float(b), "text") for r, b in zip(regions, boost) if b > 1e-3]
        heat = render_regions(marked, importance.shape)
        base = importance * (1.0 - FOCUS * top)
        return (1.0 - (1.0 - base) * (1.0 - heat)).astype(np.float32), 1.0 + GAIN * top

    # ---- report -----------------------------------------------------------------------------------
    def report(self) -> dict:
        cues = []
        by_cue = {id(it.cue): it for it in self.items + ([self.prompt_item] if self.prompt_item else [])}
        for c in self.cues[:MAX_REPORT_CUES]:
            d = c.to_json()
            it = by_cue.get(id(c))
            if it is not None and it.label_boost:
                d["attention"] = it.summary()
            cues.append(d)
        cats: dict = {}
        for c in self.cues:
            k = c.emotion.get("category", "neutral")
            cats[k] = cats.get(k, 0) + 1
        out = {
            "source": self.source.to_json() if self.source else None,
            "emotion_method": self.scorer.method,
            "attention_method": (f"scaled dot-product cross-attention, {self.embedder.name} phrase queries vs "
                                 "region-label keys" if self.attention else "off (no sentence model)"),
            "cues": len(self.cues), "cues_after_end_ignored": self.dropped, "categories": cats,
            "emotion_strength_qp": self.strength,
            "curve": self.curve.summary() if self.curve is not None else None,
            "cuts_aligned": len(self.cuts),
            "frames_analysed": self.frames, "frames_boosted": self.frames_boosted,
            "setup_s": round(self.setup_s, 3),
            "cue_list": cues,
        }
        if len(self.cues) > MAX_REPORT_CUES:
            out["cue_list_truncated"] = len(self.cues) - MAX_REPORT_CUES
        if self.prompt:
            it = by_cue.get(id(self.prompt))
            out["prompt"] = {"text": self.prompt.text, **(it.summary() if it else {"phrases": []})}
        return out

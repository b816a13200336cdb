"""Streaming shot-boundary detection: hard cuts, fades through black and dissolves, frame-exact.

Frames are pushed in decode order (the small analysis copy is enough) and every frame is decided
exactly once, `delay` frames after it was pushed: the detector needs to see a few frames past a cut
to tell it from a flash, and the whole of a dissolve to find its middle. So `push(i, ...)` returns
the boundary at frame `i - delay` when there is one, `flush()` decides the last frames at the end
of the stream, and `shots()` turns the boundaries into shots. `delay` is 2 frames for cuts and fades
and about 1.5 s when dissolves are looked for (`dissolves=False` keeps it at 2).

Method 'adaptive' (the default) is semcodec's own detector. A frame starts a new shot when
  - cut: each of the three frames before it differs from each of it and the two after it
    (`features.cut_score`), so a flash of one or two frames, after which the picture comes back,
    is not a cut; the difference is either large outright or large against the changes around
    it (motion, explosions, shaky camera make their neighbours change too); and it is not the same
    picture made darker or brighter (`features.structure_similarity`: fades, flashes).
    Cards whose only structure is shared burnt-in text or a timecode are not "the same picture":
    the brightness veto needs detail over a good part of both frames (`Features.textured`);
  - fade: it is the first visible frame after black frames (mean grey level < `dark`) that came
    after a visible picture (fade-out/fade-in, cut to black and back, ...); black frames start a
    shot only when a hard cut leads to a black card that holds for `min_shot_s`;
  - dissolve: it is the middle of a gradual change where each frame in between is a blend of the
    frames at the two ends (a pan or a zoom is not: its middle frame is a moved picture, not a mix),
    and the two ends differ in content, not only in brightness, and some middle frame still holds
    both ends (`features.presence`: a fast pan's middle holds neither).
Shots shorter than `min_shot_s` are not cut again (the first boundary wins); `shots(...,
merge_short_last=True)` also joins a last shot shorter than that to the one before. A cut to a black
card that stays black for `min_shot_s` starts a shot.

Methods 'psd-adaptive', 'psd-content' and 'psd-hash' run PySceneDetect's AdaptiveDetector,
ContentDetector and HashDetector on the same frames for the cuts (fades as above, no dissolves).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semcodec.shots.features import Features, cut_score, features, presence, structure_similarity

METHODS = ("adaptive", "psd-adaptive", "psd-content", "psd-hash")
TRANSITIONS = ("start", "cut", "fade", "dissolve")


@dataclass
class Shot:
    index: int
    start_frame: int  # first frame of the shot (0-based decode order)
    end_frame: int  # exclusive
    start_time: float  # seconds (time of start_frame as pushed; detect_shots: from the first frame)
    end_time: float  # seconds (end of the last frame)
    transition: str  # how it began: 'start', 'cut', 'fade' or 'dissolve'
    # the frames of a gradual transition into this shot (first, last; inclusive; a fade's may begin in the
    # shot before): mixed or faded pictures, not keyframe material. None for a cut.
    transition_span: tuple[int, int] | None = None

    def to_json(self) -> dict:
        out = {"index": self.index, "start_frame": self.start_frame, "end_frame": self.end_frame,
               "start_time": round(self.start_time, 4), "end_time": round(self.end_time, 4),
               "transition": self.transition}
        if self.transition_span is not None:
            out["transition_frames"] = list(self.transition_span)
        return out


@dataclass(frozen=True)
class Boundary:
    """A new shot starts at `frame` (its first frame, 0-based decode order)."""

    frame: int
    time: float
    transition: str  # 'cut', 'fade' or 'dissolve'
    span: tuple[int, int] | None = None  # a fade's or dissolve's frames (first, last), as Shot.transition_span


@dataclass
class Params:
    """Thresholds of the 'adaptive' method (cut scores are about 1.0 for a typical hard cut)."""

    cut: float = 0.85  # a change this large is a cut whatever happens around it
    cut_low: float = 0.6  # a smaller one still is, if it stands out from its neighbours' changes...
    contrast: float = 2.5  # ...by this factor
    same_picture: float = 0.8  # structure similarity above which only the brightness changed...
    same_picture_textured: float = 0.28  # ...if both frames have detail over this share of the picture: on a
    # flat card, burnt-in text or a timecode shared by two cards is all the structure there is
    dark: float = 12.0  # mean grey level (0..255) under which a frame counts as black
    # dissolves: half-lengths tried (seconds); cut score between the two ends; how well the middle frame
    # must be explained as a mix of the ends (residual relative to the ends' difference); how far the
    # middle frame's detail must dip below the ends' (two mixed pictures blur each other's edges,
    # a moving picture keeps them); the ends' structure similarity above which they are the same
    # picture (a lighting change); the luma std each end needs (a flat end has no detail to compare)
    dissolve_half_s: tuple = (0.12, 0.2, 0.32, 0.5, 0.72)
    dissolve: float = 0.85
    dissolve_step: float = 0.6  # no single step may carry more than this share of the ends' score
    blend_residual: float = 0.42
    dissolve_dip: float = 0.75
    dissolve_structure: float = 0.5
    dissolve_min_contrast: float = 15.0
    dissolve_presence: float = 0.4  # phase-correlation peak both ends must leave in some middle frame


class ShotDetector:
    """Streaming: push frames in decode order; ask for the shots at the end."""

    def __init__(self, fps: float, method: str = "adaptive", min_shot_s: float = 0.4, *,
                 dissolves: bool = True, params: Params | None = None):
        if method not in METHODS:
            raise ValueError(f"unknown shot method {method!r} (choose from {', '.join(METHODS)})")
        self.fps = float(fps) if fps and fps > 0 else 25.0
        self.method = method
        self.p = params or Params()
        self.min_frames = max(1, int(round(min_shot_s * self.fps)))
        self._psd = _PySceneDetect(method, self.fps, self.min_frames) if method != "adaptive" else None
        self.dissolves = dissolves and self._psd is None
        self._halves = sorted({max(2, int(round(s * self.fps))) for s in self.p.dissolve_half_s})
        self._close_after = 2  # frames without a new dissolve candidate before a dissolve is settled
        if self._psd is not None:
            self.delay = max(2, self._psd.delay)
        elif self.dissolves:
            self.delay = 2 * self._halves[-1] + self._close_after + 1
        else:
            self.delay = 2
        self._keep = self.delay + 2 * self._halves[-1] + 4  # frames of features kept
        # per pushed frame, by position (0, 1, 2, ... in push order)
        self._index: dict[int, int] = {}
        self._time: dict[int, float] = {}
        self._feat: dict[int, Features] = {}
        self._pairs: dict[tuple[int, int], float] = {}
        self._step: dict[int, float] = {}  # cut score between a frame and the one before
        self._last = -1  # position of the newest frame
        self._decided = -1  # position of the newest decided frame
        self._psd_cuts: set[int] = set()  # frame indices
        self._dissolve_at: dict[int, tuple[int, int]] = {}  # position -> its frames (first, last), settled
        self._events: list[dict] = []  # dissolves still gathering candidates
        self._bright_seen: tuple[int, Features] | None = None  # last visible frame decided (index, features)
        self._last_boundary = None  # frame index of the last shot start
        self._first: tuple[int, float] | None = None
        self._flushed = False
        self.boundaries: list[Boundary] = []
        # frames of fades to and from black (first, last; inclusive), those of the boundaries' own spans and
        # those no boundary carries: a video's opening fade-in and closing fade-out
        self.faded: list[tuple[int, int]] = []

    # ---- public API ---------------------------------------------------------------------------
    def push(self, index: int, time: float, rgb: np.ndarray) -> Boundary | None:
        """Add frame `index` (presentation time `time`, RGB uint8 (h, w, 3); a grey (h, w) frame also
        works, without colour cues). Returns the boundary at frame `index - delay` if that frame
        starts a new shot, else None. Indices must increase; frames are compared in push order."""
        if self._flushed:
            raise RuntimeError("ShotDetector: push after flush()/shots(); use a new detector")
        if self._last >= 0 and index <= self._index[self._last]:
            raise ValueError(f"frames must be pushed in increasing order (got {index} after "
                             f"{self._index[self._last]})")
        pos = self._last = self._last + 1
        if self._first is None:
            self._first = (index, float(time))
            self._last_boundary = index
        self._index[pos], self._time[pos], self._feat[pos] = index, float(time), features(rgb, self.dissolves)
        if pos > 0:
            self._step[pos] = self._score(pos - 1, pos)
        if self._psd is not None:
            self._psd_cuts.update(self._psd.push(index, rgb))
        if self.dissolves:
            self._scan_dissolves(pos)
        self._forget(pos - self._keep)
        if pos - self.delay > self._decided:
            return self._decide(pos - self.delay)
        return None

    def pending(self) -> int:
        """Number of pushed frames not decided yet (at most `delay`)."""
        return self._last - self._decided

    def flush(self) -> list[Boundary]:
        """End of stream: decide the remaining frames (with what lookahead is left) and return the
        boundaries found among them. No frame may be pushed after it."""
        if self._flushed:
            return []
        self._flushed = True
        if self._psd is not None and self._first is not None:
            self._psd_cuts.update(self._psd.finish(self._index[self._last]))
        for ev in self._events:
            self._settle(ev)
        self._events = []
        found = [self._decide(p) for p in range(self._decided + 1, self._last + 1)]
        return [b for b in found if b is not None]

    def shots(self, end_frame: int, end_time: float, *, merge_short_last: bool = False) -> list[Shot]:
        """All shots from the first pushed frame to `end_frame` (exclusive), which ends at `end_time`
        seconds. Flushes first. `merge_short_last`: a last shot shorter than `min_shot_s` joins the one
        before (for tags: too short to describe; an encoder still wants its keyframe at the cut)."""
        self.flush()
        if self._first is None or end_frame <= self._first[0]:
            return []
        starts = [Boundary(self._first[0], self._first[1], "start")]
        starts += [b for b in self.boundaries if b.frame < end_frame]
        if merge_short_last and len(starts) > 1 and end_frame - starts[-1].frame < self.min_frames:
            starts.pop()
        out = []
        for i, b in enumerate(starts):
            nxt = starts[i + 1] if i + 1 < len(starts) else None
            out.append(Shot(i, b.frame, nxt.frame if nxt else end_frame, b.time,
                            nxt.time if nxt else float(end_time), b.transition, b.span))
        return out

    # ---- decisions ----------------------------------------------------------------------------
    def _score(self, a: int, b: int) -> float:
        key = (a, b)
        if key not in self._pairs:
            self._pairs[key] = cut_score(self._feat[a], self._feat[b])
        return self._pairs[key]

    def _dark(self, pos: int) -> bool:
        return self._feat[pos].brightness < self.p.dark

    def _is_cut(self, p: int) -> bool:
        before = [q for q in (p - 3, p - 2, p - 1) if q in self._feat]
        after = [q for q in (p, p + 1, p + 2) if q <= self._last]
        if not before:
            return False
        x = min(self._score(a, b) for a in before for b in after)
        if x < self.p.cut_low:
            return False
        if self._same_picture(p - 1, p):
            return False  # the same picture, darker or brighter: a fade or a flash, not a cut
        fa, fb = self._feat[p - 1], self._feat[p]
        flat = max(fa.textured, fb.textured) < self.p.same_picture_textured
        if x >= self.p.cut and not flat:
            return True
        # between two flat pictures (cards, a plain fade) a change must stand out from its neighbours':
        # a fade of a flat picture changes as much at every frame
        around = [self._step[q] for q in (p - 2, p - 1, p + 1, p + 2) if q in self._step]
        return x >= self.p.contrast * (max(around, default=0.0) + 0.05)

    def _same_picture(self, a: int, b: int) -> bool:
        fa, fb = self._feat[a], self._feat[b]
        return (min(fa.textured, fb.textured) >= self.p.same_picture_textured
                and structure_similarity(fa, fb) >= self.p.same_picture)

    def _black_card(self, p: int) -> bool:
        """Frame p is black after a hard cut from a picture, and stays black long enough to be a shot of its
        own (as far as the lookahead shows): a cut to a black card. A fade to black, or a blink, is not."""
        if p - 1 not in self._feat or self._dark(p - 1):
            return False
        run = range(p, min(p + self.min_frames, self._last + 1))
        return all(self._dark(q) for q in run) and self._is_cut(p)

    def _after_black(self, p: int, index: int) -> str | None:
        """First visible frame after black: a new shot if a picture came before, this one stays, and it is
        not a short dip to black and back to the same picture (a glitch, a blink). 'cut' when the picture
        is there at once (a black card cut away), 'fade' when it rises."""
        stays = not any(self._dark(q) for q in (p + 1, p + 2) if q <= self._last)
        if self._bright_seen is None or not stays:
            return None
        last_index, last_feat = self._bright_seen
        if cut_score(last_feat, self._feat[p]) < self.p.cut_low and index - last_index <= self.min_frames:
            return None
        later = self._feat[min(p + 2, self._last)].brightness
        bright = self._feat[p].brightness
        return "cut" if bright >= 3 * self.p.dark and bright >= 0.8 * later else "fade"

    def _note_fade_out(self, p: int) -> None:
        """p is the first black frame after a picture: the frames that darkened into it (a fade to black,
        at the end of a video too, where no shot follows to carry it) go into `faded`."""
        q = p - 1
        while q - 1 in self._feat and self._feat[q - 1].brightness > 1.03 * self._feat[q].brightness + 0.5:
            q -= 1
        if q < p - 1:
            self.faded.append((self._index[q + 1], self._index[p - 1]))

    def _fade_span(self, p: int) -> tuple[int, int]:
        """Frames of the fade whose first visible frame is p: back over the black frames and the frames
        that darkened into them, forward while the picture keeps brightening (as far as we can see)."""
        def rising(a: int, b: int) -> bool:  # b is brighter than a by more than noise
            return self._feat[b].brightness > 1.03 * self._feat[a].brightness + 0.5

        q = p - 1
        while q - 1 in self._feat and (self._dark(q - 1) or rising(q, q - 1)):
            q -= 1
        r = p
        while r + 1 <= self._last and rising(r, r + 1):
            r += 1
        # both walks stop on the first steady frame (the last of the old picture, the first of the new one)
        return self._index[q + (0 if self._dark(q) else 1)], self._index[r - 1 if r > p else r]

    def _decide(self, p: int) -> Boundary | None:
        self._decided = p
        dissolve = self._dissolve_at.pop(p, None)
        index, kind = self._index[p], None
        if self._dark(p):
            kind = "cut" if self._black_card(p) else None
            if kind is None and p - 1 in self._feat and not self._dark(p - 1):
                self._note_fade_out(p)
        elif p - 1 in self._feat and self._dark(p - 1):
            kind = self._after_black(p, index)
            if self._bright_seen is None:  # the video opens from black: its fade-in is no keyframe material
                self.faded.append(self._fade_span(p))
        elif (self._psd is None and self._is_cut(p)) or (self._psd is not None and index in self._psd_cuts):
            kind = "cut"  # our own detector's cut, or PySceneDetect's
        elif dissolve:
            kind = "dissolve"
        if not self._dark(p):
            self._bright_seen = (index, self._feat[p])
        if kind is None or index - self._last_boundary < self.min_frames:
            return None
        self._last_boundary = index
        span = dissolve if kind == "dissolve" else self._fade_span(p) if kind == "fade" else None
        b = Boundary(index, self._time[p], kind, span)
        self.boundaries.append(b)
        return b

    # ---- dissolves ----------------------------------------------------------------------------
    def _scan_dissolves(self, f: int) -> None:
        """Look for a dissolve centred h frames before the newest frame f, for each half-length h:
        frames a = f - 2h and f differ in content, no single step in between carries most of that
        change (that is a cut), and the middle frame is a mix of the two ends. The candidates of one
        dissolve (several h and centres, overlapping windows) are gathered into an event, settled
        once no new candidate came for a few frames."""
        p = self.p
        for h in self._halves:
            a, t = f - 2 * h, f - h
            if a not in self._feat:
                continue
            fa, fb = self._feat[a], self._feat[f]
            if min(fa.brightness, fb.brightness) < 2 * p.dark:
                continue  # to or from black: a fade, handled by the fade rule
            if min(fa.contrast, fb.contrast) < p.dissolve_min_contrast:
                continue
            ends = self._score(a, f)
            if ends < p.dissolve:
                continue
            if max(self._step[q] for q in range(a + 1, f + 1)) > p.dissolve_step * ends:
                continue
            d = fb.vec - fa.vec
            n2 = float(d @ d)
            mid = self._feat[t].vec - fa.vec
            alpha = float(mid @ d) / n2
            residual = float(np.linalg.norm(mid - alpha * d)) / np.sqrt(n2)
            if not (0.35 <= alpha <= 0.65 and residual <= p.blend_residual):
                continue
            if self._feat[t].detail > p.dissolve_dip * ((1 - alpha) * fa.detail + alpha * fb.detail):
                continue  # the middle frame is as sharp as its ends: motion, not a mix
            if structure_similarity(fa, fb) > p.dissolve_structure:
                continue  # same picture, other brightness: a lighting change
            # the boundary is where the mix tips towards the new shot
            alphas = [float((self._feat[q].vec - fa.vec) @ d) / n2 for q in range(a + 1, f)]
            k = a + 1 + next((i for i, v in enumerate(alphas) if v >= 0.5), len(alphas))
            self._add_candidate(k, a, f, min(presence(fa, self._feat[t]), presence(self._feat[t], fb)))
        for ev in [e for e in self._events if f - e["last"] > self._close_after]:
            self._settle(ev)
            self._events.remove(ev)

    def _add_candidate(self, k: int, a: int, f: int, both_ends: float) -> None:
        """`both_ends`: how well the weaker end is present in the middle frame (`features.presence`)."""
        for ev in self._events:
            if a <= ev["hi"] and f >= ev["lo"]:  # overlapping windows: the same dissolve
                ev["ks"].append(k)
                ev["lo"], ev["hi"], ev["last"] = min(ev["lo"], a), max(ev["hi"], f), f
                ev["both_ends"] = max(ev["both_ends"], both_ends)
                return
        self._events.append({"ks": [k], "lo": a, "hi": f, "last": f, "both_ends": both_ends})

    def _settle(self, ev: dict) -> None:
        if ev["both_ends"] < self.p.dissolve_presence:
            return  # no middle frame held both ends: a fast pan went past them, nothing was mixed
        k = int(round(float(np.median(ev["ks"]))))
        if k > self._decided:  # a dissolve much longer than 2 x the largest half-length settles too late
            self._dissolve_at[k] = self._mixed_frames(ev["lo"], ev["hi"], k)

    def _mixed_frames(self, lo: int, hi: int, k: int) -> tuple[int, int]:
        """First and last frame between the ends lo and hi of a dissolve that are a mix of both (weight of
        the new picture between 5 and 95 %)."""
        fa = self._feat[lo].vec
        d = self._feat[hi].vec - fa
        n2 = max(float(d @ d), 1e-9)
        mixed = [q for q in range(lo + 1, hi) if 0.05 < float((self._feat[q].vec - fa) @ d) / n2 < 0.95] or [k]
        return self._index[min(mixed)], self._index[max(mixed)]

    def _forget(self, before: int) -> None:
        for pos in [q for q in self._feat if q < before]:
            for d in (self._index, self._time, self._feat, self._step):
                d.pop(pos, None)
        if len(self._pairs) > 8 * self._keep:
            self._pairs = {k: v for k, v in self._pairs.items() if k[0] >= before}


class _PySceneDetect:
    """One of PySceneDetect's detectors, fed our frames through its per-frame API (BGR, timecodes
    built from our frame indices) rather than letting it open the file again."""

    def __init__(self, method: str, fps: float, min_frames: int):
        import scenedetect

        make = {"psd-adaptive": scenedetect.AdaptiveDetector, "psd-content": scenedetect.ContentDetector,
                "psd-hash": scenedetect.HashDetector}[method]
        self.detector = make(min_scene_len=min_frames)
        self.delay = int(self.detector.event_buffer_length)
        self._fps = fps
        self._timecode = scenedetect.FrameTimecode

    def push(self, index: int, rgb: np.ndarray) -> list[int]:
        import cv2

        bgr = cv2.cvtColor(rgb, cv2.COLOR_GRAY2BGR) if rgb.ndim == 2 else np.ascontiguousarray(rgb[..., ::-1])
        return [tc.frame_num for tc in self.detector.process_frame(self._timecode(index, fps=self._fps), bgr)]

    def finish(self, last_index: int) -> list[int]:
        return [tc.frame_num for tc in self.detector.post_process(self._timecode(last_index, fps=self._fps))]

"""Chunks at shot boundaries: long shots split, short ones merged into a neighbour, every chunk within
[min, max] frames where the video allows it.

A long shot is split where one piece would place a keyframe anyway when the encoder's keyframe interval fits
in a chunk: every whole number of intervals from the shot's start (its IDR), as x264/x265 code one piece with
an IDR every 250 frames after the last. A chunk's opening IDR then costs what one piece's keyframe costs, and
the two encodes' keyframes fall on the same frames (office, a 139 s shot at 10 fps, split evenly at 200-frame
chunks: 49 frames 1-4 dB below one piece, each next to one piece's periodic keyframe at 250, 500, ...).
Otherwise (intervals longer than a chunk may be) evenly, at an input keyframe near the split point when there
is one (decoding the chunk then needs no pre-roll)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    index: int
    start_frame: int
    end_frame: int  # exclusive

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame


def _split(start: int, end: int, max_len: int, keyframes: list[int], min_len: int,
           keyint: int | None = None) -> list[tuple[int, int]]:
    n = end - start
    if n <= max_len:
        return [(start, end)]
    if keyint and keyint <= max_len:
        return _split_at_intervals(start, end, keyint * (max_len // keyint), min_len)
    parts = -(-n // max_len)
    out, s = [], start
    for k in range(1, parts):
        ideal = start + round(n * k / parts)
        cut = ideal
        # an input keyframe within a quarter of a part: chunk decode then starts without pre-roll
        tol = max(1, (n // parts) // 4)
        near = [f for f in keyframes if abs(f - ideal) <= tol and f - s >= min_len and f - s <= max_len]
        if near:
            cut = min(near, key=lambda f: abs(f - ideal))
        cut = min(cut, s + max_len)
        out.append((s, cut))
        s = cut
    out.append((s, end))
    # the last part may have grown past max_len when keyframe snapping moved cuts early: re-split it
    if out[-1][1] - out[-1][0] > max_len:
        last = out.pop()
        out += _split(last[0], last[1], max_len, [], min_len)
    return out


def _split_at_intervals(start: int, end: int, length: int, min_len: int) -> list[tuple[int, int]]:
    """[start, end) in pieces of `length` frames; a last piece shorter than min_len joins the one before."""
    cuts = list(range(start + length, end, length))
    if cuts and end - cuts[-1] < min_len:
        cuts.pop()
    bounds = [start, *cuts, end]
    return list(zip(bounds, bounds[1:]))


def one_piece_keyframes(shot_starts: list[int], total: int, keyint: int | None) -> set[int]:
    """Frames a single-piece encode opens with a keyframe: each shot's first (semcodec forces an IDR at a cut)
    and, inside a shot, every `keyint` frames after it (the encoder's own interval; None: unknown)."""
    starts = sorted({0, *[s for s in shot_starts if 0 < s < total]})
    out = set(starts)
    if keyint:
        for a, b in zip(starts, starts[1:] + [total]):
            out.update(range(a + keyint, b, keyint))
    return out


def plan_chunks(shot_starts: list[int], total: int, min_len: int, max_len: int,
                keyframes: list[int] | None = None, keyint: int | None = None) -> list[Chunk]:
    """`shot_starts`: first frame of each shot (0 included or not); `total`: frame count; lengths in frames;
    `keyframes`: the input's keyframes; `keyint`: the encoder's keyframe interval in frames (None: unknown)."""
    if total <= 0:
        return []
    min_len = max(1, min(min_len, max_len))
    max_len = max(max_len, min_len)
    starts = sorted({0, *[s for s in shot_starts if 0 < s < total]})
    segs = [(a, b) for a, b in zip(starts, starts[1:] + [total])]
    pieces: list[tuple[int, int]] = []
    for a, b in segs:
        pieces += _split(a, b, max_len, keyframes or [], min_len, keyint)
    # merge short pieces into the shorter neighbour while the result stays <= max_len
    changed = True
    while changed and len(pieces) > 1:
        changed = False
        for i, (a, b) in enumerate(pieces):
            if b - a >= min_len:
                continue
            cands = []
            if i > 0 and b - pieces[i - 1][0] <= max_len:
                cands.append((pieces[i - 1][1] - pieces[i - 1][0], i - 1))
            if i + 1 < len(pieces) and pieces[i + 1][1] - a <= max_len:
                cands.append((pieces[i + 1][1] - pieces[i + 1][0], i + 1))
            if not cands:
                continue
            _, j = min(cands)
            lo, hi = min(i, j), max(i, j)
            pieces[lo:hi + 1] = [(pieces[lo][0], pieces[hi][1])]
            changed = True
            break
    # a short piece that could not merge whole: even it out with a neighbour (both >= min_len)
    for i, (a, b) in enumerate(pieces):
        if b - a < min_len and len(pieces) > 1:
            j = i - 1 if i > 0 else i + 1
            lo, hi = min(i, j), max(i, j)
            s, e = pieces[lo][0], pieces[hi][1]
            if e - s >= 2 * min_len:
                mid = s + (e - s) // 2
                pieces[lo], pieces[hi] = (s, mid), (mid, e)
    return [Chunk(i, a, b) for i, (a, b) in enumerate(pieces)]


def split_budget(chunks: list[Chunk], index, bitrate: int) -> list[int]:
    """Per-chunk bitrates that spend `bitrate` * duration in total, shared by complexity: the input's
    own compressed bytes per second in each chunk (a free proxy, no decode), relative to the mean and
    clamped to [1/3, 3] so a near-static or a noisy chunk neither starves nor eats the budget. An input
    at constant bitrate gives an even split."""
    durs = [max(1e-6, index.seconds(c.start_frame, c.end_frame)) for c in chunks]
    total_s = sum(durs)
    total_bytes = sum(index.sizes) or 1
    mean_rate = total_bytes / total_s
    weights = []
    for c, d in zip(chunks, durs):
        rate = sum(index.sizes[c.start_frame:c.end_frame]) / d
        weights.append(d * min(3.0, max(1 / 3, rate / mean_rate if mean_rate else 1.0)))
    total_bits = bitrate * total_s
    wsum = sum(weights)
    return [max(1000, int(round(total_bits * w / wsum / d))) for w, d in zip(weights, durs)]

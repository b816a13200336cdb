"""CRF rate neutrality, closed on the encoder's real output: an ROI encode at CRF N should cost what
`--roi off` at CRF N costs, the favoured regions paid for by the rest of the frame.

The allocator balances each map with a rate model, but only the encoder knows what a map costs (its AQ,
mbtree and dead zone answer a QP offset very unevenly). So before the main encode, a few sampled segments
are encoded for real: once plain, as `--roi off` would, and with the map at one to three whole-frame offsets.
The offset that makes the ROI segments as large as the plain ones (a secant step on log size, which is close
to linear in QP) is added to every map of the main encode. A single-piece encode plans its maps once and the
ROI probes replay the segments' share of them (semcodec.pipeline.job, semcodec.pipeline.maplog)."""
from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from semcodec.io.reader import open_input
from semcodec.pipeline.loop import MapRecording
from semcodec.pipeline.settings import ChunkRange, EncodeSettings, Execution

# sampled segments: about SHARE of the frames (short clips: at least MIN_FRAMES in all, so a probe sees more
# than one GOP's start), as up to SEGMENTS pieces of SEGMENT_S..MAX_SEGMENT_S seconds spread over the video.
# Many short pieces sample a long video's variety better than two long ones, and cap the probes' cost: a
# 10-minute video probes 8 x 3 s, not 2 x 60 s
SEGMENTS, SEGMENT_S, MAX_SEGMENT_S, SHARE, MIN_FRAMES = 8, 1.0, 3.0, 0.2, 48
MAX_OFFSET_QP = 12.0
MAX_PROBES, TOLERANCE = 3, math.log(1.01)  # ROI probe encodes; stop within 1 % of the plain size


@dataclass
class RateFit:
    offset_qp: float = 0.0
    segments: list[tuple[int, int]] = field(default_factory=list)
    probes: list[dict] = field(default_factory=list)  # {offset_qp, bytes, plain_bytes}
    seconds: float = 0.0
    refused: str | None = None  # why no map is worth its cost at this CRF (no ROI probes ran)

    def to_json(self) -> dict:
        return {"method": "probe encodes of sampled segments (plain vs ROI), secant on log size",
                "offset_qp": round(self.offset_qp, 2), "segments": [list(s) for s in self.segments],
                "probes": self.probes, **({"refused": self.refused} if self.refused else {})}


def wants_rate_fit(settings: EncodeSettings) -> bool:
    """A CRF encode with a map that should stay at --roi off's size."""
    from semcodec.encoding.codecs import caps_for

    return (settings.crf_rate == "neutral" and not settings.bitrate and not settings.roi_mode.off
            and caps_for(settings.codec).roi)


def sample_segments(frames: int, fps: float, segments: int = SEGMENTS, share: float = SHARE) -> list[tuple[int, int]]:
    """Up to `segments` evenly spread [start, end) frame ranges covering about `share` of the video."""
    if frames <= 0:
        return []
    total = min(frames, max(MIN_FRAMES, int(frames * share)))
    count = max(1, min(segments, total // max(1, round(fps * SEGMENT_S))))
    length = max(1, min(total // count, round(fps * MAX_SEGMENT_S)))
    if count == 1 and length >= frames:
        return [(0, frames)]
    # each segment centred in its own 1/count of the video (stratified: the first and last seconds, often a fade
    # or a title, are no more likely than any other)
    starts = [min(frames - length, max(0, round((i + 0.5) * frames / count - length / 2))) for i in range(count)]
    return [(s, min(frames, s + length)) for s in starts]


@dataclass(frozen=True)
class Probe:
    """Video bytes of probe encodes, each segment's opening IDR apart from the rest: every segment starts with
    one, the whole video has few. Keyframes inside a segment (the ROI encode's IDR at cuts, x264's own
    scenecut frames in the plain one) stay with the rest, so both sides count a cut alike."""

    key_bytes: int = 0
    key_frames: int = 0
    inter_bytes: int = 0
    inter_frames: int = 0

    def __add__(self, other: Probe) -> Probe:
        return Probe(self.key_bytes + other.key_bytes, self.key_frames + other.key_frames,
                     self.inter_bytes + other.inter_bytes, self.inter_frames + other.inter_frames)

    def projected(self, frames: int, keyframes: int) -> float:
        """Bytes of a whole video of `frames` frames with `keyframes` of them keyframes, at these averages."""
        key = self.key_bytes / max(1, self.key_frames)
        inter = self.inter_bytes / max(1, self.inter_frames)
        return keyframes * key + max(0, frames - keyframes) * inter


# encode(input, output, settings, chunk, execution, whole-frame offset, recording or None) -> Probe
Encoder = Callable[[str, str, EncodeSettings, ChunkRange, Execution, float, MapRecording | None], Probe]
# keyframes the main encode is expected to have: one per encoder GOP (x264/x265 keyint 250) at the least
KEYINT = 250


def frame_pts(path: str) -> list[int] | None:
    """The input's video frame timestamps in presentation order, read from its packets (no decoding), when every
    packet has one and no two share one; None otherwise (as semcodec.parallel.index.scan decides). A probe
    segment then seeks to the keyframe before its first frame instead of decoding the video from its start:
    a segment near the end of a QCIF clip spent more on decoding the frames before it than on its encode."""
    with open_input(path) as c:
        vs = c.streams.video[0]
        pts = [p.pts for p in c.demux(vs) if not (p.size == 0 and p.pts is None)]
    if not pts or any(t is None for t in pts) or len(set(pts)) != len(pts):
        return None
    return sorted(pts)


def fit_rate_offset(input_path: str, settings: EncodeSettings, frames: int, fps: float, encode: Encoder,
                    execution: Execution, keyframes: int | None = None,
                    segment_maps: Callable[[int, int], MapRecording] | None = None,
                    pts: list[int] | None = None,
                    map_refusal: Callable[[float], str | None] | None = None) -> RateFit:
    """The whole-frame QP offset that makes the map rate neutral at this CRF. `encode(input, output,
    settings, chunk, execution, offset, recording)` runs one probe encode and returns its Probe. `keyframes`: how many
    the real encode will have (a chunked one: one per chunk); default one per encoder GOP. `segment_maps(start,
    end)`: the maps and cuts the encode itself will use on those frames, asked for after the plain probes (it may
    wait for an analysis running beside them); without it the first ROI probe of a segment analyses the segment
    on its own. `pts`: the frames' timestamps (frame_pts), so that probes seek to their segments. `map_refusal`:
    asked the plain probes' projected bytes per frame, why the map is not worth its own cost (None: it is); a
    reason ends the fit there, in `RateFit.refused`."""
    t0 = time.perf_counter()
    fit = RateFit(segments=sample_segments(frames, fps))
    quiet = replace(execution, audio=False, progress=None, log_warnings=False)
    plain_settings = replace(settings, roi="off", save_maps=None, subtitles=None, prompt=None,
                             keyframes_from=None)
    roi_settings = replace(settings, save_maps=None)
    with tempfile.TemporaryDirectory(prefix="semcodec-ratefit-") as tmp:
        out = os.path.join(tmp, "probe.mkv")

        keyframes = keyframes or max(1, math.ceil(frames / KEYINT))

        # the first ROI probe of a segment analyses it (or replays the encode's maps); later ones replay
        recordings: dict[tuple[int, int], MapRecording] = {}

        def size(s: EncodeSettings, offset: float, with_map: bool = True) -> float:
            total = Probe()
            for a, b in fit.segments:
                rec = recordings[(a, b)] if with_map else None
                seek = pts[a] if pts and 0 < a < len(pts) else None
                total = total + encode(input_path, out, s, ChunkRange(a, b, seek), quiet, offset, rec)
            return total.projected(frames, keyframes)

        plain = size(plain_settings, 0.0, with_map=False)
        if plain <= 0:
            return fit
        if map_refusal is not None and (why := map_refusal(plain / max(1, frames))):
            fit.refused = why
            fit.seconds = time.perf_counter() - t0
            return fit
        recordings.update({seg: segment_maps(*seg) if segment_maps else MapRecording() for seg in fit.segments})

        def log_ratio(offset: float) -> float:
            r = math.log(max(1.0, size(roi_settings, offset)) / plain)
            fit.probes.append({"offset_qp": round(offset, 2), "bytes_ratio": round(math.exp(r), 4)})
            return r

        fit.offset_qp = _solve(log_ratio)
    fit.seconds = time.perf_counter() - t0
    return fit


def _solve(log_ratio: Callable[[float], float]) -> float:
    """The offset where log_ratio crosses zero: a first step as if size ~ 2^(-QP/6), then secant steps,
    at most MAX_PROBES probes, stopping once within TOLERANCE. A secant between two probes on either side of
    the plain size is used without probing it: it interpolates (the size falls monotonically in the offset, so
    the answer lies between them), where an extrapolated one can overshoot on a noisy small frame (akiyo, CRF
    30: +9.2 % at 0, +4.7 % at 0.76 QP, the secant 1.6 QP gave -4.2 % on the clip). A step the size does not
    answer (an encoder that turns small offsets into whole QPs) is doubled. Out of probes: the last secant
    estimate, or the best probed offset when the last step was not a secant one."""
    d0, r0 = 0.0, log_ratio(0.0)
    if abs(r0) < TOLERANCE:
        return 0.0
    best = (abs(r0), d0)
    d1, secant = _clamp(6.0 * r0 / math.log(2)), False
    for _ in range(MAX_PROBES - 1):
        r1 = log_ratio(d1)
        best = min(best, (abs(r1), d1))
        if abs(r1) < TOLERANCE:
            return d1
        slope = (r1 - r0) / (d1 - d0)
        if slope > -1e-3:
            d1, secant = _clamp(2.0 * d1), False
            continue
        bracketed = (r0 > 0) != (r1 > 0)
        d0, r0, d1, secant = d1, r1, _clamp(d1 - r1 / slope), True
        if bracketed:
            return d1
    return d1 if secant else best[1]


def _clamp(qp: float) -> float:
    return max(-MAX_OFFSET_QP, min(MAX_OFFSET_QP, qp))

"""A bitrate met at constant quality, for an encoder whose own rate control undoes the map
(CodecCaps.rate_control_fights_map: libvpx-vp9).

libvpx honours a map only in realtime mode, and its realtime rate control predicts a frame's size from the
base q-index alone: the favoured segment's extra bits read as a misprediction, so the base q-index of the inter
frames rises by about what the face gained (benchmarks/results/roi_readback.md: carphone at 35k, base 210 ->
236, the face no finer than without a map, the rest coarser). At constant quality the map lands as asked. So a
bitrate encode with a map runs at the constant quality that spends the target, found with probe encodes of
sampled segments (the CRF rate fit's sampler and recordings: semcodec.pipeline.ratefit) and a secant on log
size over one position `x`: the whole CRF floor(x) (libvpx's is an integer) and, for the fraction, a
whole-frame offset of that share of one quantizer step on every map."""
from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from semcodec.encoding.codecs import CodecCaps
from semcodec.pipeline.loop import MapRecording
from semcodec.pipeline.ratefit import Encoder, Probe, sample_segments
from semcodec.pipeline.settings import ChunkRange, EncodeSettings, Execution

# a larger sample than the CRF rate fit's (0.2): that one compares two encodes of the same frames, this one
# projects an absolute size from the sample. Up to WHOLE_S seconds the whole video is probed: sampled 1 s
# segments of his_girl_friday (6 s) projected 4 % under what the whole encode spent
SHARE, WHOLE_S = 0.5, 10.0
EXTRA_STEPS = 32  # how far past either end of the CRF range the map offset carries on (8 QP: any strength)
MAX_PROBES, TOLERANCE = 6, math.log(1.015)  # stop within 1.5 % of the target
# first guess: CRF where the bits per pixel are BPP_REF, STEPS_PER_DOUBLING CRF steps per factor 2 in size
# (libvpx-vp9 realtime: about 7 % per step on carphone, CRF 40-59)
CRF_AT_BPP_REF, BPP_REF, STEPS_PER_DOUBLING = 53.0, 0.055, 10.0


@dataclass
class QualityForRate:
    crf: float
    offset_qp: float
    target_bytes: float
    predicted_bytes: float = 0.0
    segments: list[tuple[int, int]] = field(default_factory=list)
    probes: list[dict] = field(default_factory=list)  # {crf, offset_qp, bytes_ratio}
    seconds: float = 0.0
    # the coarsest CRF spends more than the target with the map, even with its favoured blocks lifted a step
    above_range: bool = False

    def to_json(self) -> dict:
        return {"method": "constant quality fitted to the bitrate: probe encodes of sampled segments, secant on "
                          "log size over CRF and a whole-frame map offset",
                "crf": self.crf, "offset_qp": round(self.offset_qp, 3), "target_bytes": round(self.target_bytes),
                "predicted_bytes": round(self.predicted_bytes), "above_range": self.above_range,
                "segments": [list(s) for s in self.segments],
                "probes": self.probes}


def wants_crf_for_rate(settings: EncodeSettings, caps: CodecCaps) -> bool:
    """A one-pass bitrate encode with a map on an encoder whose rate control undoes it."""
    return bool(settings.bitrate) and not settings.two_pass and not settings.roi_mode.off and \
        caps.roi and caps.rate_control_fights_map


def position(x: float, caps: CodecCaps) -> tuple[float, float]:
    """(CRF, whole-frame map offset in QP) of position x, in CRF steps. An encoder that takes whole CRFs only:
    floor(x), and for the fraction that share of one quantizer step on the map; else x itself (to 0.01).
    Beyond the CRF range the offset carries on (the top: at the coarsest quantizer the rest of the frame cannot
    pay for the favoured blocks, so their offsets are lifted until the size fits)."""
    lo, hi = caps.crf_range
    crf = min(hi, max(lo, math.floor(x) if caps.whole_crf else round(x, 2)))
    step_qp = caps.qp_range(8) / hi if caps.whole_crf else 1.0
    return crf, (x - crf) * step_qp


def first_guess(bitrate: float, width: int, height: int, fps: float, crf_range: tuple[int, int]) -> float:
    bpp = bitrate / max(1.0, width * height * max(1.0, fps))
    guess = CRF_AT_BPP_REF - STEPS_PER_DOUBLING * math.log2(bpp / BPP_REF)
    return max(float(crf_range[0]), min(crf_range[1] - 1.0, guess))


def _clamp(x: float, crf_range: tuple[int, int]) -> float:
    return max(float(crf_range[0] - EXTRA_STEPS), min(float(crf_range[1] + EXTRA_STEPS), x))


def probe_segments(frames: int, fps: float) -> list[tuple[int, int]]:
    """The whole video up to WHOLE_S seconds, else sampled segments covering about SHARE of it."""
    return [(0, frames)] if frames <= WHOLE_S * fps else sample_segments(frames, fps, share=SHARE)


def fit_crf_for_rate(input_path: str, settings: EncodeSettings, caps: CodecCaps, frames: int, fps: float,
                     size: tuple[int, int], encode: Encoder, execution: Execution,
                     chunk: ChunkRange | None = None,
                     segment_maps: Callable[[int, int], MapRecording] | None = None) -> QualityForRate:
    """The CRF and whole-frame offset at which `settings`' map spends `settings.bitrate` on this input.
    `encode` runs one probe encode (as for semcodec.pipeline.ratefit.fit_rate_offset). `chunk`: a chunk of a
    parallel encode, `frames` long: probed whole (chunks are short), from its own seek point. `segment_maps(start,
    end)`: the maps and cuts the encode itself will use on those frames (planned once, without a balance); without
    it the first probe of a segment analyses the segment on its own."""
    t0 = time.perf_counter()
    target = settings.bitrate / 8 * frames / fps
    segments = [(0, frames)] if chunk is not None else probe_segments(frames, fps)
    fit = QualityForRate(0, 0.0, target, segments=segments)
    # the whole video probed counts its own keyframes among the rest; sampled, one per encoder GOP
    keyframes = 1 if segments == [(0, frames)] else max(1, math.ceil(frames / (caps.keyint or 250)))

    def frame_range(a: int, b: int) -> ChunkRange:
        return ChunkRange(a, b) if chunk is None else replace(chunk, tail=0)
    quiet = replace(execution, audio=False, progress=None, log_warnings=False)
    recordings = {seg: segment_maps(*seg) if segment_maps else MapRecording() for seg in fit.segments}
    tried: dict[tuple[int, float], float] = {}
    with tempfile.TemporaryDirectory(prefix="semcodec-ratetarget-") as tmp:
        out = os.path.join(tmp, "probe.mkv")

        def log_ratio(x: float) -> float:
            crf, offset = position(x, caps)
            if (crf, offset) not in tried:
                # 'extra': the map unbalanced, as the main encode has it (the CRF pays for the favoured blocks)
                s = replace(settings, crf=crf, bitrate=None, two_pass=False, save_maps=None, crf_rate="extra")
                total = Probe()
                for a, b in fit.segments:
                    total = total + encode(input_path, out, s, frame_range(a, b), quiet, offset, recordings[(a, b)])
                tried[(crf, offset)] = total.projected(frames, keyframes)
                fit.probes.append({"crf": crf, "offset_qp": round(offset, 3),
                                   "bytes_ratio": round(tried[(crf, offset)] / target, 4)})
            return math.log(max(1.0, tried[(crf, offset)]) / target)

        x = _solve(log_ratio, first_guess(settings.bitrate, size[0], size[1], fps, caps.crf_range), caps.crf_range)
    fit.crf, fit.offset_qp = position(x, caps)
    fit.above_range = x >= caps.crf_range[1] + 1
    fit.predicted_bytes = tried[(fit.crf, fit.offset_qp)]
    fit.seconds = time.perf_counter() - t0
    return fit


def _solve(log_ratio, x0: float, crf_range: tuple[int, int]) -> float:
    """x where log_ratio (size over target, falling with x) crosses zero: secant steps from x0 (the first one
    as if STEPS_PER_DOUBLING steps halve the size), at most MAX_PROBES probes. Returns the probed x closest
    to the target, preferring one at or under it when two are as close."""
    probes: list[tuple[float, float]] = []
    x, slope = x0, -math.log(2) / STEPS_PER_DOUBLING
    for _ in range(MAX_PROBES):
        r = log_ratio(x)
        probes.append((x, r))
        if abs(r) < TOLERANCE:
            break
        if len(probes) >= 2:
            (xa, ra), (xb, rb) = probes[-2], probes[-1]
            if xb != xa and (rb - ra) / (xb - xa) < -1e-3:
                slope = (rb - ra) / (xb - xa)
        nxt = _clamp(x - r / slope, crf_range)
        if any(abs(nxt - px) < 1e-3 for px, _ in probes):  # an encoder step the size does not answer
            nxt = _clamp(nxt + (0.5 if r > 0 else -0.5), crf_range)
        if any(abs(nxt - px) < 1e-3 for px, _ in probes):
            break
        x = nxt
    return min(probes, key=lambda p: (round(abs(p[1]), 3), p[1] > 0))[0]

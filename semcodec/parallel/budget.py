"""Two-pass budgets for chunks from every chunk's first pass: the share of the target each chunk would get
in one two-pass encode of the whole video.

x264 and x265 spend a two-pass budget at (close to) one rate factor: with mb-tree/cu-tree on, every frame's
quantiser scale is the same constant, times a fixed factor for I- and B-frames, and the first pass tells
how many bits each frame costs at its own first-pass scale. A frame's bits at another scale q follow both
encoders' own model: (texture + motion bits) * (q_pass1 / q) ** 1.1 + the rest. One constant for the whole
video that spends the target over the frames the output keeps gives each chunk its bits; a chunk's pass 2
then spends them at that same constant, instead of each chunk finding its own from a guessed split (the
input's bytes per chunk), which left whole chunks 2 dB apart (benchmarks/chunk_joins.py)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from semcodec.encoding.codecs import IP_RATIO
from semcodec.errors import SemcodecError

_FIELD = re.compile(r"(\w[\w-]*):(\S+)")
_RATIO = re.compile(r"\b(ip_ratio|ipratio|pb_ratio|pbratio)=([\d.]+)")


def type_scales(options: str) -> dict[str, float]:
    """Pass 2's quantiser-scale ratio to the P-frames' for each frame type of a statistics file, from the
    encoder options on its first line. Both encoders' two-pass code gives an I-frame the P scale / ipratio,
    a B-frame other frames reference ('B') the last P's scale, and one nothing references ('b') that times
    pbratio; x264 with mb-tree sets pbratio to 1 (it writes no pb_ratio then), x265 keeps it with cu-tree."""
    ratios = {k.replace("_", ""): float(v) for k, v in _RATIO.findall(options)}
    ip = ratios.get("ipratio", IP_RATIO)
    pb = 1.0 if "mbtree=1" in options else ratios.get("pbratio", 1.3)
    return {"I": 1 / ip, "i": 1 / ip, "P": 1.0, "B": 1.0, "b": pb}


@dataclass(frozen=True)
class FrameCost:
    frame: int  # display index in the encode that wrote the statistics
    kind: str  # I, P or B
    qscale: float  # the first pass's quantiser scale
    scaled_bits: float  # texture + motion bits: scale with the quantiser
    fixed_bits: float  # headers and the rest
    type_scale: float = 1.0  # pass 2's scale for this frame over the P-frames' (type_scales)

    def bits(self, q: float) -> float:
        return self.scaled_bits * (self.qscale / (q * self.type_scale)) ** 1.1 + self.fixed_bits


def budget_crf(bitrate: float, width: int, height: int, fps: float) -> float:
    """The CRF every chunk's budget pass runs at (Job.budget_pass): near the quantiser the target will need,
    from the bits per pixel (about what x264 medium and x265 land on for camera and CG video: 0.035 b/px
    near QP 34, 6 QP per doubling), so the model above scales the statistics over a few QP only. Every chunk
    is measured at the same one and only their shares are taken, but the shares hold only near it: where the
    budget lands more than a few CRF away (static office at 300k: measured at 26, landed on 18.6; the chunks'
    shares 11 % off what one piece spends there), the job measures every chunk again there
    (runner._refine_budget)."""
    bpp = bitrate / max(1.0, width * height * max(1.0, fps))
    return float(min(44, max(8, round(34 - 6 * math.log2(max(1e-6, bpp) / 0.035)))))


def qp_to_qscale(qp: float) -> float:
    return 0.85 * 2.0 ** ((qp - 12.0) / 6.0)  # x264/x265 qp2qscale


def read_stats(path: str) -> list[FrameCost]:
    """One FrameCost per frame line of an x264 or x265 first-pass statistics file."""
    out = []
    scales = type_scales("")
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("#options:"):
                    scales = type_scales(line)
                if not line.startswith("in:"):
                    continue
                d = dict(_FIELD.findall(line))
                kind = d["type"][:1]
                out.append(FrameCost(int(d["in"]), kind.upper(), qp_to_qscale(float(d["q"])),
                                     float(d["tex"]) + float(d["mv"]), float(d["misc"]), scales[kind]))
    except (OSError, KeyError, ValueError) as exc:
        raise SemcodecError(f"cannot read first-pass statistics {path}: {exc}") from None
    if not out:
        raise SemcodecError(f"first-pass statistics {path} hold no usable frames")
    return out


def _kept_bits(chunks: list[list[FrameCost]], kept: list[int], q: float) -> float:
    return sum(c.bits(q) for frames, k in zip(chunks, kept) for c in frames if c.frame < k)


def chunk_bitrates(chunks: list[list[FrameCost]], kept: list[int], kept_s: list[float],
                   target_bits: float) -> tuple[list[int], float]:
    """Pass-2 bitrates (bits per second of each chunk's kept frames, the first `kept[i]` of chunk i; its
    pass 2 encodes those alone) that spend `target_bits` over all kept frames at one quantiser scale.
    Returns (bitrates, scale)."""
    lo, hi = 1e-4, 1e5  # quantiser scales far beyond QP 0..69
    fixed = sum(c.fixed_bits for frames, k in zip(chunks, kept) for c in frames if c.frame < k)
    if target_bits <= fixed:
        q = hi
    else:
        for _ in range(100):  # bisection in log scale: bits fall as q grows
            q = math.sqrt(lo * hi)
            if _kept_bits(chunks, kept, q) > target_bits:
                lo = q
            else:
                hi = q
        q = math.sqrt(lo * hi)
    rates = [max(1000, int(round(_kept_bits([frames], [k], q) / max(1e-6, s))))
             for frames, k, s in zip(chunks, kept, kept_s)]
    return rates, q


def keyframe_share(chunks: list[list[FrameCost]], kept: list[int], q: float, inside_shot: list[bool]) -> float:
    """What the opening IDRs of the chunks that start inside a shot cost beyond the frame one piece codes there
    (the chunk's mean kept non-I frame), as a share of all kept bits at quantiser scale `q`: bits every other
    frame gives up, since one piece has no keyframe there (at a cut it has one too, and nothing is lost)."""
    total = _kept_bits(chunks, kept, q)
    extra = 0.0
    for frames, k, inside in zip(chunks, kept, inside_shot):
        rest = [c.bits(q) for c in frames if 0 < c.frame < k and c.kind != "I"]
        opening = [c.bits(q) for c in frames if c.frame == 0]
        if inside and rest and opening:
            extra += max(0.0, opening[0] - sum(rest) / len(rest))
    return extra / total if total > 0 else 0.0


def final_crf(chunks: list[list[FrameCost]], q: float, crf: float | None) -> float | None:
    """The CRF whose P-frames land at quantiser scale `q`, from budget-pass statistics at `crf` (their P-frames'
    median scale): a CRF's scale doubles every 6 steps. None without a budget pass."""
    p = sorted(c.qscale for frames in chunks for c in frames if c.kind == "P")
    if crf is None or not p:
        return None
    return round(min(51.0, max(0.0, crf + 6 * math.log2(q / p[len(p) // 2]))), 2)

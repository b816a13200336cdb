"""Importance map -> per-block QP offsets, rate-neutral.

A block's offset is  -S * importance + shift.  The shift is chosen so that a simple rate model,
bits(block) ~ activity * 2^(-dQP / 6), spends the same total as with no offsets: the important
blocks get finer quantisers and the rest pay for them, instead of the file simply growing at CRF.
No payer goes above +PAYER_CAP_QP, though; what that leaves unpaid comes from the whole frame (the
encoder's rate control in bitrate modes, the CRF rate fit in semcodec.pipeline.ratefit).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class BlockGrid:
    width: int  # encoder pixels
    height: int
    block: int

    @property
    def shape(self) -> tuple[int, int]:
        return (-(-self.height // self.block), -(-self.width // self.block))


# The inter-frame cost model: per-pixel temporal difference beyond a noise dead zone (grey levels: sensor
# noise and grain that the quantiser removes anyway), plus a small texture share (intra blocks in inter
# frames, keyframes amortised over the GOP). A first guess only: semcodec.pipeline.ratefit measures what
# the map really costs and corrects the whole-frame offset, so these set how much it has to correct.
NOISE_DEAD_ZONE = 2.0
TEXTURE_SHARE = 0.003
FLOOR_SHARE = 0.001

# The most a paying block's quantiser rises. Where the important region is the only thing that moves (a
# talking head on a still set), inter frames spend almost nothing elsewhere, so balancing against the
# temporal cost alone lifts the still background by most of the strength (+6..+8 QP on akiyo) to save few
# bits, and that loss persists in every frame that references it. 2 QP is about 2 dB on the payers. Measured
# at equal size (two-pass x264 medium, S=0.2): akiyo VMAF 83.19 -> 84.30 at the same face PSNR (31.63 ->
# 31.64 dB); carphone and his_girl_friday unchanged within x264's jitter (in-sample: 1, 1.5 and 2 QP tried).
PAYER_CAP_QP = 2.0


class Allocator:
    def __init__(self, grid: BlockGrid, strength_qp: float, levels: int | None = None,
                 step: float = 0.5, balance: bool = True, payer_cap: float | None = PAYER_CAP_QP):
        """`strength_qp`: QP difference between the most and the least important block.
        `levels`: at most this many distinct non-zero offsets (VP9 segments); `step`: QP rounding, so
        neighbouring blocks share values and the region list stays short. `payer_cap`: the highest offset
        the balance may give a block (None: no cap, the map is rate-neutral in the model)."""
        self.grid = grid
        self.strength = float(strength_qp)
        self.levels = levels
        self.step = step
        self.balance = balance
        self.payer_cap = payer_cap
        self._smooth: tuple[np.ndarray, np.ndarray] | None = None  # the last frame given to cost() and its blur

    def block_mean(self, image: np.ndarray) -> np.ndarray:
        gh, gw = self.grid.shape
        return cv2.resize(image.astype(np.float32, copy=False), (gw, gh), interpolation=cv2.INTER_AREA)

    def activity(self, gray: np.ndarray) -> np.ndarray:
        """Per-block texture (mean gradient magnitude): a proxy for the bits a block costs."""
        if gray.dtype == np.uint8:  # both 3x3 Sobel gradients in one pass, as exact integers (|dx| + |dy| <= 2040)
            dx, dy = cv2.spatialGradient(gray)
            grad = np.abs(dx)
            grad += np.abs(dy)
        else:
            g = gray.astype(np.float32)
            grad = np.abs(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)) + np.abs(cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3))
        act = self.block_mean(grad)
        return act + 0.2 * float(act.mean()) + 1e-3  # flat blocks still cost header and DC bits

    def cost(self, gray: np.ndarray, prev_gray: np.ndarray | None = None) -> np.ndarray:
        """Per-block share of the frame's bits in a plain encode. Without the previous frame: texture (an
        intra frame). With it: the temporal residual, where an inter frame spends its bits (a static
        background costs almost nothing however textured), plus a texture share for intra blocks and
        imperfect prediction."""
        spatial = self.activity(gray)
        if prev_gray is None or prev_gray.shape != gray.shape:
            return spatial
        b = self._smoothed(prev_gray)  # usually the frame before's, smoothed when it was the current one
        diff = cv2.absdiff(self._smoothed(gray), b)
        diff -= NOISE_DEAD_ZONE
        temporal = self.block_mean(np.maximum(diff, 0, out=diff))
        return temporal + TEXTURE_SHARE * spatial + FLOOR_SHARE * float(spatial.mean())

    def _smoothed(self, gray: np.ndarray) -> np.ndarray:
        """`gray` in float32 with a 3x3 box blur; the last one made is kept for the next frame's cost."""
        last = self._smooth
        if last is not None and last[0] is gray:
            return last[1]
        out = cv2.blur(gray.astype(np.float32), (3, 3))
        self._smooth = (gray, out)
        return out

    def offsets(self, importance: np.ndarray, gray: np.ndarray, strength_scale: float = 1.0,
                frame_offset: float = 0.0, prev_gray: np.ndarray | None = None) -> np.ndarray:
        """QP offsets (negative = more bits) on the encoder's block grid. `strength_scale` adapts the map
        per shot; `frame_offset` (QP, after balancing) moves bits between frames, e.g. to keyframes;
        `prev_gray` (the previous analysis frame) makes the rate balance see where inter frames spend."""
        imp = np.clip(self.block_mean(importance), 0.0, 1.0)
        dq = -self.strength * strength_scale * imp
        half = max(1, (self.levels or 0) // 2)  # level-limited encoders: offsets -half..half units, zero included
        # the unit follows the strength this frame uses: from the full strength, a map scaled down (a face filling
        # the frame) rounded to zero everywhere and the encoder got no map at all
        unit = max(self.strength * strength_scale / half, self.step)
        if self.balance:
            w = self.cost(gray, prev_gray)
            # solve sum(w * 2^(-(dq + shift)/6)) == sum(w) for shift, in closed form
            shift = 6.0 * np.log2(float((w * np.exp2(-dq / 6.0)).sum() / w.sum()))
            dq = dq + shift
            if self.payer_cap is not None:  # never below one level, or coarse levels would round the payers away
                dq = np.minimum(dq, max(self.payer_cap, unit if self.levels else 0.0))
        limit = self.strength * max(1.0, strength_scale)
        dq = np.clip(dq + frame_offset, -limit - abs(frame_offset), limit)
        if self.levels:
            dq = np.clip(np.rint(dq / unit), -half, half) * unit
        elif self.step:
            dq = np.rint(dq / self.step) * self.step
        return dq.astype(np.float32)

"""QpMap: the one contract between the frame planner and the encoder. Per-block QP offsets (negative = more
bits) on the encoder's block grid, and the one place QP units are converted: to FFmpeg's qoffset for the
side data, from the user's qoffset-unit strength, and to the half-QP int8 form the two-pass log stores."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semcodec.encoding.codecs import CodecCaps
from semcodec.encoding.roi_sidedata import neutral_region, regions_from_offsets


def strength_in_qp(strength_qoffset: float, caps: CodecCaps) -> float:
    """A user's --roi-strength (FFmpeg qoffset units, as `addroi` takes them) in QP at 8 bit."""
    return strength_qoffset * caps.qp_range(8)


@dataclass(frozen=True)
class QpMap:
    offsets: np.ndarray  # float32 QP offsets, shape (rows, cols) of the block grid
    block: int  # encoder pixels per block side

    @classmethod
    def zeros(cls, shape: tuple[int, int], block: int) -> QpMap:
        return cls(np.zeros(shape, np.float32), block)

    def regions(self, width: int, height: int, qp_range: float) -> np.ndarray:
        """AVRegionOfInterest rows for a width x height encoder frame whose QP range is `qp_range`. Every
        frame carries a map, even a neutral one: x265 sizes its frame pool on the first pictures and crashes
        if a later one brings offsets they lacked."""
        regions = regions_from_offsets(self.offsets, self.block, width, height, qp_range)
        return regions if len(regions) else neutral_region(width, height)

    def to_half_qp(self) -> bytes:
        """Compact form for the two-pass log: int8 half-QP steps (offsets beyond +-63.5 QP do not occur)."""
        return np.clip(np.rint(self.offsets * 2), -127, 127).astype(np.int8).tobytes()

    @classmethod
    def from_half_qp(cls, data: bytes, shape: tuple[int, int], block: int) -> QpMap:
        return cls(np.frombuffer(data, np.int8).reshape(shape).astype(np.float32) / 2, block)

    def stats(self) -> tuple[float, float, float]:
        """(lowest, highest offset, share of blocks favoured) for the report."""
        dq = self.offsets
        return float(dq.min()), float(dq.max()), float((dq < 0).mean())

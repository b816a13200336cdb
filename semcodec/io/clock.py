"""The clock the encoder sees. FFmpeg's CLI hands a constant-frame-rate video to the encoder in frame ticks
(time base 1/frame rate); x264's and x265's rate control spend by those durations, so the same frames on a
finer clock (the container's 1/30000, say) take a slightly different path: the same two-pass encode comes
out a different size (carphone at 35k: 18,285 against ffmpeg's 18,330 video bytes). On the frame-tick clock
semcodec's `--roi off` encode is bit-identical to `ffmpeg`'s. Variable-frame-rate input keeps its own clock,
so its timestamps stay exact."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from fractions import Fraction

from semcodec.io.reader import open_input


@dataclass(frozen=True)
class EncoderClock:
    """Source timestamps (`time_base` units) <-> encoder frame ticks: pts = ticks * period + phase."""

    time_base: Fraction  # the source video stream's
    period: int  # source ticks per frame
    phase: int  # the grid's offset from zero, in source ticks (0 <= phase < period)

    @property
    def encoder_time_base(self) -> Fraction:
        return self.time_base * self.period

    def to_encoder(self, pts: int) -> int:
        return (pts - self.phase) // self.period

    def to_source(self, ticks: int) -> int:
        return ticks * self.period + self.phase

    def packet_to_source(self, packet) -> None:
        """An encoder packet's timestamps back on the source clock (the muxer's stream time base)."""
        if packet.pts is not None:
            packet.pts = self.to_source(packet.pts)
        if packet.dts is not None:
            packet.dts = self.to_source(packet.dts)
        if packet.duration:
            packet.duration = packet.duration * self.period
        packet.time_base = self.time_base


def frame_clock(path: str) -> EncoderClock | None:
    """The frame-tick clock when every video timestamp of `path` lies on one constant-rate grid (read from
    the packets, nothing decoded); None for variable frame rate, missing timestamps or a rate the time base
    cannot express in whole ticks."""
    st = os.stat(path)
    return _frame_clock(os.path.realpath(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)  # chunk jobs of one input share the scan
def _frame_clock(path: str, size: int, mtime_ns: int) -> EncoderClock | None:
    with open_input(path) as c:
        vs = c.streams.video[0]
        rate, tb = vs.average_rate, vs.time_base
        if not rate or not tb:
            return None
        period = 1 / (Fraction(rate) * Fraction(tb))
        if period.denominator != 1 or period < 1:
            return None
        period = int(period)
        phase = None
        for p in c.demux(vs):
            if p.pts is None:
                if p.size:
                    return None  # a frame with no timestamp: its place on the grid is unknown
                continue
            if phase is None:
                phase = p.pts % period
            elif p.pts % period != phase:
                return None
    return None if phase is None else EncoderClock(Fraction(tb), period, phase)

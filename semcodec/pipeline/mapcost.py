"""Whether a block map is worth what it costs the encoder before it favours anything.

libvpx-vp9 re-sends its segmentation with every frame and codes a segment id per block
(CodecCaps.map_frame_bytes). On a small frame at a low rate that is a large share of each frame's bytes, and the
favoured regions cannot win it back: such encodes run without a map and say why. x264 and x265 carry their
offsets at no measurable cost of their own."""
from __future__ import annotations

from collections.abc import Callable

from semcodec.encoding.codecs import caps_for, map_frame_bytes
from semcodec.pipeline.settings import EncodeSettings

# a map is attached where its own cost (CodecCaps.map_frame_bytes) is at most this share of what a frame may
# spend. libvpx-vp9 at equal size against no map (in-sample): his_girl_friday 250k (4.8 %) face +1.56 dB, VMAF
# +0.25; carphone at 375 bytes a frame (4 %) +0.39 dB, -0.73; at 215 (7 %) -0.3 dB, -3.7; at 35k (10 %) +0.09 dB,
# -5.1; akiyo at 12k (25 %) -2.84 dB, -8.3
MAP_COST_SHARE = 0.06


def map_cost_refusal(codec: str, width: int, height: int, budget: float, rate: str,
                     spends: str = "a frame may spend") -> str | None:
    """Why `rate` ("--bitrate 12k is too low"), spending `budget` bytes a frame, gets no map: what the map itself
    costs a frame (CodecCaps.map_frame_bytes) would take more of the budget than its favoured regions can win back
    (MAP_COST_SHARE); None when it is not."""
    cost = map_frame_bytes(caps_for(codec), width, height)
    if not cost or cost <= MAP_COST_SHARE * budget:
        return None
    return (f"{rate} for a block map on {codec} at {width}x{height}: its segmentation costs about {cost:.0f} bytes "
            f"a frame, {cost / max(budget, 1e-9):.0%} of the {budget:.0f} {spends} (a map needs it under "
            f"{MAP_COST_SHARE:.0%}); encoded without one")


def bitrate_refusal(settings: EncodeSettings, width: int, height: int, fps: float) -> str | None:
    """map_cost_refusal for a --bitrate encode: the budget is the bitrate's bytes a frame."""
    return map_cost_refusal(settings.codec, width, height, settings.bitrate / 8 / fps,
                            f"--bitrate {settings.bitrate / 1000:g}k is too low")


def crf_refusal(codec: str, width: int, height: int, crf: float) -> Callable[[float], str | None]:
    """map_cost_refusal for a CRF encode, asked by the rate fit with what its plain probes spend a frame."""
    def refusal(plain_bytes_per_frame: float) -> str | None:
        return map_cost_refusal(codec, width, height, plain_bytes_per_frame, f"CRF {crf:g} is too coarse",
                                "a frame spends without one, by the probe encodes")
    return refusal

"""What each FFmpeg encoder can do with a region map, the options it needs, and a self-check.

Facts (checked on PyAV 18.1 / FFmpeg 8, see ../shared/FACTS.md):
- libx264, libx265: honour AV_FRAME_DATA_REGIONS_OF_INTEREST on a 16x16 grid, only with aq-mode != 0;
  qoffset in [-1, 1] is scaled by the QP range (51 at 8 bit).
- libvpx-vp9: honours it only with deadline=realtime, cpu-used >= 5, aq-mode=0, lag-in-frames=0, on an
  8x8 grid, as at most 7 segments; qoffset is scaled to +-63 quantizer-index steps (about 4 per QP).
- libsvtav1: ignores the map silently, so semcodec encodes it plain and says so.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np

from semcodec.errors import SemcodecError, UsageError

os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner to stderr unless told otherwise


@dataclass(frozen=True)
class CodecCaps:
    name: str
    roi: bool
    block: int
    qp_range_8bit: float  # QP units that qoffset = 1.0 stands for
    max_levels: int | None  # distinct non-zero offsets the encoder keeps
    two_pass: bool
    default_preset: str
    roi_options: dict = field(default_factory=dict)  # options the map needs, also used with --roi off
    note: str = ""

    def qp_range(self, bit_depth: int) -> float:
        if self.name in ("libx264", "libx265"):
            return self.qp_range_8bit + 6 * (bit_depth - 8)
        return self.qp_range_8bit


CAPABILITIES = {
    "libx264": CodecCaps("libx264", True, 16, 51, None, True, "medium",
                         note="per-16x16 QP offsets; needs aq-mode != 0 (default 1)"),
    "libx265": CodecCaps("libx265", True, 16, 51, None, True, "medium",
                         note="per-16x16 QP offsets; needs aq-mode != 0 (default 2)"),
    "libvpx-vp9": CodecCaps("libvpx-vp9", True, 8, 63 / 4, 7, False, "6",
                            roi_options={"deadline": "realtime", "aq-mode": "0", "lag-in-frames": "0",
                                         "row-mt": "1"},
                            note="8x8 segments, at most 7 offsets; realtime mode only (cpu-used >= 5)"),
    "libsvtav1": CodecCaps("libsvtav1", False, 64, 0, None, False, "8",
                           note="libsvtav1 ignores ROI side data: encoded without a block map"),
}


NO_AQ_PRESETS = {"libx264": ("ultrafast",), "libx265": ("ultrafast", "superfast")}

# x264's AVX-512 mbtree-propagate code reads uninitialised heap memory when the width in macroblocks is not
# a multiple of 8 (160, 176, 320, 400 px...), so identical encodes differ run to run (../shared/FACTS.md).
# On a CPU with AVX-512 semcodec names x264's instruction sets without it: the same code paths x264 picks
# for an AVX2 machine (x264 reports the same capabilities minus AVX512). Other CPUs never take that path.
X264_ASM_WITHOUT_AVX512 = "MMX2,SSE,SSE2,SSE3,SSSE3,SSE4.1,SSE4.2,LZCNT,AVX,FMA3,BMI1,BMI2,AVX2"


def _cpu_has_avx512() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return any(line.startswith("flags") and " avx512f" in line for line in f)
    except OSError:  # not Linux: no way to tell cheaply; x264's auto detection stands
        return False


def _x264_asm() -> str | None:
    """SEMCODEC_X264_ASM overrides: 'auto' leaves x264's own detection (AVX-512 included), anything else is
    passed as x264's asm list. For measuring the fix; the default is the deterministic list."""
    override = os.environ.get("SEMCODEC_X264_ASM", "").strip()
    if override:
        return None if override.lower() == "auto" else override
    return X264_ASM_WITHOUT_AVX512 if _cpu_has_avx512() else None


X264_ASM = _x264_asm()


def pass_flags(caps: CodecCaps, pass_no: int) -> int:
    """AVCodecContext flags for pass `pass_no` of a two-pass encode (0: one pass). libx264 takes its pass
    from these, as from `ffmpeg -pass N`; libx265's comes in x265-params, as users pass it to ffmpeg."""
    if caps.name != "libx264" or not pass_no:
        return 0
    from av.codec.context import Flags

    return int(Flags.pass1 if pass_no == 1 else Flags.pass2)


def configure_threads(cc, threads: int | None = None) -> None:
    """Threading as the `ffmpeg` CLI has it: frame threads (PyAV's default, slice threads, makes x264 run
    sliced_threads=1 slices=N: 15 % larger at QCIF, 0.7 VMAF lower at equal size, and bytes that depend on
    the core count). `threads` fixes the thread count, so the bytes do not depend on the machine."""
    cc.thread_type = "FRAME"
    if threads:
        cc.thread_count = int(threads)
DECODERS = {"libx264": "h264", "libx265": "hevc", "libvpx-vp9": "vp9", "libsvtav1": "libdav1d"}


def caps_for(codec: str) -> CodecCaps:
    if codec not in CAPABILITIES:
        raise SemcodecError(f"unsupported codec {codec}; choose from {', '.join(CAPABILITIES)}")
    return CAPABILITIES[codec]


# What each encoder really takes. FFmpeg's own option ranges are wider or absent: libx264 clamps --crf 99 to
# 51 without a word, and a bad value elsewhere fails in avcodec_open2 with errno text that names no option.
X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                "placebo")
CRF_RANGE = {"libx264": (0, 51), "libx265": (0, 51), "libvpx-vp9": (0, 63), "libsvtav1": (0, 63)}
WHOLE_CRF = {"libvpx-vp9", "libsvtav1"}  # integer options in FFmpeg: 30.5 would be cut to 30 silently
VP9_CPU_USED = (5, 8)  # ROI maps need realtime mode, cpu-used >= 5 (the same options are used with --roi off)
SVTAV1_PRESETS = (0, 13)
MIN_BITRATE = 1000  # bits per second; '--bitrate 1' is a missing 'k', not a request for 1 b/s


def check_crf(codec: str, crf: float) -> None:
    lo, hi = CRF_RANGE[caps_for(codec).name]
    if not math.isfinite(crf) or not lo <= crf <= hi:
        raise UsageError(f"--crf {crf:g} is out of range for {codec} ({lo}-{hi})")
    if codec in WHOLE_CRF and crf != int(crf):
        raise UsageError(f"--crf {crf:g}: {codec} takes a whole number ({lo}-{hi})")


def _whole(text: str) -> int | None:
    t = text.strip()
    return int(t) if t.lstrip("+-").isdigit() else None


def check_preset(codec: str, preset: str | None) -> None:
    """Refuse a preset the encoder does not have (None: the codec's default)."""
    if preset is None:
        return
    name = caps_for(codec).name
    text = str(preset)
    if name in ("libx264", "libx265"):
        if text not in X26X_PRESETS:
            raise UsageError(f"--preset {text} is not a {name} preset (choose from {', '.join(X26X_PRESETS)})")
        return
    lo, hi = VP9_CPU_USED if name == "libvpx-vp9" else SVTAV1_PRESETS
    value = _whole(text)
    if value is None or not lo <= value <= hi:
        what = ("libvpx-vp9 preset is cpu-used 5..8 (ROI maps need realtime mode, cpu-used >= 5)"
                if name == "libvpx-vp9" else f"libsvtav1 presets are {lo}..{hi} (0 slowest)")
        raise UsageError(f"--preset {text}: {what}")


def check_bitrate(bitrate: float) -> None:
    if not (math.isfinite(bitrate) and bitrate > 0):
        raise UsageError(f"--bitrate must be positive, not {bitrate:g}")
    if bitrate < MIN_BITRATE:
        raise UsageError(f"--bitrate {bitrate:g} b/s is below the minimum of {MIN_BITRATE // 1000} kb/s")


@dataclass
class RateControl:
    crf: float | None = None
    bitrate: int | None = None  # bits per second
    two_pass: bool = False

    def describe(self) -> str:
        if self.bitrate:
            return f"{'two-pass' if self.two_pass else 'ABR'} {self.bitrate / 1000:g} kb/s"
        return f"CRF {self.crf:g}"


def encoder_options(caps: CodecCaps, rc: RateControl, preset: str | None,
                    pass_no: int = 0, stats_path: str | None = None, tune: str | None = None,
                    forced_keyframes: bool = False, with_map: bool = True) -> tuple[dict, int]:
    """FFmpeg private options and bit_rate for one encode. Without a map (`with_map=False`, i.e. --roi
    off) they are exactly what `ffmpeg -c:v CODEC -preset P -crf N` (or `-b:v R -pass N`) uses, so the
    baseline is the encode a user would run instead; with a map they add only what the map needs to
    land (x265 qg-size=16, AQ on for presets that turn it off). `tune` and `forced_keyframes` come
    only from shot-aware decisions."""
    preset = str(preset or caps.default_preset)
    opts: dict = dict(caps.roi_options)
    bit_rate = 0
    if caps.name == "libvpx-vp9":
        cpu_used = int(preset) if preset.lstrip("-").isdigit() else 6
        if not 5 <= cpu_used <= 8:
            raise UsageError("libvpx-vp9 preset is cpu-used 5..8 (ROI maps need realtime mode, cpu-used >= 5)")
        opts["cpu-used"] = str(cpu_used)
    else:
        opts["preset"] = preset
    if rc.bitrate:
        bit_rate = int(rc.bitrate)
    else:
        opts["crf"] = f"{rc.crf:g}"
    if tune:
        opts["tune"] = tune
    if forced_keyframes and caps.name in ("libx264", "libx265"):
        opts["forced-idr"] = "1"  # a frame marked I becomes an IDR: a clean random-access point at the cut
    params = []
    if with_map and preset in NO_AQ_PRESETS.get(caps.name, ()):
        # these presets switch AQ off, and with it the encoder drops the map: AQ on when a map is attached
        if caps.name == "libx264":
            opts["aq-mode"] = "1"
        else:
            params.append("aq-mode=1")
    if caps.name == "libx264" and X264_ASM:
        params.append(f"asm={X264_ASM}")
    if caps.name == "libx265":
        params.append("log-level=error")
        if with_map:
            # x265 reads the offsets on a 16x16 grid but applies QP per quantization group (32x32 by
            # default), which blurs a face-sized map; qg-size=16 keeps it. Only with a map: on its own
            # it costs 0.4-0.6 VMAF at equal size against stock x265 (benchmarks/results/parity.md)
            params.append("qg-size=16")
    if pass_no:
        if not caps.two_pass:
            raise UsageError(f"two-pass is supported with libx264 and libx265, not {caps.name}")
        if caps.name == "libx264":
            # as `ffmpeg -pass N -passlogfile F` does it (the pass comes from the codec flags, pass_flags),
            # but with x264's full first pass (`-fastfirstpass 0`), in both modes: the fast one (no trellis,
            # 8x8 transform or sub-partitions) lands wide of the target and misjudges what a map costs.
            # his_girl_friday at 250k: stock +5.1 % over, ROI +5.9 %; full first pass -0.1 %, ROI +1.6 %
            opts["stats"] = stats_path
            opts["fastfirstpass"] = "0"
        else:
            params += [f"pass={pass_no}", f"stats={stats_path}"]
    if params:
        opts[f"{caps.name[3:]}-params"] = ":".join(params)
    return opts, bit_rate


def roundtrip(codec: str, frames: list, regions=None, crf: float = 35, attacher=None) -> tuple[bytes, list]:
    """Encode grey uint8 frames (25 fps) with the library's own options for `codec`, attaching `regions`
    (AVRegionOfInterest rows) to every frame when given, and decode them back.
    Returns (bitstream bytes, decoded grey frames)."""
    h, w = frames[0].shape
    opts, _ = encoder_options(caps_for(codec), RateControl(crf=crf), None)
    ctx = av.CodecContext.create(codec, "w")
    configure_threads(ctx)
    ctx.width, ctx.height, ctx.pix_fmt = w, h, "yuv420p"
    ctx.time_base, ctx.framerate = Fraction(1, 25), Fraction(25)
    ctx.options = opts
    if regions is not None and attacher is None:
        from semcodec.encoding.roi_sidedata import RoiAttacher

        attacher = RoiAttacher()
    packets = []
    for i, img in enumerate(frames):
        f = av.VideoFrame.from_ndarray(img, format="gray").reformat(format="yuv420p")
        f.pts = i
        if regions is not None:
            attacher.attach(f, regions)
        packets += ctx.encode(f)
    packets += ctx.encode(None)
    dec = av.CodecContext.create(DECODERS[codec], "r")
    if ctx.extradata:
        dec.extradata = ctx.extradata
    out = []
    for p in packets:
        out += dec.decode(p)
    out += dec.decode(None)
    return b"".join(bytes(p) for p in packets), [o.to_ndarray(format="gray") for o in out]


def self_check(codec: str, frames: int = 25) -> dict:
    """Encode one second of textured video twice, without and with a map that favours the left half,
    and prove the map changed the output: the left half must get closer to the source.
    Returns {'codec', 'honoured', 'left_mse_plain', 'left_mse_roi', 'note'}."""
    from semcodec.encoding.roi_sidedata import RoiAttacher, RoiUnavailable, regions_from_offsets

    caps = caps_for(codec)
    w, h = 128, 96
    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, (h + frames, w + frames), dtype=np.uint8)
    src = [np.ascontiguousarray(base[i:i + h, i:i + w]) for i in range(frames)]
    try:
        attacher = RoiAttacher() if caps.roi else None
    except RoiUnavailable as exc:
        return {"codec": codec, "honoured": False, "note": f"ROI side data unavailable: {exc}"}
    offsets = np.zeros((-(-h // caps.block), -(-w // caps.block)), np.float32)
    offsets[:, : offsets.shape[1] // 2] = -8
    offsets[:, offsets.shape[1] // 2:] = 8
    regions = regions_from_offsets(offsets, caps.block, w, h, caps.qp_range(8)) if caps.roi else None

    def left_mse(with_map: bool) -> float:
        _, out = roundtrip(codec, src, regions if with_map and attacher else None, crf=35, attacher=attacher)
        return float(np.mean([(o[:, : w // 2].astype(float) - s[:, : w // 2]) ** 2 for o, s in zip(out, src)]))

    try:
        plain, roi = left_mse(False), left_mse(True)
    except av.error.FFmpegError as exc:
        return {"codec": codec, "honoured": False, "note": f"encoder failed: {exc}"}
    honoured = roi < plain * 0.9
    note = caps.note if caps.roi == honoured else (
        "map changed nothing although the table says it should" if caps.roi else
        "map changed the output although the table says it is ignored")
    return {"codec": codec, "honoured": honoured, "expected": caps.roi,
            "left_mse_plain": round(plain, 2), "left_mse_roi": round(roi, 2), "note": note}

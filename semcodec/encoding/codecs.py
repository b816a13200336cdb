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
from typing import Literal

import av
import numpy as np

from semcodec.errors import SemcodecError, UsageError

os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner to stderr unless told otherwise


Codec = Literal["libx264", "libx265", "libvpx-vp9", "libsvtav1"]
DEFAULT_CODEC: Codec = "libx264"
X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                "placebo")


@dataclass(frozen=True)
class CodecCaps:
    """What one encoder can do, and how FFmpeg wants to be told; code asks these fields, never the name."""

    name: Codec
    roi: bool
    block: int
    qp_range_8bit: float  # QP units that qoffset = 1.0 stands for
    max_levels: int | None  # distinct non-zero offsets the encoder keeps
    two_pass: bool
    default_preset: str
    crf_range: tuple[int, int]
    whole_crf: bool = False  # an integer option in FFmpeg: 30.5 would be cut to 30 silently
    presets: tuple[str, ...] = ()  # named presets; empty: a numeric range
    preset_range: tuple[int, int] = (0, 0)
    preset_option: str = "preset"  # libvpx-vp9 takes its speed as cpu-used
    params_option: str | None = None  # x264-params / x265-params
    qp_per_extra_bit: float = 0.0  # x26x: the QP scale grows by 6 per bit above 8
    forced_idr: bool = False  # takes forced-idr=1 (a frame marked I becomes an IDR)
    forced_p: bool = False  # a frame marked P is coded as P (ends a run of B-frames): chunk tails rely on it
    no_aq_presets: tuple[str, ...] = ()  # presets that switch AQ off, and with it the map
    aq_in_params: bool = False  # AQ is set in params_option, not as an FFmpeg option
    pass_in_flags: bool = False  # two-pass from AVCodecContext flags (x264), else pass=N in params (x265)
    quiet_params: tuple[str, ...] = ()  # params that silence the encoder's own logging
    map_params: tuple[str, ...] = ()  # params only an attached map needs
    asm_param: bool = False  # takes asm=LIST: x264, whose AVX-512 mbtree code is not deterministic (below)
    options: dict = field(default_factory=dict)  # options every encode takes (the speed a preset stands for)
    roi_options: dict = field(default_factory=dict)  # options only an attached map needs
    # its one-pass rate control undoes the map (libvpx realtime raises the base q-index by what the favoured
    # blocks gain): a bitrate with a map is met at a fitted constant quality (semcodec.pipeline.ratetarget)
    rate_control_fights_map: bool = False
    keyint: int | None = 250  # the encoder's default keyframe distance as FFmpeg leaves it (libvpx: 128; None: its own)
    # bytes a frame carrying a map costs beyond one without, as (per frame, per block); None: nothing measurable
    map_frame_bytes: tuple[float, float] | None = None
    note: str = ""

    def qp_range(self, bit_depth: int) -> float:
        return self.qp_range_8bit + self.qp_per_extra_bit * (bit_depth - 8)


_X26X = dict(qp_range_8bit=51, max_levels=None, two_pass=True, default_preset="medium", crf_range=(0, 51),
             presets=X26X_PRESETS, qp_per_extra_bit=6, forced_idr=True, forced_p=True)
CAPABILITIES: dict[str, CodecCaps] = {
    "libx264": CodecCaps("libx264", True, 16, params_option="x264-params", no_aq_presets=("ultrafast",),
                         pass_in_flags=True, asm_param=True,
                         note="per-16x16 QP offsets; needs aq-mode != 0 (default 1)", **_X26X),
    "libx265": CodecCaps("libx265", True, 16, params_option="x265-params", no_aq_presets=("ultrafast", "superfast"),
                         aq_in_params=True, quiet_params=("log-level=error",),
                         # x265 reads the offsets on a 16x16 grid and applies them per quantization group (32x32
                         # by default). qg-size=16 would follow a face-sized map more closely, but measured at
                         # equal size it loses whole-frame VMAF on every clip (two-pass, S=0.2, qg-size 32 against
                         # 16: carphone +0.18 dB face / +0.98 VMAF, his_girl_friday +0.11 / +0.56; akiyo -0.15 dB
                         # face at 2 % more bytes, +0.75 VMAF; benchmarks/results/roi_x265.md), so the map gets
                         # x265's own default
                         note="per-16x16 QP offsets; needs aq-mode != 0 (default 2)", **_X26X),
    "libvpx-vp9": CodecCaps("libvpx-vp9", True, 8, 63 / 4, 7, False, "6", crf_range=(0, 63), whole_crf=True,
                            preset_range=(5, 8), preset_option="cpu-used",
                            options={"deadline": "realtime", "row-mt": "1"},  # cpu-used 5-8: realtime speeds
                            # no lookahead with a map: libvpx would apply each map to a frame encoded later. It
                            # costs at equal size (stock -deadline realtime -cpu-used 6 against lag-in-frames 0,
                            # carphone 35k: 0.8 dB and 2.4 VMAF; his_girl_friday 250k: 0.25 dB, 0.8 VMAF), so
                            # an encode without a map keeps libvpx's lookahead
                            roi_options={"aq-mode": "0", "lag-in-frames": "0"},
                            rate_control_fights_map=True, keyint=128,
                            # libvpx re-sends its segmentation with every frame (tree and prediction probabilities,
                            # each segment's data: about 12 bytes read from the frame headers) and codes a segment
                            # id per 8x8 block. A map of +1 quantizer step everywhere, against none, at CRF 30 and
                            # 50: akiyo and carphone (QCIF) +14..18 bytes a frame, his_girl_friday (640x480) +51..58
                            map_frame_bytes=(12.0, 0.008),
                            note="8x8 segments, at most 7 offsets; realtime mode only (cpu-used >= 5); no map "
                                 "where its per-frame segmentation would cost over 6 % of a frame's bytes"),
    "libsvtav1": CodecCaps("libsvtav1", False, 64, 0, None, False, "8", crf_range=(0, 63), whole_crf=True,
                           preset_range=(0, 13), keyint=None,  # SVT-AV1 derives its own interval
                           note="libsvtav1 ignores ROI side data: encoded without a block map"),
}


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
    if not caps.pass_in_flags or not pass_no:
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


# Why an encoder has no two-pass here (said in the refusal, so a user knows it is not an oversight)
NO_TWO_PASS = {
    # checked with PyAV and the ffmpeg CLI: outside realtime mode FFmpeg's libvpx wrapper drops the map ("ROI is
    # only enabled when aq_mode is 0, cpu_used >= 5 and deadline is REALTIME, so skipping ROI"; no segment read
    # back at deadline good, cpu-used 1 or 5), and in realtime mode libvpx writes no first-pass statistics
    # (`-deadline realtime -pass 1` leaves an empty log, pass 2 fails: 'rc_twopass_stats_in.buf not set')
    "libvpx-vp9": "FFmpeg's libvpx wrapper applies the block map only in realtime mode (elsewhere it logs 'ROI is "
                  "only enabled when ... deadline is REALTIME, so skipping ROI'), and in realtime mode libvpx "
                  "writes no first-pass statistics; --bitrate with a map runs at the constant quality that spends "
                  "the target (fitted with probe encodes), with --roi off it is libvpx's one-pass ABR",
    "libsvtav1": "FFmpeg's libsvtav1 wrapper takes no first-pass statistics",
}


# Containers FFmpeg's muxers cannot put a codec in (MOV takes neither VP9 nor AV1: "Invalid argument" at the header)
_NOT_IN = {"libvpx-vp9": {"mov": "VP9"}, "libsvtav1": {"mov": "AV1"}}


def two_pass_refusal(codec: str) -> str:
    why = NO_TWO_PASS.get(codec)
    return f"two-pass is not available with {codec}" + (f": {why}" if why else "") + \
        " (two-pass: libx264, libx265)"


def check_container(codec: str, container: str) -> None:
    """UsageError, before any work, for a codec the output container cannot hold."""
    what = _NOT_IN.get(codec, {}).get(container)
    if what:
        raise UsageError(f"{codec} cannot be written to .{container}: FFmpeg's MOV muxer takes no {what} "
                         "(use .mp4 or .mkv)")


def map_frame_bytes(caps: CodecCaps, width: int, height: int) -> float:
    """Bytes a map adds to every frame of a width x height encode before it favours anything (0: none known)."""
    if caps.map_frame_bytes is None:
        return 0.0
    per_frame, per_block = caps.map_frame_bytes
    return per_frame + per_block * math.ceil(width / caps.block) * math.ceil(height / caps.block)


def caps_for(codec: str) -> CodecCaps:
    if codec not in CAPABILITIES:
        raise SemcodecError(f"unsupported codec {codec}; choose from {', '.join(CAPABILITIES)}")
    return CAPABILITIES[codec]


# What each encoder really takes. FFmpeg's own option ranges are wider or absent: libx264 clamps --crf 99 to
# 51 without a word, and a bad value elsewhere fails in avcodec_open2 with errno text that names no option.
# x264's and x265's default ipratio: an I-frame is coded this much finer (quantiser scale) than the P-frames
IP_RATIO = 1.4

MIN_BITRATE = 1000  # bits per second; '--bitrate 1' is a missing 'k', not a request for 1 b/s


def check_crf(codec: str, crf: float) -> None:
    caps = caps_for(codec)
    lo, hi = caps.crf_range
    if not math.isfinite(crf) or not lo <= crf <= hi:
        raise UsageError(f"--crf {crf:g} is out of range for {codec} ({lo}-{hi})")
    if caps.whole_crf and crf != int(crf):
        raise UsageError(f"--crf {crf:g}: {codec} takes a whole number ({lo}-{hi})")


def _whole(text: str) -> int | None:
    t = text.strip()
    return int(t) if t.lstrip("+-").isdigit() else None


def check_preset(codec: str, preset: str | None) -> None:
    """Refuse a preset the encoder does not have (None: the codec's default)."""
    if preset is None:
        return
    caps = caps_for(codec)
    text = str(preset)
    if caps.presets:
        if text not in caps.presets:
            raise UsageError(f"--preset {text} is not a {codec} preset (choose from {', '.join(caps.presets)})")
        return
    lo, hi = caps.preset_range
    value = _whole(text)
    if value is None or not lo <= value <= hi:
        what = (f"{codec} preset is cpu-used {lo}..{hi} (ROI maps need realtime mode, cpu-used >= {lo})"
                if caps.preset_option == "cpu-used" else f"{codec} presets are {lo}..{hi} (0 slowest)")
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
    off) they are exactly what `ffmpeg -c:v CODEC -preset P -crf N` (or `-b:v R -pass N`; libvpx-vp9:
    `-deadline realtime -cpu-used N -row-mt 1`) uses, so the baseline is the encode a user would run
    instead; with a map they add only what the map needs to land (AQ on for presets that turn it off;
    libvpx: no lookahead). `tune` and `forced_keyframes` come only from shot-aware decisions."""
    preset = str(preset or caps.default_preset)
    check_preset(caps.name, preset)
    opts: dict = dict(caps.options) | (caps.roi_options if with_map else {})
    opts[caps.preset_option] = preset
    bit_rate = 0
    if rc.bitrate:
        bit_rate = int(rc.bitrate)
    else:
        opts["crf"] = f"{rc.crf:g}"
    if tune:
        opts["tune"] = tune
    if forced_keyframes and caps.forced_idr:
        opts["forced-idr"] = "1"  # a frame marked I becomes an IDR: a clean random-access point at the cut
    params = list(caps.quiet_params)
    if with_map:
        params += caps.map_params
        if preset in caps.no_aq_presets:
            # these presets switch AQ off, and with it the encoder drops the map: AQ on when a map is attached
            if caps.aq_in_params:
                params.append("aq-mode=1")
            else:
                opts["aq-mode"] = "1"
    if caps.asm_param and X264_ASM:
        params.append(f"asm={X264_ASM}")
    if pass_no:
        if not caps.two_pass:
            raise UsageError(two_pass_refusal(caps.name))
        if caps.pass_in_flags:
            # as `ffmpeg -pass N -passlogfile F` does it (the pass comes from the codec flags, pass_flags),
            # but with x264's full first pass (`-fastfirstpass 0`), in both modes: the fast one (no trellis,
            # 8x8 transform or sub-partitions) lands wide of the target and misjudges what a map costs.
            # his_girl_friday at 250k: stock +5.1 % over, ROI +5.9 %; full first pass -0.1 %, ROI +1.6 %
            opts["stats"] = stats_path
            opts["fastfirstpass"] = "0"
        else:
            params += [f"pass={pass_no}", f"stats={stats_path}"]
    if params and caps.params_option:
        opts[caps.params_option] = ":".join(params)
    return opts, bit_rate


def _encode(codec: str, frames: list, regions=None, crf: float = 35, attacher=None) -> tuple[list, bytes | None]:
    """Encode grey uint8 frames (25 fps) with the library's own options for `codec`, attaching `regions`
    (AVRegionOfInterest rows) to every frame when given. Returns (packets, extradata)."""
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
    return packets, ctx.extradata


def roundtrip(codec: str, frames: list, regions=None, crf: float = 35, attacher=None) -> tuple[bytes, list]:
    """Encode grey uint8 frames (25 fps) with the library's own options for `codec`, attaching `regions`
    (AVRegionOfInterest rows) to every frame when given, and decode them back.
    Returns (bitstream bytes, decoded grey frames)."""
    from semcodec.encoding.qp_readback import decode_frames

    packets, extradata = _encode(codec, frames, regions, crf, attacher)
    out = decode_frames(DECODERS[codec], packets, extradata)
    return b"".join(bytes(p) for p in packets), [o.to_ndarray(format="gray") for o in out]


# The self-check's clip: fresh noise in every frame. Nothing can be predicted from the last frame, so every
# block codes a residual, and the QP the decoder reads for it is the one the encoder chose (a block without
# residual carries no QP of its own: an H.264 decoder repeats the previous block's). At CRF 26 no QP is clamped.
SELF_CHECK_SIZE = (128, 96)
SELF_CHECK_CRF = 26
SELF_CHECK_OFFSET = 8.0  # QP: the left half -8, the right half +8
_QP_CELL = 8  # read-back grid: every codec's blocks and the halves of 128 px lie on it


@dataclass
class _Run:
    bits: bytes
    left_mse: float
    qp: tuple[float, float] | None  # mean read-back value of the left and right half; None: not exported
    unit: str

    def qp_rounded(self) -> list[float] | None:
        return None if self.qp is None else [round(v, 1) for v in self.qp]


def _half_map(caps: CodecCaps, width: int, height: int) -> np.ndarray:
    """Regions favouring the left half. An encoder that ignores maps (libsvtav1) gets one too, with the
    qoffsets x264's would have: the negative is shown the way the positives are, by attaching it."""
    offsets = np.full((-(-height // caps.block), -(-width // caps.block)), SELF_CHECK_OFFSET, np.float32)
    offsets[:, : offsets.shape[1] // 2] = -SELF_CHECK_OFFSET
    from semcodec.encoding.roi_sidedata import regions_from_offsets

    return regions_from_offsets(offsets, caps.block, width, height,
                                caps.qp_range(8) or CAPABILITIES[DEFAULT_CODEC].qp_range(8))


def _check_run(codec: str, src: list, regions, attacher) -> _Run:
    from semcodec.encoding.qp_readback import decode_frames, frame_qps, mean_grid

    packets, extradata = _encode(codec, src, regions, SELF_CHECK_CRF, attacher)
    frames = decode_frames(DECODERS[codec], packets, extradata)
    half = src[0].shape[1] // 2
    left_mse = float(np.mean([(f.to_ndarray(format="gray")[:, :half].astype(float) - s[:, :half]) ** 2
                              for f, s in zip(frames, src)]))
    qps = [frame_qps(f, i) for i, f in enumerate(frames)]
    grid = mean_grid(qps, _QP_CELL)
    unit = next((q.unit for q in qps if q is not None), "")
    split = half // _QP_CELL
    qp = None if grid is None else (float(np.nanmean(grid[:, :split])), float(np.nanmean(grid[:, split:])))
    return _Run(b"".join(bytes(p) for p in packets), left_mse, qp, unit)


def _verdict(caps: CodecCaps, plain: _Run, roi: _Run) -> dict:
    identical = roi.bits == plain.bits
    closer = roi.left_mse < plain.left_mse * 0.9
    # how much further the favoured half's QP sits below the other half's than without the map
    shift = None if plain.qp is None or roi.qp is None else (
        (roi.qp[1] - roi.qp[0]) - (plain.qp[1] - plain.qp[0]))
    honoured = not identical and closer and (shift is None or shift >= 1)
    if caps.roi != honoured:
        note = ("map changed nothing although the table says it should" if caps.roi else
                "map changed the output although the table says it is ignored")
        if closer and shift is not None and shift < 1:
            note = "the favoured half got closer to the source, but the QPs read back do not differ"
    else:
        note = caps.note
    return {"codec": caps.name, "honoured": honoured, "expected": caps.roi,
            "left_mse_plain": round(plain.left_mse, 2), "left_mse_roi": round(roi.left_mse, 2),
            "identical": identical, "decoder": DECODERS[caps.name], "qp_unit": roi.unit or plain.unit or None,
            "qp_plain": plain.qp_rounded(), "qp_roi": roi.qp_rounded(), "note": note}


def self_check(codec: str, frames: int = 25) -> dict:
    """Encode one second of noise twice, without and with a map that favours the left half (-8 QP, +8 on the
    right), for every codec (also one that ignores maps), and prove what the map did from the output:
    the left half must get closer to the source, and where FFmpeg's decoder exports the quantisers
    (h264, vp9) the QPs read back from the bitstream must be lower on the left than on the right.
    Returns {'codec', 'honoured', 'expected', 'left_mse_plain', 'left_mse_roi', 'identical' (the map left
    the bitstream byte for byte as it was), 'decoder', 'qp_unit', 'qp_plain' / 'qp_roi' ([left, right]
    mean read-back values, None where the decoder exports none), 'note'}."""
    from semcodec.encoding.roi_sidedata import RoiAttacher, RoiUnavailable

    caps = caps_for(codec)
    w, h = SELF_CHECK_SIZE
    rng = np.random.default_rng(7)
    src = [rng.integers(0, 256, (h, w), dtype=np.uint8) for _ in range(frames)]
    try:
        attacher = RoiAttacher()
    except RoiUnavailable as exc:
        return {"codec": codec, "honoured": False, "expected": caps.roi, "note": f"ROI side data unavailable: {exc}"}
    try:
        plain = _check_run(codec, src, None, attacher)
        roi = _check_run(codec, src, _half_map(caps, w, h), attacher)
    except av.error.FFmpegError as exc:
        return {"codec": codec, "honoured": False, "expected": caps.roi, "note": f"encoder failed: {exc}"}
    return _verdict(caps, plain, roi)

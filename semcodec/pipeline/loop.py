"""The encode loop: one encoder pass over the input. Decode, plan each frame's QpMap on an analysis thread
while the previous frame is encoded (OpenCV and the encoder release the GIL), attach it, encode, mux the
video with the copied audio.

In two-pass mode pass 1 plans and logs every map; pass 2 replays the log, so both passes see identical
offsets and the analysis is paid once."""
from __future__ import annotations

import collections
import contextlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np
from av.video.frame import PictureType

from semcodec.analysis.base import AnalysisFrame
from semcodec.encoding.codecs import (
    IP_RATIO,
    CodecCaps,
    RateControl,
    configure_threads,
    encoder_options,
    pass_flags,
)
from semcodec.encoding.frames import FramePreparer
from semcodec.encoding.qpmap import QpMap
from semcodec.encoding.roi_sidedata import RoiAttacher
from semcodec.errors import SemcodecError
from semcodec.frames import FrameViews
from semcodec.io.aspect import set_output_sar
from semcodec.io.audio import add_audio_streams, flush_audio, mux_audio
from semcodec.io.clock import EncoderClock
from semcodec.io.reader import DecodeStats, StreamInfo, iter_packets_and_frames, open_input
from semcodec.io.writer import container_format, muxer_options
from semcodec.pipeline.keyframes import KeyframePolicy
from semcodec.pipeline.planner import FramePlanner
from semcodec.pipeline.settings import ChunkRange, Execution
from semcodec.progress import bar as progress_bar
from semcodec.shots.features import view_size as shot_view_size


class OffsetLog:
    """Per-frame QpMaps written in pass 1 and read back in pass 2, so a long video does not keep its maps
    in memory."""

    def __init__(self, folder: str, shape: tuple[int, int], block: int, mode: str = "wb"):
        self.path = os.path.join(folder, "offsets.bin")
        self.shape, self.block = shape, block
        self.size = shape[0] * shape[1]
        self._f = open(self.path, mode)  # noqa: SIM115 - lives across both passes, closed in close()

    def write(self, qp: QpMap) -> None:
        try:
            self._f.write(qp.to_half_qp())
        except OSError as exc:  # a full TMPDIR: name the work file, not the output
            raise SemcodecError(f"cannot write work file {self.path}: {exc.strerror}") from None

    def rewind(self) -> None:
        try:
            self._f.close()  # buffered bytes land here: a full disk shows up now
        except OSError as exc:
            raise SemcodecError(f"cannot write work file {self.path}: {exc.strerror}") from None
        self._f = open(self.path, "rb")  # noqa: SIM115 - closed in close()

    def read(self) -> QpMap:
        """The next frame's map; a neutral one when pass 2 decodes more frames than pass 1 did."""
        buf = self._f.read(self.size)
        if len(buf) < self.size:
            return QpMap.zeros(self.shape, self.block)
        return QpMap.from_half_qp(buf, self.shape, self.block)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # on the error path the first failure is the one to report
            self._f.close()


@dataclass
class MapRecording:
    """The maps and cuts of one analysed pass over a segment, replayed by later probe encodes of the same
    frames at another whole-frame offset (semcodec.pipeline.ratefit): the analysis is paid once."""

    offset: float = 0.0  # the whole-frame offset the recorded maps carry
    maps: list[QpMap] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)

    def write(self, qp: QpMap) -> None:
        self.maps.append(qp)

    def reader(self, offset: float) -> _RecordingReader:
        return _RecordingReader(self, offset - self.offset)


class _RecordingReader:
    def __init__(self, recording: MapRecording, delta: float):
        self.recording, self.delta, self.next = recording, np.float32(delta), 0

    def read(self) -> QpMap:
        maps = self.recording.maps
        qp = maps[min(self.next, len(maps) - 1)]
        if self.next >= len(maps):  # more frames than recorded: a neutral map, as OffsetLog gives
            return QpMap.zeros(qp.offsets.shape, qp.block)
        self.next += 1
        return QpMap(qp.offsets + self.delta, qp.block) if self.delta else qp


@dataclass
class MapStage:
    """What turns frames into maps, when the encode has one."""

    planner: FramePlanner
    attacher: RoiAttacher
    qp_range: float  # QP units of qoffset 1.0 at the encoder's bit depth
    maps_writer: object | None = None  # semcodec.maps_video.MapsVideoWriter
    stats: list = field(default_factory=list)  # (min, max, favoured share) per attached map


@dataclass
class PassContext:
    """Everything one pass needs, fixed for the job."""

    input_path: str
    output_path: str
    info: StreamInfo
    prep: FramePreparer
    codec: str
    caps: CodecCaps
    rc: RateControl
    preset: str | None
    tune: str | None
    chunk: ChunkRange
    execution: Execution
    policy: KeyframePolicy
    maps: MapStage | None
    stats_path: str
    analysis_size: tuple[int, int]
    warn: Callable[[str], None]
    analysis_s: float = 0.0
    clock: EncoderClock | None = None  # frame ticks for the encoder, as ffmpeg's CLI gives it; None: the source's


@dataclass
class PassResult:
    pass_no: int
    frames: int = 0
    video_bytes: int = 0
    key_bytes: int = 0  # of those, in keyframes
    key_frames: int = 0
    first_packet_bytes: int = 0  # the first packet in decode order: the IDR that opens the output
    tail_bytes: int = 0  # encoded past a chunk's end and dropped (ChunkRange.tail)
    first_pts: int | None = None
    last_pts: int | None = None
    stats: DecodeStats = field(default_factory=DecodeStats)

    def duration(self, time_base: Fraction, rate: Fraction) -> float:
        """Decoded span: first to last timestamp plus one frame (what a player shows)."""
        if self.first_pts is None:
            return 0.0
        return float((self.last_pts - self.first_pts) * time_base) + 1 / float(rate)


class _Muxer:
    """Video packets and copied audio into one container; audio that arrives before the first video packet
    waits, because that packet fixes the header."""

    def __init__(self, out, copies: dict, result: PassResult, clock: EncoderClock | None = None):
        self.out, self.copies, self.result, self.clock = out, copies, result, clock
        self.pending: list = []
        self.started = False
        self.cutoff: int | None = None  # pts of a chunk's first tail frame: it and later ones are dropped

    def video(self, packets) -> None:
        for packet in packets:
            if self.clock is not None:
                self.clock.packet_to_source(packet)
            if self.cutoff is not None and packet.pts is not None and packet.pts >= self.cutoff:
                self.result.tail_bytes += packet.size
                continue
            if not self.result.video_bytes:
                self.result.first_packet_bytes = packet.size
            self.result.video_bytes += packet.size
            if packet.is_keyframe:
                self.result.key_bytes += packet.size
                self.result.key_frames += 1
            self.out.mux(packet)

    def header_written(self) -> None:
        if not self.started:
            self.started = True
            for ap in self.pending:
                mux_audio(self.out, self.copies, ap)
            self.pending.clear()

    def audio(self, packet) -> None:
        if self.started:
            mux_audio(self.out, self.copies, packet)
        else:
            self.pending.append(packet)

    def finish(self) -> None:
        for ap in self.pending:
            mux_audio(self.out, self.copies, ap)
        flush_audio(self.out, self.copies)


# Frames the decoder may run ahead of the encoder while their maps are planned: a dear detector run (text at 720p,
# 60-100 ms, against ~20 ms of x264 medium per frame) is then absorbed by the lead the analysis built up on cheap
# frames instead of stalling the encoder. At most this many frames and this many bytes of decoded pictures.
AHEAD_FRAMES = 12
AHEAD_BYTES = 96 << 20


class _Planned:
    """Frames waiting to be encoded, each with its map being planned on one worker thread, in frame order, and
    the shot detector looking at it on another (at small frame sizes one analysis thread, not the encoder, set
    the pace while the other core idled). A frame leaves once its map is made and the shot detector has looked
    `lookahead` frames past it; until then the decoder reads ahead, up to AHEAD_FRAMES."""

    def __init__(self, ctx: PassContext, replay_log: OffsetLog | _RecordingReader | None,
                 record_log: OffsetLog | MapRecording | None):
        self.ctx, self.replay_log, self.record_log = ctx, replay_log, record_log
        ctx.policy.start_pass(replay=replay_log is not None)
        if ctx.maps is not None:
            ctx.maps.planner.reset()
        analyse = (ctx.maps is not None or ctx.policy.detecting) and replay_log is None
        self.worker = ThreadPoolExecutor(max_workers=1) if analyse else None
        self.shots = ThreadPoolExecutor(max_workers=1) if analyse and ctx.policy.detecting else None
        self.queue: collections.deque = collections.deque()
        self.lag = 1 + ctx.policy.lookahead
        frame_bytes = max(1, ctx.prep.width * ctx.prep.height * 3)  # 4:2:0 at 16 bits, 4:4:4 at 8
        self.depth = self.lag + (max(1, min(AHEAD_FRAMES, AHEAD_BYTES // frame_bytes)) if analyse else 0)
        self._lock = threading.Lock()

    def push(self, frame: av.VideoFrame, index: int) -> None:
        views = self.shots.submit(_observe_frame, self.ctx, frame, index, self._lock) if self.shots else None
        job = self.worker.submit(self._analyse, frame, index, views) if self.worker else None
        self.queue.append((frame, job, views, index))

    @property
    def ready(self) -> bool:
        """The oldest frame can be encoded without waiting, or the read-ahead is full (then pop waits)."""
        if len(self.queue) <= self.lag:
            return False
        if len(self.queue) > self.depth:
            return True
        job, seen = self.queue[0][1], self._seen()
        return (job is None or job.done()) and (seen is None or seen.done())

    def pop(self) -> tuple[av.VideoFrame, int, QpMap | None]:
        seen = self._seen()
        if seen is not None:
            seen.result()  # the detector has then seen `lookahead` frames past the oldest frame
        frame, job, _, index = self.queue.popleft()
        if job is not None:
            return frame, index, job.result()
        return frame, index, self.replay_log.read() if self.replay_log and self.ctx.maps else None

    def end(self) -> None:
        """After the last frame: the detector decides its pending cuts."""
        if self.ctx.policy.detecting and self.queue and self.queue[-1][2] is not None:
            self.queue[-1][2].result()
        self.ctx.policy.end_pass()

    def close(self) -> None:
        for pool in (self.shots, self.worker):
            if pool:
                pool.shutdown(wait=True, cancel_futures=True)

    def _seen(self) -> Future | None:
        """The shot job of the frame `lookahead` past the oldest: once it is done, the oldest's cut is known."""
        if not self.ctx.policy.detecting or not self.queue:
            return None
        return self.queue[min(self.lag - 1, len(self.queue) - 1)][2]

    def _analyse(self, ef: av.VideoFrame, index: int, views: Future | None) -> QpMap | None:
        """Map worker thread: the frame's QpMap, from the views the shot thread made when it runs."""
        got = views.result() if views is not None else FrameViews(ef, *self.ctx.analysis_size)
        return _plan_map(self.ctx, ef, index, got, self.record_log, self._lock)


def _observe_frame(ctx: PassContext, ef: av.VideoFrame, index: int, lock: threading.Lock) -> FrameViews:
    """Frame `index` to the shot detector; returns its small views (one downscale of the full frame for the shot
    detector and the analyzers)."""
    t0 = time.perf_counter()
    aw, ah = ctx.analysis_size
    views = FrameViews(ef, aw, ah)
    if ctx.policy.detecting:
        ctx.policy.observe(index, float(ef.pts * ef.time_base), views.rgb_at(*shot_view_size(aw, ah)))
    with lock:
        ctx.analysis_s += time.perf_counter() - t0
    return views


def _plan_map(ctx: PassContext, ef: av.VideoFrame, index: int, views: FrameViews, record_log,
              lock: threading.Lock) -> QpMap | None:
    """Frame `index`'s QpMap (recorded when `record_log` is given); None without a map stage."""
    maps = ctx.maps
    if maps is None:
        return None
    t0 = time.perf_counter()
    af = AnalysisFrame(index, float(ef.pts * ef.time_base), None, views.luma(), make_rgb=views.rgb)
    plan = maps.planner(af)
    qp = plan.qp
    if record_log is not None:
        record_log.write(qp)
    if maps.maps_writer is not None:
        maps.maps_writer.write(af.color(), plan.importance, qp.offsets, maps.planner.allocator.strength)
    with lock:
        ctx.analysis_s += time.perf_counter() - t0
    return qp


def _plan_frame(ctx: PassContext, ef: av.VideoFrame, index: int, record_log, lock: threading.Lock) -> QpMap | None:
    """Shot detection and frame `index`'s QpMap, on the calling thread."""
    return _plan_map(ctx, ef, index, _observe_frame(ctx, ef, index, lock), record_log, lock)


def analyse_pass(ctx: PassContext, record_log, stop: threading.Event | None = None) -> int:
    """Decode the chunk and plan every frame's map and cuts, with no encoder: the maps go to `record_log`, the
    cuts to `ctx.policy`. Stops early when `stop` is set. Returns the frames planned."""
    result = PassResult(0)
    with open_input(ctx.input_path) as inp:
        vin = inp.streams.video[0]
        if ctx.chunk.seeks:
            inp.seek(ctx.chunk.seek_pts, stream=vin, backward=True)
        ctx.policy.start_pass(replay=False)
        if ctx.maps is not None:
            ctx.maps.planner.reset()
        lock, frames = threading.Lock(), 0
        for ef, index in _input_frames(ctx, inp, result, None, {}, None, writes=False):
            if stop is not None and stop.is_set():
                break
            _plan_frame(ctx, ef, index, record_log, lock)
            frames += 1
        ctx.policy.end_pass()
    return frames


def _open_output(ctx: PassContext, path: str | None):
    fmt = "null" if path is None else container_format(ctx.output_path)
    try:
        return av.open(path or os.devnull, "w", format=fmt, options=muxer_options(fmt))  # as the chunk join
    except av.error.FFmpegError as exc:
        raise SemcodecError(f"cannot write {ctx.output_path}: {exc.strerror or exc}") from None


# the quantiser scale, over the P-frames', each encoder gives a stream's first frame in pass 2 of a two-pass
# encode: x264 plans its pass-2 scales backwards, so the opening I-frame gets ipratio against the P-frames after
# it; x265 plans forwards, and the first I-frame has no P-frame before it (chunk_joins: x265 chunk starts at cuts
# came out 2-2.6 dB below one piece before a zone put ipratio back). In the CRF budget pass both code it at the
# P-frames' frame scale (what the statistics record)
_PASS2_OPENING = {"libx264": 1 / IP_RATIO, "libx265": 1.0}
# ... and at a CRF, as coded (frame scale and cu-tree). x265 gives a stream's first I-frame its P-frames' frame
# quantiser and a later I-frame the running P quantiser / ipratio (rateEstimateQscale), and its cu-tree favours
# a stream's first frame by about half of that back: in x265's own per-frame log (csv, mean QP) chunk IDRs came
# out 1.27-1.53 QP coarser than one piece's I-frames on the same frames (bikes at its cuts 76 and 137, office at
# the keyframe 250 inside its one shot; 6*log2(ipratio^0.5) = 1.46), 0.8-1.3 dB below one piece; with a zone
# of ipratio^0.5 within 0.04 QP of one piece on all three
_CRF_OPENING = {"libx264": 1.0, "libx265": IP_RATIO ** -0.5}
_ZONE_LAST = {"libx264": 0, "libx265": 1}  # a zone on frame 0 only: x264 zones end on their end frame, x265 before


def _opening_zone(ctx: PassContext, rc_pass: int) -> str | None:
    """The encoder zone that codes a chunk's opening frame at ChunkRange.opening_scale: in pass 2, in the CRF
    budget pass and in a CRF encode (not in an ABR pass: a first pass's statistics only steer pass 2); None where
    the encoder does that on its own. In a CRF encode only ever finer than the encoder's own opening: nothing is
    traded for it there, and one piece codes such a frame (inside a shot) as an inter frame at the P-frames'
    scale, which an IDR at the encoder's own finer scale does not fall below. On a cut clip
    (tests/test_parallel.py) a CRF chunk at the cut opened 2.2 dB below one piece with x264 and 0 dB with the
    zone."""
    want, name = ctx.chunk.opening_scale, ctx.caps.name
    if want is None or name not in _PASS2_OPENING or ctx.rc.bitrate and rc_pass != 2:
        return None
    if rc_pass == 2:
        native = _PASS2_OPENING[name]
    elif rc_pass == 1:  # the CRF budget pass
        native = 1.0
    else:
        native = _CRF_OPENING[name]
        if native / want < 1:
            return None
    factor = native / want  # a zone's b divides the frame's quantiser scale
    return None if abs(factor - 1) < 1e-3 else f"zones=0,{_ZONE_LAST[name]},b={factor:.4g}"


def _add_video_stream(ctx: PassContext, out, vin, pass_no: int):
    rc_pass = pass_no if ctx.rc.two_pass else 0
    opts, bit_rate = encoder_options(ctx.caps, ctx.rc, ctx.preset, pass_no=rc_pass, stats_path=ctx.stats_path,
                                     tune=ctx.tune, forced_keyframes=ctx.policy.forces_keyframes,
                                     with_map=ctx.maps is not None)
    zone = _opening_zone(ctx, rc_pass)
    if zone:
        opts[ctx.caps.params_option] = ":".join(p for p in (opts.get(ctx.caps.params_option), zone) if p)
    info = ctx.info
    vout = out.add_stream(ctx.codec, rate=info.average_rate)
    cc = vout.codec_context
    cc.width, cc.height, cc.pix_fmt = ctx.prep.width, ctx.prep.height, ctx.prep.pix_fmt
    cc.time_base = ctx.clock.encoder_time_base if ctx.clock else info.time_base
    cc.framerate = info.average_rate
    vout.time_base = info.time_base
    for key in ("color_range", "colorspace", "color_primaries", "color_trc"):
        val = getattr(vin.codec_context, key, None)
        if val:
            setattr(cc, key, val)
    set_output_sar(vout, info.sample_aspect_ratio)  # anamorphic video keeps its shape (VUI, pasp, display size)
    if bit_rate:
        cc.bit_rate = bit_rate
    configure_threads(cc, ctx.execution.threads)
    cc.flags |= pass_flags(ctx.caps, rc_pass)
    cc.options = opts
    return vout


def _input_frames(ctx: PassContext, inp, result: PassResult, muxer: _Muxer, copies: dict, vout, writes: bool):
    """Decoded frames of the chunk, prepared for the encoder with strictly increasing timestamps; copied
    audio goes to the muxer on the way."""
    chunk, info = ctx.chunk, ctx.info
    decoded = skipped = 0
    last_pts = None
    for kind, item in iter_packets_and_frames(inp, result.stats, list(copies)):
        if kind == "copy":
            muxer.audio(item)
            continue
        frame = item
        if chunk.ranged and chunk.before_start(frame.pts, skipped):  # a chunk: skip to its first frame
            skipped += 1
            continue
        if decoded == 0 and frame.rotation and writes:
            vout.set_display_rotation(frame.rotation)
            info.rotation = int(frame.rotation)
        ef = ctx.prep(frame)
        pts = frame.pts if frame.pts is not None else frame.dts
        if pts is None:
            pts = int(round(decoded / float(info.average_rate) / float(info.time_base)))
        if last_pts is not None and pts <= last_pts:
            pts = last_pts + (ctx.clock.period if ctx.clock else 1)  # encoders need strictly increasing timestamps
        ef.pts, ef.time_base, last_pts = pts, info.time_base, pts
        if chunk.kept is None or decoded < chunk.kept:
            result.last_pts = pts
        if result.first_pts is None:
            result.first_pts = pts
        yield ef, decoded
        decoded += 1
        if chunk.done(decoded):
            break  # the chunk's last frame (stops before the reader's end-of-file checks)


def run_pass(ctx: PassContext, pass_no: int, out_path: str | None,
             replay_log: OffsetLog | _RecordingReader | None = None,
             record_log: OffsetLog | MapRecording | None = None) -> PassResult:
    """Encode the chunk once (out_path None: a first pass that writes only statistics)."""
    result = PassResult(pass_no)
    out = _open_output(ctx, out_path)
    with open_input(ctx.input_path) as inp, out:
        vin = inp.streams.video[0]
        vout = _add_video_stream(ctx, out, vin, pass_no)
        copies = _audio_streams(ctx, inp, out) if out_path and ctx.execution.audio else {}
        if ctx.chunk.seeks:
            inp.seek(ctx.chunk.seek_pts, stream=vin, backward=True)  # keyframe at or before the chunk start
        muxer = _Muxer(out, copies, result, ctx.clock)
        planned = _Planned(ctx, replay_log, record_log)
        task = f"pass {pass_no}/2" if ctx.rc.two_pass else "encode"
        bar = progress_bar(ctx.execution.progress, task, ctx.info.frames)

        def encode_next() -> None:
            ef, index, qp = planned.pop()
            ef.pict_type = _picture_type(ctx, index)
            if qp is not None:
                ctx.maps.attacher.attach(ef, qp.regions(ctx.prep.width, ctx.prep.height, ctx.maps.qp_range))
                ctx.maps.stats.append(qp.stats())
            if ctx.clock is not None:
                ef.pts, ef.time_base = ctx.clock.to_encoder(ef.pts), ctx.clock.encoder_time_base
            muxer.video(vout.encode(ef))
            muxer.header_written()
            if kept is None or index < kept:
                result.frames += 1
                bar.update(1)

        kept = ctx.chunk.kept if ctx.chunk.tail else None
        try:
            for ef, index in _input_frames(ctx, inp, result, muxer, copies, vout, writes=out_path is not None):
                if index == kept:
                    muxer.cutoff = ef.pts  # the first tail frame: from here on encoded for the lookahead only
                planned.push(ef, index)
                while planned.ready:
                    encode_next()
            planned.end()
            while planned.queue:
                encode_next()
        finally:
            planned.close()
            bar.close()
        muxer.video(vout.encode(None))
        muxer.finish()
    return result


def _picture_type(ctx: PassContext, index: int) -> PictureType:
    """Decoded frames carry the source's picture types; passed on, every source I-frame (every frame of an
    intra-only input) would become an encoder keyframe. A chunk with a tail ends on a forced P-frame: no kept
    B-frame then references a tail frame that the join drops."""
    if ctx.policy.is_keyframe(index):
        return PictureType.I
    if ctx.chunk.tail and index == ctx.chunk.kept - 1:
        return PictureType.P
    return PictureType.NONE


def _audio_streams(ctx: PassContext, inp, out) -> dict:
    """Audio copied untouched (AAC only where the container cannot hold it); subtitles are not."""
    if inp.streams.subtitles:
        ctx.warn(f"{len(inp.streams.subtitles)} subtitle stream(s) not copied")
    return add_audio_streams(inp, out, container_format(ctx.output_path), ctx.warn)

"""encode(): input video -> analysis -> importance maps -> block QP offsets -> real FFmpeg encoder.

One pass of decoding per encoder pass. In two-pass mode the maps are computed once, in pass 1, and
replayed from a temporary file in pass 2, so both passes see identical offsets and analysis is paid
once.
"""
from __future__ import annotations

import collections
import contextlib
import logging
import math
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import av
import numpy as np
from av.video.frame import PictureType
from tqdm import tqdm

from semcodec import __version__
from semcodec.allocation.allocator import Allocator, BlockGrid
from semcodec.analysis.base import AnalysisFrame
from semcodec.analysis.fusion import ImportanceMapper, RoiMode, analysis_size, build_analyzers
from semcodec.encoding.codecs import (
    RateControl,
    caps_for,
    check_bitrate,
    check_crf,
    check_preset,
    configure_threads,
    encoder_options,
    pass_flags,
)
from semcodec.encoding.frames import FramePreparer, encoder_pix_fmt
from semcodec.encoding.roi_sidedata import RoiAttacher, RoiUnavailable, neutral_region, regions_from_offsets
from semcodec.errors import SemcodecError, UsageError
from semcodec.frames import small_luma, small_rgb
from semcodec.io.audio import add_audio_streams, flush_audio, mux_audio
from semcodec.io.reader import DecodeStats, StreamInfo, iter_packets_and_frames, open_input, probe
from semcodec.io.writer import atomic_output, check_output_path, container_format
from semcodec.planning import ShotPlan
from semcodec.shots import ShotDetector

log = logging.getLogger("semcodec")

DEFAULT_CRF = {"libx264": 23, "libx265": 28, "libvpx-vp9": 34, "libsvtav1": 35}


@dataclass
class EncodeSettings:
    codec: str = "libx264"
    crf: float | None = None
    bitrate: int | None = None  # bits per second
    two_pass: bool = False
    preset: str | None = None
    roi: str = "auto"  # auto | off | comma list of analyzers
    roi_strength: float = 0.2  # FFmpeg qoffset units: 0.2 = 10.2 QP between most and least important
    save_maps: str | None = None
    yolo_weights: str | None = None
    shots: str = "auto"  # auto: keyframe (IDR) at every detected cut; off: leave keyframes to the encoder
    keyframes_from: str | None = None  # a `semcodec tag` JSON, or 'auto' to tag first: shot-aware plan
    subtitles: str | None = None  # .srt/.vtt/transcript file, FILE#N (a media file's stream N), or 'auto'
    prompt: str | None = None  # text for the whole video: its regions get the bits ("the faces")
    emotion_strength: float = 4.0  # QP between the calmest and the most intense moment of the subtitles
    emotion_model: str | None = None  # local transformers emotion classifier folder (default VADER + MiniLM)
    progress: bool = True
    # one chunk of a parallel encode (semcodec.parallel): only input frames [start_frame, end_frame)
    start_frame: int = 0
    end_frame: int | None = None
    seek_pts: int | None = None  # pts of start_frame (input video time base): seek there, not decode from 0
    encoder_threads: int | None = None  # fixed encoder thread count (deterministic output); None: FFmpeg's
    audio: bool = True  # copy the input's audio (chunks carry none: it is joined once)

    def ranged(self) -> bool:
        return bool(self.start_frame) or self.end_frame is not None

    def validate(self) -> None:
        """Check every value against the codec's real range before any work starts (UsageError naming the
        option), and that explicitly given model paths exist: a path the user named is never skipped
        silently, whatever --roi says (SemcodecError)."""
        caps_for(self.codec)
        RoiMode.parse(self.roi)  # an unknown analyzer name is refused before any file is looked at
        if self.crf is not None:
            check_crf(self.codec, self.crf)
        if self.bitrate is not None:
            check_bitrate(self.bitrate)
        check_preset(self.codec, self.preset)
        for name, value, hi in (("--roi-strength", self.roi_strength, 1),
                                ("--emotion-strength", self.emotion_strength, 24)):
            if not (math.isfinite(value) and 0 <= value <= hi):
                raise UsageError(f"{name} {value:g} is out of range (0-{hi})")
        if self.yolo_weights and not os.path.isfile(self.yolo_weights):
            raise SemcodecError(f"--yolo-weights {self.yolo_weights}: no such file")
        if self.emotion_model and not os.path.isdir(self.emotion_model):
            raise SemcodecError(f"--emotion-model {self.emotion_model}: not a folder (give a local transformers "
                                "model folder)")

    def rate_control(self) -> RateControl:
        self.validate()
        if self.crf is not None and self.bitrate:
            raise SemcodecError("give either --crf or --bitrate, not both")
        if self.two_pass and not self.bitrate:
            raise UsageError("--two-pass needs --bitrate")
        if self.bitrate is not None and self.bitrate <= 0:
            raise SemcodecError("--bitrate must be positive")
        if not 0 <= self.roi_strength <= 1:
            raise UsageError("--roi-strength must be in [0, 1]")
        if not 0 <= self.emotion_strength <= 24:
            raise SemcodecError("--emotion-strength must be in [0, 24] QP")
        if self.two_pass and not caps_for(self.codec).two_pass:
            raise UsageError(f"two-pass is supported with libx264 and libx265, not {self.codec}")
        crf = self.crf if self.crf is not None or self.bitrate else DEFAULT_CRF.get(self.codec, 23)
        return RateControl(crf=crf, bitrate=self.bitrate, two_pass=self.two_pass)


class _OffsetLog:
    """Per-frame offset grids written in pass 1 and read back in pass 2 (int8, half-QP units), so a
    long video does not keep its maps in memory."""

    def __init__(self, folder: str, shape: tuple[int, int]):
        self.path = os.path.join(folder, "offsets.bin")
        self.size = shape[0] * shape[1]
        self.shape = shape
        self._f = open(self.path, "wb")  # noqa: SIM115 - lives across both passes, closed in close()

    def write(self, dq: np.ndarray) -> None:
        try:
            self._f.write(np.clip(np.rint(dq * 2), -127, 127).astype(np.int8).tobytes())
        except OSError as exc:  # a full TMPDIR: name the work file, not the output
            raise SemcodecError(f"cannot write work file {self.path}: {exc.strerror}") from None

    def rewind(self) -> None:
        try:
            self._f.close()  # buffered bytes land here: a full disk shows up now
        except OSError as exc:
            raise SemcodecError(f"cannot write work file {self.path}: {exc.strerror}") from None
        self._f = open(self.path, "rb")  # noqa: SIM115 - closed in close()

    def read(self) -> np.ndarray | None:
        buf = self._f.read(self.size)
        if len(buf) < self.size:
            return None
        return np.frombuffer(buf, np.int8).reshape(self.shape).astype(np.float32) / 2

    def close(self) -> None:
        with contextlib.suppress(OSError):  # on the error path the first failure is the one to report
            self._f.close()


class _Pass:
    """State of one encoder pass over the input."""

    def __init__(self, job: _Job, pass_no: int, out_path: str | None):
        self.job, self.pass_no, self.out_path = job, pass_no, out_path
        self.video_bytes = 0
        self.frames = 0
        self.first_pts = self.last_pts = None
        self.stats = DecodeStats()

    def duration(self, time_base, rate) -> float:
        """Decoded span: first to last timestamp plus one frame (what a player shows)."""
        if self.first_pts is None:
            return 0.0
        return float((self.last_pts - self.first_pts) * time_base) + 1 / float(rate)


class _Job:
    def __init__(self, input_path: str, output_path: str, s: EncodeSettings, plan: ShotPlan | None = None):
        self.input_path, self.output_path, self.s = input_path, output_path, s
        self.given_plan = plan
        self.roi_mode = RoiMode.parse(s.roi)
        self.rc = s.rate_control()
        self.caps = caps_for(s.codec)
        self.warnings: list[str] = []
        self.info: StreamInfo = probe(input_path)
        self.pix_fmt = encoder_pix_fmt(s.codec, self.info.bit_depth)
        self.prep = FramePreparer(self.info.width, self.info.height, self.pix_fmt)
        if self.prep.cropped:
            self.warn(f"odd frame size {self.info.width}x{self.info.height}: cropped to "
                      f"{self.prep.width}x{self.prep.height} (4:2:0 needs even sizes)")
        if self.info.bit_depth > 8 and self.pix_fmt == "yuv420p":
            self.warn(f"{self.info.bit_depth}-bit input encoded as 8-bit ({s.codec} has no 10-bit 4:2:0 here)")
        self.aw, self.ah = analysis_size(self.prep.width, self.prep.height)
        self._setup_roi()
        self._setup_shots()
        self._setup_text()

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)
        log.warning(msg)

    def _setup_roi(self) -> None:
        s, caps = self.s, self.caps
        self.mapper = None
        self.attacher = None
        self.roi_note = "off"
        if self.roi_mode.off:
            return
        analyzers = build_analyzers(self.roi_mode, s.yolo_weights)
        if not caps.roi:
            self.roi_note = caps.note
            self.warn(caps.note)
            return
        try:
            self.attacher = RoiAttacher()
        except RoiUnavailable as exc:
            self.roi_note = f"ROI side data unavailable ({exc}); encoded without a block map"
            self.warn(self.roi_note)
            return
        # asked-for analyzers must run; in auto mode the unavailable ones are listed in the summary
        self.mapper = ImportanceMapper(analyzers, required=self.roi_mode.required)
        if not self.mapper.active:
            self.warn("no analyzer could run: encoded without a block map")
            self.mapper = None
            self.roi_note = "no analyzer available"
            return
        self.grid = BlockGrid(self.prep.width, self.prep.height, caps.block)
        self.qp_range = caps.qp_range(8 if self.pix_fmt == "yuv420p" else 10)
        self.allocator = Allocator(self.grid, s.roi_strength * caps.qp_range(8), levels=caps.max_levels)
        self.roi_note = "on"

    def _setup_shots(self) -> None:
        """Keyframes at cuts, from a streaming detector or from a shot plan (tags). Semantic only:
        `--roi off` stays a plain encode."""
        s = self.s
        self.plan = None
        self.cuts: set = set()
        self.shots_method = "off"
        self.tagging_s = 0.0
        if self.roi_mode.off:
            if s.keyframes_from:
                raise SemcodecError("--keyframes-from needs the semantic mode (drop --roi off)")
            return
        if s.shots not in ("auto", "off"):
            raise SemcodecError(f"--shots must be auto or off, not {s.shots!r}")
        if s.keyframes_from:
            if self.given_plan is not None:  # 'auto' is resolved by the caller (semcodec.encode tags first)
                self.plan = self.given_plan
            elif s.keyframes_from == "auto":
                raise UsageError("keyframes_from='auto' is resolved by the caller: use semcodec.encode, or pass "
                                 "plan=semcodec.tagging.tagger.plan_from_video(path, codec)")
            else:
                self.plan = ShotPlan.load(s.keyframes_from, s.codec)
            self.shots_method = f"plan from {s.keyframes_from}"
            self.cuts = {f for f in self.plan.starts if f > 0}
        elif s.shots == "auto":
            self.shots_method = "streaming detector (cuts and fades)"

    def _setup_text(self) -> None:
        """Subtitles / transcript / prompt: read up front, emotion curve and phrase queries ready."""
        s = self.s
        self.text = None
        if not s.subtitles and s.prompt is None:
            return
        if self.roi_mode.off:
            raise SemcodecError("--subtitles and --prompt need the semantic mode (drop --roi off)")
        if self.mapper is None:
            self.warn(f"--subtitles/--prompt ignored: no block map on this encode ({self.roi_note})")
            return
        from semcodec.text.guide import TextGuide, video_frame_times

        times = video_frame_times(self.input_path)
        self.text = TextGuide.for_video(self.input_path, s.subtitles, s.prompt, s.emotion_strength, s.emotion_model,
                                        cut_frames=self.plan.starts if self.plan else (), warn=self.warn, times=times)

    def _new_shot_detector(self):
        if self.plan is not None or self.shots_method == "off":
            return None
        return ShotDetector(float(self.info.average_rate), dissolves=False)

    # ---- one pass ----------------------------------------------------------------------------
    def run_pass(self, p: _Pass, offsets_log: _OffsetLog | None, maps_writer) -> None:
        s, info = self.s, self.info
        stats_path = os.path.join(self.workdir, "rc.stats")
        opts, bit_rate = encoder_options(self.caps, self.rc, s.preset,
                                         pass_no=p.pass_no if self.rc.two_pass else 0,
                                         stats_path=stats_path, tune=self.plan.tune if self.plan else None,
                                         forced_keyframes=self.shots_method != "off",
                                         with_map=self.mapper is not None)
        fmt = "null" if p.out_path is None else container_format(self.output_path)
        try:
            # +bitexact: no random Matroska segment UID, no creation time, so the file, not just the stream,
            # is the same run after run (the chunk join writes the same way)
            out = av.open(p.out_path or os.devnull, "w", format=fmt, options={"fflags": "+bitexact"})
        except av.error.FFmpegError as exc:
            raise SemcodecError(f"cannot write {self.output_path}: {exc.strerror or exc}") from None
        with open_input(self.input_path) as inp, out:
            vin = inp.streams.video[0]
            vout = out.add_stream(s.codec, rate=info.average_rate)
            cc = vout.codec_context
            cc.width, cc.height, cc.pix_fmt = self.prep.width, self.prep.height, self.pix_fmt
            cc.time_base = info.time_base
            cc.framerate = info.average_rate
            vout.time_base = info.time_base
            for key in ("color_range", "colorspace", "color_primaries", "color_trc"):
                val = getattr(vin.codec_context, key, None)
                if val:
                    setattr(cc, key, val)
            if bit_rate:
                cc.bit_rate = bit_rate
            configure_threads(cc, s.encoder_threads)
            cc.flags |= pass_flags(self.caps, p.pass_no if self.rc.two_pass else 0)
            cc.options = opts
            copies = self._audio_streams(inp, out) if p.out_path and s.audio else {}  # in -> (out, transcode)
            if s.seek_pts is not None and s.start_frame:
                inp.seek(s.seek_pts, stream=vin, backward=True)  # keyframe at or before the chunk start
            pending = []  # audio that arrives before the first video frame fixes the header
            state = {"header_done": False}
            last_pts = None
            bar = tqdm(total=info.frames or None, unit="frame", disable=not s.progress, leave=False,
                       desc=f"pass {p.pass_no}/2" if self.rc.two_pass else "encode")
            if self.mapper:
                self.mapper.reset()
            # Analysis of frame i+1 runs on a worker thread while frame i is encoded (OpenCV and
            # the encoder release the GIL), so the map costs little wall time.
            queue: collections.deque = collections.deque()
            replay = offsets_log is not None and p.pass_no == 2  # pass 2 reuses pass 1's maps and cuts
            detector = None if replay else self._new_shot_detector()
            worker = ThreadPoolExecutor(max_workers=1) if (self.mapper or detector) and not replay else None
            # a frame is encoded once the detector has looked `delay` frames past it
            lag = 1 + (detector.delay if detector else 0)

            def encode_oldest():
                ef, job, index = queue.popleft()
                if detector and queue and queue[-1][1] is not None:
                    queue[-1][1].result()
                # decoded frames carry the source's picture types; passed on, every source I-frame
                # (every frame of an intra-only input) would become an encoder keyframe
                ef.pict_type = PictureType.I if index in self.cuts else PictureType.NONE  # IDR at cuts
                if self.mapper:
                    dq = job.result() if job is not None else offsets_log.read()
                    if dq is None:  # pass 2 decoded more frames than pass 1: no map for the extra
                        dq = np.zeros(self.grid.shape, np.float32)
                    regions = regions_from_offsets(dq, self.caps.block, self.prep.width,
                                                   self.prep.height, self.qp_range)
                    if not len(regions):
                        # every frame carries a map, even a neutral one: x265 sizes its frame pool on
                        # the first pictures and crashes if a later one brings offsets they lacked
                        regions = neutral_region(self.prep.width, self.prep.height)
                    self.attacher.attach(ef, regions)
                    self.map_stats.append((float(dq.min()), float(dq.max()), float((dq < 0).mean())))
                for packet in vout.encode(ef):
                    self.video_packet(out, packet, p)
                if not state["header_done"]:
                    state["header_done"] = True
                    for ap in pending:
                        mux_audio(out, copies, ap)
                    pending.clear()
                p.frames += 1
                bar.update(1)

            try:
                decoded = skipped = 0
                for kind, item in iter_packets_and_frames(inp, p.stats, list(copies)):
                    if kind == "copy":
                        if state["header_done"]:
                            mux_audio(out, copies, item)
                        else:
                            pending.append(item)
                        continue
                    frame = item
                    if s.ranged():  # a chunk: skip to its first frame (by pts after a seek, else by index)
                        if s.seek_pts is not None and s.start_frame:
                            if frame.pts is not None and frame.pts < s.seek_pts:
                                continue
                        elif skipped < s.start_frame:
                            skipped += 1
                            continue
                    if decoded == 0 and frame.rotation and p.out_path:
                        vout.set_display_rotation(frame.rotation)
                        self.info.rotation = int(frame.rotation)
                    ef = self.prep(frame)
                    pts = frame.pts if frame.pts is not None else frame.dts
                    if pts is None:
                        pts = int(round(decoded / float(info.average_rate) / float(info.time_base)))
                    if last_pts is not None and pts <= last_pts:
                        pts = last_pts + 1  # encoders need strictly increasing timestamps
                    ef.pts, ef.time_base, last_pts = pts, info.time_base, pts
                    p.last_pts = pts
                    if p.first_pts is None:
                        p.first_pts = pts
                    job = None
                    if worker:
                        job = worker.submit(self._analyse, ef, decoded, detector, offsets_log, maps_writer)
                    queue.append((ef, job, decoded))
                    decoded += 1
                    while len(queue) > lag:
                        encode_oldest()
                    if s.end_frame is not None and s.start_frame + decoded >= s.end_frame:
                        break  # the chunk's last frame (stops before the reader's end-of-file checks)
                if detector:
                    if queue and queue[-1][1] is not None:
                        queue[-1][1].result()
                    self.cuts.update(b.frame for b in detector.flush())
                while queue:
                    encode_oldest()
            finally:
                if worker:
                    worker.shutdown(wait=True, cancel_futures=True)
            for packet in vout.encode(None):
                self.video_packet(out, packet, p)
            for ap in pending:
                mux_audio(out, copies, ap)
            flush_audio(out, copies)
            bar.close()

    def video_packet(self, out, packet, p: _Pass) -> None:
        p.video_bytes += packet.size
        out.mux(packet)

    def _audio_streams(self, inp, out) -> dict:
        """Audio copied untouched (AAC only where the container cannot hold it); subtitles are not."""
        if inp.streams.subtitles:
            self.warn(f"{len(inp.streams.subtitles)} subtitle stream(s) not copied")
        return add_audio_streams(inp, out, container_format(self.output_path), self.warn)

    def _analyse(self, ef, index: int, detector, offsets_log: _OffsetLog | None, maps_writer) -> np.ndarray | None:
        """Shot detection and block QP offsets for one frame (on the worker thread, in frame order)."""
        t0 = time.perf_counter()
        t = float(ef.pts * ef.time_base)
        if detector:
            b = detector.push(index, t, small_rgb(ef, max(2, self.aw // 2 // 2 * 2), max(2, self.ah // 2 // 2 * 2)))
            if b is not None:
                self.cuts.add(b.frame)
        if not self.mapper:
            self.analysis_s += time.perf_counter() - t0
            return None
        gray = small_luma(ef, self.aw, self.ah)
        af = AnalysisFrame(index, t, None, gray, make_rgb=lambda: small_rgb(ef, self.aw, self.ah))
        scale, weights, boost = 1.0, None, 0.0
        if self.plan is not None:
            (scale, weights), boost = self.plan.rules(index), self.plan.boost(index)
        importance = self.mapper(af, weights)
        lift = 0.0
        if self.text is not None:  # regions the text names get more importance; the emotion curve a frame offset
            importance, gain = self.text.apply(importance, self.mapper.last_regions, t, index)
            scale *= gain
            boost += self.text.frame_offset(t)
            if boost > 0 and self.allocator.levels is None:  # a whole-frame offset is not cut by the block limit
                step = self.allocator.step
                lift = float(np.rint(boost / step) * step) if step else boost
        dq = self.allocator.offsets(importance, gray, strength_scale=scale, frame_offset=boost - lift)
        if lift:
            dq = dq + np.float32(lift)
        self.analysis_s += time.perf_counter() - t0
        if offsets_log is not None:
            offsets_log.write(dq)
        if maps_writer:
            maps_writer.write(af.color(), importance, dq, self.allocator.strength)
        return dq

    # ---- whole job ---------------------------------------------------------------------------
    def run(self) -> dict:
        t_start = time.perf_counter()
        self.analysis_s = 0.0
        self.map_stats: list = []
        passes = []
        with tempfile.TemporaryDirectory(prefix="semcodec-") as self.workdir, \
                atomic_output(self.output_path) as tmp_out:
            maps_writer = None
            if self.s.save_maps and self.mapper:
                from semcodec.maps_video import MapsVideoWriter

                maps_writer = MapsVideoWriter(self.s.save_maps, self.aw, self.ah, self.info.average_rate)
            elif self.s.save_maps:
                self.warn("--save-maps ignored: no importance map was computed")
            offsets_log = None
            ok = False
            try:
                if self.rc.two_pass:
                    if self.mapper:
                        offsets_log = _OffsetLog(self.workdir, self.grid.shape)
                    p1 = _Pass(self, 1, None)
                    self.run_pass(p1, offsets_log, maps_writer)
                    _check_first_pass_stats(os.path.join(self.workdir, "rc.stats"), p1.frames)
                    passes.append(p1)
                    if offsets_log:
                        offsets_log.rewind()
                    p2 = _Pass(self, 2, tmp_out)
                else:
                    p2 = _Pass(self, 1, tmp_out)
                self.run_pass(p2, offsets_log, None if self.rc.two_pass else maps_writer)
                passes.append(p2)
                ok = True
            finally:
                if offsets_log:
                    offsets_log.close()
                if maps_writer:
                    maps_writer.close(ok)
        return self.report(passes[-1], time.perf_counter() - t_start)

    def report(self, final: _Pass, seconds: float) -> dict:
        size = os.path.getsize(self.output_path)
        duration = final.duration(self.info.time_base, self.info.average_rate)
        if self.info.duration_s and duration < 0.9 * self.info.duration_s - 0.5 and not self.s.ranged():
            self.warn(f"input video ends at {duration:.2f} s but its header says {self.info.duration_s:.2f} s: "
                      "truncated file?")
        st = final.stats
        if st.bad_packets:
            self.warn(f"{st.bad_packets} corrupt video packet(s) skipped (first error: {st.first_error})")
        roi = {"mode": self.s.roi, "status": self.roi_note, "strength": self.s.roi_strength}
        if self.mapper:
            ms = np.array(self.map_stats) if self.map_stats else np.zeros((1, 3))
            roi.update({
                "method": "AV_FRAME_DATA_REGIONS_OF_INTEREST via ctypes",
                "block": self.caps.block, "analysis_size": [self.aw, self.ah],
                "strength_qp": round(self.allocator.strength, 2),
                "offset_qp_min": round(float(ms[:, 0].min()), 2),
                "offset_qp_max": round(float(ms[:, 1].max()), 2),
                "favoured_area_mean": round(float(ms[:, 2].mean()), 4),
                "analyzers": self.mapper.summary(),
            })
        elif not self.roi_mode.off:
            roi["analyzers"] = []
        return {
            "schema": "semcodec.encode_report/1",
            "semcodec": __version__, "pyav": av.__version__,
            "input": self.info.to_json(),
            "output": {
                "path": self.output_path, "bytes": size, "video_bytes": final.video_bytes,
                "frames": final.frames, "duration_s": round(duration, 3),
                "bitrate_kbps": round(size * 8 / duration / 1000, 2) if duration else None,
                "video_bitrate_kbps": round(final.video_bytes * 8 / duration / 1000, 2) if duration else None,
                "width": self.prep.width, "height": self.prep.height, "pix_fmt": self.pix_fmt,
            },
            "settings": {**{k: v for k, v in asdict(self.s).items() if k != "progress"},
                         "rate_control": self.rc.describe(),
                         "preset": str(self.s.preset or self.caps.default_preset)},
            "roi": roi,
            "shots": {"method": self.shots_method, "keyframes_at": sorted(self.cuts),
                      "plan": self.plan.decisions if self.plan else None},
            "text": self.text.report() if self.text is not None else None,
            "timings": {"total_s": round(seconds, 3), "analysis_s": round(self.analysis_s, 3),
                        "tagging_s": round(self.tagging_s, 3),
                        "fps": round(final.frames * (2 if self.rc.two_pass else 1) / seconds, 2)},
            "decode": {"packets": st.packets, "corrupt_packets_skipped": st.bad_packets},
            "warnings": self.warnings,
        }


def _check_first_pass_stats(path: str, frames: int) -> None:
    """x264/x265 write their first-pass statistics with unchecked stdio calls: on a full TMPDIR the file is
    short and the second pass silently encodes without them. One 'in:' line per frame, or a clear error."""
    try:
        with open(path, "rb") as f:
            lines = sum(1 for line in f if line.startswith(b"in:"))
    except OSError as exc:
        raise SemcodecError(f"two-pass statistics in {os.path.dirname(path)} unreadable: {exc.strerror}") from None
    if lines < frames:
        raise SemcodecError(f"two-pass statistics are incomplete ({lines} of {frames} frames) in "
                            f"{os.path.dirname(path)}: is TMPDIR full?")


def encode(input_path: str, output_path: str, settings: EncodeSettings | None = None,
           plan: ShotPlan | None = None) -> dict:
    """Encode `input_path` to `output_path`; return the JSON-ready report.

    Args:
        settings: what to encode how (defaults: x264 CRF 23, ROI auto).
        plan: the shot plan for `settings.keyframes_from` when it is 'auto' (the caller tags first:
            `semcodec.encode` does, or `semcodec.tagging.tagger.plan_from_video`).

    Returns:
        The report (schema semcodec.encode_report/1).

    Raises:
        UsageError: a bad option; SemcodecError: bad input or an unwritable output, as one line. The output
        path never holds a half-written file."""
    settings = settings or EncodeSettings()
    settings.validate()  # a bad option fails before any file is looked at
    check_output_path(input_path, output_path)
    if settings.save_maps:
        check_output_path(input_path, settings.save_maps)
        if os.path.abspath(settings.save_maps) == os.path.abspath(output_path):
            raise SemcodecError("--save-maps path is the output path")
    try:
        return _Job(input_path, output_path, settings, plan).run()
    except av.error.FFmpegError as exc:  # anything FFmpeg refuses mid-run, as one line
        raise SemcodecError(f"FFmpeg failed: {exc.strerror or exc}{_tmp_hint(settings)}") from None


def _tmp_hint(settings: EncodeSettings) -> str:
    """x264 cannot say why it failed to write its two-pass statistics; a nearly full TMPDIR is the usual cause."""
    tmp = tempfile.gettempdir()
    with contextlib.suppress(OSError):
        if settings.two_pass and shutil.disk_usage(tmp).free < 16 << 20:
            return f" (two-pass statistics go to TMPDIR {tmp}, which is nearly full)"
    return ""

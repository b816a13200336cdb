"""One encode job: probe the input, set up the stages (map, keyframes, text), run one or two passes through
the encode loop, and say what happened in an EncodeReport."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import av
import numpy as np

from semcodec.allocation.allocator import Allocator, BlockGrid
from semcodec.analysis.fusion import ImportanceMapper, analysis_size, build_analyzers
from semcodec.analysis.schedule import Schedule, plan_strides
from semcodec.encoding.codecs import RateControl, caps_for, check_container
from semcodec.encoding.cost import encoder_ms_per_frame
from semcodec.encoding.frames import FramePreparer, encoder_pix_fmt
from semcodec.encoding.qpmap import strength_in_qp
from semcodec.encoding.roi_sidedata import RoiAttacher, RoiUnavailable
from semcodec.errors import SemcodecError, UsageError
from semcodec.io.clock import frame_clock
from semcodec.io.reader import StreamInfo, damage_warnings, probe
from semcodec.io.writer import atomic_output, check_output_path, container_format, write_json
from semcodec.pipeline.keyframes import KeyframePolicy
from semcodec.pipeline.loop import MapRecording, MapStage, OffsetLog, PassContext, PassResult, analyse_pass, run_pass
from semcodec.pipeline.mapcost import bitrate_refusal, crf_refusal
from semcodec.pipeline.maplog import MapFile
from semcodec.pipeline.planner import FramePlanner
from semcodec.pipeline.ratefit import Probe, RateFit, fit_rate_offset, frame_pts, wants_rate_fit
from semcodec.pipeline.ratetarget import QualityForRate, fit_crf_for_rate, wants_crf_for_rate
from semcodec.pipeline.report import EncodeReport, OutputSummary, RoiSummary, Timings
from semcodec.pipeline.settings import ChunkRange, EncodeSettings, Execution
from semcodec.planning import ShotPlan

log = logging.getLogger("semcodec")
MISS_WARNING = 0.05  # a bitrate met at a fitted CRF (ratetarget) this far off the target is worth a warning


class _Job:
    def __init__(self, input_path: str, output_path: str, s: EncodeSettings, plan: ShotPlan | None,
                 chunk: ChunkRange, execution: Execution, rate_offset: float | None = None,
                 recording: MapRecording | None = None, first_pass_dir: str | None = None):
        self.s = s
        self.first_pass_dir = first_pass_dir
        self.recording = recording
        self.log_warnings = execution.log_warnings
        self.rate_offset = rate_offset
        self.rate_fit: RateFit | None = None
        self.planned: MapFile | None = None  # the whole video's maps, planned once for the rate fit and the encode
        self.crf_for_rate: QualityForRate | None = None
        self.schedule: Schedule | None = None
        self.rc = s.rate_control()
        self.warnings: list[str] = []
        info: StreamInfo = probe(input_path)
        caps = caps_for(s.codec)
        if chunk.tail and not caps.forced_p:  # a dropped tail frame could be referenced: none
            chunk = dataclasses.replace(chunk, tail=0)
        pix_fmt = encoder_pix_fmt(s.codec, info.bit_depth)
        prep = FramePreparer(info.width, info.height, pix_fmt)
        if prep.cropped:
            self.warn(f"odd frame size {info.width}x{info.height}: cropped to {prep.width}x{prep.height} "
                      "(4:2:0 needs even sizes)")
        if info.bit_depth > 8 and pix_fmt == "yuv420p":
            self.warn(f"{info.bit_depth}-bit input encoded as 8-bit ({s.codec} has no 10-bit 4:2:0 here)")
        self.plan = self._shot_plan(plan)
        policy = KeyframePolicy.choose(s.shots, s.roi_mode.off, self.plan, s.keyframes_from,
                                       float(info.average_rate))
        self.roi = RoiSummary(s.roi, "off", s.roi_strength, analyzers=None if s.roi_mode.off else [])
        self.text = None
        self.ctx = PassContext(input_path, output_path, info, prep, s.codec, caps, self.rc, s.preset,
                               self.plan.tune if self.plan else None, chunk, execution, policy, None, "",
                               analysis_size(prep.width, prep.height), self.warn)
        if self.rc.bitrate:  # rate control spends by frame durations: the clock ffmpeg's CLI gives the encoder
            self.ctx.clock = frame_clock(input_path)
        self.ctx.maps = self._map_stage()

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)
        if self.log_warnings:
            log.warning(msg)

    def _shot_plan(self, given: ShotPlan | None) -> ShotPlan | None:
        s = self.s
        if s.roi_mode.off or not s.keyframes_from:
            return None
        if given is not None:  # 'auto' is resolved by the caller (semcodec.encode tags first)
            return given
        if s.keyframes_from == "auto":
            raise UsageError("keyframes_from='auto' is resolved by the caller: use semcodec.encode, or pass "
                             "plan=semcodec.tagging.tagger.plan_from_video(path, codec)")
        return ShotPlan.load(s.keyframes_from, s.codec)

    def _map_stage(self) -> MapStage | None:
        """Analyzers, allocator and side data, when the encode has a map; the reason in the report when not."""
        s, ctx = self.s, self.ctx
        if s.roi_mode.off:
            return None
        analyzers = build_analyzers(s.roi_mode, s.yolo_weights)
        if not ctx.caps.roi:
            return self._no_map(ctx.caps.note)
        # a chunk (or probe) of a parallel encode: the runner decided for the whole job (its chunks' shares differ)
        if s.bitrate and not ctx.chunk.ranged and (dear := bitrate_refusal(
                s, ctx.prep.width, ctx.prep.height, float(ctx.info.average_rate or 25))) is not None:
            return self._no_map(dear)
        try:
            attacher = RoiAttacher()
        except RoiUnavailable as exc:
            return self._no_map(f"ROI side data unavailable ({exc}); encoded without a block map")
        # asked-for analyzers must run; in auto mode the unavailable ones are listed in the summary
        mapper = ImportanceMapper(analyzers, required=s.roi_mode.required)
        self.schedule = self._schedule(mapper)
        if not mapper.active:
            self.warn("no analyzer could run: encoded without a block map")
            self.roi.status = "no analyzer available"
            self._ignore_text()
            return None
        grid = BlockGrid(ctx.prep.width, ctx.prep.height, ctx.caps.block)
        # --crf-rate extra: nothing pays for the favoured regions (bitrate modes balance). A bitrate met at a fitted
        # CRF: the CRF pays, not positive offsets on the rest, which libvpx realtime codes at nearly the plain
        # size (carphone CRF 53: balanced 23.5 KB, face 31.27 dB, VMAF 80.83; favour only 24.2 KB, 31.87, 82.33)
        balance = not self._fits_crf_for_rate() and (bool(s.bitrate) or s.crf_rate != "extra")
        allocator = Allocator(grid, strength_in_qp(s.roi_strength, ctx.caps), levels=ctx.caps.max_levels,
                              balance=balance)
        self.text = self._text_guide()
        self.roi.status = "on"
        bit_depth = 8 if ctx.prep.pix_fmt == "yuv420p" else 10
        return MapStage(FramePlanner(mapper, allocator, ctx.caps.block, self.plan, self.text, s.adapt_strength),
                        attacher,
                        ctx.caps.qp_range(bit_depth))

    def _drop_map(self, why: str) -> None:
        """Encode without the map after all (its cost found too high once the plain size was probed): the
        encode is then the --roi off one."""
        maps = self.ctx.maps
        if maps.maps_writer:
            maps.maps_writer.close(False)
            self.warn("--save-maps ignored: no importance map was used")
        if self.planned is not None:
            self.planned.close()
            self.planned = None
        self.ctx.maps = None
        self._no_map(why)

    def _schedule(self, mapper: ImportanceMapper) -> Schedule:
        """Analyzer strides weighed against this encoder's cost per frame (two-pass: both passes; the maps
        are made once)."""
        ctx = self.ctx
        encoder_ms = encoder_ms_per_frame(self.s.codec, self.s.preset, ctx.prep.width, ctx.prep.height)
        schedule = plan_strides(mapper.active, ctx.analysis_size, encoder_ms * (1.4 if self.rc.two_pass else 1.0),
                                float(ctx.info.average_rate or 25))
        mapper.use_strides(schedule.strides, schedule.renew_ms)
        mapper.origin = ctx.chunk.start_frame
        return schedule

    def _no_map(self, why: str) -> None:
        self.roi.status = why
        self.warn(why)
        self._ignore_text()
        return None

    def _ignore_text(self) -> None:
        if self.s.subtitles or self.s.prompt is not None:
            self.warn(f"--subtitles/--prompt ignored: no block map on this encode ({self.roi.status})")

    def _text_guide(self):
        """Subtitles / transcript / prompt: read up front, emotion curve and phrase queries ready."""
        s = self.s
        if not s.subtitles and s.prompt is None:
            return None
        from semcodec.text.guide import TextGuide, video_frame_times

        path = self.ctx.input_path
        return TextGuide.for_video(path, s.subtitles, s.prompt, s.emotion_strength, s.emotion_model,
                                   cut_frames=self.plan.starts if self.plan else (), warn=self.warn,
                                   times=video_frame_times(path))

    # ---- the passes ------------------------------------------------------------------------------
    def run(self) -> EncodeReport:
        t_start = time.perf_counter()
        ctx = self.ctx
        with tempfile.TemporaryDirectory(prefix="semcodec-") as workdir, atomic_output(ctx.output_path) as tmp_out:
            ctx.stats_path = os.path.join(workdir, "rc.stats")
            self._open_maps_writer()
            ok = False
            try:
                self._fit_rate(workdir)
                self._fit_crf_for_rate(workdir)
                final = self._passes(workdir, tmp_out)
                ok = True
            finally:
                if ctx.maps and ctx.maps.maps_writer:
                    ctx.maps.maps_writer.close(ok)
                if self.planned is not None:
                    self.planned.close()
        return self.report(final, time.perf_counter() - t_start)

    def _fit_rate(self, workdir: str) -> None:
        """CRF with a map: the whole-frame offset that keeps the file at --roi off's size (ratefit). The whole
        video's maps and cuts are planned once, on a thread beside the plain probe encodes (which need none); the
        ROI probes and then the encode replay them, each at its own offset (the planner adds the offset after
        everything else, so a map planned at none plus the offset is the map planned at it)."""
        maps, ctx = self.ctx.maps, self.ctx
        if maps is None:
            return
        if self.rate_offset is not None:
            maps.planner.rate_offset = self.rate_offset
            return
        if not wants_rate_fit(self.s) or ctx.chunk.ranged:
            return
        self.planned = MapFile(workdir, maps.planner.allocator.grid.shape, ctx.caps.block)
        stop = threading.Event()
        with ThreadPoolExecutor(max_workers=1) as pool:
            analysis = pool.submit(analyse_pass, ctx, self.planned, stop)

            def segment_maps(start: int, end: int) -> MapRecording:
                analysis.result()
                self.planned.cuts = ctx.policy.keyframes()
                return self.planned.segment(start, end)
            try:
                self.rate_fit = fit_rate(ctx.input_path, self.s, ctx.info, ctx.execution, self.plan,
                                         segment_maps=segment_maps, map_refusal=crf_refusal(
                                             self.s.codec, ctx.prep.width, ctx.prep.height, ctx.rc.crf))
                if self.rate_fit.refused:
                    stop.set()
                analysis.result()  # no probe asked (a neutral map, or no frames): the encode still replays
            finally:
                stop.set()  # a failed probe: the analysis stops at its next frame
        if self.rate_fit.refused:
            return self._drop_map(self.rate_fit.refused)
        maps.planner.rate_offset = self.rate_fit.offset_qp

    def _fits_crf_for_rate(self) -> bool:
        """Whether _fit_crf_for_rate runs: not for an open-ended range (not made by semcodec.parallel), which
        keeps the encoder's own rate control."""
        chunk = self.ctx.chunk
        return wants_crf_for_rate(self.s, self.ctx.caps) and self.recording is None and \
            not (chunk.ranged and chunk.kept is None)

    def _fit_crf_for_rate(self, workdir: str) -> None:
        """A bitrate with a map on an encoder whose rate control undoes the map: run at the constant quality
        that spends the target (ratetarget); a chunk of a parallel encode fits its own share. The maps and cuts
        are planned once, before the probes; the probes and the encode replay them."""
        ctx = self.ctx
        if ctx.maps is None or not self._fits_crf_for_rate():
            return
        self.planned = MapFile(workdir, ctx.maps.planner.allocator.grid.shape, ctx.caps.block)
        analyse_pass(ctx, self.planned)
        self.planned.cuts = ctx.policy.keyframes()
        self.crf_for_rate = fit_crf_for_rate_on(ctx.input_path, self.s, ctx.info, (ctx.prep.width, ctx.prep.height),
                                                ctx.execution, self.plan, ctx.chunk if ctx.chunk.ranged else None,
                                                self.planned.segment)
        fit = self.crf_for_rate
        if fit.above_range:
            self.planned.close()  # planned without a balance: the encode plans its own
            self.planned = None
            # below what the coarsest CRF spends with the map (akiyo at 12k: the favoured blocks lifted until the
            # size fit cost 13 VMAF more than libvpx's ABR with a balanced map; CQ mode starves the keyframes,
            # which carry no map): the encoder's own rate control, the map balanced
            ctx.maps.planner.allocator.balance = True
            self.warn(f"--bitrate {self.s.bitrate / 1000:g}k with a map on {self.s.codec} is below what CRF "
                      f"{fit.crf:g} spends with it: libvpx's one-pass rate control, which raises the base q-index "
                      "by what the map favours")
            return
        ctx.rc = RateControl(crf=fit.crf)
        ctx.maps.planner.rate_offset = fit.offset_qp
        miss = fit.predicted_bytes / max(1.0, fit.target_bytes) - 1
        if abs(miss) > MISS_WARNING:
            self.warn(f"--bitrate with a map on {self.s.codec}: the nearest constant quality (CRF {fit.crf:g}) "
                      f"spends {miss:+.0%} of the target on the probes")

    def _open_maps_writer(self) -> None:
        if not self.s.save_maps:
            return
        if self.ctx.maps is None:
            self.warn("--save-maps ignored: no importance map was computed")
            return
        from semcodec.maps_video import MapsVideoWriter

        aw, ah = self.ctx.analysis_size
        self.ctx.maps.maps_writer = MapsVideoWriter(self.s.save_maps, aw, ah, self.ctx.info.average_rate)

    def _passes(self, workdir: str, tmp_out: str) -> PassResult:
        ctx = self.ctx
        if not ctx.rc.two_pass:  # also a bitrate met at a fitted CRF (_fit_crf_for_rate)
            return self._single_pass(tmp_out)
        if self.first_pass_dir:
            return self._second_pass(workdir, tmp_out)
        offsets = None
        if ctx.maps:
            shape = ctx.maps.planner.allocator.grid.shape
            offsets = OffsetLog(workdir, shape, ctx.caps.block)
        try:
            first = run_pass(ctx, 1, None, record_log=offsets)
            _check_first_pass_stats(ctx.stats_path, first.frames)
            if offsets:
                offsets.rewind()
            return run_pass(ctx, 2, tmp_out, replay_log=offsets)
        finally:
            if offsets:
                offsets.close()

    def first_pass(self) -> PassResult:
        """Pass 1 only, its statistics, maps and cuts kept in `first_pass_dir` for a later run's pass 2
        (a chunked encode shares out its two-pass budget from every chunk's pass 1: semcodec.parallel.budget)."""
        ctx, folder = self.ctx, self.first_pass_dir
        ctx.stats_path = os.path.join(folder, STATS_NAME)
        offsets = self._offset_log(folder, "wb")
        try:
            first = run_pass(ctx, 1, None, record_log=offsets)
            _check_first_pass_stats(ctx.stats_path, first.frames)
            if offsets:
                offsets.rewind()
        finally:
            if offsets:
                offsets.close()
        write_json(os.path.join(folder, CUTS_NAME), {"cuts": ctx.policy.keyframes()})
        return first

    def budget_pass(self, crf: float) -> PassResult:
        """Pass 1 again over the frames, maps and cuts of first_pass() in the same folder, at a CRF every chunk of
        a job shares, its statistics in BUDGET_STATS_NAME: what a chunked job shares its budget out from. An ABR
        first pass starts each chunk from the encoder's opening guess and settles only after ~20 frames, so each
        chunk's first frames look coarser than the rest and, scaled to one quantiser, dearer than they are; at
        one CRF every chunk is measured alike (the ABR statistics still steer each chunk's pass 2)."""
        ctx, folder = self.ctx, self.first_pass_dir
        ctx.rc = dataclasses.replace(self.rc, crf=crf, bitrate=None)
        ctx.stats_path = os.path.join(folder, BUDGET_STATS_NAME)
        with open(os.path.join(folder, CUTS_NAME)) as f:
            ctx.policy.preset(json.load(f)["cuts"])
        offsets = self._offset_log(folder, "rb")  # the maps first_pass() planned: analysed once
        try:
            result = run_pass(ctx, 1, None, replay_log=offsets)
        finally:
            if offsets:
                offsets.close()
        _check_first_pass_stats(ctx.stats_path, result.frames)
        for ext in (".mbtree", ".cutree"):  # pass 2 reads the ABR pass's
            with contextlib.suppress(OSError):
                os.unlink(ctx.stats_path + ext)
        return result

    def _final_stats(self, workdir: str) -> str:
        """Pass 1 again over the first pass's frames, maps and cuts, at ChunkRange.stats_crf (about the quantiser
        the job's budget gives every chunk), into `workdir`: pass 2 reads these statistics. The ABR first pass
        opens each chunk at the encoder's guess and settles only after ~20 frames; x264 then misjudged each
        short chunk's opening, coded it low and its end high (bikes x264 250k: every chunk 0.2-0.3 VMAF
        under one piece at equal bytes)."""
        ctx, folder = self.ctx, self.first_pass_dir
        rc, ctx.rc = ctx.rc, dataclasses.replace(self.rc, crf=ctx.chunk.stats_crf, bitrate=None)
        # no opening zone: x264's pass 2 takes the zones of the statistics it reads when it has none of its own
        # (a chunk at a cut then opened ipratio twice over: 1.4x the bytes of one piece's I-frame there)
        span, ctx.chunk = ctx.chunk, dataclasses.replace(ctx.chunk, opening_scale=None)
        ctx.stats_path = os.path.join(workdir, FINAL_STATS_NAME)
        with open(os.path.join(folder, CUTS_NAME)) as f:
            ctx.policy.preset(json.load(f)["cuts"])
        offsets = self._offset_log(folder, "rb")
        try:
            result = run_pass(ctx, 1, None, replay_log=offsets)
        finally:
            ctx.rc, ctx.chunk = rc, span
            if offsets:
                offsets.close()
        _check_first_pass_stats(ctx.stats_path, result.frames)
        return ctx.stats_path

    def _second_pass(self, workdir: str, tmp_out: str) -> PassResult:
        ctx, folder = self.ctx, self.first_pass_dir
        ctx.stats_path = os.path.join(folder, STATS_NAME)
        if ctx.chunk.stats_crf is not None:
            ctx.stats_path = self._final_stats(workdir)
        if ctx.chunk.tail and _kept_stats(ctx.stats_path, workdir, ctx.chunk.kept):
            # pass 2 encodes the kept frames only: the tail served pass 1's lookahead (mb-tree/cu-tree offsets
            # are read from the first pass), and with statistics of the kept frames alone the encoder plans
            # its budget over exactly the frames the output keeps
            ctx.stats_path = os.path.join(workdir, STATS_NAME)
            ctx.chunk = dataclasses.replace(ctx.chunk, tail=0)
        with open(os.path.join(folder, CUTS_NAME)) as f:
            ctx.policy.preset(json.load(f)["cuts"])
        offsets = self._offset_log(folder, "rb")
        try:
            return run_pass(ctx, 2, tmp_out, replay_log=offsets)
        finally:
            if offsets:
                offsets.close()

    def _offset_log(self, folder: str, mode: str) -> OffsetLog | None:
        maps = self.ctx.maps
        return OffsetLog(folder, maps.planner.allocator.grid.shape, self.ctx.caps.block, mode) if maps else None

    def _single_pass(self, tmp_out: str) -> PassResult:
        """One pass; a probe encode with a recording replays its maps and cuts, or records them."""
        ctx, rec = self.ctx, self.recording
        if self.planned is not None:  # planned for the rate fit: replayed at the fitted offset, with its cuts
            return run_pass(ctx, 1, tmp_out, replay_log=self.planned.reader(ctx.maps.planner.rate_offset))
        if rec is None or ctx.maps is None:
            return run_pass(ctx, 1, tmp_out)
        if rec.maps:
            ctx.policy.preset(rec.cuts)
            return run_pass(ctx, 1, tmp_out, replay_log=rec.reader(ctx.maps.planner.rate_offset))
        rec.offset = ctx.maps.planner.rate_offset
        result = run_pass(ctx, 1, tmp_out, record_log=rec)
        rec.cuts = ctx.policy.keyframes()
        return result

    def report(self, final: PassResult, seconds: float) -> EncodeReport:
        ctx, info = self.ctx, self.ctx.info
        duration = final.duration(info.time_base, info.average_rate)
        if info.duration_s and duration < 0.9 * info.duration_s - 0.5 and not ctx.chunk.ranged:
            self.warn(f"input video ends at {duration:.2f} s but its header says {info.duration_s:.2f} s: "
                      "truncated file?")
        st = final.stats
        for msg in damage_warnings(st):
            self.warn(msg)
        if ctx.maps:
            self._roi_details()
        output = OutputSummary(ctx.output_path, os.path.getsize(ctx.output_path), final.video_bytes, final.frames,
                               duration, ctx.prep.width, ctx.prep.height, ctx.prep.pix_fmt,
                               keyframe_bytes=final.key_bytes, keyframes=final.key_frames,
                               first_frame_bytes=final.first_packet_bytes)
        passes = 2 if ctx.rc.two_pass else 1
        fit = self.rate_fit or self.crf_for_rate
        timings = Timings(seconds, analysis_s=ctx.analysis_s, fps=round(final.frames * passes / seconds, 2),
                          rate_fit_s=fit.seconds if fit else None)
        fitted = self.crf_for_rate and not self.crf_for_rate.above_range
        rate_control = self.rc.describe() + (f" met at CRF {self.crf_for_rate.crf:g} (fitted)" if fitted else "")
        return EncodeReport(
            input=info, output=output, settings=self.s, rate_control=rate_control,
            preset=str(self.s.preset or ctx.caps.default_preset), roi=self.roi,
            shots_method=ctx.policy.method, keyframes_at=self._keyframes(), timings=timings,
            plan_decisions=self.plan.decisions if self.plan else None,
            text=self.text.report() if self.text is not None else None,
            packets=st.packets, corrupt_packets=st.bad_packets, warnings=self.warnings)

    def _keyframes(self) -> list[int]:
        kept = self.ctx.chunk.kept
        return [k for k in self.ctx.policy.keyframes() if kept is None or k < kept]  # not the dropped tail's

    def _roi_details(self) -> None:
        maps = self.ctx.maps
        ms = np.array(maps.stats) if maps.stats else np.zeros((1, 3))
        self.roi.details = {
            "method": "AV_FRAME_DATA_REGIONS_OF_INTEREST via ctypes",
            "block": self.ctx.caps.block, "analysis_size": list(self.ctx.analysis_size),
            "strength_qp": round(maps.planner.allocator.strength, 2),
            "offset_qp_min": round(float(ms[:, 0].min()), 2),
            "offset_qp_max": round(float(ms[:, 1].max()), 2),
            "favoured_area_mean": round(float(ms[:, 2].mean()), 4),
            "rate_offset_qp": round(maps.planner.rate_offset, 2),
        }
        if self.rate_fit is not None:
            self.roi.details["rate_fit"] = self.rate_fit.to_json()
        if self.crf_for_rate is not None:
            self.roi.details["crf_for_rate"] = self.crf_for_rate.to_json()
        if self.schedule is not None:
            self.roi.details["analysis_schedule"] = self.schedule.to_json()
        self.roi.analyzers = maps.planner.mapper.summary()


def fit_rate(input_path: str, settings: EncodeSettings, info: StreamInfo, execution: Execution | None = None,
             plan: ShotPlan | None = None, keyframes: int | None = None,
             segment_maps: Callable[[int, int], MapRecording] | None = None,
             map_refusal: Callable[[float], str | None] | None = None) -> RateFit:
    """Fit the whole-frame offset that makes `settings`' map rate neutral at its CRF on this input, with probe
    encodes of sampled segments (semcodec.pipeline.ratefit). A chunked encode fits once and passes the
    offset to every chunk (`run(rate_offset=...)`). `segment_maps`: the encode's own maps of a segment's frames
    (ratefit.fit_rate_offset); without it each segment is analysed by its first ROI probe. `map_refusal`: asked
    the plain probes' bytes per frame, why the map is not worth its cost at this CRF (None: it is)."""
    frames = info.frames or int(round(info.duration_s * float(info.average_rate)))
    return fit_rate_offset(input_path, settings, frames, float(info.average_rate), _probe_encoder(plan),
                           execution or Execution(), keyframes, segment_maps, frame_pts(input_path), map_refusal)


def _probe_encoder(plan: ShotPlan | None):
    """One probe encode for the rate fits: `run` on a range of frames at a whole-frame offset, replaying or
    recording the maps, as a ratefit.Probe."""

    def probe(path: str, out: str, s: EncodeSettings, chunk: ChunkRange, ex: Execution, offset: float,
              recording: MapRecording | None) -> Probe:
        o = run(path, out, s, plan=plan, chunk=chunk, execution=ex, rate_offset=offset, recording=recording).output
        return Probe(o.first_frame_bytes, 1, o.video_bytes - o.first_frame_bytes, o.frames - 1)
    return probe


def fit_crf_for_rate_on(input_path: str, settings: EncodeSettings, info: StreamInfo, size: tuple[int, int],
                        execution: Execution, plan: ShotPlan | None = None, chunk: ChunkRange | None = None,
                        segment_maps=None) -> QualityForRate:
    """The CRF and whole-frame offset at which `settings`' map spends its bitrate on this input, or on this
    chunk of it (semcodec.pipeline.ratetarget)."""
    frames = info.frames or int(round(info.duration_s * float(info.average_rate)))
    if chunk is not None:
        frames = chunk.kept
    return fit_crf_for_rate(input_path, settings, caps_for(settings.codec), frames, float(info.average_rate), size,
                            _probe_encoder(plan), execution, chunk, segment_maps)


STATS_NAME = "rc.stats"  # x264/x265 add .mbtree / .cutree beside it
BUDGET_STATS_NAME = "budget.stats"  # Job.budget_pass
FINAL_STATS_NAME = "final.stats"  # Job._final_stats
CUTS_NAME = "cuts.json"


def _kept_stats(stats: str, workdir: str, kept: int) -> bool:
    """Copy x264/x265 first-pass statistics into `workdir` without the frames past `kept` (the chunk's tail;
    with its last kept frame a P-frame they are the last in coding order), with the mb-tree/cu-tree file
    beside them. False (nothing copied) when the kept frames are not exactly the first ones coded."""
    with open(stats, encoding="ascii", errors="replace") as f:
        lines = f.readlines()
    frames = [ln for ln in lines if ln.startswith("in:")]
    head = [ln for ln in lines if not ln.startswith("in:")]
    order = [(int(ln.split()[0][3:]), int(ln.split()[1][4:])) for ln in frames]  # (display, coded)
    keep = [ln for ln, (_, coded) in zip(frames, order) if coded < kept]
    if sorted(d for d, c in order if c < kept) != list(range(kept)):
        return False
    with open(os.path.join(workdir, STATS_NAME), "w", encoding="ascii") as f:
        f.writelines(head + keep)
    for ext in (".mbtree", ".cutree"):
        if os.path.exists(stats + ext):
            shutil.copyfile(stats + ext, os.path.join(workdir, STATS_NAME + ext))
    return True


def first_pass(input_path: str, folder: str, settings: EncodeSettings, *, chunk: ChunkRange | None = None,
               execution: Execution | None = None, budget_crf: float | None = None) -> PassResult:
    """Run pass 1 of a two-pass encode and keep what pass 2 needs in `folder` (x264/x265 statistics, the
    maps, the cuts): `run(..., first_pass_dir=folder)` then encodes pass 2 only, at any bitrate. With
    `budget_crf`: then pass 1 again at that CRF over the same frames and maps, its statistics in
    BUDGET_STATS_NAME (a chunked job's budget shares: semcodec.parallel.budget)."""
    settings.validate()
    if not settings.rate_control().two_pass:
        raise UsageError("first_pass() is for two-pass encodes")

    def job() -> _Job:
        return _Job(input_path, os.path.join(folder, "pass1.mp4"), settings, None, chunk or ChunkRange(),
                    execution or Execution(), first_pass_dir=folder)
    try:
        result = job().first_pass()
        if budget_crf is not None:
            job().budget_pass(budget_crf)
        return result
    except av.error.FFmpegError as exc:
        raise SemcodecError(f"FFmpeg failed: {exc.strerror or exc}{_tmp_hint(settings)}") from None


def budget_pass(input_path: str, folder: str, settings: EncodeSettings, crf: float, *,
                chunk: ChunkRange | None = None, execution: Execution | None = None) -> PassResult:
    """The budget pass of first_pass(..., budget_crf=crf) alone, over the first pass already in `folder`: a
    chunked job measures its chunks again at the CRF its first budget pointed to (parallel.runner)."""
    settings.validate()
    job = _Job(input_path, os.path.join(folder, "pass1.mp4"), settings, None, chunk or ChunkRange(),
               execution or Execution(), first_pass_dir=folder)
    try:
        return job.budget_pass(crf)
    except av.error.FFmpegError as exc:
        raise SemcodecError(f"FFmpeg failed: {exc.strerror or exc}{_tmp_hint(settings)}") from None


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


def run(input_path: str, output_path: str, settings: EncodeSettings | None = None, *,
        plan: ShotPlan | None = None, chunk: ChunkRange | None = None,
        execution: Execution | None = None, rate_offset: float | None = None,
        recording: MapRecording | None = None, first_pass_dir: str | None = None) -> EncodeReport:
    """Encode `input_path` to `output_path` and return the typed report (`encode` returns its JSON).

    Args:
        settings: what to encode how (defaults: x264 CRF 23, ROI auto).
        plan: the shot plan for `settings.keyframes_from` when it is 'auto' (the caller tags first:
            `semcodec.encode` does, or `semcodec.tagging.tagger.plan_from_video`).
        chunk: only these input frames (a chunk of a parallel encode); default all.
        execution: threads, audio copy, progress bars; default FFmpeg's threads, audio copied, silent.
        rate_offset: a whole-frame QP offset for every map, already fitted (chunks of a parallel encode
            get the job's); None: fitted here when CRF rate neutrality asks for it (semcodec.pipeline.ratefit).
        recording: a probe encode's maps and cuts: recorded when empty, replayed (at `rate_offset`) when not.
        first_pass_dir: a two-pass encode whose pass 1 `first_pass()` ran into this folder: pass 2 only.

    Returns:
        The EncodeReport.

    Raises:
        UsageError: a bad option; SemcodecError: bad input or an unwritable output, as one line. The output
        path never holds a half-written file."""
    settings = settings or EncodeSettings()
    settings.validate()  # a bad option fails before any file is looked at
    check_output_path(input_path, output_path)
    check_container(settings.codec, container_format(output_path))
    if settings.save_maps:
        check_output_path(input_path, settings.save_maps)
        if os.path.abspath(settings.save_maps) == os.path.abspath(output_path):
            raise SemcodecError("--save-maps path is the output path")
    try:
        return _Job(input_path, output_path, settings, plan, chunk or ChunkRange(), execution or Execution(),
                    rate_offset, recording, first_pass_dir).run()
    except av.error.FFmpegError as exc:  # anything FFmpeg refuses mid-run, as one line
        raise SemcodecError(f"FFmpeg failed: {exc.strerror or exc}{_tmp_hint(settings)}") from None


def encode(input_path: str, output_path: str, settings: EncodeSettings | None = None, *,
           plan: ShotPlan | None = None, chunk: ChunkRange | None = None,
           execution: Execution | None = None) -> dict:
    """`run`, returning the JSON-ready report (schema semcodec.encode_report/1). Same arguments and errors."""
    return run(input_path, output_path, settings, plan=plan, chunk=chunk, execution=execution).to_json()


def _tmp_hint(settings: EncodeSettings) -> str:
    """x264 cannot say why it failed to write its two-pass statistics; a nearly full TMPDIR is the usual cause."""
    tmp = tempfile.gettempdir()
    with contextlib.suppress(OSError):
        if settings.two_pass and shutil.disk_usage(tmp).free < 16 << 20:
            return f" (two-pass statistics go to TMPDIR {tmp}, which is nearly full)"
    return ""

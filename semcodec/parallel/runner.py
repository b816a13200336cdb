"""encode_parallel(): plan chunks, encode them on local processes or Ray tasks, resume, join."""
from __future__ import annotations

import contextlib
import dataclasses
import glob
import hashlib
import json
import logging
import math
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from semcodec import __version__
from semcodec.encoding.codecs import IP_RATIO, caps_for, check_container
from semcodec.errors import SemcodecError, UsageError
from semcodec.io import lock
from semcodec.io.writer import atomic_output, check_output_path, container_format
from semcodec.parallel.budget import budget_crf, chunk_bitrates, final_crf, keyframe_share, read_stats
from semcodec.parallel.chunks import one_piece_keyframes, plan_chunks, split_budget
from semcodec.parallel.index import input_signature, scan, sha256_file
from semcodec.parallel.join import join_chunks
from semcodec.parallel.manifest import NAME as MANIFEST_NAME
from semcodec.parallel.manifest import SCHEMA, Manifest
from semcodec.parallel.worker import (
    budget_pass_chunk,
    budget_pass_chunk_bytes,
    encode_chunk,
    encode_chunk_bytes,
    first_pass_chunk,
    first_pass_chunk_bytes,
    init_worker,
    read_files,
    replace_folder,
    write_files,
)
from semcodec.pipeline.report import Timings
from semcodec.progress import Bar, Progress
from semcodec.progress import bar as progress_bar

log = logging.getLogger("semcodec")

# settings that do not reach the chunks (excluded from the settings hash): maps are refused in chunked mode
_NOT_HASHED = ("save_maps",)
DEFAULT_CHUNK_MAX_S = 20.0


@dataclass
class ParallelOptions:
    workers: int | None = None  # local processes; None: os.cpu_count()
    ray: str | None = None  # None: local processes; 'local': start a local Ray; else a cluster address
    chunk_min_s: float = 2.0
    # None: DEFAULT_CHUNK_MAX_S, or the encoder's keyframe interval where that is longer (10 fps: 250 frames, 25 s),
    # so a long shot can still be split where one piece has its keyframes (semcodec.parallel.chunks)
    chunk_max_s: float | None = None
    # x264/x265: each chunk also encodes this much of the next one and drops it, so its last frames get the
    # lookahead and rate control a single-piece encode gives them (benchmarks/chunk_joins.py)
    overlap_s: float = 1.0
    work_dir: str | None = None  # None: a hidden folder beside the output, removed after success
    threads_per_chunk: int = 1  # encoder and OpenCV threads per chunk: fixed, so output is deterministic
    # one process per chunk (isolation: a crash or leak in one chunk cannot touch the next), at ~1 s of
    # start-up per chunk; not needed for bit-exact chunks since x264 runs without its AVX-512 mbtree code
    fresh_process_per_chunk: bool = False
    max_chunks: int | None = None  # stop after this many chunks are encoded (tests: a simulated interruption)
    retries: int = 2  # a local pool broken by a killed worker is restarted this many times
    # a quality target (JSON, hashed with the settings) and the module-level function that searches a chunk's
    # CRF for it, (input, settings, target, chunk, threads) -> result with .crf and .to_json(): semcodec.target
    target: dict | None = None
    chunk_search: Callable | None = None

    def worker_count(self) -> int:
        return max(1, self.workers or os.cpu_count() or 1)


class Interrupted(SemcodecError):
    """The job stopped before every chunk was done (max_chunks); the work folder is resumable."""


def settings_hash(settings, opts: ParallelOptions) -> str:
    d = {k: v for k, v in dataclasses.asdict(settings).items() if k not in _NOT_HASHED}
    d.update(threads_per_chunk=opts.threads_per_chunk, chunk_min_s=opts.chunk_min_s,
             chunk_max_s=opts.chunk_max_s, overlap_s=opts.overlap_s, chunk_rc=6, semcodec=__version__)
    if opts.target:
        d["target"] = opts.target
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()


def default_work_dir(output_path: str) -> str:
    folder, name = os.path.split(os.path.abspath(output_path))
    return os.path.join(folder, f".{name}.semcodec-work")


# the workers' TMPDIR inside the work folder: whatever a killed worker leaves there goes with it
WORKER_TMP = ".semcodec-tmp"
# temp files of chunk and manifest writes (and the fixed name older versions used); named narrowly, since
# an explicit --work-dir can be any folder
_TEMP_PATTERNS = (".chunk_*.partial*", ".manifest.*.partial*", "chunk_*.partial")


def _remove_temp_files(work_dir: str) -> None:
    """Temp files of chunk encodes (killed workers leave them) and the workers' TMPDIR. Only while the work
    folder is locked: then every temp file in it belongs to this run's own, stopped workers or to a dead run."""
    for pattern in _TEMP_PATTERNS:
        for stale in glob.glob(os.path.join(glob.escape(work_dir), pattern)):
            _remove(stale)
    shutil.rmtree(os.path.join(work_dir, WORKER_TMP), ignore_errors=True)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _empty_folder(folder: str, keep: str) -> None:
    """Delete everything in `folder` except the file `keep` (the lock file, unlinked by its owner last)."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.path == keep:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _finished_chunks(work_dir: str) -> int:
    """How many chunks the work folder's manifest lists as done (0 without a readable manifest)."""
    try:
        with open(os.path.join(work_dir, MANIFEST_NAME)) as f:
            return sum(1 for c in json.load(f).get("chunks", []) if c.get("state") == "done")
    except (OSError, ValueError, AttributeError):
        return 0


@contextlib.contextmanager
def _locked_work_dir(work_dir: str, remove: bool) -> Iterator[None]:
    """Hold the work folder's lock (FolderBusy: another run has it) for the whole job. `remove` (the default
    hidden folder beside the output): the folder goes when the job succeeds, is interrupted (Ctrl-C, SIGTERM,
    SIGHUP) or fails with nothing to resume. It stays only after a SemcodecError (a full disk, dying workers,
    a failed join) with finished chunks in its manifest, and the error then names it: running again resumes.
    An internal error (a bug) never leaves it: a rerun would meet the same bug. Temp files go in every case."""
    fd = lock.acquire(work_dir, "work folder")
    drop = False
    try:
        yield
        drop = remove
    except KeyboardInterrupt:  # semcodec.errors.Interrupted too
        drop = remove
        raise
    except SemcodecError as exc:
        drop = remove and not _finished_chunks(work_dir)
        if remove and not drop and not isinstance(exc, Interrupted) and exc.args:
            exc.args = (f"{exc.args[0]} (finished chunks kept in {work_dir}: run again to resume)", *exc.args[1:])
        raise
    except BaseException:
        drop = remove
        raise
    finally:
        _remove_temp_files(work_dir)
        if drop:
            _empty_folder(work_dir, keep=lock.lock_path(work_dir))
        lock.release(fd, work_dir)
        if drop:  # empty now, unless a new run already took it (then rmdir fails and it is theirs)
            with contextlib.suppress(OSError):
                os.rmdir(work_dir)


def _new_manifest(work_dir, input_path, sig, shash, settings, opts, progress) -> Manifest:
    from semcodec.shots import detect_shots

    t0 = time.perf_counter()
    index = scan(input_path)
    shots = detect_shots(input_path, progress=progress)
    total = shots[-1].end_frame if shots else 0
    if total != index.frames:
        log.info("packet index has %d frames, decoder %d: chunks decode from the start", index.frames, total)
        index.seekable = False
    fps = float(index.rate) or 25.0
    keyint = caps_for(settings.codec).keyint
    min_len, max_len = chunk_lengths(opts, fps, keyint)
    chunks = plan_chunks([s.start_frame for s in shots], min(total, index.frames), min_len, max_len,
                         index.keyframes, keyint)
    keyframes = one_piece_keyframes([s.start_frame for s in shots], min(total, index.frames), keyint)
    cuts = {s.start_frame for s in shots}
    rates = split_budget(chunks, index, settings.bitrate) if settings.bitrate else [None] * len(chunks)
    fit = _fit_rate(input_path, settings, opts, len(chunks))
    no_map = fit.refused if fit else _bitrate_refusal(input_path, settings, fps)
    frames = min(total, index.frames)
    tail = max(0, round(opts.overlap_s * fps))
    crf = None
    if settings.bitrate and settings.two_pass:
        from semcodec.io.reader import probe

        info = probe(input_path)
        crf = budget_crf(settings.bitrate, info.width, info.height, fps)
    ext = ".mkv" if settings.codec == "libvpx-vp9" else ".mp4"
    data = {
        "schema": SCHEMA, "semcodec": __version__, "input": sig, "settings_hash": shash,
        "settings": {k: v for k, v in dataclasses.asdict(settings).items() if k not in _NOT_HASHED},
        "chunking": {"min_s": opts.chunk_min_s, "max_s": round(max_len / fps, 3), "keyint": keyint,
                     "shots": [s.start_frame for s in shots], "planning_s": round(time.perf_counter() - t0, 3)},
        "index": {"time_base": str(index.time_base), "rate": str(index.rate), "pts": index.pts,
                  "sizes": index.sizes, "keyframes": index.keyframes, "last_duration": index.last_duration,
                  "seekable": index.seekable},
        "chunks": [{"index": c.index, "start_frame": c.start_frame, "end_frame": c.end_frame,
                    "seek_pts": index.pts[c.start_frame] if index.seekable and c.start_frame else None,
                    "bitrate": r, "rate_offset": fit.offset_qp if fit else None, "state": "pending",
                    "no_map": no_map,
                    "tail": min(tail, frames - c.end_frame), "budget_crf": crf,
                    "opening_scale": _opening_scale(settings, c.start_frame, keyframes, cuts),
                    "file": f"chunk_{c.index:05d}{ext}", "sha256": None, "bytes": None} for c, r in zip(chunks, rates)],
        "rate_fit": fit.to_json() if fit else None,
    }
    m = Manifest(work_dir, data)
    m.save()
    return m


# keyframes of chunks that start inside shots may take this share of a two-pass budget before a warning (%)
KEYFRAME_SHARE_LIMIT = 5.0


def chunk_lengths(opts: ParallelOptions, fps: float, keyint: int | None) -> tuple[int, int]:
    """(shortest, longest) chunk in frames; the longest by default DEFAULT_CHUNK_MAX_S, or one keyframe interval
    of the encoder where that is longer."""
    if opts.chunk_max_s is not None:
        max_len = round(opts.chunk_max_s * fps)
    else:
        max_len = max(round(DEFAULT_CHUNK_MAX_S * fps), keyint or 0)
    return max(1, round(opts.chunk_min_s * fps)), max(1, max_len)


def _opening_scale(settings, start: int, keyframes: set[int], cuts: set[int] = frozenset()) -> float | None:
    """ChunkRange.opening_scale of an x264/x265 chunk: the quantiser scale, over the P-frames', one piece codes
    the chunk's first frame at. Where one piece has a keyframe (a cut, or its periodic one inside a shot:
    `keyframes`, chunks.one_piece_keyframes) an I-frame, 1/ipratio (a chunk's IDR there would otherwise come out
    at the P-frames' scale at a CRF and in x265's pass 2); elsewhere inside a shot an inter frame, so the chunk's
    IDR at the P-frames' scale, not ipratio finer (x264's pass 2 on its own), which takes bits from every other
    frame of the chunk; the video's first frame as the encoder codes it in one piece. An x265 CRF chunk at a cut
    (`cuts`: shot starts) keeps the encoder's own opening: there it opens 0.8-0.9 dB below one piece (bikes),
    within the 1 dB target, and with the zone (loop._CRF_OPENING) its openings came within 0.12 dB but a
    non-referenced b-frame 45 frames on (bikes 121: the same type and QP in both encodes) moved from -0.77 to
    -1.07 dB. Inside a long shot the opening was 1.1-1.3 dB below (office CRF 30)."""
    if settings.codec not in ("libx264", "libx265") or (settings.bitrate and not settings.two_pass):
        return None
    if start == 0:
        return 1 / IP_RATIO if settings.two_pass and settings.codec == "libx264" else 1.0
    if start in cuts and settings.codec == "libx265" and not settings.two_pass:
        return None
    return 1 / IP_RATIO if start in keyframes else 1.0


def _bitrate_refusal(input_path: str, settings, fps: float) -> str | None:
    """Why a --bitrate job's chunks get no map, decided once for the job as one piece would (mapcost.bitrate_refusal):
    the chunks' own shares differ, and a map on some chunks only would change the face between them."""
    from semcodec.io.reader import probe
    from semcodec.pipeline.mapcost import bitrate_refusal

    if not settings.bitrate or settings.roi_mode.off:
        return None
    info = probe(input_path)
    return bitrate_refusal(settings, info.width - info.width % 2, info.height - info.height % 2, fps)


def _fit_rate(input_path: str, settings, opts: ParallelOptions, chunks: int):
    """CRF rate neutrality for the whole job, fitted once (every chunk starts with a keyframe) and handed to
    the chunks through the manifest, so a resumed job uses the same offset."""
    from semcodec.io.reader import probe
    from semcodec.pipeline import Execution, fit_rate
    from semcodec.pipeline.ratefit import wants_rate_fit

    if not wants_rate_fit(settings):
        return None
    from semcodec.pipeline.mapcost import crf_refusal

    info = probe(input_path)
    refusal = crf_refusal(settings.codec, info.width - info.width % 2, info.height - info.height % 2,
                          settings.rate_control().crf)  # as a single-piece encode decides (job._fit_rate)
    return fit_rate(input_path, settings, info, Execution(threads=opts.threads_per_chunk), keyframes=chunks,
                    map_refusal=refusal)


def _index_from(m: Manifest):
    from fractions import Fraction

    from semcodec.parallel.index import InputIndex

    d = m.data["index"]
    return InputIndex(Fraction(d["time_base"]), Fraction(d["rate"]), d["pts"], d["sizes"], d["keyframes"],
                      d["last_duration"], d["seekable"])


def check_options(opts: ParallelOptions) -> None:
    """UsageError for chunking values that are wrong on their own (nan passes every `<= 0` test)."""
    lo = opts.chunk_min_s
    hi = opts.chunk_max_s if opts.chunk_max_s is not None else max(DEFAULT_CHUNK_MAX_S, lo)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise UsageError(f"--chunk-min-s {lo:g} and --chunk-max-s {hi:g} must be finite and positive, min <= max")
    if not (math.isfinite(opts.overlap_s) and 0 <= opts.overlap_s <= 60):
        raise UsageError(f"--chunk-overlap-s {opts.overlap_s:g} must be between 0 and 60")
    if opts.workers is not None and opts.workers < 1:
        raise UsageError(f"--workers must be at least 1, not {opts.workers}")


def encode_parallel(input_path: str, output_path: str, settings=None, opts: ParallelOptions | None = None,
                    progress: Progress | None = None) -> dict:
    """Chunked encode of one file.

    Returns:
        encode()'s report (an EncodeReport merged from the chunks' reports), with a `parallel` section.

    Raises:
        UsageError, SemcodecError: as encode(); Interrupted when `opts.max_chunks` stopped it early."""
    from semcodec.pipeline import EncodeSettings

    settings = settings or EncodeSettings()
    opts = opts or ParallelOptions()
    t_start = time.perf_counter()
    settings.validate()  # options first: a bad value fails before any file is looked at
    check_options(opts)
    check_output_path(input_path, output_path)
    check_container(settings.codec, container_format(output_path))
    if settings.save_maps:
        raise SemcodecError("--save-maps is not available with chunked encoding (--workers/--ray)")
    if settings.keyframes_from:
        raise SemcodecError("--keyframes-from is not available with chunked encoding (--workers/--ray)")
    settings.rate_control()  # validate before any work
    from semcodec.io.reader import probe

    info = probe(input_path)
    keep = opts.work_dir is not None
    work_dir = os.path.abspath(opts.work_dir or default_work_dir(output_path))
    # the whole job holds the work folder: a second run to the same output must neither share nor delete it
    with _locked_work_dir(work_dir, remove=not keep):
        return _encode_in(work_dir, input_path, output_path, settings, opts, info, t_start, progress)


def _encode_in(work_dir: str, input_path: str, output_path: str, settings, opts: ParallelOptions, info,
               t_start: float, progress: Progress | None) -> dict:
    """The job, with the work folder locked: resume or plan, encode the pending chunks, join."""
    _remove_temp_files(work_dir)  # what a killed earlier run left
    sig = input_signature(input_path)
    shash = settings_hash(settings, opts)
    m = Manifest.load_matching(work_dir, sig, shash)
    resumed, kept, redone = m is not None, [], []
    if m is not None:
        kept, redone = m.verify()
        m.save()
    else:
        for old in glob.glob(os.path.join(glob.escape(work_dir), "chunk_*")):
            _remove(old)
        m = _new_manifest(work_dir, input_path, sig, shash, settings, opts, progress)
    index = _index_from(m)
    results: dict[int, dict] = {}
    t_enc = time.perf_counter()
    backend = "ray" if opts.ray else "local"
    jobs = _ChunkJobs(input_path, m, dataclasses.asdict(settings), opts, results)
    if settings.rate_control().two_pass:
        _run(jobs, "first pass", jobs.first_pass, progress)
        not_done = [c["index"] for c in m.chunks if c["state"] == "pending"]
        if not_done:
            raise Interrupted(f"{len(not_done)} chunk(s) not encoded yet; run again to resume ({work_dir})")
        for _ in range(2):  # a budget pass again where the first one's CRF was far from the budget (_refine_budget)
            _run(jobs, "budget pass", jobs.budget, progress)
            if any(c.get("budget_redo") for c in m.chunks):
                raise Interrupted(f"chunk budget passes not done yet; run again to resume ({work_dir})")
            _share_budget(m, index, settings.bitrate)
            if not _refine_budget(m):
                break
    _run(jobs, "chunks", jobs.encode, progress)
    encode_s = time.perf_counter() - t_enc
    not_done = [c["index"] for c in m.chunks if c["state"] != "done"]
    if not_done:
        raise Interrupted(f"{len(not_done)} chunk(s) not encoded yet; run again to resume ({work_dir})")
    # final check before joining: every chunk file is the one the manifest vouches for
    _, bad = m.verify()
    if bad:
        m.save()
        raise SemcodecError(f"chunk(s) {bad} changed on disk after encoding; run again to redo them")
    rotation = next((r["report"].input.rotation for r in results.values()), None)
    if rotation is None:
        rotation = m.data.get("rotation", 0)
    m.data["rotation"] = rotation
    t_join = time.perf_counter()
    js = join_chunks([m.chunk_path(c) for c in m.chunks], [c["start_frame"] for c in m.chunks], index,
                     input_path, output_path, rotation=rotation, audio=True,
                     sar=info.sample_aspect_ratio)
    join_s = time.perf_counter() - t_join
    m.data["output"] = {"path": os.path.abspath(output_path), "sha256": sha256_file(output_path)}
    m.save()
    return _report(info, settings, opts, m, index, results, js, output_path, backend, (resumed, kept, redone),
                   Timings(time.perf_counter() - t_start, encode_s=encode_s, join_s=join_s,
                           planning_s=m.data["chunking"].get("planning_s")), work_dir)


@dataclass
class _ChunkJobs:
    """What a phase submits for a chunk, and how its result is recorded, for local processes and Ray tasks.
    Two-pass jobs run two phases: every chunk's first pass, then (budget shared out) every pass 2."""

    input_path: str
    m: Manifest
    sdict: dict
    opts: ParallelOptions
    results: dict

    def first_pass(self, c: dict) -> tuple | None:
        """(function, args) of chunk `c`'s first pass; None when it has one already."""
        if c["state"] != "pending":
            return None
        t = self.opts.threads_per_chunk
        if self.opts.ray:
            return first_pass_chunk_bytes, (self.input_path, self.sdict, c, t)
        return first_pass_chunk, (self.input_path, self.m.pass1_path(c), self.sdict, c, t)

    def budget(self, c: dict) -> tuple | None:
        """(function, args) of chunk `c`'s budget pass again, at its budget_crf (_refine_budget); None when not
        asked for."""
        if not c.get("budget_redo") or c["state"] != "pass1":
            return None
        t = self.opts.threads_per_chunk
        if self.opts.ray:
            files = read_files(self.m.pass1_path(c), c["pass1"]["files"])
            return budget_pass_chunk_bytes, (self.input_path, self.sdict, c, files, t)
        return budget_pass_chunk, (self.input_path, self.m.pass1_path(c), self.sdict, c, t)

    def encode(self, c: dict) -> tuple | None:
        if c["state"] == "done":
            return None
        t, two = self.opts.threads_per_chunk, c["state"] == "pass1"
        if self.opts.ray:
            ext = os.path.splitext(c["file"])[1]
            files = read_files(self.m.pass1_path(c), c["pass1"]["files"]) if two else None
            return encode_chunk_bytes, (self.input_path, ext, self.sdict, c, t, self.opts.target,
                                        self.opts.chunk_search, files)
        return encode_chunk, (self.input_path, self.m.chunk_path(c), self.sdict, c, t, self.opts.target,
                              self.opts.chunk_search, self.m.pass1_path(c) if two else None)

    def record(self, c: dict, out) -> None:
        """A finished task: a first pass (state pass1) or an encoded chunk (done); the manifest saved."""
        res, data = out if self.opts.ray else (out, None)
        if "files" in res:  # a first pass
            if data is not None:
                _write_files(self.m.pass1_path(c), data)
            c.update(state="pass1", pass1={"dir": res["dir"], "files": res["files"]}, budget_redo=False)
            c["budget_seconds" if "budget_crf" in res else "pass1_seconds"] = res["seconds"]
            self.m.save()
            return
        if data is not None:
            _write_chunk(self.m.chunk_path(c), data)
        p = self.m.chunk_path(c)
        c.update(state="done", sha256=sha256_file(p), bytes=os.path.getsize(p), frames=res["frames"],
                 seconds=res["seconds"], host=res["host"], video_bytes=res["video_bytes"])
        if res.get("target"):  # the chunk's own CRF from the quality search: a resumed job keeps it
            c.update(crf=res["crf"], target=res["target"])
        self.m.data["rotation"] = res["report"].input.rotation
        self.results[c["index"]] = res
        self.m.save()


def _run(jobs: _ChunkJobs, what: str, call, progress: Progress | None) -> None:
    """One phase over the chunks that need it, longest first (the last to finish are short, so workers end
    together)."""
    todo = [c for c in jobs.m.chunks if call(c) is not None]
    todo.sort(key=lambda c: -(c["end_frame"] - c["start_frame"]))
    if not todo:
        return
    bar = progress_bar(progress, what, len(todo), unit="chunk")
    try:
        (_run_ray if jobs.opts.ray else _run_local)(jobs, todo, call, bar)
    finally:
        bar.close()


def _share_budget(m: Manifest, index, bitrate: int) -> None:
    """Once every chunk has its first pass: each chunk's pass-2 bitrate from all first passes (budget.py),
    kept in the manifest so a resumed job encodes with the same."""
    if m.data.get("two_pass_budget"):
        return
    from semcodec.pipeline.job import BUDGET_STATS_NAME, STATS_NAME

    # the budget pass's statistics (one CRF for every chunk) where the chunks have them
    costs = [read_stats(os.path.join(m.pass1_path(c), BUDGET_STATS_NAME if BUDGET_STATS_NAME in c["pass1"]["files"]
                                     else STATS_NAME)) for c in m.chunks]
    # pass 2 codes each chunk's opening frame at its opening_scale (the budget pass did too)
    costs = [[dataclasses.replace(f, type_scale=c["opening_scale"]) if f.frame == 0 and c.get("opening_scale")
              else f for f in frames] for c, frames in zip(m.chunks, costs)]
    kept = [c["end_frame"] - c["start_frame"] for c in m.chunks]
    kept_s = [index.seconds(c["start_frame"], c["end_frame"]) for c in m.chunks]
    target_bits = bitrate * index.seconds(0, index.frames)
    rates, q = chunk_bitrates(costs, kept, kept_s, target_bits)
    # x264 chunks after the first (the first opens where one piece does, its ABR statistics alike: a one-chunk job
    # is the single-piece encode); x265's pass 2 from statistics at a CRF landed 3 % under the target (chunk_joins)
    final = final_crf(costs, q, m.chunks[0].get("budget_crf"))
    stats_crf = final if m.data["settings"]["codec"] == "libx264" else None
    for c, r in zip(m.chunks, rates):
        c["bitrate2"], c["stats_crf"] = r, stats_crf if c["start_frame"] > 0 else None
    chunking = m.data["chunking"]
    keyframes = one_piece_keyframes(chunking["shots"], index.frames, chunking.get("keyint"))
    inside = [c["start_frame"] not in keyframes for c in m.chunks]  # where one piece codes an inter frame
    share = keyframe_share(costs, kept, q, inside)
    m.data["two_pass_budget"] = {"qscale": round(q, 4), "target_bits": round(target_bits),
                                 "chunks_inside_shots": sum(inside), "keyframe_share_pct": round(100 * share, 1),
                                 "budget_crf": m.chunks[0].get("budget_crf"), "final_crf": final}
    m.save()


# the budget pass's CRF may lie this far (CRF steps) from the one the shared budget lands on before every chunk is
# measured again there
BUDGET_CRF_SPAN = 2.0


def _refine_budget(m: Manifest) -> bool:
    """Once per job: where the budget's quantiser (final_crf) lies more than BUDGET_CRF_SPAN from the CRF the
    budget pass ran at (budget.budget_crf's guess from bits per pixel), every chunk is to be measured again at
    it, and the budget shared anew. A chunk's bits at one quantiser say little about another several QP away:
    office (x265, 300k) measured at CRF 26 landed on CRF 18.6, and one piece spent -10.8 % to +8.3 % off the
    chunks' shares there (two chunks' first frames 1-3 dB below one piece); measured at CRF 19, within 1 %.
    True when budget passes are due."""
    b = m.data.get("two_pass_budget") or {}
    crf, final = b.get("budget_crf"), b.get("final_crf")
    if m.data.get("budget_refined") or crf is None or final is None or abs(final - crf) <= BUDGET_CRF_SPAN:
        return False
    if any(c["state"] != "pass1" for c in m.chunks):  # resumed after pass 2 began: its budget stands
        return False
    for c in m.chunks:
        c.update(budget_crf=round(final, 1), budget_redo=True)
    m.data["budget_refined"], m.data["two_pass_budget"] = True, None
    m.save()
    return True


def _keyframe_warning(m: Manifest, index) -> str | None:
    """Two-pass chunks that start inside shots, off one piece's keyframe interval, each open with an IDR one piece
    does not have; past KEYFRAME_SHARE_LIMIT of the budget the rest of the video visibly pays
    (benchmarks/chunk_joins.py: 21.5 % on BBB x264 at 1-2 s chunks, -2.3 VMAF against one piece; one piece at
    21.5 % less: -3.5). Says so, with the chunk length that would keep the share under the limit (the share falls
    as the chunks grow)."""
    b = m.data.get("two_pass_budget") or {}
    share = b.get("keyframe_share_pct") or 0.0
    if share <= KEYFRAME_SHARE_LIMIT:
        return None
    n = len(m.chunks)
    mean_s = index.seconds(0, index.frames) / max(1, n)
    need = mean_s * share / KEYFRAME_SHARE_LIMIT
    return (f"two-pass chunks: {b['chunks_inside_shots']} of {n} chunks start inside a shot, and their keyframes "
            f"take {share:.0f} % of the bitrate, which every other frame gives up (one piece has no keyframe "
            f"there); chunks of about {need:.0f} s or more (--chunk-min-s) keep that under "
            f"{KEYFRAME_SHARE_LIMIT:g} %")


def _write_files(folder: str, files: dict) -> None:
    """A first-pass folder from a Ray task: written beside, then renamed into place."""
    try:
        replace_folder(folder, lambda tmp: write_files(tmp, files))
    except OSError as exc:
        raise SemcodecError(f"cannot write {folder}: {exc.strerror or exc}") from None


def _limit(pending: list, opts: ParallelOptions) -> list:
    return pending if opts.max_chunks is None else pending[:max(0, opts.max_chunks)]


def _run_local(jobs: _ChunkJobs, pending: list, call, bar: Bar) -> None:
    import multiprocessing

    m, opts = jobs.m, jobs.opts
    todo = wanted = _limit(pending, opts)
    attempts = 0
    ctx = multiprocessing.get_context("spawn")
    tmp_dir = os.path.join(m.work_dir, WORKER_TMP)
    os.makedirs(tmp_dir, exist_ok=True)
    while todo:
        # chunks are bit-exact whichever process encodes them (tests/test_parallel.py checks both ways), so
        # a process per chunk is the user's choice of isolation, not a requirement
        pool = ProcessPoolExecutor(max_workers=min(opts.worker_count(), len(todo)), mp_context=ctx,
                                   initializer=init_worker, initargs=(opts.threads_per_chunk, tmp_dir, os.getpid()),
                                   max_tasks_per_child=1 if opts.fresh_process_per_chunk else None)
        futs: dict = {}
        try:
            with _ctrl_c_held():
                futs = {}
                for c in todo:
                    fn, args = call(c)
                    futs[pool.submit(fn, *args)] = c
            while futs:
                done, _ = wait(list(futs), return_when=FIRST_COMPLETED)
                for f in done:
                    c = futs.pop(f)
                    jobs.record(c, f.result())
                    bar.update(1)
            pool.shutdown(wait=True)
        except BrokenProcessPool:
            # a worker was killed (OOM killer, kill -9): finished chunks are safe in the manifest;
            # restart the pool for the rest
            _stop_pool(pool)
            attempts += 1
            if attempts > opts.retries:
                raise SemcodecError("worker processes keep dying; finished chunks are kept, "
                                    "run again to resume") from None
            todo = [c for c in wanted if call(c) is not None]
            log.warning("a worker process died; restarting the pool for %d chunk(s)", len(todo))
            continue
        except BaseException:  # a failed chunk, a full disk, Ctrl-C, SIGTERM/SIGHUP (Interrupted)
            _stop_pool(pool)
            raise
        todo = []


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP while the pool starts workers, and deliver them afterwards.

    Two holes to close. Workers: the signals are blocked in this thread, and workers inherit the mask (across
    fork and exec), as does the pool's manager thread created here; a worker starts with them held until
    init_worker ignores SIGINT, so a Ctrl-C to the process group cannot kill one mid-start-up with a traceback.
    This process: a process-directed signal may land on another thread that does not block it, and Python
    then runs the handler in the main thread at once, perhaps between spawning a worker and writing its
    start-up data (the worker then dies with 'EOFError: Ran out of input'). So the Python handlers only
    note the signal here; the first one noted is re-raised when the submits are done."""
    wanted = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
    noted: list[int] = []
    saved = {}
    try:
        for s in wanted:
            saved[s] = signal.signal(s, lambda signum, _frame: noted.append(signum))
    except ValueError:  # not the main thread: nothing to defer here
        saved = {}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, set(wanted)) if hasattr(signal, "pthread_sigmask") else None
    try:
        yield
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)  # pending signals arrive now, still only noted
        for s, h in saved.items():
            signal.signal(s, h)
        if noted:
            signal.raise_signal(noted[0])  # the real handler (Ctrl-C, Interrupted) takes it from here


def _pool_processes(pool: ProcessPoolExecutor) -> list:
    try:  # the executor's manager thread adds replacement workers to this dict concurrently
        return list((getattr(pool, "_processes", None) or {}).values())
    except RuntimeError:  # changed size during iteration: the caller looks again
        return []


def _stop_pool(pool: ProcessPoolExecutor, grace_s: float = 5.0) -> None:
    """Terminate every worker and wait until they and the pool's manager thread are gone: no worker keeps
    encoding after the job stopped, none is left a zombie. A killed worker makes the manager thread
    terminate the rest and exit; until it has, it may still start a replacement (max_tasks_per_child), so
    workers are terminated until it is gone. (shutdown(wait=False) would clear the process table under the
    running thread, which then dies with 'TypeError: object of type NoneType has no len()'.)"""
    thread = getattr(pool, "_executor_manager_thread", None)
    start = time.monotonic()
    while True:
        late = time.monotonic() - start > grace_s
        for p in _pool_processes(pool):
            with contextlib.suppress(Exception):
                (p.kill if late else p.terminate)()
        if thread is None or not thread.is_alive() or time.monotonic() - start > 2 * grace_s:
            break
        thread.join(0.05)
    stuck = thread is not None and thread.is_alive()
    with contextlib.suppress(Exception):
        pool.shutdown(wait=not stuck, cancel_futures=True)


def _run_ray(jobs: _ChunkJobs, pending: list, call, bar: Bar) -> None:
    opts = jobs.opts
    try:
        import ray
    except ImportError:
        raise SemcodecError("--ray needs Ray: pip install 'semcodec[parallel]' (or pip install ray)") from None
    started = False
    if not ray.is_initialized():
        if opts.ray == "local":
            ray.init(num_cpus=opts.worker_count() * opts.threads_per_chunk, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=opts.ray, log_to_driver=False, configure_logging=False)
        started = True
    task = ray.remote(num_cpus=opts.threads_per_chunk, max_retries=3,
                      max_calls=1 if opts.fresh_process_per_chunk else 0)(_ray_chunk)
    refs = {}
    for c in _limit(pending, opts):
        fn, args = call(c)
        refs[task.remote(fn, args, opts.threads_per_chunk)] = c
    try:
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for r in done:
                c = refs.pop(r)
                jobs.record(c, ray.get(r))
                bar.update(1)
    except BaseException:
        for r in refs:
            with contextlib.suppress(Exception):
                ray.cancel(r, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


def _write_chunk(path: str, data: bytes) -> None:
    """A chunk from a Ray task, written atomically under a unique temp name (concurrent runs cannot clash)."""
    try:
        with atomic_output(path) as tmp, open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise SemcodecError(f"cannot write chunk {path}: {exc.strerror or exc}") from None


def _ray_chunk(fn, args, threads):
    init_worker_threads(threads)
    return fn(*args)


def init_worker_threads(threads: int) -> None:
    with contextlib.suppress(Exception):
        import cv2

        cv2.setNumThreads(max(1, threads))


def _report(info, settings, opts, m, index, results, js, output_path, backend, resume: tuple, timings: Timings,
            work_dir) -> dict:
    """The chunks' reports merged into one, with the join's output and the parallel section."""
    from semcodec.pipeline.report import EncodeReport, OutputSummary

    resumed, kept, redone = resume
    duration = index.seconds(0, index.frames) if index.frames else 0.0
    output = OutputSummary(output_path, js["bytes"], js["video_bytes"], js["frames"], duration,
                           info.width - info.width % 2, info.height - info.height % 2)
    timings.fps = round(js["frames"] / timings.total_s, 2) if timings.total_s else None
    target = settings.bitrate
    video_kbps = js["video_bytes"] * 8 / duration / 1000 if duration else None
    parallel = {
        "backend": backend, "ray_address": opts.ray, "workers": opts.worker_count(),
        "threads_per_chunk": opts.threads_per_chunk, "work_dir": work_dir,
        "chunks": [{**{k: c.get(k) for k in ("index", "start_frame", "end_frame", "tail", "bytes", "video_bytes",
                                             "seconds", "host", "sha256", "crf", "target")},
                    "bitrate": c.get("bitrate2") or c.get("bitrate")} for c in m.chunks],
        "resumed": resumed, "chunks_reused": kept, "chunks_redone_corrupt": redone,
        "chunks_encoded_now": sorted(results), "reorder_delay": js["reorder_delay"],
        "budget": ({"target_kbps": target / 1000, "video_kbps": round(video_kbps, 2),
                    "error_pct": round(100 * (video_kbps * 1000 / target - 1), 2),
                    **{k: v for k, v in (m.data.get("two_pass_budget") or {}).items()
                       if k in ("chunks_inside_shots", "keyframe_share_pct")}}
                   if target and video_kbps else None),
        "output_sha256": m.data["output"]["sha256"],
    }
    starts = {c["index"]: c["start_frame"] for c in m.chunks}
    chunk_reports = {starts[i]: r["report"] for i, r in results.items()}
    report = EncodeReport.merge(chunk_reports, input=info, output=output, settings=settings, timings=timings,
                                parallel=parallel)
    report.warnings += [w for w in js["warnings"] if w not in report.warnings]  # the join's (audio, subtitles)
    warning = _keyframe_warning(m, index)
    if warning:
        log.warning(warning)
        report.warnings.append(warning)
    if m.data.get("rate_fit"):
        report.roi.details = {**report.roi.details, "rate_fit": m.data["rate_fit"]}
    if refused := m.chunks[0].get("no_map") if m.chunks else None:  # the chunks ran without a map (worker)
        report.roi = dataclasses.replace(report.roi, mode=settings.roi, status=refused)
        log.warning(refused)
        report.warnings.append(refused)
    return report.to_json()

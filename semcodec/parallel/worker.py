"""One chunk: the normal encode pipeline restricted to the chunk's frame range.

The same function runs in a local worker process (writes the chunk into the work folder itself) and
in a Ray task (returns the chunk's bytes through Ray's object store; the coordinator writes them, so
only the coordinator needs the work folder; the input must be readable at the same path on every node)."""
from __future__ import annotations

import ctypes
import dataclasses
import os
import shutil
import signal
import sys
import tempfile
import time

from semcodec.errors import SemcodecError

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def init_worker(threads: int, tmp_dir: str | None = None, parent_pid: int | None = None) -> None:
    """Process-pool initializer: Ctrl-C goes to the coordinator only (it stops the pool; SIGTERM from it
    ends a worker at once), the worker dies with the coordinator, temp files go to `tmp_dir` (in the work
    folder, removed by the coordinator whatever happens to the worker), and OpenCV gets the threads of
    one chunk, not the whole machine."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # the coordinator started us with SIGINT blocked: ignored now
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _die_with_parent(parent_pid)
    if tmp_dir:
        os.environ["TMPDIR"] = tmp_dir  # for libraries and subprocesses
        tempfile.tempdir = tmp_dir  # tempfile may have cached the old one already
    try:
        import cv2

        cv2.setNumThreads(max(1, threads))
    except Exception:  # noqa: BLE001 - OpenCV threads are an optimisation only
        pass


def _die_with_parent(parent_pid: int | None) -> None:
    """Linux: have the kernel SIGKILL this worker when the coordinator dies, even by SIGKILL, so no orphan
    keeps encoding into a job that is gone. (The 'parent' is the coordinator's thread that started the
    worker; the pool's manager thread, which starts replacements, outlives every worker it starts.)"""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        args = (ctypes.c_ulong(int(signal.SIGKILL)), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
        if libc.prctl(ctypes.c_int(_PR_SET_PDEATHSIG), *args) != 0:  # variadic: pass unsigned longs
            return
    except (OSError, AttributeError):  # no prctl: the coordinator still terminates its pool on any exit path
        return
    if parent_pid is not None and os.getppid() != parent_pid:  # it died before prctl took effect
        os._exit(1)


def _chunk_job(settings_dict: dict, chunk: dict, bitrate: int | None):
    from semcodec.pipeline import ChunkRange, EncodeSettings

    s = EncodeSettings(**settings_dict)
    s = dataclasses.replace(s, save_maps=None, bitrate=bitrate or s.bitrate)
    if chunk.get("no_map"):  # the job's rate fit found the map not worth its cost (runner._fit_rate)
        s = dataclasses.replace(s, roi="off")
    span = ChunkRange(chunk["start_frame"], chunk["end_frame"], chunk.get("seek_pts"), tail=chunk.get("tail") or 0,
                      opening_scale=chunk.get("opening_scale"),
                      stats_crf=chunk.get("stats_crf"))
    return s, span


def _with_seek_fallback(encode, span, want: int) -> tuple[object, bool]:
    """encode(span) -> frames encoded; a seek that landed badly (a container whose index lies) is retried
    decoding from the start."""
    result, frames = encode(span)
    if frames != want and span.seeks:
        result, frames = encode(dataclasses.replace(span, seek_pts=None))
        return result, False
    return result, span.seeks


def encode_chunk(input_path: str, out_path: str, settings_dict: dict, chunk: dict, threads: int | None = 1,
                 target: dict | None = None, search=None, pass1_dir: str | None = None) -> dict:
    """Encode frames [start_frame, end_frame) of the input to `out_path` (atomic: written to a temp
    file and renamed), with `threads` encoder threads and no audio. With a quality `target` (JSON), the
    chunk's CRF comes from `search(input, settings, target, chunk, threads)` first (semcodec.target's probe
    encodes; passed in, so this package does not depend on that one). `pass1_dir`: the chunk's first pass ran
    there (first_pass_chunk), pass 2 only, at the chunk's shared-out bitrate. Returns what the manifest needs
    and the chunk's EncodeReport."""
    from semcodec.pipeline import Execution, run

    t0 = time.perf_counter()
    s, span = _chunk_job(settings_dict, chunk, chunk.get("bitrate2") if pass1_dir else chunk.get("bitrate"))
    shot = None
    if target and search is not None:
        shot = search(input_path, s, target, chunk, threads)
        s = dataclasses.replace(s, crf=shot.crf)
    execution = Execution(threads=threads, audio=False)
    want = chunk["end_frame"] - chunk["start_frame"]
    rate_offset = chunk.get("rate_offset")  # the job's CRF rate fit (runner._fit_rate), or None

    def encode(sp):
        r = run(input_path, out_path, s, chunk=sp, execution=execution, rate_offset=rate_offset,
                first_pass_dir=pass1_dir)
        return r, r.output.frames

    report, seeked = _with_seek_fallback(encode, span, want)
    if report.output.frames != want:
        raise SemcodecError(f"chunk {chunk['index']}: encoded {report.output.frames} frames, expected {want}")
    return {"index": chunk["index"], "frames": want, "seconds": round(time.perf_counter() - t0, 3),
            "seeked": seeked, "host": os.uname().nodename, "pid": os.getpid(),
            "video_bytes": report.output.video_bytes, "report": report,
            "crf": shot.crf if shot else None, "target": shot.to_json() if shot else None}


def first_pass_chunk(input_path: str, folder: str, settings_dict: dict, chunk: dict, threads: int | None = 1) -> dict:
    """Pass 1 of a two-pass chunk; its statistics, maps and cuts end up in `folder` (written into a temp
    folder beside it and renamed), with the statistics of a pass at the job's `budget_crf` when the chunk has
    one. Returns the manifest's record: the folder's name and each file's sha256."""
    from semcodec.pipeline import Execution, first_pass

    t0 = time.perf_counter()
    s, span = _chunk_job(settings_dict, chunk, chunk.get("bitrate"))

    def run_in(tmp: str) -> None:
        def encode(sp):
            r = first_pass(input_path, tmp, s, chunk=sp, execution=Execution(threads=threads, audio=False),
                           budget_crf=chunk.get("budget_crf"))
            return r, r.frames
        _check_frames(chunk, "first pass", _with_seek_fallback(encode, span, _wanted(chunk))[0].frames)

    files = replace_folder(folder, run_in)
    return {"index": chunk["index"], "seconds": round(time.perf_counter() - t0, 3), "host": os.uname().nodename,
            "dir": os.path.basename(folder), "files": files}


def budget_pass_chunk(input_path: str, folder: str, settings_dict: dict, chunk: dict, threads: int | None = 1) -> dict:
    """The budget pass of a chunk whose first pass is in `folder`, again at the chunk's `budget_crf` (a copy of
    the folder measured, then put in its place). Returns the manifest's record, as first_pass_chunk."""
    from semcodec.pipeline import Execution, budget_pass

    t0 = time.perf_counter()
    s, span = _chunk_job(settings_dict, chunk, chunk.get("bitrate"))

    def run_in(tmp: str) -> None:
        def encode(sp):
            r = budget_pass(input_path, tmp, s, chunk["budget_crf"], chunk=sp,
                            execution=Execution(threads=threads, audio=False))
            return r, r.frames
        _check_frames(chunk, "budget pass", _with_seek_fallback(encode, span, _wanted(chunk))[0].frames)

    files = replace_folder(folder, run_in, copy=True)
    return {"index": chunk["index"], "seconds": round(time.perf_counter() - t0, 3), "host": os.uname().nodename,
            "dir": os.path.basename(folder), "files": files, "budget_crf": chunk["budget_crf"]}


def _wanted(chunk: dict) -> int:
    return chunk["end_frame"] - chunk["start_frame"]


def _check_frames(chunk: dict, what: str, frames: int) -> None:
    if frames != _wanted(chunk):
        raise SemcodecError(f"chunk {chunk['index']}: {what} saw {frames} frames, expected {_wanted(chunk)}")


def replace_folder(folder: str, run_in, copy: bool = False) -> dict:
    """`run_in(tmp)` on a temp folder beside `folder` (a copy of it with `copy`), which then takes `folder`'s
    place: a pass stopped halfway leaves the old folder as it was. Returns {file name: sha256}."""
    from semcodec.parallel.index import sha256_file

    parent, name = os.path.split(folder)
    tmp = tempfile.mkdtemp(prefix=f".{name}.partial", dir=parent)
    try:
        if copy:
            shutil.copytree(folder, tmp, dirs_exist_ok=True)
        run_in(tmp)
        files = {n: sha256_file(os.path.join(tmp, n)) for n in sorted(os.listdir(tmp))}
        shutil.rmtree(folder, ignore_errors=True)
        os.rename(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return files


def budget_pass_chunk_bytes(input_path: str, settings_dict: dict, chunk: dict, files: dict,
                            threads: int | None = 1) -> tuple[dict, dict]:
    """Ray task body: budget_pass_chunk over the chunk's first-pass folder given as {name: bytes}; returns
    (record, {name: bytes})."""
    with tempfile.TemporaryDirectory(prefix="semcodec-chunk-") as d:
        folder = os.path.join(d, "pass1")
        os.mkdir(folder)
        write_files(folder, files)
        res = budget_pass_chunk(input_path, folder, settings_dict, chunk, threads)
        return res, read_files(folder, res["files"])


def encode_chunk_bytes(input_path: str, suffix: str, settings_dict: dict, chunk: dict,
                       threads: int | None = 1, target: dict | None = None, search=None,
                       pass1_files: dict | None = None) -> tuple[dict, bytes]:
    """Ray task body: encode into a local temp file and return (result, bytes); `pass1_files`: the chunk's
    first-pass folder as {name: bytes} (first_pass_chunk_bytes), pass 2 only."""
    with tempfile.TemporaryDirectory(prefix="semcodec-chunk-") as d:
        out = os.path.join(d, f"chunk{suffix}")
        pass1_dir = None
        if pass1_files is not None:
            pass1_dir = os.path.join(d, "pass1")
            os.mkdir(pass1_dir)
            write_files(pass1_dir, pass1_files)
        res = encode_chunk(input_path, out, settings_dict, chunk, threads, target, search, pass1_dir)
        with open(out, "rb") as f:
            return res, f.read()


def first_pass_chunk_bytes(input_path: str, settings_dict: dict, chunk: dict,
                           threads: int | None = 1) -> tuple[dict, dict]:
    """Ray task body: first_pass_chunk into a local temp folder; returns (record, {name: bytes})."""
    with tempfile.TemporaryDirectory(prefix="semcodec-chunk-") as d:
        folder = os.path.join(d, "pass1")
        res = first_pass_chunk(input_path, folder, settings_dict, chunk, threads)
        return res, read_files(folder, res["files"])


def write_files(folder: str, files: dict) -> None:
    """{name: bytes} into `folder` (a chunk's first-pass folder carried to or from a Ray task)."""
    for name, data in files.items():
        with open(os.path.join(folder, os.path.basename(name)), "wb") as f:
            f.write(data)


def read_files(folder: str, names) -> dict:
    """{name: bytes} of these files of `folder`."""
    out = {}
    for name in names:
        with open(os.path.join(folder, name), "rb") as f:
            out[name] = f.read()
    return out

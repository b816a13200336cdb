"""`semcodec encode DIR/ -o OUTDIR/`: every video in DIR, one failure not stopping the rest."""
from __future__ import annotations

import os
import time

from semcodec.errors import SemcodecError
from semcodec.io import lock

VIDEO_EXTS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg",
              ".flv", ".wmv", ".y4m", ".264", ".h264", ".265", ".hevc", ".ivf", ".3gp", ".ogv"}


def find_videos(folder: str) -> list[str]:
    return sorted(os.path.join(folder, n) for n in os.listdir(folder)
                  if os.path.splitext(n)[1].lower() in VIDEO_EXTS and os.path.isfile(os.path.join(folder, n))
                  and not n.startswith("."))


def output_name(input_path: str) -> str:
    stem, ext = os.path.splitext(os.path.basename(input_path))
    return stem + (ext.lower() if ext.lower() in (".mp4", ".mov", ".mkv") else ".mp4")


def encode_batch(folder: str, out_dir: str, settings, opts=None, parallel: bool = True, on_result=None,
                 overwrite: str = "overwrite", execution=None) -> dict:
    """Encode every video in `folder` into `out_dir`. Returns {'results': [...], 'failed': [...],
    'skipped': [...]}. `parallel`: chunked (encode_parallel with `opts`) or the single-piece encode().
    `overwrite`: 'overwrite' an existing output, 'refuse' it (that video fails) or 'skip' it.
    `execution`: a semcodec.pipeline.Execution (threads of a single-piece encode, progress bars)."""
    from semcodec.parallel.runner import ParallelOptions, check_options
    from semcodec.pipeline import Execution

    settings.validate()  # a bad option is one usage error up front, not one failure per video
    if parallel:
        check_options(opts or ParallelOptions())
    if not os.path.isdir(folder):
        raise SemcodecError(f"input folder does not exist: {folder}")
    if not os.path.isdir(out_dir):
        raise SemcodecError(f"output folder does not exist: {out_dir} (create it first)")
    videos = find_videos(folder)
    if not videos:
        raise SemcodecError(f"no video files in {folder}")
    opts = opts or ParallelOptions()
    # one batch per output folder: a second batch into it stops at once instead of racing the first one
    # video by video (each chunked video's own work folder is locked too)
    with lock.locked_folder(out_dir, "output folder"):
        return _encode_each(videos, out_dir, settings, opts, parallel, on_result, overwrite,
                            execution or Execution())


def _encode_each(videos: list[str], out_dir: str, settings, opts, parallel: bool, on_result,
                 overwrite: str, execution) -> dict:
    import dataclasses

    from semcodec import encode
    from semcodec.parallel.runner import encode_parallel

    results, failed, skipped = [], [], []
    for path in videos:
        out = os.path.join(out_dir, output_name(path))
        t0 = time.perf_counter()
        if os.path.lexists(out) and overwrite == "skip":
            row = {"input": path, "output": out, "ok": True, "skipped": True, "frames": None, "bytes": None,
                   "seconds": 0.0}
            skipped.append(path)
            results.append(row)
            if on_result:
                on_result(row)
            continue
        try:
            if os.path.lexists(out) and overwrite == "refuse":
                raise SemcodecError(f"{out} already exists; pass -y to overwrite (or -n to skip)")
            if parallel:
                o = opts
                if opts.work_dir:
                    o = dataclasses.replace(opts, work_dir=os.path.join(opts.work_dir, os.path.basename(path)))
                rep = encode_parallel(path, out, settings, o, progress=execution.progress)
            else:
                rep = encode(path, out, settings, execution)
            row = {"input": path, "output": out, "ok": True, "frames": rep["output"]["frames"],
                   "bytes": rep["output"]["bytes"], "seconds": round(time.perf_counter() - t0, 2)}
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the catalogue
            msg = str(exc) if isinstance(exc, SemcodecError) else f"{type(exc).__name__}: {exc}"
            row = {"input": path, "output": None, "ok": False, "error": msg,
                   "seconds": round(time.perf_counter() - t0, 2)}
            failed.append(path)
        results.append(row)
        if on_result:
            on_result(row)
    return {"results": results, "failed": failed, "skipped": skipped}

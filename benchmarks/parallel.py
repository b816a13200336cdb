"""Shot-chunked parallel encoding: wall time with 1 and 2 local workers and a local Ray cluster, side by
side in one run, on the 139 s office clip and the 70 s Tears of Steel clip; the joined output checked
against the input (frame count, every timestamp, full decode); and a kill-and-resume check: a worker
process SIGKILLed mid-run (the pool restarts), and the whole job SIGKILLed mid-run then re-run, must both
give the same bytes as an uninterrupted run.

    python benchmarks/parallel.py [--preset fast] [--crf 23] [--clips office,tears] [--no-ray]

Writes benchmarks/results/parallel.json and parallel.md. Skips cleanly when ../shared/videos is absent.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import av  # noqa: E402

from semcodec.parallel import ParallelOptions, encode_parallel  # noqa: E402
from semcodec.pipeline import EncodeSettings  # noqa: E402

VIDEOS = os.path.join(os.path.dirname(ROOT), "shared", "videos")
CLIPS = {"office": ("office_people_walking_overhead.mp4", ".mp4"),
         "tears": ("tears_of_steel_battle_clip.webm", ".mkv")}  # mkv keeps the Vorbis audio as it is


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def frame_times(path):
    with av.open(path) as c:
        return sorted(round(float(f.pts * f.time_base), 6) for f in c.decode(video=0))


def check_output(src, out):
    a, b = frame_times(src), frame_times(out)
    with av.open(out) as c:
        audio = [s.codec_context.name for s in c.streams.audio]
    return {"input_frames": len(a), "output_frames": len(b), "same_frame_count": len(a) == len(b),
            "timestamps_identical": a == b, "max_timestamp_diff_s": max((abs(x - y) for x, y in zip(a, b)), default=0),
            "decodes_in_full": len(b) == len(a), "first_s": b[0] if b else None, "last_s": b[-1] if b else None,
            "audio": audio}


def cli_cmd(src, out, work, preset, crf, workers):
    return [sys.executable, "-m", "cli.main", "encode", src, "-o", out, "--workers", str(workers), "--work-dir", work,
            "--preset", preset, "--crf", str(crf), "-q"]


def done_chunks(work):
    try:
        with open(os.path.join(work, "manifest.json")) as f:
            m = json.load(f)
        return sum(c["state"] == "done" for c in m["chunks"]), len(m["chunks"])
    except (OSError, ValueError, KeyError):
        return 0, 0


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(x) for x in out]


def kill_resume(src, ext, tmp, preset, crf, reference_sha):
    """(a) SIGKILL one worker process mid-run: the pool is restarted, the run completes.
    (b) SIGKILL the whole job after some chunks; re-run: finished chunks reused, output identical."""
    res = {}
    out, work = os.path.join(tmp, "killw" + ext), os.path.join(tmp, "work_killw")
    p = subprocess.Popen(cli_cmd(src, out, work, preset, crf, 2), cwd=ROOT, stderr=subprocess.PIPE, text=True)
    killed = None
    while p.poll() is None and killed is None:
        time.sleep(0.2)
        if done_chunks(work)[0] >= 1:
            # the spawn pool has a resource tracker child too; workers are the ones running python -c/spawn_main
            for c in children(p.pid):
                try:
                    with open(f"/proc/{c}/cmdline", "rb") as f:
                        cmd = f.read().decode(errors="replace")
                except OSError:
                    continue
                if "spawn_main" in cmd:
                    os.kill(c, signal.SIGKILL)
                    killed = c
                    break
    err = p.communicate()[1]
    res["worker_killed"] = {"killed_pid": killed, "exit_code": p.returncode,
                            "output_sha256": sha(out) if os.path.exists(out) else None,
                            "identical_to_uninterrupted": os.path.exists(out) and sha(out) == reference_sha,
                            "log": [line for line in err.splitlines() if "warning" in line][:3]}
    out, work = os.path.join(tmp, "killj" + ext), os.path.join(tmp, "work_killj")
    p = subprocess.Popen(cli_cmd(src, out, work, preset, crf, 2), cwd=ROOT, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    while p.poll() is None:
        time.sleep(0.2)
        d, n = done_chunks(work)
        if n and d >= max(1, n // 3):
            os.killpg(p.pid, signal.SIGKILL)  # the coordinator and all its workers, mid-run
            break
    p.wait()
    before, n = done_chunks(work)
    t0 = time.perf_counter()
    r = subprocess.run(cli_cmd(src, out, work, preset, crf, 2) + ["--json"], cwd=ROOT, capture_output=True, text=True)
    rep = json.loads(r.stdout) if r.returncode == 0 else {}
    res["job_killed_then_rerun"] = {
        "chunks_done_when_killed": before, "chunks": n,
        "partial_output_left": os.path.exists(out) and r.returncode != 0,
        "rerun_exit_code": r.returncode, "rerun_s": round(time.perf_counter() - t0, 2),
        "chunks_reused": len(rep.get("parallel", {}).get("chunks_reused", [])),
        "identical_to_uninterrupted": r.returncode == 0 and sha(out) == reference_sha}
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--crf", type=float, default=23)
    ap.add_argument("--clips", default="office,tears")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--no-kill", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "parallel.json"))
    args = ap.parse_args()
    if not os.path.isdir(VIDEOS):
        print(f"skipped: {VIDEOS} not found", file=sys.stderr)
        return 0
    try:
        import ray  # noqa: F401
        have_ray = not args.no_ray
    except ImportError:
        have_ray = False
    settings = EncodeSettings(codec="libx264", crf=args.crf, preset=args.preset)
    rows = []
    for key in args.clips.split(","):
        name, ext = CLIPS[key]
        src = os.path.join(VIDEOS, name)
        if not os.path.exists(src):
            print(f"skipped {name}: not found", file=sys.stderr)
            continue
        row = {"clip": name, "runs": {}}
        with tempfile.TemporaryDirectory() as tmp:
            shas = {}
            configs = [("1 worker", dict(workers=1)), ("2 workers", dict(workers=2))]
            if have_ray:
                configs.append(("Ray local (2 CPUs)", dict(workers=2, ray="local")))
            for label, kw in configs:
                out = os.path.join(tmp, label.split()[0] + kw.get("ray", "") + ext)
                t0 = time.perf_counter()
                rep = encode_parallel(src, out, settings, ParallelOptions(**kw))
                wall = time.perf_counter() - t0
                par = rep["parallel"]
                shas[label] = sha(out)
                row["runs"][label] = {
                    "wall_s": round(wall, 2), "fps": round(rep["output"]["frames"] / wall, 1),
                    "planning_s": rep["timings"]["planning_s"], "join_s": rep["timings"]["join_s"],
                    "chunks": len(par["chunks"]),
                    "chunk_s_sum": round(sum(c["seconds"] or 0 for c in par["chunks"]), 2),
                    "bytes": rep["output"]["bytes"], "sha256": shas[label],
                    "load_average_1min_after": round(os.getloadavg()[0], 2)}
                row.setdefault("frames", rep["output"]["frames"])
                row.setdefault("chunk_frames", [c["end_frame"] - c["start_frame"] for c in par["chunks"]])
                if label == "2 workers":
                    row["output_check"] = check_output(src, out)
                print(f"{name}: {label}: {wall:.1f} s", file=sys.stderr, flush=True)
            row["identical_across_backends"] = len(set(shas.values())) == 1
            if not args.no_kill:
                row["kill_resume"] = kill_resume(src, ext, tmp, args.preset, args.crf, shas["2 workers"])
            # single-piece encode for the per-core throughput figures (analysis vs encoder)
            t0 = time.perf_counter()
            from semcodec.pipeline import encode
            srep = encode(src, os.path.join(tmp, "single" + ext), settings)
            row["single_piece"] = {"wall_s": round(time.perf_counter() - t0, 2),
                                   "analysis_s": srep["timings"]["analysis_s"], "frames": srep["output"]["frames"],
                                   "note": "normal pipeline, FFmpeg's default threads (both cores)"}
        rows.append(row)
        print(json.dumps(row, indent=1), file=sys.stderr)
    result = {"schema": "semcodec.bench.parallel/1", "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "codec": "libx264", "preset": args.preset, "crf": args.crf, "threads_per_chunk": 1,
              "command": "python benchmarks/parallel.py", "clips": rows}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write(markdown(result))
    print(markdown(result))
    return 0


def markdown(r) -> str:
    lines = [f"**Chunked parallel encoding**, libx264 preset {r['preset']} CRF {r['crf']:g}, ROI auto, 1 encoder "
             f"thread per chunk, {r['machine']} (`{r['command']}`):", "",
             "| clip | frames | chunks | 1 worker s | 2 workers s | Ray local s | speed-up 2w | same bytes "
             "| frames & timestamps = input | killed worker: same bytes | killed job + resume: same bytes |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in r["clips"]:
        runs = c["runs"]
        one, two = runs.get("1 worker", {}), runs.get("2 workers", {})
        ray = runs.get("Ray local (2 CPUs)", {})
        kr = c.get("kill_resume", {})
        oc = c.get("output_check", {})
        lines.append(
            f"| {c['clip']} | {c['frames']} | {two.get('chunks')} | {one.get('wall_s')} | {two.get('wall_s')} | "
            f"{ray.get('wall_s', '-')} | {one['wall_s'] / two['wall_s']:.2f}x | "
            f"{'yes' if c['identical_across_backends'] else 'NO'} | "
            f"{'yes' if oc.get('same_frame_count') and oc.get('timestamps_identical') else 'NO'} | "
            f"{'yes' if kr.get('worker_killed', {}).get('identical_to_uninterrupted') else 'no/-'} | "
            f"{'yes' if kr.get('job_killed_then_rerun', {}).get('identical_to_uninterrupted') else 'no/-'} "
            f"({kr.get('job_killed_then_rerun', {}).get('chunks_reused', '-')} chunks reused) |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

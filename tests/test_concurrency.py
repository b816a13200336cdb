"""Concurrent runs and interruptions: folder locks (chunked work folder, batch output folder, bench results),
a full disk under a chunked encode, and SIGTERM / Ctrl-C / SIGKILL of a real chunked `semcodec encode`."""
from __future__ import annotations

import contextlib
import errno
import glob
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import make_clip, video_timestamps
from semcodec.errors import SemcodecError
from semcodec.io import lock
from semcodec.parallel import ParallelOptions, encode_batch, encode_parallel
from semcodec.parallel.runner import WORKER_TMP, _write_chunk, default_work_dir
from semcodec.pipeline import EncodeSettings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = dict(preset="veryfast")
CHUNKS = ["--workers", "2", "--chunk-min-s", "0.4", "--chunk-max-s", "1", "--preset", "veryfast", "-q"]
BAD_STDERR = ("Traceback", "Thread-", "leaked", "resource_tracker")

HOLDER = """import sys
from semcodec.io.lock import locked_folder
with locked_folder(sys.argv[1], "folder"):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    # 8 s of 160x96: 8 chunks of 1 s with --chunk-max-s 1, each worker alive for a second or two
    return make_clip(tmp_path_factory.mktemp("conc") / "in.mp4", frames=200, size=(160, 96))


def _env(tmpdir) -> dict:
    return dict(os.environ, TMPDIR=str(tmpdir), PYTHONPATH=ROOT)


@contextlib.contextmanager
def held_elsewhere(folder):
    """Another process holds the lock on `folder` for the body; yields its PID."""
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        yield p.pid
    finally:
        p.stdin.close()
        p.wait(20)


# ---- the lock helper ----------------------------------------------------------------------------
def test_lock_names_the_owner_and_goes_with_it(tmp_path):
    d = tmp_path / "w"
    with held_elsewhere(d) as pid:
        with pytest.raises(lock.FolderBusy, match=f"work folder {d} is already in use by PID {pid}$"):
            lock.acquire(str(d), "work folder")
        assert os.path.exists(lock.lock_path(str(d)))  # a refused run never removes the owner's lock file
        with pytest.raises(lock.FolderBusy, match=f"PID {pid}"):  # so a third one is refused too
            lock.acquire(str(d), "work folder")
    assert not os.path.exists(lock.lock_path(str(d)))  # the owner removed it
    with lock.locked_folder(str(d)) as path:  # and the folder is free again
        assert open(path).read().strip() == str(os.getpid())
        with pytest.raises(lock.FolderBusy, match=f"PID {os.getpid()}"):  # one holder, also in one process
            lock.acquire(str(d))


def test_lock_admits_one_holder_at_a_time_while_owners_remove_it(tmp_path):
    """Owners unlink the lock file (and, like the default work folder, remove the folder) on release while
    others try to take it: never two holders at once."""
    d = str(tmp_path / "w")
    inside, peak, rounds, errors = [0], [0], [0], []
    guard = threading.Lock()
    deadline = time.monotonic() + 20  # a count, not a time window: a loaded machine gets fewer rounds per second

    def contend():
        while rounds[0] < 50 and time.monotonic() < deadline:
            try:
                fd = lock.acquire(d, "work folder")
            except lock.FolderBusy:
                continue
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return
            with guard:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
                rounds[0] += 1
            time.sleep(0.0005)
            with guard:
                inside[0] -= 1
            lock.release(fd, d)
            with contextlib.suppress(OSError):
                os.rmdir(d)

    threads = [threading.Thread(target=contend) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert peak[0] == 1 and rounds[0] >= 50
    with open(d, "w"):  # a file where the folder should be
        pass
    with pytest.raises(SemcodecError, match="it is not a folder"):
        lock.acquire(d, "work folder")


# ---- chunked encodes, batch, bench --------------------------------------------------------------
def test_second_chunked_run_to_the_same_output_is_refused(clip, tmp_path):
    out = tmp_path / "o.mp4"
    work = default_work_dir(str(out))
    with held_elsewhere(work) as pid:
        with pytest.raises(SemcodecError, match=f"^work folder {work} is already in use by PID {pid}$"):
            encode_parallel(clip, str(out), EncodeSettings(**FAST), ParallelOptions(workers=2))
        assert os.listdir(work) == [lock.LOCK_NAME]  # the owner's folder untouched
    assert not out.exists()
    explicit = tmp_path / "explicit"
    with held_elsewhere(explicit) as pid:
        with pytest.raises(SemcodecError, match=f"^work folder {explicit} is already in use by PID {pid}$"):
            encode_parallel(clip, str(out), EncodeSettings(**FAST), ParallelOptions(workers=2, work_dir=str(explicit)))


def test_two_real_chunked_runs_one_output(clip, tmp_path, capsys):
    """While a CLI run encodes, a second run to the same output fails in one line naming it; the first
    finishes unharmed and leaves nothing beside the output."""
    from cli.main import main

    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "o.mp4"
    work = default_work_dir(str(out))
    first = subprocess.Popen([sys.executable, "-m", "cli.main", "encode", clip, "-o", str(out), *CHUNKS], cwd=ROOT,
                             env=_env(tmp_path), stderr=subprocess.PIPE, text=True)
    _wait_until(lambda: os.path.exists(os.path.join(work, "manifest.json")), first)
    rc = main(["encode", clip, "-o", str(out), *CHUNKS])
    assert rc == 1
    assert capsys.readouterr().err == f"semcodec: error: work folder {work} is already in use by PID {first.pid}\n"
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0 and not any(b in err for b in BAD_STDERR), err
    assert os.listdir(folder) == ["o.mp4"]
    assert len(video_timestamps(out)) == 200


def test_second_batch_into_the_same_folder_is_refused(clip, tmp_path):
    src, dst = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    dst.mkdir()
    shutil.copy(clip, src / "a.mp4")
    with held_elsewhere(dst) as pid:
        with pytest.raises(SemcodecError, match=f"^output folder {dst} is already in use by PID {pid}$"):
            encode_batch(str(src), str(dst), EncodeSettings(**FAST), ParallelOptions(workers=2))
    assert os.listdir(dst) == []


def test_second_bench_on_the_same_results_folder_is_refused(clip, tmp_path):
    from semcodec.bench import BenchSettings, parse_points, run_bench

    out = tmp_path / "bench"
    out.mkdir()
    (out / "results.json").write_text('{"keep": "me"}')
    s = BenchSettings(points=parse_points("crf", "30"), modes="baseline", metrics="psnr", resume=True)
    with held_elsewhere(out) as pid:
        with pytest.raises(SemcodecError, match=f"^results folder {out} is already in use by PID {pid}$"):
            run_bench([clip], str(out), s)
    assert (out / "results.json").read_text() == '{"keep": "me"}'
    assert sorted(os.listdir(out)) == ["results.json"]


def test_ray_chunks_are_written_under_unique_temp_names(tmp_path):
    p = tmp_path / "chunk_00000.mp4"
    (tmp_path / "chunk_00000.mp4.partial").write_bytes(b"another run's file")  # the old fixed name
    _write_chunk(str(p), b"chunk bytes")
    assert p.read_bytes() == b"chunk bytes"
    assert (tmp_path / "chunk_00000.mp4.partial").read_bytes() == b"another run's file"
    assert sorted(os.listdir(tmp_path)) == ["chunk_00000.mp4", "chunk_00000.mp4.partial"]


# ---- a full disk --------------------------------------------------------------------------------
def test_manifest_on_a_full_disk_is_one_clean_error(clip, tmp_path, monkeypatch):
    """The manifest write after the first finished chunk fails with ENOSPC: one SemcodecError, the pool
    stopped (no worker left, no crash of the executor's thread), no temp file in the work folder."""
    import semcodec.parallel.manifest as manifest

    real, calls, crashes = manifest.write_json, [0], []

    def full_after_planning(path, data, indent=2):
        calls[0] += 1
        if calls[0] > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data, indent=indent)

    monkeypatch.setattr(manifest, "write_json", full_after_planning)
    monkeypatch.setattr(threading, "excepthook", crashes.append)
    work = tmp_path / "w"
    with pytest.raises(SemcodecError,
                       match="^cannot write the chunk manifest .*manifest.json: no space left on device$"):
        encode_parallel(clip, str(tmp_path / "o.mp4"), EncodeSettings(**FAST),
                        ParallelOptions(workers=2, chunk_min_s=0.4, chunk_max_s=1, work_dir=str(work)))
    # stopped before the error came out: no executor thread still running, no worker still alive
    assert not [t for t in threading.enumerate() if type(t).__name__ == "_ExecutorManagerThread"]
    assert multiprocessing.active_children() == []
    time.sleep(0.3)
    assert crashes == []  # nothing crashed in a thread meanwhile (the 'Thread-1 ... TypeError')
    left = sorted(os.listdir(work))
    assert "manifest.json" in left and all(n.startswith("chunk_") for n in left if n != "manifest.json"), left
    assert not (tmp_path / "o.mp4").exists()


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {(r.stderr or r.stdout).strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_chunked_run_on_a_full_disk(clip, tmp_path, small_disk):
    work = small_disk / "w"
    out = tmp_path / "o.mp4"
    r = subprocess.run([sys.executable, "-m", "cli.main", "encode", clip, "-o", str(out), "--work-dir", str(work),
                        *CHUNKS], cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("semcodec: error: "), r.stderr
    assert "no space left on device" in lines[0].lower(), r.stderr
    assert not out.exists()
    left = os.listdir(work)
    assert not [n for n in left if ".partial" in n or n in (WORKER_TMP, lock.LOCK_NAME)], left


# ---- signals ------------------------------------------------------------------------------------
def _proc_field(pid: int, i: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[i]
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    state = _proc_field(pid, 0)
    return state is not None and state != "Z"  # a zombie has stopped running


def _children(pid: int) -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit() and _proc_field(int(d), 1) == str(pid)]


def _workers(pid: int) -> list[int]:
    out = []
    for k in _children(pid):
        with contextlib.suppress(OSError), open(f"/proc/{k}/cmdline", "rb") as f:
            if b"spawn_main" in f.read():
                out.append(k)
    return out


def _wait_until(cond, proc, timeout: float = 90.0) -> None:
    t0 = time.monotonic()
    while not cond():
        if proc.poll() is not None:
            pytest.fail(f"the run ended early (rc {proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() - t0 > timeout:
            pytest.fail("timed out waiting for the run")
        time.sleep(0.02)


def _start_and_wait_for_a_chunk(args, tmp_path, work, **kw):
    """A chunked CLI encode, once a worker is writing a chunk into `work`: (process, its children)."""
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc to see the worker processes")
    (tmp_path / "tmpdir").mkdir()
    p = subprocess.Popen([sys.executable, "-m", "cli.main", "encode", *CHUNKS, *args], cwd=ROOT,  # args win
                         env=_env(tmp_path / "tmpdir"), stderr=subprocess.PIPE, text=True, **kw)
    _wait_until(lambda: glob.glob(os.path.join(glob.escape(str(work)), ".chunk_*.partial*")), p)
    return p, _children(p.pid)


def _assert_all_gone(pids, timeout: float = 10.0) -> None:
    t0 = time.monotonic()
    while any(_alive(k) for k in pids) and time.monotonic() - t0 < timeout:
        time.sleep(0.05)
    assert not [k for k in pids if _alive(k)], "child processes left running"


@pytest.mark.parametrize("how, code", [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)])
def test_interrupted_chunked_run_leaves_nothing(clip, tmp_path, how, code):
    """SIGTERM or SIGHUP to the coordinator (kill, timeout, systemd, a closed terminal) or Ctrl-C to the
    whole process group."""
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "o.mp4"
    p, kids = _start_and_wait_for_a_chunk([clip, "-o", str(out)], tmp_path, default_work_dir(str(out)),
                                          start_new_session=True)
    if how == "SIGINT":
        os.killpg(p.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C
    else:
        p.send_signal(getattr(signal, how))
    assert p.wait(60) == code
    err = p.stderr.read()
    assert not any(b in err for b in BAD_STDERR), err
    _assert_all_gone(kids)
    assert os.listdir(folder) == []  # no output, no partial, no default work folder
    assert os.listdir(tmp_path / "tmpdir") == []


@pytest.mark.parametrize("delay", [0.03, 0.06, 0.1])
def test_ctrl_c_while_a_worker_starts_up(clip, tmp_path, delay):
    """Workers are started with SIGINT blocked until they ignore it: a Ctrl-C that reaches a worker while
    Python is still importing in it prints no KeyboardInterrupt traceback of that worker."""
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc to see the worker processes")
    folder = tmp_path / "out"
    folder.mkdir()
    p = subprocess.Popen([sys.executable, "-m", "cli.main", "encode", *CHUNKS, clip, "-o", str(folder / "o.mp4")],
                         cwd=ROOT, env=_env(tmp_path), stderr=subprocess.PIPE, text=True, start_new_session=True)
    _wait_until(lambda: _workers(p.pid), p, timeout=90)
    time.sleep(delay)  # inside the worker's start-up (interpreter, imports), before its initializer
    kids = _children(p.pid)
    os.killpg(p.pid, signal.SIGINT)
    assert p.wait(60) == 130
    err = p.stderr.read()
    assert not any(b in err for b in BAD_STDERR), err
    _assert_all_gone(kids)
    assert os.listdir(folder) == []


def test_sigterm_keeps_an_explicit_work_dir_for_resume(clip, tmp_path):
    work = tmp_path / "work"
    (work / "tmp").mkdir(parents=True)  # the user's own files in an explicit work folder are never touched
    (work / "tmp" / "notes.txt").write_text("mine")
    (work / ".notes.partial").write_text("mine")
    p, kids = _start_and_wait_for_a_chunk([clip, "-o", str(tmp_path / "o.mp4"), "--work-dir", str(work)], tmp_path,
                                          work)
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == 143
    _assert_all_gone(kids)
    left = sorted(set(os.listdir(work)) - {"tmp", ".notes.partial"})
    assert "manifest.json" in left and all(n.startswith("chunk_") for n in left if n != "manifest.json"), left
    assert (work / "tmp" / "notes.txt").read_text() == (work / ".notes.partial").read_text() == "mine"
    assert os.listdir(tmp_path / "tmpdir") == []
    assert not (tmp_path / "o.mp4").exists()


def test_workers_die_with_a_killed_coordinator_and_the_next_run_finishes(tmp_path):
    # two chunks of 200 frames at 320x192: each worker encodes for a second or two, long enough to see
    # whether it outlives its coordinator
    clip = make_clip(tmp_path / "long.mp4", frames=400, size=(320, 192))
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "o.mp4"
    args = [clip, "-o", str(out), "--chunk-min-s", "4", "--chunk-max-s", "8"]
    p, _ = _start_and_wait_for_a_chunk(args, tmp_path, default_work_dir(str(out)))
    workers = _workers(p.pid)
    p.kill()  # no cleanup at all: the kernel kills the workers (PR_SET_PDEATHSIG) and drops the lock
    p.wait(30)
    _assert_all_gone(workers, timeout=0.5)  # at once, not when their chunk is done
    r = subprocess.run([sys.executable, "-m", "cli.main", "encode", *CHUNKS, *args, "--json"],
                       cwd=ROOT, env=_env(tmp_path / "tmpdir"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["parallel"]["resumed"]  # the killed run's manifest was picked up
    assert os.listdir(folder) == ["o.mp4"]  # the killed run's work folder and temp files are gone
    assert os.listdir(tmp_path / "tmpdir") == []
    assert len(video_timestamps(out)) == 400

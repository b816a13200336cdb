"""Output conventions: -y/-n, streams (stdout, /dev/null, FIFOs) written in place, umask, stale partials,
machine output on stdout only when asked, a closed pipe, signals, a full disk and a read-only folder."""
import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

from conftest import make_clip, sha256
from semcodec.io.writer import partial_path, remove_stale_partials, write_json


@pytest.fixture
def run(cli):
    return cli


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("outputs") / "c.mp4", frames=12)


def _cmd():
    script = os.path.join(os.path.dirname(sys.executable), "semcodec")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "cli.main"]


# ---- overwrite policy ---------------------------------------------------------------------------

def test_existing_output_refused_kept_skipped_or_overwritten(run, clip, tmp_path):
    out = tmp_path / "o.mp4"
    out.write_bytes(b"older")
    rc, _, err = run("encode", clip, "-o", out, "--roi", "off", "-q")
    assert rc == 1 and "already exists" in err and "-y" in err and out.read_bytes() == b"older"
    rc, _, err = run("encode", clip, "-o", out, "--roi", "off", "-n")
    assert rc == 0 and "skipped" in err and out.read_bytes() == b"older"
    rc, _, err = run("encode", clip, "-o", out, "--roi", "off", "-q", "-y")
    assert rc == 0 and out.stat().st_size > 1000


def test_batch_skips_existing_outputs_with_n(run, clip, tmp_path):
    src, dst = tmp_path / "in", tmp_path / "out"
    src.mkdir(), dst.mkdir()
    for name in ("a.mp4", "b.mp4"):
        os.link(clip, src / name)
    (dst / "a.mp4").write_bytes(b"older")
    rc, _, err = run("encode", src, "-o", dst, "--roi", "off", "-n")
    assert rc == 0 and "1 skipped" in err
    assert (dst / "a.mp4").read_bytes() == b"older" and (dst / "b.mp4").stat().st_size > 1000
    rc, _, err = run("encode", src, "-o", dst, "--roi", "off")  # default: refuse, those videos fail
    assert rc == 1 and "already exists" in err and (dst / "a.mp4").read_bytes() == b"older"


# ---- streams --------------------------------------------------------------------------------------

def test_json_to_dev_null_keeps_the_device(run, clip):
    rc, out, err = run("tag", clip, "--json", "/dev/null", "-q")
    assert rc == 0, err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_json_to_a_fifo_is_streamed(run, clip, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = {}

    def reader():
        with open(fifo, "rb") as f:
            got["data"] = f.read()

    t = threading.Thread(target=reader)
    t.start()
    rc, _, err = run("tag", clip, "--json", fifo, "-q")
    t.join(30)
    assert rc == 0, err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a FIFO, not a regular file renamed over it
    assert json.loads(got["data"])["video"]["frames"] == 12


def test_machine_output_on_stdout_only_when_asked(run, clip):
    rc, out, err = run("tag", clip)
    assert rc == 0 and out == "" and "shots" in err  # the summary goes to stderr
    rc, out, err = run("tag", clip, "--json", "-", "-q")
    assert rc == 0 and json.loads(out)["video"]["frames"] == 12 and err == ""


def test_json_follows_the_umask(clip, tmp_path):
    old = os.umask(0o027)
    try:
        write_json(str(tmp_path / "r.json"), {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "r.json").st_mode) == 0o640


def test_stale_partials_of_dead_runs_are_removed(run, clip, tmp_path):
    out = tmp_path / "o.mp4"
    dead = tmp_path / ".o.semcodec-999999999-abcd.partial.mp4"  # no such PID
    dead.write_bytes(b"left by a SIGKILLed run")
    live = partial_path(str(out))  # this process's own: alive, must stay
    assert os.path.basename(live).startswith(".o.semcodec-")
    other = tmp_path / ".other.semcodec-999999999-abcd.partial.mp4"  # another output's: not ours to remove
    other.write_bytes(b"x")
    assert remove_stale_partials(str(out)) == [str(dead)]
    assert os.path.exists(live) and other.exists()
    os.unlink(live)
    dead.write_bytes(b"again")
    rc, _, err = run("encode", clip, "-o", out, "--roi", "off", "-q")
    assert rc == 0, err
    assert sorted(os.listdir(tmp_path)) == [other.name, "o.mp4"]


def test_argparse_errors_are_one_line(run, clip, tmp_path):
    rc, out, err = run("encode", clip, "--crf", "x", "-o", tmp_path / "o.mp4")
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("semcodec: error: ") and "--crf" in err and "--help" in err


def test_verbose_and_log_file(run, clip, tmp_path):
    log = tmp_path / "run.log"
    odd = make_clip(tmp_path / "odd.mkv", codec="ffv1", size=(161, 97), frames=4)
    rc, _, err = run("encode", odd, "-o", tmp_path / "o.mp4", "--roi", "off", "-q", "--log-file", log)
    assert rc == 0 and "odd frame size" in err
    assert "odd frame size" in log.read_text()
    rc, _, err = run("encode", tmp_path / "missing.mp4", "-o", tmp_path / "p.mp4", "--log-file", log)
    assert rc == 1 and "not found" in log.read_text().splitlines()[-1]


def test_help_documents_exit_codes(run):
    rc, out, _ = run("--help")
    assert rc == 0 and "exit codes" in out and "143" in out and "usage error" in out
    rc, out, _ = run("tag", "--help")
    assert "-y, --overwrite" in out and "-n, --no-overwrite" in out and "--log-file" in out


# ---- a closed pipe and signals (real processes) ------------------------------------------------------

def test_closed_stdout_pipe_is_quiet(clip, tmp_path):
    cmd = " ".join([*_cmd(), "encode", str(clip), "-o", str(tmp_path / "o.mp4"), "--roi", "off", "--json"])
    proc = subprocess.run(f"{cmd} | head -c 20", shell=True, capture_output=True, text=True, timeout=120)
    assert len(proc.stdout) == 20
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert (tmp_path / "o.mp4").stat().st_size > 1000  # the video itself is complete


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_mid_encode_leaves_nothing(tmp_path, signum):
    src = make_clip(tmp_path / "long.mp4", frames=240, size=(320, 192))
    out_dir, tmp = tmp_path / "out", tmp_path / "tmp"
    out_dir.mkdir(), tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([*_cmd(), "encode", str(src), "-o", str(out_dir / "o.mp4"), "--bitrate", "300k",
                             "--two-pass", "--report", str(out_dir / "r.json"), "--save-maps",
                             str(out_dir / "maps.mp4"), "-q"],
                            env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not any(n.endswith(".partial.mp4") for n in os.listdir(out_dir)):
        time.sleep(0.05)  # wait until the encode has really started writing
    assert proc.poll() is None, "the encode finished before it could be interrupted"
    time.sleep(0.3)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert os.listdir(out_dir) == [] and os.listdir(tmp) == [], err
    assert err.count("\n") == 1 and "no partial output" in err


# ---- a full disk and a read-only folder (a real tmpfs; skipped where mounting is not allowed) --------

@contextlib.contextmanager
def tmpfs(path, size="1m", options=""):
    path.mkdir()
    opts = f"size={size}" + (f",{options}" if options else "")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _fill(folder, leave_kb):
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    with open(folder / "filler", "wb") as f:
        f.write(b"\0" * max(0, free - leave_kb * 1024))


FULL_DISK = [  # (name, argv, KiB left free: some, so that a write starts and runs out part-way)
    ("tag json", ["tag", "{clip}", "--json", "{full}/t.json", "-q"], 0),
    ("tag contact sheet", ["tag", "{clip}", "--contact-sheet", "{full}/s.png", "-q"], 8),
    ("tag keyframes", ["tag", "{clip}", "--keyframes-dir", "{full}/kf", "-q"], 8),
    ("encode video", ["encode", "{clip}", "-o", "{full}/o.mp4", "--roi", "off", "-q"], 8),
    ("encode maps", ["encode", "{clip}", "-o", "{ok}/o.mp4", "--save-maps", "{full}/m.mp4", "-q"], 8),
    ("analyze plot", ["analyze", "{clip}", "--prompt", "the face", "--plot", "{full}/p.png", "-q"], 8),
    ("semantic encode", ["semantic", "encode", "{big}", "-o", "{full}/s.semz", "-q"], 0),
]


@pytest.mark.parametrize("name,argv,leave_kb", FULL_DISK, ids=[c[0] for c in FULL_DISK])
def test_full_disk_fails_cleanly(run, tmp_path, name, argv, leave_kb):
    big = make_clip(tmp_path / "big.mp4", frames=24, size=(320, 192))
    clip = make_clip(tmp_path / "c.mp4", frames=24, size=(320, 192))
    ok = tmp_path / "ok"
    ok.mkdir()
    with tmpfs(tmp_path / "full") as full:
        _fill(full, leave_kb=leave_kb)
        before = sha256(clip)
        rc, out, err = run(*[a.format(clip=clip, full=full, ok=ok, big=big) for a in argv])
        assert rc == 1, err
        assert err.count("\n") == 1 and err.startswith("semcodec: error: ") and "space" in err, err
        assert sorted(os.listdir(full)) == ["filler"]  # nothing truncated, no temp file
        assert os.listdir(ok) == []  # all or nothing: the finished video does not stay without its maps
        assert sha256(clip) == before


def test_report_on_a_full_disk_takes_the_video_back(run, tmp_path):
    clip = make_clip(tmp_path / "c.mp4", frames=12)
    ok = tmp_path / "ok"
    ok.mkdir()
    with tmpfs(tmp_path / "full") as full:
        _fill(full, leave_kb=0)
        rc, _, err = run("encode", clip, "-o", ok / "o.mp4", "--report", full / "r.json", "--roi", "off", "-q")
        assert rc == 1 and ("space" in err or "cannot write" in err), err
        assert os.listdir(ok) == [] and os.listdir(full) == ["filler"]


def test_read_only_folder_fails_in_the_first_second(run, tmp_path):
    clip = make_clip(tmp_path / "c.mp4", frames=240, size=(320, 192))
    with tmpfs(tmp_path / "ro", options="ro") as ro:
        t0 = time.perf_counter()
        rc, _, err = run("encode", clip, "-o", tmp_path / "o.mp4", "--report", ro / "r.json", "-q")
        assert time.perf_counter() - t0 < 1.0
        assert rc == 1 and "--report" in err and "Read-only" in err, err
        assert not (tmp_path / "o.mp4").exists()

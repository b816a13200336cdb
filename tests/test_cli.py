"""The `semcodec` command, run in-process (plus one real subprocess for the installed entry point)."""
import json
import os
import shutil
import subprocess
import sys

import av
import numpy as np
import pytest

from conftest import decode_video, folder_state, make_clip, sha256


@pytest.fixture
def folder(tmp_path, clips):
    """A work folder holding a copy of a good 16-frame MP4 (moov at the end)."""
    shutil.copy(clips("plain16.mp4"), tmp_path / "good.mp4")
    return tmp_path


# ---- help ----------------------------------------------------------------------------------------

def test_help(cli):
    rc, out, _ = cli("--help")
    assert rc == 0
    assert "encode" in out and "capabilities" in out


def test_encode_help_mentions_every_option(cli):
    rc, out, _ = cli("encode", "--help")
    assert rc == 0
    for opt in ("--output", "--codec", "--crf", "--bitrate", "--two-pass", "--preset", "--roi",
                "--roi-strength", "--save-maps", "--report", "--json", "--quiet",
                "libx264", "libx265", "libvpx-vp9", "libsvtav1", "faces,objects,saliency,motion,text",
                "--yolo-weights"):
        assert opt in out, opt


def test_version(cli):
    rc, out, _ = cli("--version")
    assert rc == 0 and out.strip() == "semcodec 0.1.0"


def test_capabilities(cli):
    rc, out, err = cli("capabilities")
    assert rc == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["codec", "block", "map"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"libx264", "libx265", "libvpx-vp9", "libsvtav1"}
    for codec in ("libx264", "libx265", "libvpx-vp9"):
        assert " yes " in rows[codec] and "honoured (MSE" in rows[codec]
    assert " no " in rows["libsvtav1"] and "ignored" in rows["libsvtav1"]


# ---- bad inputs ----------------------------------------------------------------------------------

def _truncate(src, dst, frac=0.6):
    data = open(src, "rb").read()
    with open(dst, "wb") as f:
        f.write(data[: int(len(data) * frac)])


def _audio_only(path):
    with av.open(str(path), "w", format="mp4") as o:
        s = o.add_stream("aac", rate=48000)
        s.layout = "stereo"
        for i in range(20):
            af = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
            af.sample_rate, af.pts = 48000, i * 1024
            o.mux(s.encode(af))
        o.mux(s.encode(None))


def _case(name, d):
    """Build the files for one bad-input case in folder d; return (argv, input, output, message)."""
    good, out = d / "good.mp4", d / "out.mp4"
    if name == "missing input":
        return [d / "missing.mp4", "-o", out], d / "missing.mp4", out, "input not found"
    if name == "text named .mp4":
        (d / "notes.mp4").write_text("this is not a video\n")
        return [d / "notes.mp4", "-o", out], d / "notes.mp4", out, "not a readable video"
    if name == "truncated mp4 (moov at end)":
        _truncate(good, d / "cut.mp4")
        return [d / "cut.mp4", "-o", out], d / "cut.mp4", out, "cut.mp4"
    if name == "truncated faststart mp4":
        make_clip(d / "fs.mp4", container_options={"movflags": "faststart"})
        with av.open(str(d / "fs.mp4")) as c:  # moov really is in front
            assert c.streams.video[0].frames == 16
        assert open(d / "fs.mp4", "rb").read(64).find(b"moov") > 0
        _truncate(d / "fs.mp4", d / "cut.mp4")
        os.unlink(d / "fs.mp4")
        return [d / "cut.mp4", "-o", out], d / "cut.mp4", out, "truncated"
    if name == "audio only":
        _audio_only(d / "voice.mp4")
        return [d / "voice.mp4", "-o", out], d / "voice.mp4", out, "no video stream"
    if name == "output folder missing":
        return [good, "-o", d / "nodir" / "out.mp4"], good, d / "nodir" / "out.mp4", "output folder does not exist"
    if name == "output under a regular file":
        (d / "somefile.txt").write_text("x")
        return [good, "-o", d / "somefile.txt" / "out.mp4"], good, d / "somefile.txt" / "out.mp4", "somefile.txt"
    if name == "output is the input":
        return [good, "-o", good], good, None, "output path is the input"
    if name == "output is the input, spelled differently":
        os.mkdir(d / "sub")
        return [good, "-o", d / "sub" / ".." / "good.mp4"], good, None, "output path is the input"
    if name == "output is a hard link to the input":
        os.link(good, d / "link.mp4")
        return [good, "-o", d / "link.mp4"], good, None, "output path is the input"
    if name == "unsupported output extension":
        return [good, "-o", d / "out.avi"], good, d / "out.avi", "unsupported output type .avi"
    if name == "output without extension":
        return [good, "-o", d / "out"], good, d / "out", "unsupported output type"
    if name == "two-pass without bitrate":
        return [good, "-o", out, "--two-pass"], good, out, "--two-pass needs --bitrate"
    if name == "roi bogus":
        return [good, "-o", out, "--roi", "bogus"], good, out, "unknown analyzer bogus"
    if name == "roi strength out of range":
        return [good, "-o", out, "--roi-strength", "2"], good, out, "--roi-strength"
    if name == "vp9 slow preset":
        return [good, "-o", d / "out.mkv", "--codec", "libvpx-vp9", "--preset", "2"], good, d / "out.mkv", "cpu-used"
    if name == "two-pass with vp9":
        return ([good, "-o", d / "out.mkv", "--codec", "libvpx-vp9", "--bitrate", "200k", "--two-pass"],
                good, d / "out.mkv", "two-pass")
    if name == "report folder missing":
        return [good, "-o", out, "--report", d / "nodir" / "r.json"], good, out, "report folder does not exist"
    if name == "save-maps with bad extension":
        return [good, "-o", out, "--save-maps", d / "maps.avi"], good, out, "unsupported output type .avi"
    raise AssertionError(name)


BAD = ["missing input", "text named .mp4", "truncated mp4 (moov at end)", "truncated faststart mp4",
       "audio only", "output folder missing", "output under a regular file", "output is the input",
       "output is the input, spelled differently", "output is a hard link to the input",
       "unsupported output extension", "output without extension", "two-pass without bitrate",
       "roi bogus", "roi strength out of range", "vp9 slow preset", "two-pass with vp9",
       "report folder missing", "save-maps with bad extension"]


# bad option values or combinations exit 2 (argparse's code); a bad file or folder is a runtime failure, 1
USAGE = {"unsupported output extension", "output without extension", "two-pass without bitrate", "roi bogus",
         "roi strength out of range", "vp9 slow preset", "two-pass with vp9", "save-maps with bad extension"}


def check_refused(cli, folder, name, extra=()):
    argv, inp, out, message = _case(name, folder)
    before = folder_state(folder)
    in_hash = sha256(inp) if os.path.exists(inp) else None
    rc, stdout, stderr = cli("encode", *argv, *extra)
    assert rc == (2 if name in USAGE else 1), stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("semcodec: error: ") and message in lines[0], lines[0]
    assert stdout == ""
    if in_hash:
        assert sha256(inp) == in_hash
    if out is not None:
        assert not os.path.exists(out)
    assert folder_state(folder) == before  # no stray temp or partial files, nothing changed


@pytest.mark.parametrize("name", BAD)
def test_bad_input_refused_cleanly(cli, folder, name):
    check_refused(cli, folder, name)


@pytest.mark.parametrize("name", ["truncated faststart mp4", "two-pass without bitrate"])
def test_bad_input_refused_cleanly_with_json_and_report(cli, folder, name):
    check_refused(cli, folder, name, extra=("--json", "--report", folder / "report.json"))
    assert not (folder / "report.json").exists()


def test_failed_encode_keeps_an_existing_output(cli, folder):
    _truncate(folder / "good.mp4", folder / "cut.mp4")
    (folder / "out.mp4").write_bytes(b"an older result")
    rc, _, err = cli("encode", folder / "cut.mp4", "-o", folder / "out.mp4", "-y")
    assert rc == 1 and err.startswith("semcodec: error:")
    assert (folder / "out.mp4").read_bytes() == b"an older result"
    assert sorted(os.listdir(folder)) == ["cut.mp4", "good.mp4", "out.mp4"]


@pytest.mark.parametrize("value", ["abc", "0", "-3k"])
def test_bad_bitrate_is_a_usage_error(cli, folder, value):
    rc, out, err = cli("encode", folder / "good.mp4", "-o", folder / "out.mp4", "--bitrate", value)
    assert rc == 2 and out == ""
    assert "--bitrate" in err.strip().splitlines()[-1]
    assert sorted(os.listdir(folder)) == ["good.mp4"]


def test_svtav1_two_pass_is_refused_with_one_line(cli, folder):
    rc, _, err = cli("encode", folder / "good.mp4", "-o", folder / "out.mp4", "--codec", "libsvtav1",
                     "--bitrate", "100k", "--two-pass")
    assert rc == 2
    assert err.splitlines() == [err.splitlines()[-1]] and err.startswith("semcodec: error: two-pass")
    assert sorted(os.listdir(folder)) == ["good.mp4"]


def test_failed_encode_writes_no_maps_video(cli, folder):
    make_clip(folder / "fs.mp4", container_options={"movflags": "faststart"})
    _truncate(folder / "fs.mp4", folder / "cut.mp4")
    rc, _, err = cli("encode", folder / "cut.mp4", "-o", folder / "out.mp4", "--save-maps", folder / "maps.mp4")
    assert rc == 1 and "truncated" in err
    assert not (folder / "out.mp4").exists()
    assert not (folder / "maps.mp4").exists()


def test_save_maps_never_overwrites_the_input(cli, folder):
    good = folder / "good.mp4"
    before = sha256(good)
    cli("encode", good, "-o", folder / "out.mp4", "--save-maps", good)
    assert sha256(good) == before


# ---- success -------------------------------------------------------------------------------------

def test_encode_json_and_report(cli, folder):
    report_path = folder / "report.json"
    rc, out, err = cli("encode", folder / "good.mp4", "-o", folder / "out.mp4", "--json",
                       "--report", report_path)
    assert rc == 0, err
    assert err == ""
    printed = json.loads(out)
    assert printed["output"]["frames"] == len(decode_video(folder / "good.mp4")) == 16
    assert printed["output"]["frames"] == len(decode_video(folder / "out.mp4"))
    assert printed["output"]["path"] == str(folder / "out.mp4")
    with open(report_path) as f:
        assert json.load(f) == printed
    assert sorted(os.listdir(folder)) == ["good.mp4", "out.mp4", "report.json"]


def test_encode_prints_a_summary(cli, folder):
    rc, out, err = cli("encode", folder / "good.mp4", "-o", folder / "out.mkv", "--roi", "faces,motion",
                       "--crf", "30")
    assert rc == 0 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith(f"wrote {folder / 'out.mkv'}: 16 frames")
    assert "CRF 30" in lines[0]
    assert lines[1].startswith("ROI map: 16x16 blocks")
    assert [ln.split()[1] for ln in lines[2:4]] == ["faces", "motion"]
    assert lines[4].startswith("shots: streaming detector") and len(lines) == 5


def test_quiet_prints_nothing(cli, folder):
    rc, out, err = cli("encode", folder / "good.mp4", "-o", folder / "out.mp4", "-q", "--roi", "off")
    assert (rc, out, err) == (0, "", "")
    assert len(decode_video(folder / "out.mp4")) == 16


def test_warnings_go_to_stderr_with_prefix(cli, tmp_path):
    odd = make_clip(tmp_path / "odd.mkv", codec="ffv1", size=(161, 97))
    rc, out, err = cli("encode", odd, "-o", tmp_path / "out.mp4", "--json")
    assert rc == 0
    assert err.splitlines() == ["semcodec: warning: odd frame size 161x97: cropped to 160x96 "
                                "(4:2:0 needs even sizes)"]
    assert json.loads(out)["warnings"] == [err.splitlines()[0][len("semcodec: warning: "):]]


def test_installed_entry_point(tmp_path):
    """One real process: the console script (or `python -m cli.main`), its exit code, its stderr."""
    odd = make_clip(tmp_path / "odd.mkv", codec="ffv1", size=(161, 97))
    script = os.path.join(os.path.dirname(sys.executable), "semcodec")
    cmd = [script] if os.path.exists(script) else [sys.executable, "-m", "cli.main"]
    proc = subprocess.run([*cmd, "encode", str(odd), "-o", str(tmp_path / "out.mp4"), "--json", "-q"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["output"]["frames"] == 16 and report["output"]["width"] == 160
    assert proc.stderr.splitlines() == ["semcodec: warning: odd frame size 161x97: cropped to 160x96 "
                                        "(4:2:0 needs even sizes)"]
    assert len(decode_video(tmp_path / "out.mp4")) == 16


def test_library_entry_points_import_from_the_top():
    import semcodec
    from semcodec.pipeline import EncodeSettings

    assert callable(semcodec.encode) and semcodec.EncodeSettings is EncodeSettings

"""Shot lists for other tools (semcodec/shots/exports.py, `semcodec tag --scenes-csv/--edl/--chapters/--qpfile/
--keyframe-times`), each read back by a real consumer: PySceneDetect's own load-scenes (CSV) and save-edl (EDL),
FFmpeg's metadata reader (chapters), x264 through PyAV (qpfile) and FFmpeg's -force_key_frames (times)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from fractions import Fraction

import av
import imageio_ffmpeg
import pytest

from cli.main import main
from semcodec.shots.synthetic import text_cards

FPS = 25
STARTS = [0, 20, 35, 60]  # the cards' first frames


@pytest.fixture(scope="module")
def cards(tmp_path_factory):
    """Four flat cards under one title and a running timecode: cuts at 20, 35 and 60 of 75 frames."""
    path = str(tmp_path_factory.mktemp("exports") / "cards.mp4")
    with av.open(path, "w") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = 160, 96, "yuv420p"
        vs.options = {"crf": "16", "preset": "ultrafast"}
        for i, img in enumerate(text_cards((160, 96), FPS, [20, 15, 25, 15]).frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, FPS)
            out.mux(vs.encode(f))
        out.mux(vs.encode(None))
    return path


@pytest.fixture(scope="module")
def exported(cards, tmp_path_factory):
    d = tmp_path_factory.mktemp("lists")
    files = {k: str(d / n) for k, n in (("csv", "scenes.csv"), ("edl", "scenes.edl"), ("chapters", "chapters.txt"),
                                         ("qpfile", "cuts.qp"), ("times", "keyframes.txt"), ("json", "t.json"))}
    rc = main(["tag", cards, "--json", files["json"], "--scenes-csv", files["csv"], "--edl", files["edl"],
               "--chapters", files["chapters"], "--qpfile", files["qpfile"], "--keyframe-times", files["times"],
               "--max-keyframes", "2", "-q"])
    assert rc == 0
    return files


def _keyframes(path: str) -> list[int]:
    with av.open(path) as c:
        return [i for i, f in enumerate(c.decode(video=0)) if f.key_frame]


def test_csv_and_edl_are_pyscenedetects_own(cards, exported, tmp_path):
    """PySceneDetect loads our CSV (load-scenes) and writes the same CSV and EDL from it."""
    subprocess.run([sys.executable, "-m", "scenedetect", "-q", "-i", cards, "-o", str(tmp_path), "load-scenes",
                    "-i", exported["csv"], "list-scenes", "-f", "psd.csv", "save-edl", "-f", "psd.edl",
                    "--title", "SEMCODEC"], check=True, capture_output=True)
    ours, theirs = open(exported["csv"]).read(), open(tmp_path / "psd.csv").read()
    assert ours == theirs
    assert ours.splitlines()[0] == "Timecode List:,00:00:00.800,00:00:01.400,00:00:02.400"
    assert [r.split(",")[1] for r in ours.splitlines()[2:]] == [str(s + 1) for s in STARTS]  # 1-based frames
    strip = lambda text: [ln for ln in text.splitlines() if not ln.startswith("* CREATED")]  # noqa: E731
    edl = open(exported["edl"]).read()
    assert strip(edl) == strip(open(tmp_path / "psd.edl").read())
    assert "001  AX V     C        00:00:00:00 00:00:00:20 00:00:00:00 00:00:00:20" in edl


def test_chapters_read_by_ffmpeg(cards, exported, tmp_path):
    out = str(tmp_path / "chaptered.mkv")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", cards, "-i", exported["chapters"],
                    "-map_metadata", "1", "-map", "0", "-codec", "copy", out], check=True)
    with av.open(out) as c:
        chapters = c.chapters()
    assert [round(ch["start"] * ch["time_base"] * FPS) for ch in chapters] == STARTS
    assert round(chapters[-1]["end"] * chapters[-1]["time_base"] * FPS) == 75
    assert [ch["metadata"]["title"] for ch in chapters][0].startswith("Shot 0")


@pytest.mark.skipif(shutil.which("x264") is None, reason="the x264 command is not installed")
def test_qpfile_forces_keyframes_in_x264(cards, exported, tmp_path):
    """The x264 command with the qpfile and its own scene-cut detection off puts IDRs at the shot starts.
    (FFmpeg's libx264 wrapper, hence PyAV, rejects `-x264-params qpfile=...`: qpfile is an option of the x264
    command, not of libx264; FFmpeg users force keyframes with --keyframe-times instead.)"""
    y4m, out = str(tmp_path / "cards.y4m"), str(tmp_path / "qp.264")
    with av.open(cards) as src, av.open(y4m, "w", format="yuv4mpegpipe") as dst:
        vs = dst.add_stream("rawvideo", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = 160, 96, "yuv420p"
        for i, frame in enumerate(src.decode(video=0)):
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            dst.mux(vs.encode(frame))
        dst.mux(vs.encode(None))
    assert open(exported["qpfile"]).read() == "".join(f"{s} K\n" for s in STARTS)
    subprocess.run(["x264", "--quiet", "--preset", "ultrafast", "--no-scenecut", "--keyint", "250", "--qpfile",
                    exported["qpfile"], "-o", out, y4m], check=True, capture_output=True)
    assert _keyframes(out) == STARTS


def test_keyframe_times_force_keyframes_in_ffmpeg(cards, exported, tmp_path):
    times = open(exported["times"]).read().split()
    assert times == ["0.000000", "0.800000", "1.400000", "2.400000"]
    out = str(tmp_path / "forced.mp4")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", cards, "-c:v", "libx264", "-preset",
                    "ultrafast", "-x264-params", "scenecut=0:keyint=250", "-force_key_frames", ",".join(times),
                    out], check=True)
    assert _keyframes(out) == STARTS


def test_outputs_refuse_overwrite_and_inputs(cards, exported, tmp_path, capsys):
    csv = exported["csv"]
    before = open(csv).read()
    assert main(["tag", cards, "--scenes-csv", csv, "-q"]) == 1  # exists, no -y
    assert "exists" in capsys.readouterr().err
    assert main(["tag", cards, "--qpfile", cards, "-y", "-q"]) in (1, 2)  # never over the input
    assert "input" in capsys.readouterr().err and os.path.getsize(cards) > 1000
    assert main(["tag", cards, "--scenes-csv", csv, "-y", "-q"]) == 0 and open(csv).read() == before
    assert not [n for n in os.listdir(os.path.dirname(csv)) if n.startswith(".")]  # no temp files left


def test_pyscenedetect_writers_stay_quiet(caplog):
    """PySceneDetect logs every write at INFO; semcodec reports its own outputs, so none of that shows."""
    import logging

    from semcodec.shots.detector import Shot
    from semcodec.shots.exports import edl, scene_csv

    shots = [Shot(0, 0, 20, 0.0, 0.8, "start"), Shot(1, 20, 40, 0.8, 1.6, "cut")]
    with caplog.at_level(logging.INFO):
        assert scene_csv(shots, Fraction(25)).startswith("Timecode List:,00:00:00.800")
        assert "001  AX V" in edl(shots, Fraction(25))
    assert not [r for r in caplog.records if r.name == "pyscenedetect"]

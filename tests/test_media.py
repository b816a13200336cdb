"""Media correctness across codecs, containers and chunks (issue 15), judged by FFmpeg's own command-line tool
(the imageio-ffmpeg binary): clean decodes, exact timestamps, aspect ratio, audio sync, up-front refusals."""
from __future__ import annotations

import os
import subprocess

import imageio_ffmpeg
import pytest

from conftest import make_clip
from semcodec.errors import SemcodecError
from semcodec.parallel import ParallelOptions, encode_parallel
from semcodec.pipeline import EncodeSettings

FF = imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_errors(path) -> str:
    """What FFmpeg's decoder says while decoding `path` start to end ('' when clean)."""
    r = subprocess.run([FF, "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True)
    return r.stderr.strip() if r.returncode == 0 else f"exit {r.returncode}: {r.stderr.strip()}"


def video_pts(path) -> list[str]:
    """FFmpeg's framecrc of the decoded video: one 'pts, duration' pair per frame, in seconds."""
    r = subprocess.run([FF, "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "framecrc", "-"],
                       capture_output=True, text=True, check=True)
    tb = [ln for ln in r.stdout.splitlines() if ln.startswith("#tb 0:")][0].split(":")[1].strip()
    num, den = (int(x) for x in tb.split("/"))
    rows = [ln.split(",") for ln in r.stdout.splitlines() if ln and not ln.startswith("#")]
    return [f"{int(row[2]) * num / den:.3f}" for row in rows]


@pytest.fixture(scope="module")
def av_clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("media") / "a.mp4", frames=40, size=(160, 96), audio=True)


def _chunked(**kw) -> ParallelOptions:
    return ParallelOptions(workers=2, chunk_min_s=0.4, chunk_max_s=0.8, **kw)


# ---- chunked AV1 and the work folder ------------------------------------------------------------
def test_chunked_libsvtav1_joins_and_decodes_clean(av_clip, tmp_path):
    """The join used to look the chunk's decoder (libdav1d) up as an encoder and failed after every chunk."""
    out = tmp_path / "av1.mp4"
    rep = encode_parallel(av_clip, str(out), EncodeSettings(codec="libsvtav1", roi="off"), _chunked())
    assert len(rep["parallel"]["chunks"]) >= 2
    assert ffmpeg_errors(out) == ""
    assert video_pts(out) == video_pts(av_clip)
    assert sorted(os.listdir(tmp_path)) == ["av1.mp4"]  # no hidden work folder left


def test_failed_join_leaves_no_work_folder_unless_resumable(av_clip, tmp_path, monkeypatch):
    """An internal error (a bug) removes the default work folder: a rerun meets the same bug. A SemcodecError
    after finished chunks keeps it (documented: a rerun resumes) and the message names it."""
    import semcodec.parallel.runner as runner

    def bug(*a, **k):
        raise RuntimeError("a bug at the join")

    monkeypatch.setattr(runner, "join_chunks", bug)
    with pytest.raises(RuntimeError):
        encode_parallel(av_clip, str(tmp_path / "o.mp4"), EncodeSettings(roi="off", preset="ultrafast"), _chunked())
    assert os.listdir(tmp_path) == []

    def full(*a, **k):
        raise SemcodecError("cannot write o.mp4: no space left on device")

    monkeypatch.setattr(runner, "join_chunks", full)
    with pytest.raises(SemcodecError, match=r"no space left on device \(finished chunks kept in .*semcodec-work"):
        encode_parallel(av_clip, str(tmp_path / "o.mp4"), EncodeSettings(roi="off", preset="ultrafast"), _chunked())
    assert os.listdir(tmp_path) == [".o.mp4.semcodec-work"]
    monkeypatch.undo()  # the rerun resumes and finishes, and the folder goes
    rep = encode_parallel(av_clip, str(tmp_path / "o.mp4"), EncodeSettings(roi="off", preset="ultrafast"), _chunked())
    assert rep["parallel"]["resumed"] and os.listdir(tmp_path) == ["o.mp4"]

"""Media correctness across codecs, containers and chunks (issue 15), judged by FFmpeg's own command-line tool
(the imageio-ffmpeg binary): clean decodes, exact timestamps, aspect ratio, audio sync, up-front refusals."""
from __future__ import annotations

import os
import re
import subprocess
from fractions import Fraction

import imageio_ffmpeg
import pytest

from conftest import make_clip
from semcodec.errors import SemcodecError
from semcodec.parallel import ParallelOptions, encode_parallel
from semcodec.pipeline import EncodeSettings, run

FF = imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_errors(path) -> str:
    """What FFmpeg's decoder says while decoding `path` start to end ('' when clean)."""
    r = subprocess.run([FF, "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True)
    return r.stderr.strip() if r.returncode == 0 else f"exit {r.returncode}: {r.stderr.strip()}"


def video_pts(path) -> list[str]:
    """The video's presentation times in seconds (ms precision), sorted, as FFmpeg reads the file: packet
    timestamps with -copyts (no shift to the file's start; a decoded framecrc would round to 1/fps)."""
    r = subprocess.run([FF, "-v", "error", "-copyts", "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "framecrc",
                        "-"], capture_output=True, text=True, check=True)
    tb = [ln for ln in r.stdout.splitlines() if ln.startswith("#tb 0:")][0].split(":")[1].strip()
    num, den = (int(x) for x in tb.split("/"))
    rows = [ln.split(",") for ln in r.stdout.splitlines() if ln and not ln.startswith("#")]
    return [f"{t:.3f}" for t in sorted(int(row[2]) * num / den for row in rows)]


def shown_sar(path) -> str:
    """The sample aspect ratio FFmpeg hands a filter (showinfo) for the first frame: container before bitstream."""
    r = subprocess.run([FF, "-hide_banner", "-i", str(path), "-vf", "showinfo", "-frames:v", "1", "-f", "null", "-"],
                       capture_output=True, text=True)
    found = re.findall(r"sar:(\d+/\d+)", r.stderr)
    return found[0] if found else f"none ({r.stderr.strip()[-200:]})"


@pytest.fixture(scope="module")
def sar_clip(tmp_path_factory):
    """Anamorphic: 160x96 pixels shown 4:3 wide each (H.264 VUI and MP4 pasp)."""
    return make_clip(tmp_path_factory.mktemp("sar") / "sar.mp4", frames=24, size=(160, 96), sar=Fraction(4, 3))


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


# ---- sample aspect ratio ------------------------------------------------------------------------
SAR_CASES = [(c, e) for c in ("libx264", "libx265", "libvpx-vp9", "libsvtav1") for e in (".mp4", ".mkv", ".mov")
             if not (e == ".mov" and c in ("libvpx-vp9", "libsvtav1"))]


@pytest.mark.parametrize("codec,ext", SAR_CASES)
def test_sample_aspect_ratio_is_kept(sar_clip, tmp_path, codec, ext):
    """It came out 0/1 (square) for every codec and container. VP9/AV1 carry none in the bitstream, so in
    Matroska only the stream's display size keeps it."""
    assert shown_sar(sar_clip) == "4/3"
    out = tmp_path / f"o{ext}"
    run(sar_clip, str(out), EncodeSettings(codec=codec, roi="off"))
    assert shown_sar(out) == "4/3"


@pytest.mark.parametrize("codec,ext", [("libx264", ".mkv"), ("libvpx-vp9", ".mkv"), ("libsvtav1", ".mp4")])
def test_sample_aspect_ratio_is_kept_in_chunks(sar_clip, tmp_path, codec, ext):
    out = tmp_path / f"o{ext}"
    encode_parallel(sar_clip, str(out), EncodeSettings(codec=codec, roi="off"), _chunked())
    assert shown_sar(out) == "4/3"
    assert ffmpeg_errors(out) == ""


def test_container_display_aspect_wins_over_the_bitstream(sar_clip, tmp_path):
    """A Matroska display size that disagrees with the H.264 VUI (FFmpeg's `-aspect 2:1` on a copy): players,
    and FFmpeg, show the container's; so does the encode."""
    src = tmp_path / "dar.mkv"
    subprocess.run([FF, "-v", "error", "-i", sar_clip, "-c", "copy", "-aspect", "2:1", str(src)], check=True)
    assert shown_sar(src) == "6/5"
    for ext in (".mkv", ".mp4"):
        out = tmp_path / f"o{ext}"
        run(str(src), str(out), EncodeSettings(roi="off", preset="ultrafast"))
        assert shown_sar(out) == "6/5"


# ---- audio sync ---------------------------------------------------------------------------------
SR = 48000


def sync_clip(path, acodec: str, audio_start: float = 0.0, frames: int = 50, fps: int = 25) -> str:
    """64x48 video at 25 fps with white flashes at frames 10, 30 and 37, and audio (noise floor) with a 10 ms
    burst at exactly those times; the audio stream starts at `audio_start` seconds (negative: before the video)."""
    import av
    import numpy as np

    fmt = {".mov": "mov", ".mkv": "matroska", ".mp4": "mp4"}[os.path.splitext(str(path))[1]]
    rng = np.random.default_rng(1)
    n = int((frames / fps - audio_start) * SR)
    pcm = (0.01 * rng.standard_normal((2, n))).astype(np.float32)
    for f in (10, 30, 37):
        s = int(round((f / fps - audio_start) * SR))
        pcm[:, s:s + 480] += (0.5 * rng.standard_normal((2, 480))).astype(np.float32)
    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        vs.options = {"preset": "ultrafast"}
        a = out.add_stream(acodec, rate=SR)
        a.layout = "stereo"
        for i in range(frames):
            img = np.full((48, 64, 3), 255 if i in (10, 30, 37) else 30, np.uint8)
            fr = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            fr.pts, fr.time_base = i, Fraction(1, fps)
            out.mux(vs.encode(fr))
        out.mux(vs.encode(None))
        for k in range(0, n, 1024):
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, k:k + 1024]), format="fltp", layout="stereo")
            af.sample_rate, af.pts, af.time_base = SR, int(round(audio_start * SR)) + k, Fraction(1, SR)
            out.mux(a.encode(af))
        out.mux(a.encode(None))
    return str(path)


def timeline_audio(path):
    """FFmpeg's decode of the first audio stream as mono PCM on the file's own timeline from t=0 (-copyts;
    silence before a late start, anything before zero trimmed; MP4 edit lists applied)."""
    import numpy as np

    r = subprocess.run([FF, "-v", "error", "-copyts", "-i", str(path), "-map", "0:a:0", "-af",
                        f"aresample={SR}:async=1:first_pts=0", "-ac", "1", "-f", "f32le", "-"],
                       capture_output=True, check=True)
    return np.frombuffer(r.stdout, np.float32)


def first_video_s(path) -> float:
    return min(float(t) for t in video_pts(path))


def av_sync_ms(src, out, max_s: float = 0.25) -> float:
    """How much later the output's audio plays against its own video than the source's does, in ms: the
    cross-correlation lag of the two audio tracks on their files' timelines, less any shift of the video."""
    import numpy as np

    a, b = timeline_audio(src), timeline_audio(out)
    n = min(len(a), len(b))
    corr = np.fft.irfft(np.fft.rfft(b[:n], 2 * n) * np.conj(np.fft.rfft(a[:n], 2 * n)))
    m = int(max_s * SR)
    lags = np.concatenate([np.arange(m), np.arange(-m, 0)])
    lag = lags[np.argmax(np.concatenate([corr[:m], corr[-m:]]))] / SR
    return 1000 * (lag - (first_video_s(out) - first_video_s(src)))


@pytest.fixture(scope="module")
def sync_sources(tmp_path_factory):
    d = tmp_path_factory.mktemp("sync")
    return {
        "pcm.mov": sync_clip(d / "pcm.mov", "pcm_s16le"),  # re-encoded to AAC in .mp4/.mov
        "late_pcm.mkv": sync_clip(d / "late_pcm.mkv", "pcm_s16le", audio_start=0.3),  # audio starts 300 ms in
        "aac.mkv": sync_clip(d / "aac.mkv", "aac"),  # AAC priming: the audio starts 21 ms before zero
        "early_aac.mkv": sync_clip(d / "early_aac.mkv", "aac", audio_start=-0.2),
        "aac.mp4": sync_clip(d / "aac.mp4", "aac"),  # copied into .mkv, it moved the video 21 ms later
        "early_aac.mp4": sync_clip(d / "early_aac.mp4", "aac", audio_start=-0.2),
    }


SYNC_CASES = [(n, e, False) for n in ("pcm.mov", "late_pcm.mkv", "aac.mkv", "early_aac.mkv", "aac.mp4",
                                      "early_aac.mp4") for e in (".mp4", ".mov", ".mkv")]
SYNC_CASES += [(n, e, True) for n in ("pcm.mov", "early_aac.mp4") for e in (".mp4", ".mkv")]


@pytest.mark.parametrize("name,ext,chunked", SYNC_CASES)
def test_audio_stays_in_sync(sync_sources, tmp_path, name, ext, chunked):
    """Re-encoded audio (PCM into MP4/MOV: AAC) played one AAC priming delay late (+21.3 ms at 48 kHz) and
    lost the source's audio start; copied audio starting before zero moved the video of a Matroska output.
    Measured by FFmpeg against the source, within 1 ms (MP4 edit lists and Matroska are in 1/1000 s)."""
    src = sync_sources[name]
    out = tmp_path / f"o{ext}"
    s = EncodeSettings(roi="off", preset="ultrafast")
    if chunked:
        encode_parallel(src, str(out), s, _chunked())
    else:
        run(src, str(out), s)
    assert video_pts(out) == video_pts(src)
    assert abs(av_sync_ms(src, out)) < 1.0


# ---- chunked output details and up-front refusals -----------------------------------------------
def shown_fps(path) -> str:
    r = subprocess.run([FF, "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    line = [ln for ln in r.stderr.splitlines() if "Video:" in ln][0]
    return re.findall(r"([\d.k]+) fps", line)[0]


def test_chunked_mkv_states_the_frame_rate(av_clip, tmp_path):
    """The joined Matroska track said 1 ms (or 1/12800 s) per frame: players and FFmpeg read 1000 fps."""
    out = tmp_path / "o.mkv"
    encode_parallel(av_clip, str(out), EncodeSettings(roi="off", preset="ultrafast"), _chunked())
    assert shown_fps(out) == "25"


def test_chunked_report_has_the_single_piece_warnings(tmp_path):
    """Subtitles dropped and audio re-encoded to AAC are said by the chunked encode too, in its report."""
    src = tmp_path / "s.mkv"
    plain = sync_clip(tmp_path / "pcm.mkv", "pcm_s16le")
    srt = tmp_path / "s.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    subprocess.run([FF, "-v", "error", "-i", plain, "-i", str(srt), "-map", "0", "-map", "1", "-c", "copy", str(src)],
                   check=True)
    single = run(str(src), str(tmp_path / "a.mp4"), EncodeSettings(roi="off", preset="ultrafast")).warnings
    chunked = encode_parallel(str(src), str(tmp_path / "b.mp4"), EncodeSettings(roi="off", preset="ultrafast"),
                              _chunked())["warnings"]
    wanted = ["1 subtitle stream(s) not copied", "audio stream 1 (pcm_s16le) cannot go into MP4 as it is: "
              "re-encoded to AAC"]
    assert all(w in single for w in wanted), single
    assert all(w in chunked for w in wanted), chunked


@pytest.mark.parametrize("codec", ["libvpx-vp9", "libsvtav1"])
@pytest.mark.parametrize("chunked", [False, True], ids=["single", "chunked"])
def test_vp9_and_av1_into_mov_are_refused_up_front(av_clip, tmp_path, codec, chunked):
    """It failed after the work with 'FFmpeg failed: Invalid argument'; now a usage error names the limit,
    before anything is written."""
    from semcodec.errors import UsageError

    out = tmp_path / "o.mov"
    with pytest.raises(UsageError, match=f"^{codec} cannot be written to .mov: FFmpeg's MOV muxer takes no "):
        if chunked:
            encode_parallel(av_clip, str(out), EncodeSettings(codec=codec), _chunked())
        else:
            run(av_clip, str(out), EncodeSettings(codec=codec))
    assert os.listdir(tmp_path) == []


# ---- VP9 two-pass: refused, with the reason -----------------------------------------------------
def test_vp9_two_pass_is_refused_with_the_reason(av_clip, tmp_path):
    """libvpx writes no first-pass statistics in the realtime mode the VP9 map needs, and outside it FFmpeg's
    wrapper drops the map: checked here with the ffmpeg binary itself (an empty stats log, pass 2 refuses; the
    map skipped at -deadline good), and semcodec says so up front."""
    from semcodec.errors import UsageError

    opts = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "6", "-lag-in-frames", "0", "-aq-mode", "0",
            "-b:v", "200k", "-an", "-passlogfile", str(tmp_path / "pl")]
    subprocess.run([FF, "-v", "error", "-i", av_clip, *opts, "-pass", "1", "-f", "null", "-"], check=True)
    assert os.path.getsize(tmp_path / "pl-0.log") == 0
    r = subprocess.run([FF, "-v", "error", "-i", av_clip, *opts, "-pass", "2", str(tmp_path / "o.webm")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "rc_twopass_stats_in" in r.stderr
    good = ["-c:v", "libvpx-vp9", "-deadline", "good", "-cpu-used", "5", "-lag-in-frames", "0", "-aq-mode", "0",
            "-b:v", "200k", "-an", "-vf", "addroi=0:0:iw/2:ih:-0.2"]
    r = subprocess.run([FF, "-v", "warning", "-i", av_clip, *good, "-f", "null", "-"], capture_output=True, text=True)
    assert r.returncode == 0 and "deadline is REALTIME, so skipping ROI" in r.stderr
    with pytest.raises(UsageError, match="^two-pass is not available with libvpx-vp9: FFmpeg's libvpx wrapper applies "
                                         "the block map only in realtime mode .* writes no first-pass statistics"):
        run(av_clip, str(tmp_path / "v.mkv"), EncodeSettings(codec="libvpx-vp9", bitrate=200_000, two_pass=True))

"""Option values checked up front and naming the option; named model paths that cannot be used; the bounded
`semantic decode`; tiny frame sizes; one truncation rule for every container; a Y4M frame too large to
allocate. Issue 10 (robustness)."""
from __future__ import annotations

import os
import shutil
import time
import warnings
from fractions import Fraction

import av
import numpy as np
import pytest

from conftest import folder_state, make_clip, textured_frames
from semcodec.analysis.fusion import ImportanceMapper, build_analyzers
from semcodec.encoding.codecs import X26X_PRESETS, check_crf, check_preset
from semcodec.errors import SemcodecError, UsageError
from semcodec.io.reader import DecodeStats, declared_length, iter_packets_and_frames, open_input, probe
from semcodec.pipeline import EncodeSettings, encode
from semcodec.scenes.features import measure
from semcodec.semantic import codec as semcodec_codec
from semcodec.semantic import decode_semantic
from semcodec.semantic import format as semz


@pytest.fixture
def folder(tmp_path, clips):
    """A work folder holding a copy of a good 16-frame MP4."""
    shutil.copy(clips("plain16.mp4"), tmp_path / "good.mp4")
    return tmp_path


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("semcodec: error: "), err
    return lines[0]


# ---- 1. option values, up front, naming the option ---------------------------------------------------

# (argv after the input, words the one error line must hold); every case exits 2 and writes nothing
ENCODE_USAGE = [
    (["--crf", "nan"], ["--crf", "nan"]),
    (["--crf", "inf"], ["--crf", "inf"]),
    (["--crf", "99"], ["--crf 99", "libx264", "0-51"]),
    (["--crf", "-5"], ["--crf -5", "0-51"]),
    (["--codec", "libx265", "--crf", "52"], ["--crf 52", "libx265"]),
    (["--codec", "libvpx-vp9", "--crf", "64"], ["--crf 64", "libvpx-vp9", "0-63"]),
    (["--codec", "libsvtav1", "--crf", "64"], ["--crf 64", "libsvtav1", "0-63"]),
    (["--codec", "libsvtav1", "--crf", "30.5"], ["--crf 30.5", "whole number"]),
    (["--preset", "bogus"], ["--preset bogus", "libx264", "ultrafast"]),
    (["--codec", "libx265", "--preset", "turbo"], ["--preset turbo", "libx265"]),
    (["--codec", "libvpx-vp9", "--preset", "fast"], ["--preset fast", "cpu-used 5..8"]),
    (["--codec", "libvpx-vp9", "--preset", "4"], ["--preset 4", "cpu-used"]),
    (["--codec", "libsvtav1", "--preset", "14"], ["--preset 14", "0..13"]),
    (["--codec", "libsvtav1", "--preset", "fast"], ["--preset fast", "libsvtav1"]),
    (["--bitrate", "1"], ["--bitrate", "1 kb/s"]),
    (["--bitrate", "999"], ["--bitrate", "1 kb/s"]),
    (["--bitrate", "nan"], ["--bitrate"]),
    (["--bitrate", "infk"], ["--bitrate"]),
    (["--roi-strength", "nan"], ["--roi-strength"]),
    (["--roi-strength", "1.5"], ["--roi-strength"]),
    (["--emotion-strength", "nan"], ["--emotion-strength"]),
    (["--emotion-strength", "25"], ["--emotion-strength"]),
    (["--workers", "0"], ["--workers"]),
    (["--workers", "-2"], ["--workers"]),
    (["--chunk-min-s", "nan"], ["--chunk-min-s"]),
    (["--chunk-max-s", "inf"], ["--chunk-max-s"]),
    (["--chunk-max-s", "0"], ["--chunk-max-s"]),
    (["--chunk-min-s", "-1"], ["--chunk-min-s"]),
    (["--workers", "2", "--crf", "99"], ["--crf 99"]),  # the chunked path checks the codec range too
]


@pytest.mark.parametrize("extra,words", ENCODE_USAGE, ids=[" ".join(a) for a, _ in ENCODE_USAGE])
def test_encode_option_refused_up_front(cli, folder, extra, words):
    before = folder_state(folder)
    rc, out, err = cli("encode", folder / "good.mp4", "-o", folder / "out.mp4", *extra)
    line = one_error_line(err)
    assert rc == 2 and out == "", err
    for w in words:
        assert w in line, line
    assert folder_state(folder) == before  # nothing written, no temp or work folder left


def test_batch_mode_refuses_a_bad_option_once_up_front(cli, folder):
    (folder / "out").mkdir()
    for extra in (["--crf", "99"], ["--workers", "1", "--preset", "bogus"]):
        rc, out, err = cli("encode", folder, "-o", folder / "out", *extra)
        assert rc == 2 and extra[-2] in one_error_line(err), err
    assert os.listdir(folder / "out") == []


@pytest.mark.parametrize("text,bps", [("800k", 800_000), ("1.5M", 1_500_000), ("250000", 250_000),
                                      ("800kbps", 800_000), ("800kb/s", 800_000), ("1k", 1000)])
def test_parse_bitrate(text, bps):
    from cli.encode import parse_bitrate  # still importable from its old home

    assert parse_bitrate(text) == bps


OTHER_USAGE = [
    (["tag", "{clip}", "--sample-fps", "nan"], ["--sample-fps"]),
    (["tag", "{clip}", "--sample-fps", "inf"], ["--sample-fps"]),
    (["tag", "{clip}", "--sample-fps", "0"], ["--sample-fps"]),
    (["tag", "{clip}", "--max-keyframes", "0"], ["--max-keyframes", "at least 1"]),
    (["tag", "{clip}", "--max-keyframes", "-3"], ["--max-keyframes"]),
    (["semantic", "encode", "{clip}", "-o", "{dir}/o.semz", "--guide-every", "nan"], ["--guide-every"]),
    (["semantic", "encode", "{clip}", "-o", "{dir}/o.semz", "--guide-every", "-1"], ["--guide-every"]),
    (["semantic", "encode", "{clip}", "-o", "{dir}/o.semz", "--hybrid-threshold", "nan"], ["--hybrid-threshold"]),
    (["semantic", "encode", "{clip}", "-o", "{dir}/o.semz", "--hybrid-threshold", "inf"], ["--hybrid-threshold"]),
    (["semantic", "encode", "{clip}", "-o", "{dir}/o.semz", "--guide-size", "4"], ["--guide-size"]),
    (["semantic", "encode", "{clip}", "-o", "{dir}/o.semz", "--guide-quality", "0"], ["--guide-quality"]),
    (["semantic", "encode", "{clip}", "-o", "{dir}/o.semz", "--fallback-crf", "99"], ["--fallback-crf"]),
    (["semantic", "decode", "{dir}/x.semz", "-o", "{dir}/o.mp4", "--max-frames", "0"], ["--max-frames"]),
    (["semantic", "decode", "{dir}/x.semz", "-o", "{dir}/o.mp4", "--crf", "99"], ["--crf"]),
    (["semantic", "decode", "{dir}/x.semz", "-o", "{dir}/o.mp4", "--strength", "nan"], ["--strength"]),
    (["semantic", "decode", "{dir}/x.semz", "-o", "{dir}/o.mp4", "--steps", "0"], ["--steps"]),
    (["analyze", "{clip}", "--sample-fps", "nan"], ["--sample-fps"]),
    (["analyze", "{clip}", "--emotion-strength", "nan"], ["--emotion-strength"]),
    (["bench", "{clip}", "--crf", "30,-4", "--out", "{dir}/bench"], ["--crf -4", "0-51"]),
    (["bench", "{clip}", "--crf", "30,nan", "--out", "{dir}/bench"], ["--crf nan"]),
    (["bench", "{clip}", "--crf", "23", "--preset", "bogus", "--out", "{dir}/bench"], ["--preset bogus"]),
    (["bench", "{clip}", "--crf", "23", "--modes", "baseline,roi:bogus", "--out", "{dir}/bench"], ["--preset bogus"]),
    (["bench", "{clip}", "--bitrate", "1,100k", "--out", "{dir}/bench"], ["--bitrate 1", "1 kb/s"]),
    (["bench", "{clip}", "--codec", "libvpx-vp9", "--crf", "30,70", "--out", "{dir}/bench"], ["--crf 70", "0-63"]),
]


@pytest.mark.parametrize("argv,words", OTHER_USAGE, ids=[" ".join(a[:1] + a[2:]) for a, _ in OTHER_USAGE])
def test_other_options_refused_up_front(cli, folder, argv, words):
    before = folder_state(folder)
    t0 = time.perf_counter()
    rc, out, err = cli(*[a.format(clip=folder / "good.mp4", dir=folder) for a in argv])
    line = one_error_line(err)
    assert rc == 2 and out == "", err
    for w in words:
        assert w in line, line
    assert folder_state(folder) == before and not (folder / "bench").exists()
    assert time.perf_counter() - t0 < 20  # refused before the first encode, not after it


@pytest.mark.parametrize("kw,match", [
    (dict(crf=float("nan")), "--crf nan"),
    (dict(crf=99), "--crf 99 is out of range for libx264 \\(0-51\\)"),
    (dict(codec="libvpx-vp9", crf=63.5), "--crf 63.5"),
    (dict(preset="bogus"), "--preset bogus"),
    (dict(codec="libvpx-vp9", preset="fast"), "cpu-used"),
    (dict(codec="libsvtav1", preset="-1"), "--preset -1"),
    (dict(bitrate=1), "--bitrate"),
    (dict(bitrate=float("inf")), "--bitrate"),
    (dict(roi_strength=float("nan")), "--roi-strength"),
    (dict(emotion_strength=float("inf")), "--emotion-strength"),
])
def test_library_validate_raises_usage_error(folder, kw, match):
    settings = EncodeSettings(**kw)
    with pytest.raises(UsageError, match=match):
        settings.validate()
    with pytest.raises(UsageError, match=match):  # encode() checks before it looks at any file
        encode(str(folder / "missing.mp4"), str(folder / "out.mp4"), settings)
    assert sorted(os.listdir(folder)) == ["good.mp4"]


def test_every_real_preset_and_crf_bound_is_accepted():
    for codec in ("libx264", "libx265"):
        for p in X26X_PRESETS:
            check_preset(codec, p)
        check_crf(codec, 0)
        check_crf(codec, 51)
        check_crf(codec, 22.5)  # x264/x265 take fractional CRF
    for p in ("5", "6", "7", "8"):
        check_preset("libvpx-vp9", p)
    for p in range(14):
        check_preset("libsvtav1", str(p))
    for codec in ("libvpx-vp9", "libsvtav1"):
        check_crf(codec, 0)
        check_crf(codec, 63)
    EncodeSettings(bitrate=1000, preset="veryfast").validate()


def test_bench_library_checks_every_point_before_encoding(folder):
    from semcodec.bench import BenchSettings, parse_points, run_bench

    s = BenchSettings(points=parse_points("crf", "23,60"), metrics="psnr")
    with pytest.raises(UsageError, match="--crf 60"):
        run_bench([str(folder / "good.mp4")], str(folder / "bench"), s)
    assert not (folder / "bench").exists()


# ---- 2. a model path the user named is used or refused, in every mode ------------------------------------

def _junk(path) -> str:
    with open(path, "w") as fh:
        fh.write("not a model\n")
    return str(path)


PATH_CASES = [
    ("missing weights, roi auto", ["--yolo-weights", "{dir}/nope.onnx"], ["--yolo-weights", "nope.onnx"]),
    ("junk weights, roi auto", ["--yolo-weights", "{junk}"], ["--yolo-weights", "junk.onnx", "cannot load"]),
    ("junk weights, roi objects", ["--roi", "objects", "--yolo-weights", "{junk}"], ["--yolo-weights", "junk.onnx"]),
    ("missing weights, svtav1", ["--codec", "libsvtav1", "--yolo-weights", "{dir}/nope.onnx"], ["--yolo-weights"]),
    ("missing weights, roi off", ["--roi", "off", "--yolo-weights", "{dir}/nope.onnx"], ["--yolo-weights"]),
    ("missing emotion model", ["--emotion-model", "{dir}/nomodel"], ["--emotion-model", "nomodel"]),
    ("missing weights, chunked", ["--workers", "1", "--yolo-weights", "{dir}/nope.onnx"], ["--yolo-weights"]),
]


@pytest.mark.parametrize("name,extra,words", PATH_CASES, ids=[c[0] for c in PATH_CASES])
def test_named_model_path_that_cannot_be_used_is_an_error(cli, folder, name, extra, words):
    junk = _junk(folder / "junk.onnx")
    before = folder_state(folder)
    rc, out, err = cli("encode", folder / "good.mp4", "-o", folder / "out.mp4",
                       *[a.format(dir=folder, junk=junk) for a in extra])
    line = one_error_line(err)
    assert rc == 1, err
    for w in words:
        assert w in line, line
    assert folder_state(folder) == before


def test_auto_mode_mapper_refuses_named_weights_that_do_not_load(tmp_path):
    junk = _junk(tmp_path / "junk.onnx")
    with pytest.raises(SemcodecError, match="--yolo-weights .*junk.onnx"):
        ImportanceMapper(build_analyzers("auto", junk))
    # without a named path, auto mode still just lists what cannot run
    mapper = ImportanceMapper(build_analyzers("auto", None))
    assert mapper.active


def _tiny_semz(path, frames: int = 30, size: tuple[int, int] = (64, 48), header_frames: int | None = None) -> str:
    """A valid .semz, written with the project's own writer: one shot, one guide image."""
    w, h = size
    gw, gh = 16, 12
    img = (np.random.default_rng(1).random((gh, gw, 3)) * 255).astype(np.uint8)
    n = header_frames or frames
    shot = semz.ShotEntry(0, n, "a test", "other", [semz.Guide(0, 0, semz.encode_guide(img, "webp", 50))])
    f = semz.SemzFile(w, h, Fraction(25), n, "webp", gw, gh, [shot], n / 25, "semcodec test", "analyzers")
    semz.write(str(path), f)
    return str(path)


OTHER_PATHS = [
    (["tag", "{clip}", "--clip-model", "{dir}/noclip"], ["--clip-model", "noclip"]),
    (["tag", "{clip}", "--clip-model", "{dir}/emptydir"], ["--clip-model", "emptydir"]),
    (["semantic", "encode", "{clip}", "-o", "{dir}/o.semz", "--yolo-weights", "{dir}/junk.onnx"],
     ["--yolo-weights", "junk.onnx"]),
    (["semantic", "encode", "{clip}", "-o", "{dir}/o.semz", "--yolo-weights", "{dir}/nope.onnx"],
     ["--yolo-weights", "nope.onnx"]),
    (["semantic", "encode", "{clip}", "-o", "{dir}/o.semz", "--captioner", "{dir}/nocap"], ["--captioner", "nocap"]),
    (["semantic", "encode", "{clip}", "-o", "{dir}/o.semz", "--captioner", "{dir}/emptydir"],
     ["--captioner", "emptydir"]),
    (["semantic", "decode", "{dir}/ok.semz", "-o", "{dir}/o.mp4", "--generator", "{dir}/nogen"],
     ["--generator", "nogen"]),
    (["analyze", "{clip}", "--prompt", "the faces", "--yolo-weights", "{dir}/junk.onnx"],
     ["--yolo-weights", "junk.onnx"]),
]


@pytest.mark.parametrize("argv,words", OTHER_PATHS, ids=[" ".join(a[:1] + a[-2:-1]) + f" {i}"
                                                         for i, (a, _) in enumerate(OTHER_PATHS)])
def test_other_named_paths_that_cannot_be_used_are_errors(cli, folder, argv, words):
    _junk(folder / "junk.onnx")
    (folder / "emptydir").mkdir()
    _tiny_semz(folder / "ok.semz")
    before = folder_state(folder)
    rc, out, err = cli(*[a.format(clip=folder / "good.mp4", dir=folder) for a in argv])
    line = one_error_line(err)
    assert rc == 1, err
    for w in words:
        assert w in line, line
    assert folder_state(folder) == before


# ---- 3. semantic decode is bounded ------------------------------------------------------------------

def test_hostile_frame_count_is_refused_at_once(cli, tmp_path):
    src = _tiny_semz(tmp_path / "big.semz", frames=1, size=(176, 144), header_frames=50_000_000)
    assert os.path.getsize(src) < 2000  # a tiny, valid file
    t0 = time.perf_counter()
    rc, out, err = cli("semantic", "decode", src, "-o", tmp_path / "o.mp4")
    line = one_error_line(err)
    assert rc == 1 and time.perf_counter() - t0 < 10
    assert "claims 50000000 frames of 176x144" in line and "--max-frames 50000000" in line, line
    assert sorted(os.listdir(tmp_path)) == ["big.semz"]
    rc, _, err = cli("semantic", "decode", src, "-o", tmp_path / "o.mp4", "--max-frames", "1000")
    assert rc == 1 and "more than --max-frames 1000" in one_error_line(err)
    assert sorted(os.listdir(tmp_path)) == ["big.semz"]


def test_frames_times_pixels_budget(tmp_path):
    big = semz.read(_tiny_semz(tmp_path / "a.semz", frames=1, size=(16384, 16384), header_frames=5000))
    frames, out_bytes = semcodec_codec.decode_budget(big)
    assert frames < 5000 and frames == semcodec_codec.DEFAULT_MAX_PIXELS // (16384 * 16384)
    with pytest.raises(SemcodecError, match="default budget for 16384x16384"):
        semcodec_codec.check_decode_budget("a.semz", big)
    assert semcodec_codec.check_decode_budget("a.semz", big, max_frames=5000)[0] == 5000
    small = semz.read(_tiny_semz(tmp_path / "b.semz", frames=30))
    assert semcodec_codec.decode_budget(small)[0] == semcodec_codec.DEFAULT_MAX_FRAMES


def test_max_frames_override(cli, tmp_path):
    src = _tiny_semz(tmp_path / "s.semz", frames=30)
    rc, _, err = cli("semantic", "decode", src, "-o", tmp_path / "a.mp4", "--max-frames", "10", "-q")
    assert rc == 1 and "claims 30 frames" in one_error_line(err) and not (tmp_path / "a.mp4").exists()
    rc, _, err = cli("semantic", "decode", src, "-o", tmp_path / "b.mp4", "--max-frames", "30", "-q")
    assert rc == 0, err
    with av.open(str(tmp_path / "b.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 30


def test_output_bytes_budget(tmp_path, monkeypatch):
    src = _tiny_semz(tmp_path / "s.semz", frames=30)
    monkeypatch.setattr(semcodec_codec, "MIN_OUTPUT_BUDGET", 200)
    monkeypatch.setattr(semcodec_codec, "OUTPUT_BYTES_PER_PIXEL", 1e-6)
    with pytest.raises(SemcodecError, match="output budget"):
        decode_semantic(src, str(tmp_path / "o.mp4"))
    assert sorted(os.listdir(tmp_path)) == ["s.semz"]  # nothing half-written


# ---- 4. tiny frame sizes ----------------------------------------------------------------------------

def _noise_clip(path, w: int, h: int, frames: int = 8) -> str:
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"preset": "ultrafast"}
        rng = np.random.default_rng(0)
        for i in range(frames):
            img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            f.pts = i
            out.mux(vs.encode(f))
        out.mux(vs.encode(None))
    return str(path)


@pytest.mark.parametrize("w,h", [(2, 2), (4, 4), (16, 16), (2, 64), (64, 2)])
def test_semantic_round_trip_of_tiny_videos(cli, tmp_path, w, h):
    src = _noise_clip(tmp_path / "t.mp4", w, h)
    rc, _, err = cli("semantic", "encode", src, "-o", tmp_path / "t.semz", "-q")
    assert rc == 0, err
    rc, _, err = cli("semantic", "decode", tmp_path / "t.semz", "-o", tmp_path / "d.mp4", "-q")
    assert rc == 0, err
    with av.open(str(tmp_path / "d.mp4")) as c:
        frames = list(c.decode(video=0))
    assert len(frames) == 8 and (frames[0].width, frames[0].height) == (w, h)


@pytest.mark.parametrize("h,w", [(2, 2), (4, 4), (2, 64), (64, 2), (7, 9)])
def test_scene_measurements_of_tiny_frames_are_finite(h, w):
    rgb = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    gray = rgb.mean(2).astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 'mean of empty slice'
        f = measure(rgb, gray)
    assert all(np.isfinite(v) for v in f.to_json().values() if isinstance(v, float))


# ---- 5. one truncation rule for every container ----------------------------------------------------------

CONTAINERS = {  # extension: (muxer, codec, encoder options, container options, audio)
    "mp4": ("mp4", "libx264", {"preset": "ultrafast"}, {"movflags": "+faststart"}, False),
    "mov": ("mov", "libx264", {"preset": "ultrafast"}, {"movflags": "+faststart"}, False),
    "mkv": ("matroska", "libx264", {"preset": "ultrafast"}, {}, False),
    "mkv+audio": ("matroska", "libx264", {"preset": "ultrafast"}, {}, True),
    "webm": ("webm", "libvpx-vp9", {"deadline": "realtime", "cpu-used": "8"}, {}, False),
}


def _clip(path, kind: str, frames: int = 30, vfr: bool = False, start: int = 0) -> str:
    """`frames` textured frames at 25 fps (vfr: irregular steps in 1/1000), the first at `start` ticks."""
    fmt, codec, opts, copts, audio = CONTAINERS[kind]
    steps = [40, 20, 90, 33, 47, 60]
    tb = Fraction(1, 1000) if vfr else Fraction(1, 25)
    with av.open(str(path), "w", format=fmt, options=copts) as out:
        vs = out.add_stream(codec, rate=25)
        vs.width, vs.height, vs.pix_fmt = 96, 64, "yuv420p"
        vs.options = opts
        vs.codec_context.time_base = vs.time_base = tb
        a = out.add_stream("libopus" if fmt == "webm" else "aac", rate=48000) if audio else None
        t = 0
        for i, img in enumerate(textured_frames(frames, (96, 64))):
            f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            f.pts, f.time_base = start + (t if vfr else i), tb
            t += steps[i % len(steps)]
            out.mux(vs.encode(f))
        out.mux(vs.encode(None))
        if a is not None:
            for k in range(0, int(48000 * frames / 25), 1024):
                af = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
                af.sample_rate, af.pts, af.time_base = 48000, k, Fraction(1, 48000)
                out.mux(a.encode(af))
            out.mux(a.encode(None))
    return str(path)


def _read_all(path) -> DecodeStats:
    stats = DecodeStats()
    with open_input(str(path)) as c:
        for _ in iter_packets_and_frames(c, stats):
            pass
    return stats


@pytest.mark.parametrize("kind", list(CONTAINERS))
def test_complete_files_pass_and_declare_their_length(tmp_path, kind):
    for vfr in (False, True):
        src = _clip(tmp_path / f"full{int(vfr)}.{kind.split('+')[0]}", kind, vfr=vfr)
        assert _read_all(src).frames == 30
        with open_input(src) as c:
            assert declared_length(c.streams.video[0]) is not None  # the rule has something to compare


@pytest.mark.parametrize("kind", ["mkv", "webm", "mp4"])
def test_stream_starting_late_is_not_called_truncated(tmp_path, kind):
    """Matroska's DURATION tag holds the end time (3 s for 1 s starting at 2 s), not the length."""
    src = _clip(tmp_path / f"late.{kind}", kind, frames=25, start=50)
    assert _read_all(src).frames == 25


@pytest.mark.parametrize("kind", list(CONTAINERS))
def test_truncated_file_is_an_error_in_every_container(cli, tmp_path, kind):
    ext = kind.split("+")[0]
    src = _clip(tmp_path / f"full.{ext}", kind)
    data = open(src, "rb").read()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2])
    os.unlink(src)
    with pytest.raises(SemcodecError, match="truncated"):
        _read_all(cut)
    rc, out, err = cli("encode", cut, "-o", tmp_path / "out.mp4", "-q")
    line = one_error_line(err)
    assert rc == 1 and "truncated" in line, line
    assert ("30 video frames" in line) or ("declares 1.20 s" in line and "30 frames" in line), line
    assert sorted(os.listdir(tmp_path)) == [cut.name]


def test_short_truncated_mkv_no_longer_encodes_part_silently(tmp_path):
    """The old check (header duration vs decoded, minus 0.5 s) could not fire on clips under ~5 s."""
    src = make_clip(tmp_path / "full.mkv", frames=30)
    data = open(src, "rb").read()
    (tmp_path / "cut.mkv").write_bytes(data[: int(len(data) * 0.5)])
    with pytest.raises(SemcodecError, match=r"input is truncated: \d+ video frames decoded"):
        encode(str(tmp_path / "cut.mkv"), str(tmp_path / "out.mp4"), EncodeSettings())
    assert not (tmp_path / "out.mp4").exists()


# ---- 6. a frame too large to allocate ---------------------------------------------------------------

@pytest.mark.parametrize("w,h", [(30000, 30000), (16256, 16256), (60000, 20000)])
def test_huge_y4m_header_says_the_frame_is_too_large(cli, tmp_path, w, h):
    src = tmp_path / "big.y4m"
    src.write_bytes(f"YUV4MPEG2 W{w} H{h} F25:1 Ip A1:1 C420jpeg\nFRAME\n".encode() + bytes(1000))
    with pytest.raises(SemcodecError, match=f"frame size {w}x{h} is too large"):
        probe(str(src))
    rc, _, err = cli("encode", src, "-o", tmp_path / "o.mp4")
    line = one_error_line(err)
    assert rc == 1 and f"{w}x{h} is too large" in line and "busy" not in line
    assert sorted(os.listdir(tmp_path)) == ["big.y4m"]

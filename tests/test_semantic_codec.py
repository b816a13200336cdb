"""semcodec semantic encode/decode end to end on small real clips: frame count, rate, duration, hybrid
shots, determinism, captions and CLI errors."""
from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from cli.main import main
from semcodec.errors import SemcodecError
from semcodec.io.reader import probe
from semcodec.semantic import decode_semantic, encode_semantic
from semcodec.semantic import format as semz
from semcodec.semantic.caption import compose_caption, dominant_colours, where
from semcodec.semantic.codec import strip_sei


def _frames(path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


@pytest.fixture(scope="module")
def cut_clip(clips):
    return clips("semantic_cut.mp4", frames=30, size=(96, 64), fps=24, content="texture_then_face")


def test_encode_decode_keeps_frames_rate_duration(cut_clip, tmp_path):
    out = tmp_path / "a.semz"
    rep = encode_semantic(cut_clip, str(out))
    assert rep["bytes"] == out.stat().st_size and rep["shots"] >= 2  # texture, then a cut to a face
    assert rep["bytes"] < 3000 and rep["bits_per_pixel"] == pytest.approx(rep["bytes"] * 8 / (96 * 64 * 30))
    f = semz.read(str(out))
    assert (f.width, f.height, f.frames, f.fps) == (96, 64, 30, Fraction(24))
    assert all(s.caption for s in f.shots) and all(len(s.guides) == 1 for s in f.shots)
    assert f.shots[0].start == 0 and f.shots[-1].end == 30
    dec = decode_semantic(str(out), str(tmp_path / "a.mp4"))
    src, got = probe(cut_clip), probe(str(tmp_path / "a.mp4"))
    assert dec["frames"] == 30 and got.frames == 30
    assert got.average_rate == src.average_rate == 24
    assert got.duration_s == pytest.approx(src.duration_s, abs=1 / 24)
    assert (got.width, got.height) == (96, 64)
    # same .semz, same seed: the same pictures
    decode_semantic(str(out), str(tmp_path / "b.mp4"))
    assert np.array_equal(_frames(tmp_path / "a.mp4"), _frames(tmp_path / "b.mp4"))


def test_hybrid_keeps_pixels_where_reconstruction_is_poor(cut_clip, tmp_path):
    plain = tmp_path / "p.semz"
    hyb = tmp_path / "h.semz"
    encode_semantic(cut_clip, str(plain))
    rep = encode_semantic(cut_clip, str(hyb), hybrid_threshold=99.0, fallback_crf=30)
    assert rep["hybrid_shots"] == rep["shots"] and rep["pixel_bytes"] > 0
    f = semz.read(str(hyb))
    assert all(s.pixels is not None and not s.guides for s in f.shots)
    decode_semantic(str(plain), str(tmp_path / "p.mp4"))
    decode_semantic(str(hyb), str(tmp_path / "h.mp4"))
    from semcodec.metrics import compare

    q_plain = compare(cut_clip, str(tmp_path / "p.mp4"), vmaf=False).summary()["psnr_y_mean"]
    q_hyb = compare(cut_clip, str(tmp_path / "h.mp4"), vmaf=False).summary()["psnr_y_mean"]
    assert q_hyb > q_plain + 3
    # a threshold of 0 dB keeps no pixels
    assert encode_semantic(cut_clip, str(tmp_path / "z.semz"), hybrid_threshold=0.0)["hybrid_shots"] == 0


def test_rational_frame_rate_and_guide_codecs(clips, tmp_path):
    src = clips("semantic_ntsc.mp4", frames=15, size=(64, 48), fps=Fraction(30000, 1001))
    for codec in semz.guide_codecs_available():
        out = tmp_path / f"{codec}.semz"
        encode_semantic(src, str(out), guide_codec=codec, guide_size=32, guide_every=0.2)
        f = semz.read(str(out))
        assert f.fps == Fraction(30000, 1001) and f.guide_codec == codec and max(f.guide_width, f.guide_height) == 32
        assert sum(len(s.guides) for s in f.shots) >= 2  # a guide every 0.2 s
        decode_semantic(str(out), str(tmp_path / f"{codec}.mp4"))
        got = probe(str(tmp_path / f"{codec}.mp4"))
        assert got.frames == 15 and got.average_rate == Fraction(30000, 1001)


def test_caption_words():
    from semcodec.analysis.base import Region

    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[:, :24] = (40, 80, 190)
    regions = [Region("face", (0.05, 0.2, 0.25, 0.6), 0.9, "faces"), Region("car", (0.7, 0.5, 0.95, 0.9), 0.8, "o")]
    cap = compose_caption("people", {"grey": 0.0, "camera_motion": 0.0}, regions, rgb)
    assert "a person" in cap and "left" in cap and "a car at the right" in cap
    assert "blue" in cap and "black" in cap and "static camera" in cap
    assert [c for c, _ in dominant_colours(rgb)][:2] in (["blue", "black"], ["black", "blue"])
    assert where((0.4, 0.0, 0.6, 0.1)) == "top"
    assert "black and white" in compose_caption("other", {"grey": 1.0}, [], rgb)


def test_strip_sei_keeps_a_decodable_stream():
    data = b"\x00\x00\x00\x01\x67abc\x00\x00\x01\x06sei-payload\x00\x00\x00\x01\x65slice"
    assert strip_sei(data) == b"\x00\x00\x00\x01\x67abc\x00\x00\x00\x01\x65slice"


def test_corrupt_pixel_segment_is_a_clear_error(cut_clip, tmp_path):
    f = semz.read(_encoded(cut_clip, tmp_path))
    f.shots[0].pixels, f.shots[0].pixel_data, f.shots[0].guides = 0, b"\x00\x00\x00\x01garbage" * 10, []
    for i, g in enumerate(g for s in f.shots for g in s.guides):
        g.chunk = i
    bad = tmp_path / "bad.semz"
    bad.write_bytes(semz.pack(f))
    with pytest.raises(SemcodecError):
        decode_semantic(str(bad), str(tmp_path / "bad.mp4"))
    assert not (tmp_path / "bad.mp4").exists()


def _encoded(src, tmp_path) -> str:
    out = str(tmp_path / "c.semz")
    encode_semantic(src, out)
    return out


def test_cli(cut_clip, tmp_path, capsys):
    out = tmp_path / "cli.semz"
    assert main(["semantic", "encode", cut_clip, "-o", str(out), "--guide-size", "48", "-q",
                 "--json", str(tmp_path / "r.json")]) == 0
    assert main(["semantic", "decode", str(out), "-o", str(tmp_path / "cli.mp4"), "--seed", "4", "-q"]) == 0
    assert probe(str(tmp_path / "cli.mp4")).frames == 30
    capsys.readouterr()
    data = out.read_bytes()
    (tmp_path / "trunc.semz").write_bytes(data[: len(data) // 2])
    assert main(["semantic", "decode", str(tmp_path / "trunc.semz"), "-o", str(tmp_path / "t.mp4")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("semcodec: error: not a valid .semz file: truncated") and err.count("\n") == 1
    assert not (tmp_path / "t.mp4").exists()
    assert main(["semantic", "encode", cut_clip, "-o", str(tmp_path / "x.mp4")]) == 2
    assert main(["semantic", "encode", cut_clip, "-o", str(tmp_path / "y.semz"), "--guide-size", "4"]) == 2
    assert main(["semantic", "encode", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "m.semz")]) == 1
    assert main(["semantic", "decode", str(out), "-o", str(tmp_path / "o.avi")]) == 2
    assert "input not found" in capsys.readouterr().err


def test_fuzz_pixel_segment(cut_clip, tmp_path):
    """Mutated H.264 inside valid framing: decode gives frames or a SemcodecError, nothing else."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    src = semz.read(_hybrid(cut_clip, tmp_path))
    seg = src.shots[0].pixel_data

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.lists(st.tuples(st.integers(0, len(seg) - 1), st.integers(0, 255)), min_size=1, max_size=6),
           st.integers(1, len(seg)))
    def run(edits, cut):
        bad = bytearray(seg[:cut])
        for pos, val in edits:
            if pos < len(bad):
                bad[pos] = val
        src.shots[0].pixel_data = bytes(bad)
        path = tmp_path / "fz.semz"
        path.write_bytes(semz.pack(src))
        try:
            rep = decode_semantic(str(path), str(tmp_path / "fz.mp4"))
            assert rep["frames"] == src.frames
        except SemcodecError:
            pass

    run()


def _hybrid(src, tmp_path) -> str:
    out = str(tmp_path / "hy.semz")
    encode_semantic(src, out, hybrid_threshold=99.0)
    return out


def test_variable_frame_rate_source_decodes_at_its_average_rate(clips, tmp_path):
    src = clips("semantic_vfr.mkv", frames=16, size=(64, 48), vfr=True)
    encode_semantic(src, str(tmp_path / "v.semz"))
    f = semz.read(str(tmp_path / "v.semz"))
    assert f.frames == 16 and f.fps > 0
    decode_semantic(str(tmp_path / "v.semz"), str(tmp_path / "v.mkv"))
    got = probe(str(tmp_path / "v.mkv"))
    assert len(_frames(tmp_path / "v.mkv")) == 16
    assert got.width == 64 and got.height == 48

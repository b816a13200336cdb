"""A video whose timestamps jump far past its frame rate is reported, not encoded in silence: Matroska's
demuxer resynchronises past damaged data without an error, so frames vanish from the middle of the file."""
import random
from fractions import Fraction

import av
import numpy as np

from conftest import make_clip
from semcodec.pipeline import EncodeSettings, encode


def _gap_clip(path, fps=25, before=20, skip=40, after=20) -> str:
    """A constant-rate clip with `skip` frames missing after the first `before` (a recording gap)."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 160, 96, "yuv420p"
        vs.codec_context.time_base = Fraction(1, fps)
        vs.options = {"preset": "ultrafast"}
        for n, i in enumerate([*range(before), *range(before + skip, before + skip + after)]):
            img = np.full((96, 160, 3), (n * 5) % 255, np.uint8)
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, fps)
            out.mux(vs.encode(f))
        out.mux(vs.encode(None))
    return str(path)


def test_a_timestamp_gap_is_reported(tmp_path):
    report = encode(_gap_clip(tmp_path / "gap.mkv"), str(tmp_path / "out.mp4"), EncodeSettings(roi="off", crf=30))
    warning = [w for w in report["warnings"] if "jumps" in w]
    assert warning and "0.76 s to 2.40 s" in warning[0] and "about 40 frames" in warning[0], report["warnings"]


def test_damaged_matroska_is_reported(tmp_path):
    # 12 s: Matroska clusters of about 5 s, so the damage (3 % of the bytes, mid-file) loses part of one
    src = make_clip(tmp_path / "src.mkv", frames=300, fps=25, crf=10)
    data = bytearray(open(src, "rb").read())
    rng = random.Random(1)
    mid, n = len(data) // 2, len(data) // 33
    data[mid:mid + n] = bytes(rng.randrange(256) for _ in range(n))
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(bytes(data))
    report = encode(str(bad), str(tmp_path / "out.mp4"), EncodeSettings(roi="off", crf=30))
    assert any("jumps" in w and "frames missing" in w for w in report["warnings"]), report["warnings"]


def test_a_regular_clip_has_no_gap_warning(tmp_path):
    src = make_clip(tmp_path / "ok.mkv", frames=30, fps=25)
    report = encode(src, str(tmp_path / "out.mp4"), EncodeSettings(roi="off", crf=30))
    assert not any("jumps" in w for w in report["warnings"])


def test_tag_reports_the_gap_too(tmp_path):
    from semcodec.tagging.tagger import tag_video

    result = tag_video(_gap_clip(tmp_path / "gap.mkv"))
    result = result[0] if isinstance(result, tuple) else result
    assert result["decode"]["timestamp_gaps"] == 1
    assert any("jumps" in w for w in result["warnings"]), result["warnings"]

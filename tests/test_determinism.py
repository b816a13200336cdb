"""Bit-exact output: the same input and settings give the same bytes in one process and across processes,
with the ROI map on and off, at a width where x264's AVX-512 code used to vary (176 px = 11 macroblocks)."""
import hashlib
import subprocess
import sys

import pytest

from conftest import make_clip
from semcodec.encoding.codecs import (
    X264_ASM,
    X264_ASM_WITHOUT_AVX512,
    RateControl,
    _cpu_has_avx512,
    caps_for,
    encoder_options,
)
from semcodec.pipeline import EncodeSettings, encode


def _digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture(scope="module")
def clip176(tmp_path_factory):
    path = tmp_path_factory.mktemp("det") / "face176.mkv"
    return make_clip(path, frames=12, size=(176, 144), codec="ffv1", content="face")


@pytest.mark.parametrize("codec,roi", [("libx264", "auto"), ("libx264", "off"), ("libx265", "auto")])
def test_same_bytes_in_one_process_and_across_processes(clip176, tmp_path, codec, roi):
    outs = []
    for i in range(4):
        out = tmp_path / f"{i}.mp4"
        encode(str(clip176), str(out), EncodeSettings(codec=codec, roi=roi))
        outs.append(_digest(out))
    code = ("import sys; from semcodec.pipeline import EncodeSettings, encode; "
            f"encode(sys.argv[1], sys.argv[2], EncodeSettings(codec={codec!r}, roi={roi!r}))")
    for i in range(2):
        out = tmp_path / f"p{i}.mp4"
        subprocess.run([sys.executable, "-c", code, str(clip176), str(out)], check=True, timeout=120)
        outs.append(_digest(out))
    assert len(set(outs)) == 1, outs


def test_x264_gets_the_asm_list_only_on_avx512_cpus():
    assert X264_ASM == (X264_ASM_WITHOUT_AVX512 if _cpu_has_avx512() else None)
    assert "AVX512" not in X264_ASM_WITHOUT_AVX512
    opts, _ = encoder_options(caps_for("libx264"), RateControl(crf=23), None)
    assert (f"asm={X264_ASM}" in opts.get("x264-params", "")) == bool(X264_ASM)


def test_roi_off_options_are_stock():
    """--roi off adds nothing to what `ffmpeg -c:v CODEC -preset P -crf N` passes (x264's asm list aside)."""
    x265, _ = encoder_options(caps_for("libx265"), RateControl(crf=28), None, with_map=False)
    assert x265 == {"preset": "medium", "crf": "28", "x265-params": "log-level=error"}
    x265_map, _ = encoder_options(caps_for("libx265"), RateControl(crf=28), None, with_map=True)
    assert x265_map == x265  # x265's own quantization groups carry the map (benchmarks/results/roi_x265.md)
    x264, _ = encoder_options(caps_for("libx264"), RateControl(crf=23), "ultrafast", with_map=False)
    assert "aq-mode" not in x264

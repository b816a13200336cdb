"""`semcodec metrics DIST REF`: the bench's numbers for any pair of files, one-line errors for bad pairs."""
import json

import pytest

from conftest import make_clip
from semcodec.bench.measure import measure


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("metrics_cli")
    ref = make_clip(d / "ref.mp4", frames=12, content="face", crf=0)
    dist = make_clip(d / "dist.mp4", frames=12, content="face", crf=38)
    short = make_clip(d / "short.mp4", frames=9, content="face", crf=20)
    small = make_clip(d / "small.mp4", frames=12, size=(96, 64), crf=20)
    return {"ref": ref, "dist": dist, "short": short, "small": small, "dir": d}


def test_json_matches_the_bench_and_has_the_face_region(cli, pair):
    rc, out, err = cli("metrics", pair["dist"], pair["ref"], "--roi-mask", "faces", "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["schema"] == "semcodec.metrics/1" and doc["mask"]["kind"] == "default-faces"
    s = doc["scores"]
    plain = measure(pair["ref"], pair["dist"], ["psnr", "ssim", "vmaf", "xpsnr"])
    for key in ("vmaf_mean", "psnr_y_mean", "ssim_all_mean", "xpsnr_y_mean"):
        assert s[key] == pytest.approx(plain[key], abs=1e-6)
    assert 20 < s["roi_psnr_y_mean"] < 60 and 0 < s["vmaf_mean"] < 100
    assert "VMAF" in err and "region PSNR" in err


def test_identical_files_score_the_cap(cli, pair):
    rc, out, _ = cli("metrics", pair["ref"], pair["ref"], "--metrics", "psnr,vmaf", "--json", "-q")
    s = json.loads(out)["scores"]
    assert rc == 0 and s["psnr_y_mean"] == 100.0 and s["vmaf_mean"] > 97 and "xpsnr_y_mean" not in s


@pytest.mark.parametrize("case,needle", [("short", "frame count mismatch"), ("small", "frame size mismatch"),
                                         ("missing", "file not found"), ("text", "not a readable video")])
def test_bad_pairs_are_one_line_errors(cli, pair, case, needle):
    dist = {"missing": pair["dir"] / "nope.mp4", "text": pair["dir"] / "notes.mp4"}.get(case, pair.get(case))
    if case == "text":
        dist.write_text("not a video\n")
    rc, out, err = cli("metrics", dist, pair["ref"], "--metrics", "psnr")
    assert rc == 1 and out == "" and needle in err and len(err.strip().splitlines()) == 1


def test_unknown_metric_is_refused(cli, pair):
    rc, _, err = cli("metrics", pair["dist"], pair["ref"], "--metrics", "vmaf,bogus")
    assert rc == 1 and "unknown metric bogus" in err

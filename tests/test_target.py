"""Target quality: the CRF search on exact curves, and crf-search / encode --target-* on real encodes."""
import json
import os

import pytest

from conftest import make_clip
from semcodec.errors import UsageError
from semcodec.target.search import choose, propose, search
from semcodec.target.spec import Goal, TargetSpec


def _curve(slope=1.3, top=100.0, knee=10.0):
    return lambda c: {"vmaf": min(100.0, top - slope * (c - knee))}


@pytest.mark.parametrize("target,slope", [(93.0, 1.3), (88.5, 0.7), (97.2, 2.1)])
def test_search_finds_the_largest_crf_meeting_a_linear_target(target, slope):
    f = _curve(slope)
    spec = TargetSpec((Goal("vmaf", target),), min_crf=10, max_crf=40)
    calls = []
    choice, points = search(lambda c: calls.append(c) or f(c), spec, "libx264", 23, resolution=0.5)
    exact = 10 + (100 - target) / slope
    assert choice.met and exact - 0.5 <= choice.crf <= exact + 1e-9
    assert f(choice.crf)["vmaf"] >= target - 1e-9 and len(calls) <= spec.max_probes
    assert choice.predicted["vmaf"] == pytest.approx(f(choice.crf)["vmaf"])


def test_two_goals_the_binding_one_wins():
    f = lambda c: {"vmaf": 100 - 1.0 * c, "face_psnr": 50 - 0.5 * c}  # noqa: E731
    goals = (Goal("vmaf", 80.0), Goal("face_psnr", 42.0))  # vmaf allows CRF 20, face PSNR only 16
    choice, _ = search(f, TargetSpec(goals, min_crf=10, max_crf=40), "libx264", 23)
    assert choice.met and choice.crf == 16


def test_unreachable_target_is_not_met_and_reports_the_best():
    spec = TargetSpec((Goal("vmaf", 99.5),), min_crf=20, max_crf=40)
    choice, points = search(_curve(1.3, top=96), spec, "libx264", 23)
    assert not choice.met and choice.crf == 20 and min(points) == 20 and choice.best["vmaf"] < 99.5


def test_easy_target_stops_at_max_crf():
    spec = TargetSpec((Goal("vmaf", 50.0),), min_crf=10, max_crf=30)
    choice, _ = search(_curve(), spec, "libx264", 23)
    assert choice.met and choice.crf == 30


def test_no_measurable_metric_passes_at_max_crf():
    spec = TargetSpec((Goal("face_psnr", 40.0),), min_crf=10, max_crf=30)
    choice, points = search(lambda c: {"face_psnr": None}, spec, "libx264", 23)
    assert choice.met and choice.crf == 30 and len(points) == 2


def test_propose_stays_inside_the_bracket():
    goals = (Goal("vmaf", 90.0),)
    points = {20.0: {"vmaf": 92.0}, 26.0: {"vmaf": 85.0}}
    nxt = propose(points, goals, 10, 40)
    assert 20 < nxt < 26
    assert choose({20.0: {"vmaf": 92.0}, 21.0: {"vmaf": 89.0}}, goals).crf == 20


@pytest.mark.parametrize("spec,needle", [
    (TargetSpec(()), "needs --target-vmaf"),
    (TargetSpec((Goal("vmaf", 120.0),)), "--target-vmaf 120"),
    (TargetSpec((Goal("vmaf", 90.0),), min_crf=30, max_crf=20), "--min-crf 30 is above --max-crf 20"),
    (TargetSpec((Goal("vmaf", 90.0),), max_crf=70), "--max-crf 70 is out of range"),
    (TargetSpec((Goal("vmaf", 90.0),), percentile=100), "--target-percentile"),
])
def test_spec_validation(spec, needle):
    with pytest.raises(UsageError, match=needle):
        spec.validate("libx264")


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("target")
    return make_clip(d / "face.mp4", frames=36, content="face", crf=4), d


def test_crf_search_prints_per_shot_crf_and_json(cli, face_clip):
    clip, _ = face_clip
    rc, out, err = cli("crf-search", clip, "--target-vmaf", "90", "--preset", "veryfast", "--max-probes", "4",
                       "--json")
    assert rc == 0, err
    doc = json.loads(out)
    shot = doc["shots"][0]
    assert doc["schema"] == "semcodec.crf_search/1" and len(doc["shots"]) == 1 and shot["met"]
    assert 10 <= shot["crf"] <= 40 and shot["predicted"]["vmaf"] >= 90 and 2 <= len(shot["probes"]) <= 4
    passing = [p["crf"] for p in shot["probes"] if p["scores"]["vmaf"] >= 90]
    failing = [p["crf"] for p in shot["probes"] if p["scores"]["vmaf"] < 90]
    assert max(passing) <= shot["crf"] < min(failing or [99])  # between the last pass and the first fail
    assert "CRF" in err and "whole video at one CRF" in err


def test_unreachable_target_names_the_shot_and_exits_1(cli, face_clip):
    clip, d = face_clip
    out = d / "miss.mp4"
    rc, _, err = cli("encode", clip, "-o", out, "--target-vmaf", "99.9", "--max-crf", "14", "--preset", "ultrafast",
                     "--max-probes", "2", "-q")
    assert rc == 1 and "shot 1 (frames 0-35" in err and "best VMAF" in err and not out.exists()
    rc, _, err = cli("encode", clip, "-o", out, "--target-vmaf", "99.9", "--max-crf", "14", "--preset", "ultrafast",
                     "--max-probes", "2", "--best-effort", "--json")
    assert rc == 0 and out.exists() and "best effort" in err


def test_encode_to_face_and_vmaf_targets_single_piece(cli, face_clip):
    clip, d = face_clip
    rc, out, err = cli("encode", clip, "-o", d / "single.mp4", "--target-vmaf", "88", "--target-face-psnr", "36",
                       "--preset", "veryfast", "--json")
    assert rc == 0, err
    t = json.loads(out)["target"]
    shot = t["shots"][0]
    assert t["mode"] == "one CRF for the video" and shot["crf"] == t["crf"]
    assert shot["measured"]["face_psnr"] >= 36 - 1 and shot["measured"]["vmaf"] >= 88 - 1
    assert set(shot["predicted"]) == {"vmaf", "face_psnr"}


def test_chunked_target_keeps_each_chunks_crf_in_the_manifest(cli, tmp_path):
    clip = make_clip(tmp_path / "tf.mp4", frames=48, content="texture_then_face", crf=4)
    work = tmp_path / "work"
    args = ("encode", clip, "-o", tmp_path / "out.mp4", "--target-vmaf", "90", "--workers", "1", "--work-dir", work,
            "--chunk-min-s", "0.4", "--chunk-max-s", "1", "--preset", "veryfast", "--max-probes", "3", "--json")
    rc, out, err = cli(*args)
    assert rc == 0, err
    report = json.loads(out)
    manifest = json.load(open(os.path.join(work, "manifest.json")))
    chunks = manifest["chunks"]
    assert len(chunks) >= 2 and all(c["crf"] == c["target"]["crf"] for c in chunks)
    shots = report["target"]["shots"]
    assert [s["crf"] for s in shots] == [c["crf"] for c in chunks]
    assert all(s["measured"]["vmaf"] is not None for s in shots)
    rc, out2, err = cli(*args, "-y")  # resumed: every chunk reused, same CRFs
    assert rc == 0, err
    again = json.loads(out2)
    assert len(again["parallel"]["chunks_reused"]) == len(chunks)
    assert [s["crf"] for s in again["target"]["shots"]] == [s["crf"] for s in shots]


def test_face_region_vmaf_target_is_scored_on_the_face_crop(cli, face_clip):
    clip, _ = face_clip
    rc, out, err = cli("crf-search", clip, "--target-roi-vmaf", "88", "--target-percentile", "20", "--preset",
                       "ultrafast", "--max-probes", "3", "--json", "-q")
    assert rc == 0, err
    shot = json.loads(out)["shots"][0]
    assert set(shot["predicted"]) == {"roi_vmaf"} and all(p["scores"]["roi_vmaf"] is not None for p in shot["probes"])

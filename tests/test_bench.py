"""`semcodec bench` on tiny clips built here: outputs and schema, resume, BD-rate, XPSNR, ROI metrics, errors."""
import csv
import dataclasses
import json
import os
import re
import subprocess
import sys

import av
import numpy as np
import pytest

from cli.main import main
from conftest import face_mask, make_clip
from semcodec.bench import BenchSettings, bd, bd_between, measure, parse_modes, parse_points, run_bench
from semcodec.bench.masks import BoxesMask
from semcodec.bench.roi_metrics import ssim_map, weighted_mse
from semcodec.bench.xpsnr import Xpsnr
from semcodec.errors import SemcodecError
from semcodec.metrics.quality import _ssim_plane, frame_pairs

SIZE = (160, 96)
MODES = "baseline,roi,baseline:ultrafast"  # ultrafast: clearly worse RD than medium, for the BD sign
POINT_KEYS = {"rate", "hash", "measured_at", "bytes", "video_bytes", "frames", "duration_s", "bitrate_kbps",
              "video_bitrate_kbps", "encode_s", "encode_fps", "analysis_s", "analysis_fps", "time_ratio",
              "roi_status", "warnings", "metrics"}
METRIC_KEYS = {"psnr_y_mean", "psnr_y_p5", "psnr_y_global", "psnr_yuv_mean", "ssim_y_mean", "ssim_all_mean",
               "vmaf_mean", "vmaf_harmonic_mean", "vmaf_p5", "xpsnr_y_mean", "xpsnr_y_global", "xpsnr_y_p5",
               "roi_psnr_y_mean", "bg_psnr_y_mean", "roi_ssim_y_mean", "bg_ssim_y_mean", "wpsnr_y_mean",
               "wpsnr_y_global", "roi_area_mean"}


def write_mask_video(path, frames=16, size=SIZE, box=None):
    """Lossless mask video: white inside `box` (x0, y0, x1, y1 pixels), or everywhere when box is None."""
    w, h = size
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"qp": "0", "preset": "ultrafast"}
        for _ in range(frames):
            img = np.full((h, w, 3), 255 if box is None else 0, np.uint8)
            if box is not None:
                x0, y0, x1, y1 = box
                img[y0:y1, x0:x1] = 255
            out.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(s.encode(None))
    return str(path)


def write_boxes(path, clip, frames=16, size=SIZE, width=None):
    """A semcodec.face_boxes/1 file with the known face box of the face clip."""
    m = face_mask(size)
    ys, xs = np.nonzero(m)
    box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
    data = {"schema": "semcodec.face_boxes/1", "clips": {os.path.basename(clip): {
        "width": width or size[0], "height": size[1], "frames": frames,
        "tracks": [{"id": "face", "keyframes": [{"frame": 0, "box": box}, {"frame": frames - 1, "box": box}]}]}}}
    with open(path, "w") as f:
        json.dump(data, f)
    return str(path)


@pytest.fixture(scope="module")
def face(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench_clips")
    clip = make_clip(d / "face.mp4", content="face", size=SIZE)
    return {"clip": clip, "boxes": write_boxes(d / "boxes.json", clip), "dir": d}


@pytest.fixture(scope="module")
def runs(face, tmp_path_factory):
    """Run 1: two CRF points. Run 2 (resume): four points, two of them new. Run 3 (CLI, resume): nothing new."""
    out = str(tmp_path_factory.mktemp("bench_out"))

    def settings(crf, resume):
        return BenchSettings(points=parse_points("crf", crf), modes=MODES, roi_mask=face["boxes"],
                             resume=resume, progress=False)

    first = run_bench([face["clip"]], out, settings("22,34", False))
    second = run_bench([face["clip"]], out, settings("22,28,34,40", True))
    rc = main(["bench", face["clip"], "--crf", "22,28,34,40", "--modes", MODES, "--roi-mask", face["boxes"],
               "--out", out, "--resume", "-q"])
    with open(os.path.join(out, "results.json")) as f:
        third = json.load(f)
    return {"out": out, "first": first, "second": second, "third": third, "rc": rc}


def points(doc, mode):
    return doc["clips"]["face.mp4"]["modes"][mode]


def curve(doc, mode, metric):
    return [(p["video_bitrate_kbps"], p["metrics"][metric]) for p in points(doc, mode)]


# ---- outputs -------------------------------------------------------------------------------------

def test_writes_json_csv_plots_and_report(runs):
    out, doc = runs["out"], runs["third"]
    assert runs["rc"] == 0
    assert doc["schema"] == "semcodec.bench/1"
    assert {"created", "updated", "settings", "machine", "versions", "run", "clips", "bd"} <= set(doc)
    assert [m["name"] for m in doc["settings"]["modes"]] == MODES.split(",")
    clip = doc["clips"]["face.mp4"]
    assert clip["mask"]["kind"] == "boxes" and "face boxes" in clip["mask"]["text"]
    for mode in MODES.split(","):
        pts = points(doc, mode)
        assert [p["rate"]["value"] for p in pts] == [22, 28, 34, 40]
        for p in pts:
            assert POINT_KEYS <= set(p) and METRIC_KEYS <= set(p["metrics"])
            assert p["bytes"] > p["video_bytes"] > 0 and p["encode_fps"] > 0
        assert [p["video_bitrate_kbps"] for p in pts] == sorted((p["video_bitrate_kbps"] for p in pts), reverse=True)
    with open(os.path.join(out, "results.csv")) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12 and {"clip", "mode", "video_bitrate_kbps", "vmaf_mean", "roi_psnr_y_mean"} <= set(rows[0])
    for metric in ("psnr_y_mean", "vmaf_mean", "roi_psnr_y_mean"):
        with open(os.path.join(out, "plots", f"face__{metric}.png"), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(os.path.join(out, "report.html"), encoding="utf-8") as f:
        page = f.read()
    assert page.count("data:image/png;base64,") >= 3 and "BD-rate" in page and "face boxes" in page
    assert "src=\"plots/" not in page  # self-contained


def test_speed_fields_and_time_ratio(runs):
    doc = runs["third"]
    assert all(p["time_ratio"] == 1.0 for p in points(doc, "baseline"))
    assert all(p["time_ratio"] > 0 and p["analysis_s"] > 0 for p in points(doc, "roi"))
    assert all(p["roi_status"] == "on" for p in points(doc, "roi"))


# ---- resume --------------------------------------------------------------------------------------

def test_partial_results_then_resume_skips_finished_points(runs):
    first, second, third = runs["first"], runs["second"], runs["third"]
    assert first["run"]["encoded"] == 6 and first["run"]["reused"] == 0
    assert second["run"]["encoded"] == 6 and second["run"]["reused"] == 6
    assert third["run"]["encoded"] == 0 and third["run"]["reused"] == 12  # no encode at all
    done = {p["hash"]: p for m in MODES.split(",") for p in points(first, m)}
    for mode in MODES.split(","):
        for p in points(third, mode):
            if p["hash"] in done:
                assert p == {**done[p["hash"]], "time_ratio": p["time_ratio"]}  # taken over unchanged
        assert points(third, mode) == points(runs["second"], mode)


def test_existing_results_need_resume(runs, face, capsys):
    rc = main(["bench", face["clip"], "--crf", "22", "--out", runs["out"]])
    err = capsys.readouterr().err
    assert rc == 1 and "--resume" in err and len(err.strip().splitlines()) == 1


# ---- BD ------------------------------------------------------------------------------------------

def test_bd_of_a_mode_against_itself_is_zero(runs):
    for metric in ("psnr_y_mean", "vmaf_mean", "roi_psnr_y_mean", "psnr_y_global", "vmaf_harmonic_mean"):
        for method in ("pchip", "akima"):
            r = bd_between(runs["third"], "face.mp4", "roi", "roi", metric, method)
            assert abs(r["bd_rate_pct"]) < 1e-9 and abs(r["bd_quality"]) < 1e-9 and r["note"] is None


def test_bd_sign_when_one_mode_is_clearly_worse(runs):
    table = {(b["anchor"], b["test"], b["metric"]): b for b in runs["third"]["bd"]}
    worse = table[("baseline", "baseline:ultrafast", "psnr_y_mean")]
    assert worse["bd_rate_pct"] > 10 and worse["bd_quality"] < 0  # ultrafast needs more bits, gives less
    # swapping anchor and test flips the sign
    flipped = bd(curve(runs["third"], "baseline:ultrafast", "psnr_y_mean"),
                 curve(runs["third"], "baseline", "psnr_y_mean"))
    assert flipped["bd_rate_pct"] < -5 and flipped["bd_quality"] > 0
    # the ROI mode moves quality into the face: cheaper there than over the whole frame
    roi = table[("baseline", "roi", "roi_psnr_y_mean")]["bd_rate_pct"]
    assert roi < table[("baseline", "roi", "psnr_y_mean")]["bd_rate_pct"]


def test_bd_refuses_too_few_or_non_monotonic_points():
    three = [(100, 30.0), (200, 33.0), (400, 36.0)]
    r = bd(three, three)
    assert r["bd_rate_pct"] is None and r["bd_quality"] is None and ">= 4" in r["note"]
    bumpy = [(100, 30.0), (200, 33.0), (300, 32.0), (400, 36.0)]
    r = bd(bumpy, [(100, 31.0), (200, 34.0), (300, 35.0), (400, 37.0)])
    assert r["bd_rate_pct"] is None and r["bd_quality"] > 0 and "rise" in r["note"]


def test_bd_matches_a_direct_pchip_computation():
    from scipy.interpolate import PchipInterpolator

    # the bjontegaard package's README data (x265 presets)
    anchor = list(zip([9487.76, 4593.60, 2486.44, 1358.24], [40.037, 38.615, 36.845, 34.851]))
    test = list(zip([9787.80, 4469.00, 2451.52, 1356.24], [40.121, 38.651, 36.970, 34.987]))

    def mean_over(x, y, lo, hi):  # mean of the PCHIP interpolant of y(x) on [lo, hi]
        order = np.argsort(x)
        return PchipInterpolator(np.asarray(x)[order], np.asarray(y)[order]).integrate(lo, hi) / (hi - lo)

    ra, qa = np.log10([p[0] for p in anchor]), [p[1] for p in anchor]
    rt, qt = np.log10([p[0] for p in test]), [p[1] for p in test]
    lo, hi = max(min(qa), min(qt)), min(max(qa), max(qt))
    rate = (10 ** (mean_over(qt, rt, lo, hi) - mean_over(qa, ra, lo, hi)) - 1) * 100
    lo, hi = max(min(ra), min(rt)), min(max(ra), max(rt))
    quality = mean_over(rt, qt, lo, hi) - mean_over(ra, qa, lo, hi)
    r = bd(anchor, test, "pchip")
    assert r["bd_rate_pct"] == pytest.approx(rate, abs=1e-9) and r["bd_quality"] == pytest.approx(quality, abs=1e-9)
    assert r["bd_rate_pct"] < 0 < r["bd_quality"]  # the test curve is the better one


# ---- metrics -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pair(face):
    dist = make_clip(face["dir"] / "face_crf40.mp4", content="face", size=SIZE, crf=40)
    return face["clip"], dist


def test_xpsnr_agrees_with_ffmpeg_xpsnr_filter(pair, tmp_path):
    import imageio_ffmpeg

    ref, dist = pair
    stats = tmp_path / "xpsnr.log"
    proc = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", ref, "-i", dist,
                           "-lavfi", f"xpsnr=stats_file={stats.name}", "-f", "null", "-"],
                          cwd=tmp_path, capture_output=True, text=True, check=True)
    overall = re.search(r"XPSNR\s+y: ([0-9.]+)\s+u: ([0-9.]+)\s+v: ([0-9.]+)", proc.stderr).groups()
    theirs = [[float(v) for v in re.findall(r"XPSNR [yuv]: ([0-9.]+)", line)]
              for line in stats.read_text().splitlines() if line.startswith("n:")]
    x = None
    for r, d in frame_pairs(ref, dist):
        x = x or Xpsnr(r.width, r.height, 25)
        x.push(r, d)
    ours = x.finish()
    assert len(theirs) == len(ours["y"]) == 16
    assert np.abs(np.array(theirs) - np.array([ours["y"], ours["u"], ours["v"]]).T).max() < 0.001
    pooled = measure(ref, dist, ["xpsnr"])
    for plane, value in zip("yuv", overall):
        assert abs(pooled[f"xpsnr_{plane}_global"] - float(value)) < 0.001
    assert "psnr_y_mean" not in pooled and "vmaf_mean" not in pooled  # only what was asked for


def test_uniform_weights_give_plain_psnr(pair, face):
    ref, dist = pair
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 256, (2, 48, 64), dtype=np.uint8)
    plain = float(np.mean((a.astype(float) - b) ** 2))
    assert weighted_mse(a, b, np.full(a.shape, 0.3)) == pytest.approx(plain, rel=1e-12)
    # end to end: an all-white mask video is a uniform importance map and a region covering everything
    from semcodec.bench.masks import mask_source

    white = mask_source(write_mask_video(face["dir"] / "white.mp4"), ref, *SIZE, 16)
    m = measure(ref, dist, ["psnr", "ssim"], white)
    assert m["wpsnr_y_mean"] == pytest.approx(m["psnr_y_mean"], abs=1e-5)
    assert m["wpsnr_y_global"] == pytest.approx(m["psnr_y_global"], abs=1e-5)
    assert m["roi_psnr_y_mean"] == pytest.approx(m["psnr_y_mean"], abs=1e-5)
    assert m["roi_ssim_y_mean"] == pytest.approx(m["ssim_y_mean"], abs=1e-5)
    assert m["bg_psnr_y_mean"] is None and m["roi_area_mean"] == 1.0


def test_region_metrics_split_the_frame(pair, face):
    ref, dist = pair
    from semcodec.bench.masks import mask_source

    half = mask_source(write_mask_video(face["dir"] / "left.mp4", box=(0, 0, 80, 96)), ref, *SIZE, 16)
    m = measure(ref, dist, ["psnr"], half)
    assert m["roi_area_mean"] == 0.5
    # PSNR of the whole = PSNR of the mean of the two halves' MSEs
    mse = [10 ** (-m[f"{k}_psnr_y_global"] / 10) for k in ("roi", "bg")]
    assert 10 * np.log10(1 / np.mean(mse)) == pytest.approx(m["psnr_y_global"], abs=1e-4)


def test_analyzer_mask_runs_on_the_source(pair):
    from semcodec.bench.masks import mask_source

    ref, dist = pair
    faces = mask_source("analyzer:faces", ref, *SIZE, 16)
    assert faces.describe()["kind"] == "analyzer"
    box = face_mask(SIZE)
    for region, soft in faces.frames():
        ys, xs = np.nonzero(region)
        assert box[int(ys.mean()), int(xs.mean())]  # the region sits on the face
        assert soft.min() >= 0 and soft.max() <= 1
    m = measure(ref, dist, ["psnr"], faces)
    assert 0.05 < m["roi_area_mean"] < 0.9 and m["roi_psnr_y_mean"] is not None


def test_ssim_map_is_ffmpegs_ssim():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (60, 100), dtype=np.uint8)
    b = np.clip(a + rng.normal(0, 8, a.shape), 0, 255).astype(np.uint8)
    assert ssim_map(a, b).mean() == pytest.approx(_ssim_plane(a, b), abs=1e-12)


# ---- masks and bad input -------------------------------------------------------------------------

def test_boxes_mask_matches_benchmarks_face_boxes():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(root, "benchmarks"))
    try:
        from face_boxes import load_face_tracks
    finally:
        sys.path.pop(0)
    path = os.path.join(root, "benchmarks", "face_boxes.json")
    for name in ("akiyo_qcif_news_anchor.mp4", "his_girl_friday_1940_dialogue.mp4"):
        ft = load_face_tracks(path, name)
        ours = BoxesMask(path, name, ft.width, ft.height, ft.frames)
        for i in range(0, ft.frames, 7):
            assert np.array_equal(ours.mask(i), ft.mask(i))


def _no_results(folder):
    return not os.path.exists(os.path.join(folder, "results.json"))


def test_mask_that_does_not_match_the_clip(face, tmp_path):
    def run(mask):
        run_bench([face["clip"]], str(tmp_path / "out"), BenchSettings(roi_mask=mask, progress=False))

    with pytest.raises(SemcodecError, match=r"mask video .* is 80x48, the clip is 160x96"):
        run(write_mask_video(tmp_path / "small.mp4", size=(80, 48)))
    with pytest.raises(SemcodecError, match="has 9 frames, the clip has 16"):
        run(write_mask_video(tmp_path / "short.mp4", frames=9))
    with pytest.raises(SemcodecError, match="at 200x96, the clip is 160x96"):
        run(write_boxes(tmp_path / "wide.json", face["clip"], width=200))
    with pytest.raises(SemcodecError, match="no boxes for face.mp4"):
        run(write_boxes(tmp_path / "other.json", "other.mp4"))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"schema": "semcodec.face_boxes/1", "clips": {"face.mp4": {"width": 160}}}))
    with pytest.raises(SemcodecError, match="malformed"):
        run(str(broken))
    with pytest.raises(SemcodecError, match="unknown analyzer"):
        run("analyzer:teeth")
    assert _no_results(tmp_path / "out")  # refused before any encode


def test_bad_inputs_are_one_line_errors(face, tmp_path, capsys):
    text = tmp_path / "notavideo.mp4"
    text.write_text("hello\n")
    for argv, message, code in [  # a bad file is a runtime failure (1), a bad option a usage error (2)
        ([str(text), "--crf", "23"], "not a readable video", 1),
        ([str(tmp_path / "missing.mp4"), "--crf", "23"], "not found", 1),
        ([face["clip"], "--crf", "23", "--modes", "baseline,roi+x"], "unknown mode", 2),
        ([face["clip"], "--crf", "23", "--two-pass"], "--two-pass needs --bitrate", 2),
        ([face["clip"], "--bitrate", "100k,fast"], "not a bitrate", 2),
    ]:
        rc = main(["bench", *argv, "--out", str(tmp_path / "out"), "-q"])
        err = capsys.readouterr().err
        assert rc == code and message in err and len(err.strip().splitlines()) == 1, err
    assert _no_results(tmp_path / "out")


def test_mode_syntax():
    modes = parse_modes("baseline, roi, roi@0.3, faces+text@0.1:fast, baseline:ultrafast")
    assert [(m.roi, m.strength, m.preset) for m in modes] == [
        ("off", 0.2, None), ("auto", 0.2, None), ("auto", 0.3, None), ("faces,text", 0.1, "fast"),
        ("off", 0.2, "ultrafast")]
    for bad in ("roi,roi", "roi@2", "baseline@0.3", "roi:", "nothing"):
        with pytest.raises(SemcodecError):
            parse_modes(bad)
    assert [p.value for p in parse_points("bitrate", "1M,250k,500000")] == [250_000, 500_000, 1_000_000]


# ---- the default region: faces on the source -----------------------------------------------------

def test_default_mask_is_faces_detected_on_the_source(face, tmp_path, capsys):
    """ROI modes and no --roi-mask: region metrics on the faces found on the source, said on stderr and in the
    report, whole-frame and region side by side; a clip without a face is measured whole-frame only."""
    plain = make_clip(tmp_path / "plain.mp4", size=SIZE)  # texture, no face
    out = str(tmp_path / "out")
    rc = main(["bench", face["clip"], plain, "--crf", "23,30", "--modes", "baseline,roi", "--metrics", "psnr,ssim",
               "--out", out])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "semcodec: face.mp4: default mask: faces detected on the source, 16 frames with faces" in err
    assert "semcodec: plain.mp4: default mask: no face detected on the source" in err
    with open(os.path.join(out, "results.json")) as f:
        doc = json.load(f)
    assert doc["settings"]["roi_mask"] is None
    mask = doc["clips"]["face.mp4"]["mask"]
    assert mask["kind"] == "default-faces" and mask["default"] and mask["frames_with_faces"] == mask["frames"] == 16
    assert mask["text"].startswith("default mask: faces detected on the source, 16 frames with faces")
    for mode in ("baseline", "roi"):
        for p in points(doc, mode):
            m = p["metrics"]
            assert m["psnr_y_mean"] is not None and m["ssim_y_mean"] is not None  # the whole frame...
            assert m["roi_psnr_y_mean"] is not None and m["bg_psnr_y_mean"] is not None  # ...and the region
            assert 0.1 < m["roi_area_mean"] < 0.9
    none = doc["clips"]["plain.mp4"]
    assert none["mask"]["frames_with_faces"] == 0 and "whole-frame metrics only" in none["mask"]["text"]
    for p in none["modes"]["roi"]:
        assert p["metrics"]["psnr_y_mean"] is not None and "roi_psnr_y_mean" not in p["metrics"]
    with open(os.path.join(out, "report.html"), encoding="utf-8") as f:
        page = f.read()
    assert "Default mask: faces detected on the source, 16 frames with faces" in page
    assert "Default mask: no face detected on the source" in page
    assert page.count("Whole frame and region, side by side") == 1  # the face clip only
    assert "PSNR-Y whole frame</th><th>PSNR-Y region</th><th>PSNR-Y outside" in page


def test_default_mask_sits_on_the_face(face):
    from semcodec.bench.masks import DetectedFacesMask

    mask = DetectedFacesMask(face["clip"], *SIZE)
    box = face_mask(SIZE)
    frames = list(mask.frames())
    assert len(frames) == 16 and mask.usable
    for region, soft in frames:
        ys, xs = np.nonzero(region)
        assert box[int(ys.mean()), int(xs.mean())]  # the region's centre is on the known face
        assert (region & box).sum() > 0.5 * region.sum()  # and most of it is face
        assert soft.min() >= 0 and soft.max() <= 1


def test_no_default_mask_without_roi_modes(face, tmp_path):
    doc = run_bench([face["clip"]], str(tmp_path / "out"), BenchSettings(
        points=parse_points("crf", "30"), modes="baseline,baseline:ultrafast", metrics="psnr", progress=False))
    clip = doc["clips"]["face.mp4"]
    assert clip["mask"] is None and "roi_psnr_y_mean" not in clip["modes"]["baseline"][0]["metrics"]


def test_resume_never_reuses_points_from_other_encoder_code(face, tmp_path, monkeypatch):
    """The resume key carries the encoder's identity (version, PyAV, a digest of the library source), not the
    version string alone: after a code change every point is encoded again."""
    from semcodec.bench import runner

    ident = runner.encoder_identity()
    assert re.fullmatch(r".+\+pyav.+\+src[0-9a-f]{12}", ident)
    s = BenchSettings(points=parse_points("crf", "30"), modes="baseline", metrics="psnr", roi_mask=face["boxes"],
                      progress=False)
    first = run_bench([face["clip"]], str(tmp_path), s)
    again = run_bench([face["clip"]], str(tmp_path), dataclasses.replace(s, resume=True))
    monkeypatch.setattr(runner, "encoder_identity", lambda: ident + "-changed")
    changed = run_bench([face["clip"]], str(tmp_path), dataclasses.replace(s, resume=True))
    assert (first["run"]["encoded"], again["run"]["encoded"], changed["run"]["encoded"]) == (1, 0, 1)

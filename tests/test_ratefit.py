"""CRF rate neutrality: sampled segments, the offset solver, and real encodes that land at --roi off's size."""
import math

import pytest

from conftest import make_clip, make_cut_clip
from semcodec.pipeline import EncodeSettings, encode
from semcodec.pipeline.ratefit import MAX_PROBES, TOLERANCE, Probe, _solve, sample_segments


@pytest.mark.parametrize("frames,fps", [(1, 25), (20, 25), (120, 30), (300, 25), (1691, 24), (100_000, 60)])
def test_segments_are_inside_ordered_and_a_small_share(frames, fps):
    segs = sample_segments(frames, fps)
    assert segs and all(0 <= a < b <= frames for a, b in segs)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(segs, segs[1:]))
    covered = sum(b - a for a, b in segs)
    assert covered <= max(48, 0.2 * frames) + len(segs)
    if frames >= 1000:
        assert covered < 0.21 * frames
        n = len(segs)  # spread over the video: each centred in its own 1/n of it
        assert all(abs((a + b) / 2 - (i + 0.5) * frames / n) <= 1 for i, (a, b) in enumerate(segs))


@pytest.mark.parametrize("r0,curve", [(0.3, 1.0), (-0.2, 1.0), (0.25, 1.6), (0.05, 0.7)])
def test_solver_finds_the_neutral_offset(r0, curve):
    """log size ratio falling with the offset, not quite as 2^(-QP/6) assumes (curve bends it)."""
    calls = []

    def log_ratio(d):
        calls.append(d)
        return r0 - math.log(2) / 6 * curve * d * (1 + 0.05 * d)

    d = _solve(log_ratio)
    assert len(calls) <= MAX_PROBES
    assert abs(log_ratio(d)) < 2.5 * TOLERANCE


def test_solver_interpolates_between_probes_on_either_side_without_probing_again():
    calls = []

    def log_ratio(d):  # the first step overshoots: the size answers 1.5x what 2^(-QP/6) says
        calls.append(d)
        return 0.2 - 1.5 * math.log(2) / 6 * d

    d = _solve(log_ratio)
    assert len(calls) == 2 and log_ratio(calls[1]) < 0 < log_ratio(0.0)
    assert d == pytest.approx(0.2 / (1.5 * math.log(2) / 6))  # a straight line: the secant is exact


def test_solver_leaves_a_neutral_map_alone():
    assert _solve(lambda d: 0.001) == 0.0


def test_projection_weights_keyframes_as_the_whole_video_has_them():
    p = Probe(key_bytes=3000, key_frames=3, inter_bytes=1000, inter_frames=100)  # 1000 per key, 10 per inter
    assert p.projected(frames=500, keyframes=2) == pytest.approx(2 * 1000 + 498 * 10)


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("rate") / "face.mp4", frames=40, content="face")


# x265 quantises offsets per CU to whole QPs, so its size moves in steps: 5 % (the shared clips' measured
# rows are in benchmarks/results/crf_rate.md)
@pytest.mark.parametrize("codec,crf,tolerance", [("libx264", 26, 0.03), ("libx265", 30, 0.05)])
def test_crf_roi_lands_at_the_plain_size(face_clip, tmp_path, codec, crf, tolerance):
    off = encode(face_clip, str(tmp_path / "off.mp4"), EncodeSettings(codec=codec, crf=crf, roi="off"))
    on = encode(face_clip, str(tmp_path / "on.mp4"), EncodeSettings(codec=codec, crf=crf, roi="faces"))
    extra = encode(face_clip, str(tmp_path / "x.mp4"),
                   EncodeSettings(codec=codec, crf=crf, roi="faces", crf_rate="extra"))
    ratio = on["output"]["video_bytes"] / off["output"]["video_bytes"]
    assert abs(ratio - 1) <= tolerance, (ratio, on["roi"]["rate_fit"])
    fit = on["roi"]["rate_fit"]
    assert fit["probes"] and fit["probes"][0]["offset_qp"] == 0
    assert on["roi"]["rate_offset_qp"] == pytest.approx(fit["offset_qp"], abs=0.01)
    assert "rate_fit" not in extra["roi"] and extra["roi"]["rate_offset_qp"] == 0
    # 'extra' spends more than neutral: nothing pays for the favoured regions, so none of its offsets is positive
    assert extra["output"]["video_bytes"] > on["output"]["video_bytes"]
    assert extra["roi"]["offset_qp_max"] <= 0 < on["roi"]["offset_qp_max"]


def test_cuts_inside_probe_segments_do_not_bias_the_fit(tmp_path):
    """The ROI encode puts an IDR at every cut, plain x264 its own I-frames: counted apart from the rest,
    the cut frames made the ROI probes look much cheaper and the fit spent +17..+34 % (bikes, x264)."""
    clip = make_cut_clip(tmp_path / "cuts.mp4", frames=96)
    off = encode(clip, str(tmp_path / "off.mp4"), EncodeSettings(crf=26, roi="off"))
    on = encode(clip, str(tmp_path / "on.mp4"), EncodeSettings(crf=26, roi="faces"))
    assert len(on["shots"]["keyframes_at"]) >= 4  # the cuts are found and keyed
    ratio = on["output"]["video_bytes"] / off["output"]["video_bytes"]
    assert abs(ratio - 1) <= 0.03, (ratio, on["roi"]["rate_fit"])


def test_bitrate_modes_need_no_fit(face_clip, tmp_path):
    rep = encode(face_clip, str(tmp_path / "b.mp4"), EncodeSettings(bitrate=150_000, roi="faces"))
    assert "rate_fit" not in rep["roi"]


def test_chunked_crf_fits_once_and_every_chunk_carries_it(face_clip, tmp_path):
    from semcodec.parallel import ParallelOptions, encode_parallel

    def opts(name):
        return ParallelOptions(workers=2, chunk_min_s=0.4, chunk_max_s=0.8, work_dir=str(tmp_path / name))

    off = encode_parallel(face_clip, str(tmp_path / "off.mp4"), EncodeSettings(crf=26, roi="off"), opts("a"))
    on = encode_parallel(face_clip, str(tmp_path / "on.mp4"), EncodeSettings(crf=26, roi="faces"), opts("b"))
    assert len(on["parallel"]["chunks"]) >= 2
    fit = on["roi"]["rate_fit"]
    assert fit["probes"] and on["roi"]["rate_offset_qp"] == pytest.approx(fit["offset_qp"], abs=0.01)
    assert "rate_fit" not in off["roi"]
    ratio = on["output"]["video_bytes"] / off["output"]["video_bytes"]
    assert abs(ratio - 1) <= 0.05, (ratio, fit)


def test_replayed_probe_is_the_analysed_probe(face_clip, tmp_path):
    """A probe that replays a recorded segment's maps and cuts at another offset gives the bytes an analysed
    probe at that offset gives: the fit pays for the analysis once, and loses nothing."""
    from semcodec.pipeline import ChunkRange, run
    from semcodec.pipeline.loop import MapRecording

    s, chunk = EncodeSettings(crf=26, roi="faces"), ChunkRange(4, 30)
    rec = MapRecording()
    first = run(face_clip, str(tmp_path / "a.mp4"), s, chunk=chunk, rate_offset=0.0, recording=rec)
    assert len(rec.maps) == 26 and first.output.frames == 26
    replayed = run(face_clip, str(tmp_path / "b.mp4"), s, chunk=chunk, rate_offset=1.5, recording=rec)
    analysed = run(face_clip, str(tmp_path / "c.mp4"), s, chunk=chunk, rate_offset=1.5)
    assert (tmp_path / "b.mp4").read_bytes() == (tmp_path / "c.mp4").read_bytes()
    assert replayed.timings.analysis_s < analysed.timings.analysis_s


def test_map_file_replays_maps_exactly(tmp_path):
    import numpy as np

    from semcodec.encoding.qpmap import QpMap
    from semcodec.pipeline.maplog import MapFile

    rng = np.random.default_rng(1)
    few = [QpMap((rng.integers(-8, 8, (9, 11)) * 0.37).astype(np.float32), 16) for _ in range(5)]
    many = QpMap(rng.normal(size=(9, 11)).astype(np.float32) * 3, 16)  # 99 distinct values
    dense = QpMap(rng.normal(size=(20, 20)).astype(np.float32), 16)  # 400: stored raw
    maps = MapFile(str(tmp_path), (9, 11), 16)
    for qp in [*few, many]:
        maps.write(qp)
    maps.cuts = [0, 2, 4]
    for i, qp in enumerate([*few, many]):
        assert np.array_equal(maps.read(i).offsets, qp.offsets)
    r = maps.reader(1.5, start=3)
    assert np.array_equal(r.read().offsets, few[3].offsets + np.float32(1.5))
    assert not maps.read(99).offsets.any()  # past the end: neutral
    seg = maps.segment(1, 5)
    assert len(seg.maps) == 4 and seg.cuts == [1, 3]  # the cuts inside, counted from the segment's start
    maps.close()
    big = MapFile(str(tmp_path), (20, 20), 16)
    big.write(dense)
    assert np.array_equal(big.read(0).offsets, dense.offsets)
    big.close()


def test_neutral_encode_analyses_once_and_replays_what_it_planned(face_clip, tmp_path):
    """The rate fit plans the whole video's maps once: its ROI probes and the encode replay them, so the
    analyzers run as often as in an encode without a fit, and the output is the encode that analyses live at
    the fitted offset."""
    from semcodec.pipeline import ChunkRange, Execution, run
    from semcodec.pipeline.job import _Job

    s = EncodeSettings(crf=20, roi="faces")  # this clip needs an offset at CRF 20 (0.1 QP)
    job = _Job(face_clip, str(tmp_path / "n.mp4"), s, None, ChunkRange(), Execution())
    neutral = job.run()
    assert len(job.rate_fit.probes) >= 2 and job.rate_fit.offset_qp != 0
    live = run(face_clip, str(tmp_path / "l.mp4"), s, rate_offset=job.rate_fit.offset_qp)
    model = run(face_clip, str(tmp_path / "m.mp4"), EncodeSettings(crf=20, roi="faces", crf_rate="model"))
    runs = {a["name"]: a["runs"] for a in neutral.roi.analyzers}
    assert runs == {a["name"]: a["runs"] for a in model.roi.analyzers} and runs["faces"] > 0
    assert (tmp_path / "n.mp4").read_bytes() == (tmp_path / "l.mp4").read_bytes()
    assert live.output.video_bytes == neutral.output.video_bytes


def test_probe_segments_seek_to_their_keyframe_and_encode_the_same_frames(tmp_path):
    """Probe encodes of a late segment seek to the keyframe before it (frame_pts) instead of decoding the video
    from its start, and encode the same frames: identical bytes, plain and with a map."""
    import av

    from conftest import face_frames
    from semcodec.pipeline import ChunkRange, run
    from semcodec.pipeline.ratefit import frame_pts

    path, frames = str(tmp_path / "gop.mp4"), face_frames(64, (160, 96))
    with av.open(path, "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 160, 96, "yuv420p"
        vs.options = {"crf": "18", "preset": "ultrafast", "g": "8", "bf": "2"}
        for img in frames:
            out.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(vs.encode(None))
    pts = frame_pts(path)
    assert pts is not None and len(pts) == 64 and pts == sorted(set(pts))
    for roi in ("off", "faces"):
        s = EncodeSettings(crf=26, roi=roi)
        a = run(path, str(tmp_path / f"a_{roi}.mp4"), s, chunk=ChunkRange(45, 60), rate_offset=0.0)
        b = run(path, str(tmp_path / f"b_{roi}.mp4"), s, chunk=ChunkRange(45, 60, pts[45]), rate_offset=0.0)
        assert a.output.frames == b.output.frames == 15 and b.packets < a.packets  # b started at frame 40
        assert (tmp_path / f"a_{roi}.mp4").read_bytes() == (tmp_path / f"b_{roi}.mp4").read_bytes()

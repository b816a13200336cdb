"""Shot-chunked parallel encoding: chunk planning, exact join, determinism, resume, batch, Ray."""
from __future__ import annotations

import json
import os
import shutil

import av
import pytest

from conftest import make_clip, sha256, video_timestamps
from semcodec.errors import SemcodecError
from semcodec.parallel import ParallelOptions, encode_parallel, plan_chunks
from semcodec.parallel.chunks import Chunk, split_budget
from semcodec.parallel.index import scan
from semcodec.parallel.join import parameter_sets
from semcodec.parallel.runner import Interrupted
from semcodec.pipeline import EncodeSettings

FAST = dict(preset="veryfast")


def _frames_and_keys(path):
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        keys = sorted(p.pts for p in c.demux(vs) if p.size and p.is_keyframe)
    with av.open(str(path)) as c:
        frames = [(f.pts, f.key_frame) for f in c.decode(video=0)]
    return frames, keys


def _ffmpeg_decode_errors(path) -> str:
    """What the FFmpeg command-line decoder reports while decoding `path` start to end (PyAV conceals)."""
    import subprocess

    import imageio_ffmpeg

    r = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"],
                       capture_output=True, text=True)
    return r.stderr.strip() if r.returncode == 0 else f"exit {r.returncode}: {r.stderr.strip()}"


# ---- planning -----------------------------------------------------------------------------------
def test_plan_chunks_respects_shots_min_and_max():
    # shots at 0, 10, 12 (tiny), 60, 200 (long tail) of 400 frames; min 20, max 80
    chunks = plan_chunks([0, 10, 12, 60, 200], 400, 20, 80, keyframes=[260, 330])
    spans = [(c.start_frame, c.end_frame) for c in chunks]
    assert spans[0][0] == 0 and spans[-1][1] == 400
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # contiguous, no gap, no overlap
    assert all(20 <= e - s <= 80 for s, e in spans), spans
    starts = {s for s, _ in spans}
    assert {60, 200} <= starts  # real cuts with room on both sides stay chunk boundaries
    # the long shot 200..400 is split in 3, at input keyframes near the even points where there are some
    assert {260, 330} <= starts


def test_long_shots_split_where_one_piece_has_its_keyframes():
    """With the encoder's keyframe interval known and no longer than a chunk, a long shot is split at whole
    intervals from its start, where x264/x265 in one piece place their periodic IDRs; a short remainder joins
    the chunk before it. Those chunk starts are one piece's keyframes, coded as I-frames, not inside-shot IDRs."""
    from semcodec.parallel import ParallelOptions
    from semcodec.parallel.chunks import one_piece_keyframes
    from semcodec.parallel.runner import _opening_scale, chunk_lengths
    from semcodec.pipeline import EncodeSettings

    spans = [(c.start_frame, c.end_frame) for c in plan_chunks([0, 100], 1310, 50, 500, keyframes=[333], keyint=250)]
    assert spans == [(0, 100), (100, 600), (600, 1100), (1100, 1310)]  # 2 intervals a chunk; input keyframe ignored
    assert [(c.start_frame, c.end_frame) for c in plan_chunks([0], 520, 50, 250, keyint=250)] == [(0, 250), (250, 520)]
    # an interval longer than the chunk limit: even parts, as without one
    assert [(c.start_frame, c.end_frame) for c in plan_chunks([0], 400, 50, 200, keyint=250)] == [(0, 200), (200, 400)]
    keys = one_piece_keyframes([0, 100], 1310, 250)
    assert keys == {0, 100, 350, 600, 850, 1100} and one_piece_keyframes([0, 100], 1310, None) == {0, 100}
    two_pass = EncodeSettings(bitrate=300_000, two_pass=True)
    assert _opening_scale(two_pass, 600, keys) < 1 and _opening_scale(two_pass, 700, keys) == 1.0
    # the default longest chunk: 20 s, or one keyframe interval where longer (10 fps: 250 frames)
    assert chunk_lengths(ParallelOptions(), 10.0, 250) == (20, 250)
    assert chunk_lengths(ParallelOptions(), 25.0, 250) == (50, 500)
    assert chunk_lengths(ParallelOptions(chunk_max_s=20), 10.0, 250) == (20, 200)


def test_plan_chunks_edge_cases():
    assert [(c.start_frame, c.end_frame) for c in plan_chunks([], 5, 20, 80)] == [(0, 5)]  # shorter than min
    assert plan_chunks([0], 0, 1, 2) == []
    many = plan_chunks(list(range(0, 100, 3)), 100, 10, 25)
    assert all(10 <= c.frames <= 25 for c in many)
    assert sum(c.frames for c in many) == 100


def test_budget_follows_complexity():
    class Idx:  # two chunks of equal length, the second four times as costly in the input
        pts = list(range(20))
        sizes = [100] * 10 + [400] * 10
        def seconds(self, s, e):
            return (e - s) / 10
    rates = split_budget([Chunk(0, 0, 10), Chunk(1, 10, 20)], Idx(), 100_000)
    assert rates[1] > 2 * rates[0]
    assert abs(sum(r * 1.0 for r in rates) / 2 - 100_000) < 2  # total budget is kept


# ---- encode / join ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("par")
    # 3 s at 25 fps: texture, then a hard cut to the face at frame 38; audio along
    return make_clip(d / "cut.mp4", frames=76, size=(160, 96), content="texture_then_face", audio=True)


def _opts(tmp_path, name="w", **kw):
    kw.setdefault("workers", 2)
    return ParallelOptions(chunk_min_s=0.4, chunk_max_s=1.0, work_dir=str(tmp_path / name), **kw)


def test_join_matches_input_and_single_piece(cut_clip, tmp_path):
    out = tmp_path / "par.mp4"
    rep = encode_parallel(cut_clip, str(out), EncodeSettings(**FAST), _opts(tmp_path))
    chunks = rep["parallel"]["chunks"]
    assert len(chunks) >= 3
    assert 38 in [c["start_frame"] for c in chunks]  # the cut is a chunk boundary
    # same frame count and exact timestamps as the input (and as a single-piece encode would have)
    assert video_timestamps(out) == video_timestamps(cut_clip)
    assert rep["output"]["frames"] == 76
    frames, keys = _frames_and_keys(out)
    assert len(frames) == 76  # decodes in full
    assert _ffmpeg_decode_errors(out) == ""
    idx = scan(cut_clip)
    assert {idx.pts[c["start_frame"]] for c in chunks} <= set(keys)  # each chunk starts with a keyframe
    # audio copied once, whole
    with av.open(str(out)) as a, av.open(cut_clip) as b:
        assert [bytes(p) for p in a.demux(audio=0) if p.size] == [bytes(p) for p in b.demux(audio=0) if p.size]
        assert a.streams.video[0].codec_context.extradata  # SPS/PPS in the sample entry
    assert not os.path.exists(tmp_path / "w" / "chunk_00000.mp4.partial")


def test_one_and_two_workers_identical_and_resume(cut_clip, tmp_path):
    s = EncodeSettings(**FAST)
    one, two = tmp_path / "one.mp4", tmp_path / "two.mp4"
    encode_parallel(cut_clip, str(one), s, _opts(tmp_path, "w1", workers=1))
    encode_parallel(cut_clip, str(two), s, _opts(tmp_path, "w2", workers=2))
    assert sha256(one) == sha256(two)

    # interrupted run: only 2 chunks encoded, manifest consistent, no output
    part = tmp_path / "part.mp4"
    with pytest.raises(Interrupted):
        encode_parallel(cut_clip, str(part), s, _opts(tmp_path, "w3", max_chunks=2))
    assert not part.exists()
    man = json.loads((tmp_path / "w3" / "manifest.json").read_text())
    assert sum(c["state"] == "done" for c in man["chunks"]) == 2
    rep = encode_parallel(cut_clip, str(part), s, _opts(tmp_path, "w3"))
    assert len(rep["parallel"]["chunks_reused"]) == 2
    assert sha256(part) == sha256(one)

    # a corrupt chunk is redone, never joined; a missing one too
    done = sorted((tmp_path / "w3").glob("chunk_*"))
    with open(done[1], "r+b") as f:
        f.seek(os.path.getsize(done[1]) // 2)
        f.write(b"\x00garbage\x00")
    os.unlink(done[2])
    again = tmp_path / "again.mp4"
    rep = encode_parallel(cut_clip, str(again), s, _opts(tmp_path, "w3"))
    assert sorted(rep["parallel"]["chunks_redone_corrupt"]) == [1, 2]
    assert sorted(rep["parallel"]["chunks_encoded_now"]) == [1, 2]
    assert sha256(again) == sha256(one)


def test_two_pass_budget_across_chunks(cut_clip, tmp_path):
    rep = encode_parallel(cut_clip, str(tmp_path / "tp.mp4"),
                          EncodeSettings(bitrate=200_000, two_pass=True, **FAST), _opts(tmp_path))
    rates = [c["bitrate"] for c in rep["parallel"]["chunks"]]
    assert len(set(rates)) > 1  # not an even split
    assert abs(rep["parallel"]["budget"]["error_pct"]) < 25  # 3 s clip: x264 rate control is rough this short
    # per-chunk bitrates change x264's SPS/PPS (level, initial QP): carried in-band, the file decodes in full
    assert len(_frames_and_keys(tmp_path / "tp.mp4")[0]) == 76
    assert _ffmpeg_decode_errors(tmp_path / "tp.mp4") == ""  # FFmpeg's own decoder agrees, without a complaint
    assert video_timestamps(tmp_path / "tp.mp4") == video_timestamps(cut_clip)


def test_settings_change_starts_over_and_bad_options(cut_clip, tmp_path):
    encode_parallel(cut_clip, str(tmp_path / "a.mp4"), EncodeSettings(**FAST), _opts(tmp_path))
    rep = encode_parallel(cut_clip, str(tmp_path / "b.mp4"), EncodeSettings(crf=30, **FAST), _opts(tmp_path))
    assert not rep["parallel"]["resumed"]
    with pytest.raises(SemcodecError):
        encode_parallel(cut_clip, str(tmp_path / "c.mp4"), EncodeSettings(**FAST),
                        ParallelOptions(chunk_min_s=5, chunk_max_s=1))
    with pytest.raises(SemcodecError):
        encode_parallel(cut_clip, str(tmp_path / "c.mp4"), EncodeSettings(save_maps=str(tmp_path / "m.mp4"), **FAST),
                        _opts(tmp_path))


def test_rotation_and_mkv_output(tmp_path):
    clip = make_clip(tmp_path / "rot.mp4", frames=40, rotation=90)
    out = tmp_path / "rot.mkv"
    encode_parallel(clip, str(out), EncodeSettings(roi="off", **FAST), _opts(tmp_path))
    with av.open(str(out)) as c:
        f = next(c.decode(video=0))
        assert f.rotation == 90
    assert video_timestamps(out) == pytest.approx(video_timestamps(clip), abs=1e-3)  # mkv: 1 ms ticks


# ---- CLI: single file and batch -----------------------------------------------------------------
def test_cli_workers_and_batch_continues_after_bad_file(cut_clip, tmp_path, capsys):
    from cli.main import main

    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(cut_clip, src / "a.mp4")
    (src / "b.mp4").write_bytes(b"not a video at all")
    make_clip(src / "c.mkv", frames=30)
    out = tmp_path / "out"
    out.mkdir()
    rc = main(["encode", str(src), "-o", str(out), "--workers", "2", "--chunk-min-s", "0.4", "--chunk-max-s", "1",
               "--preset", "veryfast", "-q"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "2 of 3 videos encoded" in err and "b.mp4" in err
    assert sorted(os.listdir(out)) == ["a.mp4", "c.mkv"]
    assert len(video_timestamps(out / "c.mkv")) == 30

    single = tmp_path / "s.mp4"
    assert main(["encode", cut_clip, "-o", str(single), "--workers", "1", "--chunk-max-s", "1",
                 "--preset", "veryfast", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["parallel"]["backend"] == "local" and rep["output"]["frames"] == 76
    assert not any(n.endswith("semcodec-work") for n in os.listdir(tmp_path))  # default work dir removed


def test_ray_local_same_output(cut_clip, tmp_path):
    pytest.importorskip("ray")
    s = EncodeSettings(**FAST)
    local = tmp_path / "local.mp4"
    encode_parallel(cut_clip, str(local), s, _opts(tmp_path, "wl", workers=2))
    viaray = tmp_path / "ray.mp4"
    rep = encode_parallel(cut_clip, str(viaray), s, _opts(tmp_path, "wr", workers=2, ray="local"))
    assert rep["parallel"]["backend"] == "ray"
    assert sha256(viaray) == sha256(local)


def test_fresh_process_per_chunk_is_a_choice_not_a_requirement(cut_clip, tmp_path):
    """Chunks encoded one after another in one worker give the bytes a process per chunk gives (ROI on)."""
    s = EncodeSettings(**FAST)
    reuse, fresh = tmp_path / "reuse.mp4", tmp_path / "fresh.mp4"
    encode_parallel(cut_clip, str(reuse), s, _opts(tmp_path, "r", workers=1))
    encode_parallel(cut_clip, str(fresh), s, _opts(tmp_path, "f", workers=1, fresh_process_per_chunk=True))
    assert sha256(reuse) == sha256(fresh)


def _nal_types_hevc(packet: bytes) -> list[int]:
    out, i = [], 0
    while i + 4 < len(packet):
        n = int.from_bytes(packet[i:i + 4], "big")
        out.append((packet[i + 4] >> 1) & 0x3F)
        i += 4 + n
    return out


def test_x265_chunks_carry_parameter_sets_not_the_info_sei(cut_clip, tmp_path):
    """Per-chunk bitrates give every x265 chunk its own hvcC; only VPS/SPS/PPS go in-band in front of its
    IDR, not x265's 2.3 KB options SEI (once per chunk it put short two-pass chunks 5 % over target)."""
    out = tmp_path / "x5.mp4"
    rep = encode_parallel(cut_clip, str(out), EncodeSettings(codec="libx265", bitrate=150_000, two_pass=True,
                                                             roi="off", preset="ultrafast"), _opts(tmp_path))
    assert len(rep["parallel"]["chunks"]) >= 3
    with av.open(str(out)) as c:
        vs = c.streams.video[0]
        assert 39 in [(n[0] >> 1) & 0x3F for n in parameter_sets("hevc", bytes(vs.codec_context.extradata))[1]]
        keys = [bytes(p) for p in c.demux(vs) if p.size and p.is_keyframe]
    inband = [_nal_types_hevc(k) for k in keys[1:]]
    assert all({32, 33, 34} <= set(t) for t in inband), inband  # each chunk switches to its own parameters
    assert not any(39 in t for t in inband), inband  # SEI prefix NALs: not repeated per chunk
    assert _ffmpeg_decode_errors(out) == ""
    assert len(video_timestamps(out)) == 76


def test_two_pass_budget_from_first_passes():
    """One quantiser scale for the whole video: chunks of equal cost get equal rates, a costlier one more,
    the kept frames spend the target, tail frames none of it."""
    from semcodec.parallel.budget import FrameCost, chunk_bitrates

    def chunk(n, bits, tail=0):
        return [FrameCost(i, "I" if i == 0 else "P", 2.0, bits, 100.0, 1 / 1.4 if i == 0 else 1.0)
                for i in range(n + tail)]

    costs = [chunk(25, 8000), chunk(25, 8000, tail=10), chunk(25, 32000)]
    rates, q = chunk_bitrates(costs, [25, 25, 25], [1.0, 1.0, 1.0], target_bits=600_000)
    kept = sum(c.bits(q) for frames in costs for c in frames if c.frame < 25)
    assert kept == pytest.approx(600_000, rel=1e-6)
    assert sum(rates) == pytest.approx(600_000, rel=1e-4)
    assert rates[2] > 3 * rates[0]
    assert rates[1] == rates[0]  # the tail is not the chunk's to spend: pass 2 encodes the kept frames only


def test_keyframe_share_counts_only_chunks_inside_shots():
    """An opening IDR inside a shot costs what it spends beyond the chunk's mean inter frame; at a cut (one
    piece has a keyframe there too) it costs nothing extra."""
    from semcodec.parallel.budget import FrameCost, keyframe_share

    def chunk(n):
        return [FrameCost(i, "I" if i == 0 else "P", 2.0, 10_000.0 if i == 0 else 1000.0, 0.0,
                          1 / 1.4 if i == 0 else 1.0) for i in range(n)]

    costs = [chunk(10), chunk(10), chunk(10)]
    q = 2.0 * 1.4  # the I-frame (coded 1.4x finer than P) then costs exactly its statistics
    assert keyframe_share(costs, [10] * 3, q, [False, False, False]) == 0
    one = keyframe_share(costs, [10] * 3, q, [False, True, False])
    p = 1000.0 / 1.4 ** 1.1
    assert one == pytest.approx((10_000.0 - p) / (3 * (10_000.0 + 9 * p)))
    assert keyframe_share(costs, [10] * 3, q, [False, True, True]) == pytest.approx(2 * one)


def test_chunk_tail_is_encoded_and_dropped(tmp_path):
    """A chunk with a tail: the file holds only its own frames, its last one a P-frame (no kept B-frame
    references a dropped one), it decodes clean; the tail changes the chunk's bytes."""
    from semcodec.pipeline import ChunkRange, Execution, run

    clip = make_clip(tmp_path / "t.mp4", frames=60)
    s = EncodeSettings(roi="off", preset="medium")
    ex = Execution(threads=1, audio=False)
    with_tail, without = tmp_path / "a.mp4", tmp_path / "b.mp4"
    rep = run(clip, str(with_tail), s, chunk=ChunkRange(10, 30, tail=20), execution=ex)
    run(clip, str(without), s, chunk=ChunkRange(10, 30), execution=ex)
    assert rep.output.frames == 20 and all(k < 20 for k in rep.keyframes_at)
    with av.open(str(with_tail)) as c:
        frames = [(f.pts, av.video.frame.PictureType(f.pict_type).name) for f in c.decode(video=0)]
    assert len(frames) == 20 and sorted(frames)[-1][1] == "P"
    assert _ffmpeg_decode_errors(with_tail) == ""
    assert sha256(with_tail) != sha256(without)


def test_two_pass_chunks_resume_after_first_pass(cut_clip, tmp_path):
    """Two-pass chunks run every first pass, share the budget, then every pass 2; a job stopped among the
    first passes resumes with the same bytes, and a first-pass folder that changed on disk is redone."""
    s = EncodeSettings(bitrate=200_000, two_pass=True, roi="off", **FAST)
    whole = tmp_path / "whole.mp4"
    rep = encode_parallel(cut_clip, str(whole), s, _opts(tmp_path, "a"))
    budget = rep["parallel"]["budget"]
    assert abs(budget["error_pct"]) < 25  # 0.8 s chunks of a 3 s clip: rough, as above
    # 0.4-1 s chunks, most inside a shot: their keyframes' share is measured and the user told what to change
    assert budget["chunks_inside_shots"] >= 2 and budget["keyframe_share_pct"] > 5
    assert any("start inside a shot" in w and "--chunk-min-s" in w for w in rep["warnings"]), rep["warnings"]
    part = tmp_path / "part.mp4"
    with pytest.raises(Interrupted):
        encode_parallel(cut_clip, str(part), s, _opts(tmp_path, "b", max_chunks=2))
    man = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert [c["state"] for c in man["chunks"]].count("pass1") == 2
    stats = sorted((tmp_path / "b").glob("chunk_*.pass1/rc.stats"))[0]
    stats.write_text(stats.read_text().replace("in:0 ", "in:0 tex:1 ", 1))
    encode_parallel(cut_clip, str(part), s, _opts(tmp_path, "b"))
    assert sha256(part) == sha256(whole)


def test_two_pass_chunks_spend_what_the_single_piece_spends_on_their_frames(tmp_path):
    """Chunks cut where the single piece has a keyframe (the shot cut) cost no extra keyframe, so each should
    get about the bytes the single-piece two-pass encode spends on its frames. Shares read from ABR first
    passes gave the face chunk +36 % (each chunk's pass opens at the encoder's guess and settles late, so its
    first frames look dear): they come from the budget pass at one CRF (Job.budget_pass) now."""
    from semcodec.pipeline import Execution, run

    clip = make_clip(tmp_path / "cut.mp4", frames=76, size=(160, 96), content="texture_then_face")
    s = EncodeSettings(bitrate=60_000, two_pass=True, roi="off", **FAST)
    run(clip, str(tmp_path / "single.mp4"), s, execution=Execution(threads=1, audio=False))
    rep = encode_parallel(clip, str(tmp_path / "chunked.mp4"), s, ParallelOptions(
        workers=2, chunk_min_s=1.0, chunk_max_s=3.0, work_dir=str(tmp_path / "w")))
    starts = [c["start_frame"] for c in rep["parallel"]["chunks"]]
    assert starts == [0, 38]
    assert rep["parallel"]["budget"]["chunks_inside_shots"] == 0  # at the cut: no keyframe one piece lacks
    assert rep["parallel"]["budget"]["keyframe_share_pct"] == 0 and not rep["warnings"]
    man = json.loads((tmp_path / "w" / "manifest.json").read_text())
    assert all("budget.stats" in c["pass1"]["files"] for c in man["chunks"])

    def sizes(path):
        with av.open(str(path)) as c:
            return [n for _, n in sorted((p.pts, p.size) for p in c.demux(video=0) if p.size)]

    one, chunked = sizes(tmp_path / "single.mp4"), sizes(tmp_path / "chunked.mp4")
    assert sum(chunked[:38]) == pytest.approx(sum(one[:38]), rel=0.15)
    # the static face: its share at the job's one quantiser is 1.23x what one piece spends there (x264's pass 2
    # does not hold one quantiser over the whole clip); since pass 2 reads statistics at the final CRF the
    # chunk lands on that share (within 1 %), where it once fell short of it by chance
    assert sum(chunked[38:]) == pytest.approx(sum(one[38:]), rel=0.3)
    share = man["chunks"][1]["bitrate2"] * (76 - 38) / 25 / 8
    assert sum(chunked[38:]) == pytest.approx(share, rel=0.05)


def _psnr_y(src, enc) -> list[float]:
    import numpy as np

    from semcodec.metrics.quality import frame_pairs, psnr

    out = []
    for ref, dist in frame_pairs(str(src), str(enc)):
        a = ref.to_ndarray()[: ref.height].astype(np.int32)
        out.append(psnr(float(np.mean(np.square(a - dist.to_ndarray()[: dist.height])))))
    return out


def test_x265_two_pass_chunk_opening_at_a_cut_as_fine_as_one_piece(tmp_path):
    """x265's pass 2 codes a stream's first I-frame at its P-frames' quantiser; one piece codes the I-frame at a
    cut 1.4x (ipratio) finer. A chunk starting at that cut opened 2-2.6 dB below the single piece on bikes
    (benchmarks/chunk_joins.py): its opening IDR now gets x265's ipratio through a zone."""
    from semcodec.pipeline import Execution, run

    clip = make_clip(tmp_path / "cut.mp4", frames=76, size=(160, 96), content="two_textures")
    s = EncodeSettings(codec="libx265", bitrate=150_000, two_pass=True, roi="off", preset="fast")
    run(clip, str(tmp_path / "single.mp4"), s, execution=Execution(threads=1, audio=False))
    rep = encode_parallel(clip, str(tmp_path / "chunked.mp4"), s, ParallelOptions(
        workers=2, chunk_min_s=1.0, chunk_max_s=3.0, work_dir=str(tmp_path / "w")))
    assert [c["start_frame"] for c in rep["parallel"]["chunks"]] == [0, 38]
    one, chunked = _psnr_y(clip, tmp_path / "single.mp4"), _psnr_y(clip, tmp_path / "chunked.mp4")
    assert chunked[38] > one[38] - 1.0, (chunked[38], one[38])  # before: -3.5 dB
    assert min(b - a for a, b in zip(one, chunked)) > -1.0


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_first_pass_frame_types_scale_as_the_encoders_pass_2_does(tmp_path, codec):
    """Real first-pass statistics: x264 with mb-tree codes every B-frame at the last P-frame's scale (it sets
    pbratio to 1), x265 with cu-tree only the referenced ones ('B'), the others ('b') at pbratio 1.3; I-frames
    1.4x finer. (The budget once scaled every B-frame by 1.3, which misjudged chunks by their B-frame share.)"""
    import subprocess

    import imageio_ffmpeg

    from semcodec.parallel.budget import read_stats
    stats = str(tmp_path / "pass1.log")
    two = (["-x265-params", f"log-level=error:pass=1:stats={stats}"] if codec == "libx265"
           else ["-pass", "1", "-passlogfile", stats])
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=160x96:d=2",
                    "-c:v", codec, "-b:v", "100k", *two, "-f", "null", "-"], check=True)
    path = stats if codec == "libx265" else stats + "-0.log"
    costs = read_stats(path)
    raw = [line.split("type:")[1][0] for line in open(path) if line.startswith("in:")]
    assert len(raw) == len(costs) == 50
    by_type = {t: sorted({round(c.type_scale, 4) for c, r in zip(costs, raw) if r == t}) for t in set(raw)}
    assert by_type["I"] == [round(1 / 1.4, 4)] and by_type["P"] == [1.0]
    assert by_type.get("B", [1.0]) == [1.0]
    assert by_type["b"] == ([1.0] if codec == "libx264" else [1.3])


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_budget_pass_codes_a_chunk_opening_at_a_cut_as_pass_2_will(tmp_path, codec):
    """The budget pass runs at one CRF, where both encoders code a stream's first I-frame at the P-frames'
    scale; pass 2 codes a chunk's IDR at a cut 1.4x (ipratio) finer, as one piece does. Measured coarse, the
    IDR and the P-frames that predict from it looked dear, so chunks opening at cuts got more of the budget
    than one piece spends there (bikes x264: the first chunk 6.8 % short). A zone on that frame makes the
    budget pass code it at its opening_scale."""
    from semcodec.parallel.budget import read_stats
    from semcodec.pipeline import ChunkRange, Execution, first_pass
    from semcodec.pipeline.job import BUDGET_STATS_NAME

    clip = make_clip(tmp_path / "cut.mp4", frames=76, size=(160, 96), content="two_textures")
    s = EncodeSettings(codec=codec, bitrate=150_000, two_pass=True, roi="off", preset="fast")
    ratios = {}
    for scale in (None, 1 / 1.4):
        folder = tmp_path / f"p{scale}"
        folder.mkdir()
        first_pass(clip, str(folder), s, chunk=ChunkRange(38, 76, tail=0, opening_scale=scale),
                   execution=Execution(threads=1, audio=False), budget_crf=30)
        costs = sorted(read_stats(str(folder / BUDGET_STATS_NAME)), key=lambda c: c.frame)
        p = sorted(c.qscale for c in costs if c.kind == "P")
        ratios[scale] = costs[0].qscale / p[len(p) // 2]
    assert ratios[None] == pytest.approx(1.0, abs=0.08)  # the encoder's own: the P-frames' scale
    assert ratios[1 / 1.4] == pytest.approx(1 / 1.4, abs=0.05)


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_two_pass_chunk_opening_inside_a_shot_at_the_p_frames_scale(tmp_path, codec):
    """Inside a shot one piece codes an inter frame where a chunk must open with an IDR; coded 1.4x finer than
    the P-frames (x264's own pass-2 choice for a stream's first frame) it took bits from the whole chunk.
    opening_scale 1.0 codes it at the P-frames' scale: a cheaper IDR than at 1/ipratio."""
    from semcodec.pipeline import ChunkRange, Execution, first_pass, run

    clip = make_clip(tmp_path / "c.mp4", frames=60, size=(160, 96), content="texture")
    s = EncodeSettings(codec=codec, bitrate=150_000, two_pass=True, roi="off", preset="fast")
    idr = {}
    for scale in (1.0, 1 / 1.4):
        folder, out = tmp_path / f"p{scale:.2f}", tmp_path / f"o{scale:.2f}.mp4"
        folder.mkdir()
        span = ChunkRange(20, 60, tail=0, opening_scale=scale)
        first_pass(clip, str(folder), s, chunk=span, execution=Execution(threads=1, audio=False), budget_crf=30)
        run(clip, str(out), s, chunk=span, execution=Execution(threads=1, audio=False), first_pass_dir=str(folder))
        with av.open(str(out)) as c:
            idr[scale] = next(p.size for p in c.demux(video=0) if p.size)
    assert idr[1.0] < idr[1 / 1.4] / 1.15, idr


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_crf_chunk_opening_at_a_cut_as_fine_as_one_piece(tmp_path, codec):
    """At a CRF x264 codes a stream's first I-frame at the P-frames' quantiser, and one piece codes the I-frame
    at a cut ipratio finer: an x264 CRF chunk starting at the cut opened 2.2 dB below the single piece, and its
    P-frames inherited the coarser picture. Its opening IDR gets ipratio through a zone (opening_scale). x265
    at a CRF opens within 1 dB without one (-0.92 dB here; runner._opening_scale says why it keeps its own at a
    cut)."""
    from semcodec.pipeline import Execution, run

    clip = make_clip(tmp_path / "cut.mp4", frames=76, size=(160, 96), content="two_textures")
    s = EncodeSettings(codec=codec, crf=30, roi="off", preset="fast")
    run(clip, str(tmp_path / "single.mp4"), s, execution=Execution(threads=1, audio=False))
    rep = encode_parallel(clip, str(tmp_path / "chunked.mp4"), s, ParallelOptions(
        workers=2, chunk_min_s=1.0, chunk_max_s=3.0, work_dir=str(tmp_path / "w")))
    assert [c["start_frame"] for c in rep["parallel"]["chunks"]] == [0, 38]
    one, chunked = _psnr_y(clip, tmp_path / "single.mp4"), _psnr_y(clip, tmp_path / "chunked.mp4")
    assert chunked[38] > one[38] - (0.5 if codec == "libx264" else 1.0), (chunked[38], one[38])  # x264: -2.2 before


def test_x265_crf_chunk_opening_at_one_pieces_periodic_keyframe(tmp_path):
    """A long shot is split where x265 in one piece puts its periodic keyframe (every 250 frames). x265 codes a
    stream's first I-frame 1.3-1.5 QP coarser than a later one (its own per-frame log): on office (CRF 30) every
    chunk's opening came out 1.1-1.3 dB below one piece's I-frame there. A zone of ipratio^0.5 on the opening
    (loop._CRF_OPENING) codes it as one piece does."""
    from semcodec.pipeline import Execution, run

    clip = make_clip(tmp_path / "shot.mp4", frames=280, size=(128, 64), content="texture")
    s = EncodeSettings(codec="libx265", crf=30, roi="off", preset="fast")
    run(clip, str(tmp_path / "single.mp4"), s, execution=Execution(threads=1, audio=False))
    rep = encode_parallel(clip, str(tmp_path / "chunked.mp4"), s, ParallelOptions(
        workers=2, chunk_min_s=1.0, chunk_max_s=10.0, work_dir=str(tmp_path / "w")))
    assert [c["start_frame"] for c in rep["parallel"]["chunks"]] == [0, 250]
    one, chunked = _psnr_y(clip, tmp_path / "single.mp4"), _psnr_y(clip, tmp_path / "chunked.mp4")
    assert chunked[250] > one[250] - 0.5, (chunked[250], one[250])  # without the zone -0.68 dB, with it +0.32


def test_final_crf_lands_the_p_frames_on_the_budget_scale():
    """Pass 2 of a two-pass chunk reads statistics from a pass at the CRF whose P-frames sit at the budget's
    quantiser scale: 6 CRF steps per doubling of the scale, from the budget pass's own P-frames."""
    from semcodec.parallel.budget import FrameCost, final_crf, qp_to_qscale

    chunks = [[FrameCost(0, "I", qp_to_qscale(33), 1000, 10), FrameCost(1, "P", qp_to_qscale(36), 500, 10),
               FrameCost(2, "B", qp_to_qscale(38), 100, 10)], [FrameCost(0, "P", qp_to_qscale(36), 400, 10)]]
    assert final_crf(chunks, qp_to_qscale(33), 30.0) == pytest.approx(27.0, abs=0.01)
    assert final_crf(chunks, qp_to_qscale(42), 30.0) == pytest.approx(36.0, abs=0.01)
    assert final_crf(chunks, 1.0, None) is None


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_two_pass_chunk_pass_2_reads_statistics_at_the_final_crf(cut_clip, tmp_path, codec):
    """Every two-pass x264 chunk gets the CRF of the job's budget quantiser, and its pass 2 reads statistics from a
    pass at it (not from the ABR first pass, whose chunk openings sit at the encoder's guess): on bikes x264 250k
    every chunk came out 0.2-0.3 VMAF under one piece at equal bytes before (benchmarks/chunk_joins.py). x265
    keeps the ABR statistics: from a CRF pass it landed 3 % under the target."""
    s = EncodeSettings(codec=codec, bitrate=60_000, two_pass=True, roi="off", preset="veryfast")
    rep = encode_parallel(cut_clip, str(tmp_path / "chunked.mp4"), s, ParallelOptions(
        workers=2, chunk_min_s=1.0, chunk_max_s=3.0, work_dir=str(tmp_path / "w")))
    man = json.loads((tmp_path / "w" / "manifest.json").read_text())
    assert man["chunks"][0]["stats_crf"] is None  # it opens where one piece does: the ABR statistics alike
    crfs = {c["stats_crf"] for c in man["chunks"][1:]}
    if codec == "libx265":
        assert crfs == {None}
    else:
        assert len(crfs) == 1 and None not in crfs and 0 < crfs.pop() < 51
    assert abs(rep["parallel"]["budget"]["error_pct"]) < 10


def test_two_pass_budget_measured_again_at_the_crf_it_lands_on(cut_clip, tmp_path, monkeypatch):
    """The budget pass runs at a CRF guessed from bits per pixel, and a chunk's bits there say little about
    its bits several QP away: office (x265, 300k) was measured at CRF 26 and landed on 18.6, where one piece
    spent -10.8 % to +8.3 % off the chunks' shares. A job whose budget lands more than BUDGET_CRF_SPAN from its
    budget pass measures every chunk again there (the budget pass alone) and shares the budget from that."""
    import semcodec.parallel.runner as runner

    monkeypatch.setattr(runner, "budget_crf", lambda *a: 44.0)  # a guess far from any 60k budget here
    s = EncodeSettings(codec="libx265", bitrate=60_000, two_pass=True, roi="off", preset="veryfast")
    rep = encode_parallel(cut_clip, str(tmp_path / "chunked.mp4"), s, ParallelOptions(
        workers=2, chunk_min_s=1.0, chunk_max_s=3.0, work_dir=str(tmp_path / "w")))
    man = json.loads((tmp_path / "w" / "manifest.json").read_text())
    b = man["two_pass_budget"]
    assert man["budget_refined"] and b["budget_crf"] < 44 - runner.BUDGET_CRF_SPAN
    assert abs(b["final_crf"] - b["budget_crf"]) < 44 - b["budget_crf"]  # closer to where it lands than the guess
    assert all(c["budget_crf"] == b["budget_crf"] and not c["budget_redo"] and c["budget_seconds"] > 0
               for c in man["chunks"])
    assert abs(rep["parallel"]["budget"]["error_pct"]) < 10


def test_two_pass_chunks_resume_among_budget_passes_done_again(cut_clip, tmp_path, monkeypatch):
    """A job stopped while its chunks run their budget pass again (_refine_budget) resumes with those left,
    shares the budget once more and encodes the same bytes as a job never stopped."""
    import semcodec.parallel.runner as runner

    monkeypatch.setattr(runner, "budget_crf", lambda *a: 44.0)  # far from the budget: every chunk measured again
    s = EncodeSettings(bitrate=200_000, two_pass=True, roi="off", **FAST)
    whole = tmp_path / "whole.mp4"
    encode_parallel(cut_clip, str(whole), s, _opts(tmp_path, "a"))
    part = tmp_path / "part.mp4"
    done = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert done["budget_refined"]
    n = len(done["chunks"])
    with pytest.raises(Interrupted):  # first passes: all but one
        encode_parallel(cut_clip, str(part), s, _opts(tmp_path, "b", max_chunks=n - 1))
    with pytest.raises(Interrupted):  # the last first pass; budget passes again: all but one
        encode_parallel(cut_clip, str(part), s, _opts(tmp_path, "b", max_chunks=n - 1))
    man = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert man["budget_refined"] and man["two_pass_budget"] is None
    assert [bool(c.get("budget_redo")) for c in man["chunks"]].count(True) == 1
    encode_parallel(cut_clip, str(part), s, _opts(tmp_path, "b"))
    assert sha256(part) == sha256(whole)

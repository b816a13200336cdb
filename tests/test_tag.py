"""`semcodec tag` end to end and shot-aware encoding, on clips the tests build (a hard cut between a
panning texture and a face) and on the bundled demo clip."""
import json
import os

import av
import numpy as np
import pytest

from cli.main import main
from conftest import make_clip
from semcodec.errors import SemcodecError
from semcodec.pipeline import EncodeSettings, encode
from semcodec.planning import ShotPlan
from semcodec.tagging.tagger import SCHEMA, tag_video

DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sample_videos", "demo.mp4")


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory):
    # 20 frames of texture, then 20 of the astronaut's face: one hard cut at frame 20
    return make_clip(tmp_path_factory.mktemp("tag") / "cut.mp4", frames=40, content="texture_then_face")


@pytest.fixture(scope="module")
def demo_tags():
    return tag_video(DEMO, max_keyframes=6)


def test_schema_and_shots(cut_clip):
    result, keyframes = tag_video(cut_clip, max_keyframes=4)
    assert result["schema"] == SCHEMA and result["video"]["frames"] == 40
    shots = result["shots"]
    assert [(s["start_frame"], s["end_frame"]) for s in shots] == [(0, 20), (20, 40)]
    assert shots[1]["transition"] == "cut" and shots[1]["start_time"] == pytest.approx(0.8)
    for s in shots:
        assert s["scene"]["class"] in result["scene_vocabulary"] and 0 <= s["scene"]["confidence"] <= 1
        assert s["tags"][0] == {"tag": s["scene"]["class"], "kind": "scene", "score": s["scene"]["confidence"]}
    assert any(t["tag"] == "face" for t in shots[1]["tags"]) and not any(t["tag"] == "face" for t in shots[0]["tags"])
    # keyframes: one from each shot at least, never on the cut itself, in time order
    assert {k["shot"] for k in result["keyframes"]} == {0, 1}
    assert all(abs(k["frame"] - 20) >= 2 for k in result["keyframes"])
    assert [k["frame"] for k in result["keyframes"]] == sorted(k.index for k in keyframes)
    json.dumps(result)  # serialisable


def test_demo_clip_summary(demo_tags):
    result, keyframes = demo_tags
    assert [s["start_frame"] for s in result["shots"]] == [0, 75]
    first = result["shots"][0]
    assert any(t["tag"] == "face" for t in first["tags"])  # the astronaut
    assert 2 <= len(keyframes) <= 6


def test_cli_writes_json_sheet_and_keyframes(cut_clip, tmp_path, capsys):
    out, sheet, kdir = tmp_path / "t.json", tmp_path / "sheet.png", tmp_path / "kf"
    rc = main(["tag", cut_clip, "--json", str(out), "--contact-sheet", str(sheet), "--keyframes-dir", str(kdir),
               "--max-keyframes", "3", "-q"])
    assert rc == 0
    result = json.loads(out.read_text())
    files = sorted(os.listdir(kdir))
    assert files == sorted(result["keyframe_files"]) and len(files) == len(result["keyframes"]) <= 3
    img = av.open(str(kdir / files[0])).decode(video=0).__next__()
    assert (img.width, img.height) == (160, 96)  # full size, not the thumbnail
    assert sheet.stat().st_size > 2000


@pytest.mark.parametrize("args,msg,code", [
    (["missing.mp4"], "not found", 1),
    (["{clip}", "--contact-sheet", "/nonexistent/s.png"], "does not exist", 1),
    (["{clip}", "--max-keyframes", "0"], "at least 1", 2),
])
def test_cli_errors(cut_clip, capsys, args, msg, code):
    rc = main(["tag", *[a.format(clip=cut_clip) for a in args], "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == code and len(err) == 1 and err[0].startswith("semcodec: error:") and msg in err[0]


def _keyframes(path):
    with av.open(str(path)) as c:
        return [i for i, f in enumerate(c.decode(video=0)) if f.key_frame]


def test_encode_puts_idr_at_cuts(cut_clip, tmp_path):
    report = encode(cut_clip, str(tmp_path / "o.mp4"), EncodeSettings())
    assert report["shots"]["keyframes_at"] == [20]
    assert _keyframes(tmp_path / "o.mp4") == [0, 20]
    plain = encode(cut_clip, str(tmp_path / "p.mp4"), EncodeSettings(roi="off"))
    assert plain["shots"]["method"] == "off" and plain["shots"]["keyframes_at"] == []
    two = encode(cut_clip, str(tmp_path / "t.mp4"), EncodeSettings(bitrate=200_000, two_pass=True))
    assert _keyframes(tmp_path / "t.mp4") == [0, 20] and two["shots"]["keyframes_at"] == [20]


def test_encode_from_tag_file_records_decisions(cut_clip, tmp_path):
    result, _ = tag_video(cut_clip)
    tags = tmp_path / "tags.json"
    tags.write_text(json.dumps(result))
    report = encode(cut_clip, str(tmp_path / "o.mp4"), EncodeSettings(keyframes_from=str(tags)))
    plan = report["shots"]["plan"]
    assert [d["shot"] for d in plan if "shot" in d] == [0, 1]
    assert all("why" in d for d in plan)
    assert any("keyframe_boost_qp" in d for d in plan)
    assert _keyframes(tmp_path / "o.mp4") == [0, 20]


def test_plan_rules():
    tags = {"schema": SCHEMA, "video": {"fps": 25.0},
            "shots": [{"index": 0, "start_frame": 0, "end_frame": 100, "start_time": 0, "end_time": 4,
                       "scene": {"class": "animation"}},
                      {"index": 1, "start_frame": 100, "end_frame": 125, "start_time": 4, "end_time": 5,
                       "scene": {"class": "talking_head"}}],
            "keyframes": [{"frame": 110}]}
    plan = ShotPlan.from_tags(tags, "libx264")
    assert plan.tune == "animation"  # 80% of the duration
    assert ShotPlan.from_tags(tags, "libvpx-vp9").tune is None
    assert plan.rules(50)[0] == 0.8 and plan.rules(110)[0] == 1.25
    assert plan.is_shot_start(100) and not plan.is_shot_start(0) and not plan.is_shot_start(101)
    assert plan.boost(110) < 0 and plan.boost(104) < 0 and plan.boost(90) == 0
    with pytest.raises(SemcodecError, match="schema"):
        ShotPlan.from_tags({"schema": "x"}, "libx264")
    with pytest.raises(SemcodecError, match="missing"):
        ShotPlan.from_tags({"schema": SCHEMA, "shots": [{}]}, "libx264")


def test_bad_tag_file(cut_clip, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SemcodecError, match="not valid JSON"):
        encode(cut_clip, str(tmp_path / "o.mp4"), EncodeSettings(keyframes_from=str(bad)))
    assert not (tmp_path / "o.mp4").exists()
    with pytest.raises(SemcodecError, match="roi off"):
        encode(cut_clip, str(tmp_path / "o.mp4"), EncodeSettings(roi="off", keyframes_from=str(bad)))
    np.testing.assert_equal(os.listdir(tmp_path), ["bad.json"])


def test_corrupt_packets_mid_file_are_skipped_with_a_warning(tmp_path, capsys):
    src = make_clip(tmp_path / "c.mkv", frames=40, content="texture_then_face")
    data = bytearray(open(src, "rb").read())
    for i in range(len(data) // 2, len(data) // 2 + 3000, 7):  # scramble bytes in the middle
        data[i] = (data[i] * 31 + 17) % 256
    bad = tmp_path / "corrupt.mkv"
    bad.write_bytes(bytes(data))
    rc = main(["tag", str(bad), "--json", str(tmp_path / "t.json"), "-q"])
    err = capsys.readouterr().err
    assert rc == 0 and "corrupt video packet" in err
    result = json.loads((tmp_path / "t.json").read_text())
    assert result["decode"]["corrupt_packets_skipped"] >= 1 and result["warnings"]
    report = encode(str(bad), str(tmp_path / "o.mp4"), EncodeSettings())
    assert any("corrupt" in w for w in report["warnings"])


def test_topic_tags_from_title_and_description(cut_clip):
    result, _ = tag_video(cut_clip, words=["Astronaut interview on the space shuttle",
                                           "An astronaut talks about the space shuttle launch."])
    topics = [t["tag"] for t in result["tags"] if t["kind"] == "topic"]
    assert any("astronaut" in t for t in topics) and any("shuttle" in t for t in topics)
    assert all(0 < t["score"] <= 1 for t in result["tags"] if t["kind"] == "topic")
    assert not [t for t in tag_video(cut_clip)[0]["tags"] if t["kind"] == "topic"]


def test_subtitles_give_emotion_and_topic_tags(cut_clip, tmp_path):
    srt = tmp_path / "cut.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:00,700\nThe weather report for tomorrow.\n\n"
                   "2\n00:00:00,900 --> 00:00:01,500\nI HATE you! Get out of my house, you liar!\n", encoding="utf-8")
    result, _ = tag_video(cut_clip, subtitles=str(srt))
    first, second = result["shots"]
    assert not [t for t in first["tags"] if t["kind"] == "emotion"]  # a calm line: no emotion tag
    emo = [t for t in second["tags"] if t["kind"] == "emotion"]
    assert len(emo) == 1 and emo[0]["tag"] in ("anger", "disgust") and emo[0]["score"] > 0.3
    assert any(t["kind"] == "topic" for t in result["tags"])
    bad = tmp_path / "bad.srt"
    bad.write_text("this is not a subtitle file at all", encoding="utf-8")
    with pytest.raises(SemcodecError):
        tag_video(cut_clip, subtitles=str(bad))


# ---- issue 13 tag bugs: each test below failed before its fix --------------------------------------------
def _write(path, frames, fps=25, first_pts=0, fmt=None, sar=None, rotation=0) -> str:
    """RGB frames to a clip: video pts from `first_pts` (a stream that starts late), optional pixel aspect
    and display rotation; fmt='h264' writes a raw Annex-B stream (no timestamps at all)."""
    from fractions import Fraction

    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        vs.options = {"crf": "16", "preset": "ultrafast"}
        if sar:
            vs.codec_context.sample_aspect_ratio = Fraction(sar)
        if rotation:
            vs.set_display_rotation(rotation)
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = first_pts + i, Fraction(1, fps)
            out.mux(vs.encode(f))
        out.mux(vs.encode(None))
    return str(path)


def _two_shots(n1=30, n2=30, size=(160, 96)):
    from semcodec.shots.synthetic import photos

    p = photos(size)
    return [p[0]] * n1 + [p[2]] * n2


def test_times_from_the_first_frame_when_the_stream_starts_late(tmp_path):
    path = _write(tmp_path / "late.mp4", _two_shots(), first_pts=50)  # video starts at 2 s
    result, _ = tag_video(path, max_keyframes=2)
    shots = result["shots"]
    assert shots[0]["start_time"] == 0 and shots[1]["start_time"] == pytest.approx(1.2)
    assert result["video"]["duration_s"] == pytest.approx(2.4) and result["video"]["start_time_s"] == 2.0
    assert all(k["time"] < 2.4 for k in result["keyframes"])


def test_raw_h264_keyframe_names_use_index_and_rate(tmp_path):
    path = _write(tmp_path / "raw.264", _two_shots(), fmt="h264")
    kdir = tmp_path / "kf"
    assert main(["tag", path, "--keyframes-dir", str(kdir), "--json", str(tmp_path / "t.json"), "-q"]) == 0
    result = json.loads((tmp_path / "t.json").read_text())
    names = sorted(os.listdir(kdir))
    assert names == sorted(result["keyframe_files"]) and len(names) >= 2
    for k, name in zip(result["keyframes"], names):
        assert name == f"frame{k['frame']:06d}_00m{k['frame'] / 25:06.3f}s.jpg"
    assert len({n.split("_")[1] for n in names}) == len(names)  # not all 00m00.000s


def test_contact_sheet_numbers_shots_as_the_json(tmp_path):
    from semcodec.tagging.contact_sheet import sheet_labels

    result, _ = tag_video(_write(tmp_path / "two.mp4", _two_shots()), max_keyframes=4)
    labels = sheet_labels(result)
    assert {int(lb.split(":")[0].split()[1]) for lb in labels} == {s["index"] for s in result["shots"]} == {0, 1}


def test_final_shot_shorter_than_min_shot_is_merged(tmp_path):
    result, _ = tag_video(_write(tmp_path / "tail.mp4", _two_shots(40, 6)), max_keyframes=2)
    assert [(s["start_frame"], s["end_frame"]) for s in result["shots"]] == [(0, 46)]


def test_keyframes_never_black_faded_or_mixed(tmp_path):
    """A slideshow with a zoom, a cross-fade and a fade through black, then a cut to a black card."""
    from semcodec.shots.synthetic import black_card, slideshow

    frames = slideshow((160, 96), 25, hold=20, dissolve=12).frames + black_card((160, 96), 25, 20, 15, 20).frames
    result, keyframes = tag_video(_write(tmp_path / "slides.mp4", frames), max_keyframes=12, sample_fps=12)
    spans = [s["transition_frames"] for s in result["shots"] if "transition_frames" in s]
    assert len(spans) == 2  # the dissolve and the fade
    assert len(keyframes) >= 5
    for k in keyframes:
        assert not any(a <= k.index <= b for a, b in spans), (k.index, spans)
        assert k.thumb.mean() > 20  # never black


def test_keyframes_spread_over_a_long_shot(tmp_path):
    """One 15 s shot whose sharpest frames are all in its last 5 s: keyframes still cover all of it."""
    import cv2

    from conftest import textured_frames

    frames = textured_frames(150, (160, 96))  # 15 s at 10 fps
    frames = [cv2.GaussianBlur(f, (0, 0), 0.8) if i < 100 else f for i, f in enumerate(frames)]
    result, keyframes = tag_video(_write(tmp_path / "long.mp4", frames, fps=10), max_keyframes=6)
    times = [k.time for k in keyframes]
    assert len(result["shots"]) == 1 and len(times) >= 3
    assert min(times) < 5 and any(5 <= t < 10 for t in times) and max(times) >= 10


def test_keyframe_images_show_rotation_and_pixel_aspect(tmp_path):
    """Stored 160x96 with 2:1 pixels, rotated 90 degrees: a player shows 96 wide, 320 high."""
    from semcodec.shots.synthetic import photos

    img = photos((160, 96))[1].copy()
    img[:20, :20] = (255, 0, 0)  # red in the stored top-left corner
    path = _write(tmp_path / "rot.mp4", [img] * 20, sar="2/1", rotation=90)
    kdir, sheet = tmp_path / "kf", tmp_path / "sheet.png"
    assert main(["tag", path, "--keyframes-dir", str(kdir), "--contact-sheet", str(sheet), "-q"]) == 0
    from PIL import Image

    shown = np.asarray(Image.open(kdir / sorted(os.listdir(kdir))[0]).convert("RGB"))
    assert shown.shape[:2] == (320, 96)
    # counterclockwise, as FFmpeg's autorotate: the stored top-left corner ends bottom-left
    assert shown[-10:, :10, 0].mean() > 200 and shown[-10:, :10, 1:].mean() < 60


def test_no_keyframe_in_an_opening_fade_in_or_a_closing_fade_out(tmp_path):
    """No boundary carries these fades (the video starts and ends in them); the detector still marks them."""
    from semcodec.shots.synthetic import _mix, photos

    p, z = photos((160, 96))[1], np.zeros((96, 160, 3), np.uint8)
    frames = [z] * 5 + [_mix(z, p, (k + 1) / 13) for k in range(12)] + [p] * 25
    frames += [_mix(p, z, (k + 1) / 13) for k in range(12)] + [z] * 5
    result, keyframes = tag_video(_write(tmp_path / "fades.mp4", frames), max_keyframes=12, sample_fps=25)
    assert len(result["shots"]) == 1 and keyframes
    assert all(17 <= k.index <= 41 for k in keyframes), [k.index for k in keyframes]

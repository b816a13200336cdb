"""Text guidance end to end: real encodes of tiny clips with subtitles and prompts, the encode and
analyze commands, and their reports."""
import json
import os

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from cli.main import main  # noqa: E402
from conftest import decode_video, face_mask, make_clip, region_mse  # noqa: E402
from semcodec.errors import SemcodecError  # noqa: E402
from semcodec.pipeline import EncodeSettings, encode  # noqa: E402
from semcodec.text.plot import frame_bits  # noqa: E402

SRT = ("1\n00:00:00,000 --> 00:00:01,000\nThe train leaves at nine.\n\n"
       "2\n00:00:01,000 --> 00:00:02,000\nI HATE YOU! GET OUT OF MY HOUSE!\n\n"
       "3\n00:00:02,000 --> 00:00:03,000\nPlease pass the salt.\n")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """3 s of panning texture (even complexity over time) with an .srt sidecar: calm, furious, calm."""
    folder = tmp_path_factory.mktemp("txtenc")
    path = make_clip(folder / "talk.mp4", frames=75)
    (folder / "talk.srt").write_text(SRT)
    return path


def run(src, out, **kw):
    # crf_rate="model": these compare text-guided maps with plain maps through the allocator's own balance;
    # CRF rate neutrality (a probe-fitted whole-frame offset per encode) is tested in test_ratefit.py
    return encode(str(src), str(out), EncodeSettings(shots="off", crf_rate="model", **kw))


def groups(path):
    t, bits = frame_bits(str(path))
    hot = (t >= 1.2) & (t < 1.8)
    calm = ((t < 0.7) | (t > 2.3)) & (t > 0)  # the first frame is the IDR of both encodes: left out
    return bits, hot, calm


@pytest.mark.parametrize("rate", [{}, {"bitrate": 150_000, "two_pass": True}], ids=["crf", "two-pass"])
def test_intense_cue_gets_the_bits_at_the_same_size(clip, tmp_path, rate):
    base = run(clip, tmp_path / "base.mp4", **rate)
    text = run(clip, tmp_path / "text.mp4", subtitles="auto", **rate)
    b0, hot, calm = groups(tmp_path / "base.mp4")
    b1, _, _ = groups(tmp_path / "text.mp4")
    # frames under the furious line get larger, calm ones pay for them
    r_hot, r_calm = b1[hot].sum() / b0[hot].sum(), b1[calm].sum() / b0[calm].sum()
    assert r_hot > 1.1 and r_calm < 0.95 and r_hot / r_calm > 1.25, (r_hot, r_calm)
    assert b1[hot].mean() / b1[calm].mean() > 1.15 * b0[hot].mean() / b0[calm].mean()
    size = text["output"]["video_bytes"] / base["output"]["video_bytes"]
    assert abs(size - 1) < (0.05 if rate else 0.06), size
    rep = text["text"]
    assert rep["source"]["kind"] == "srt" and rep["source"]["path"].endswith("talk.srt")
    cues = rep["cue_list"]
    assert cues[1]["emotion"]["intensity"] > cues[0]["emotion"]["intensity"] + 0.3
    assert rep["curve"]["offset_qp_min"] < -1.5 < 0 < rep["curve"]["offset_qp_max"]
    assert rep["curve"]["rate_balance"] == pytest.approx(1, abs=1e-4)
    assert text["settings"]["subtitles"] == "auto" and text["settings"]["emotion_strength"] == 4.0


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("txtface") / "face.mp4", frames=16, content="face")


def test_prompt_naming_the_face_favours_it_and_an_absent_one_changes_nothing(face_clip, tmp_path):
    plain = run(face_clip, tmp_path / "plain.mp4", roi="faces,text,saliency")
    face = run(face_clip, tmp_path / "face.mp4", roi="faces,text,saliency", prompt="the face")
    giraffe = run(face_clip, tmp_path / "giraffe.mp4", roi="faces,text,saliency", prompt="a giraffe")
    # gated by absolute similarity: the block maps are exactly those of the encode without a prompt
    # (bytes are not compared: x264 with ROI side data is not bit-reproducible run to run here)
    def maps(rep):
        return {k: v for k, v in rep["roi"].items() if k != "analyzers"}  # analyzer timings vary

    assert maps(giraffe) == maps(plain) and maps(face) != maps(plain)
    assert giraffe["text"]["prompt"]["boosted"] == {} and giraffe["text"]["frames_boosted"] == 0
    assert abs(giraffe["output"]["video_bytes"] / plain["output"]["video_bytes"] - 1) < 0.03
    p = face["text"]["prompt"]
    assert p["boosted"]["face"]["frames"] == 16 and p["boosted"]["face"]["max_boost"] > 0.95
    assert p["strongest"]["regions"][0]["label"] == "face"
    src = decode_video(face_clip)
    mask = face_mask()

    def face_err(path):
        return np.mean([region_mse(a.to_ndarray(format="gray")[mask], b.to_ndarray(format="gray")[mask])
                        for a, b in zip(src, decode_video(path))])

    assert face_err(tmp_path / "face.mp4") < face_err(tmp_path / "plain.mp4")


def test_text_needs_the_semantic_mode_and_clear_errors(clip, tmp_path):
    with pytest.raises(SemcodecError, match="need the semantic mode"):
        run(clip, tmp_path / "o.mp4", roi="off", prompt="the face")
    with pytest.raises(SemcodecError, match="subtitle file not found"):
        run(clip, tmp_path / "o.mp4", subtitles=str(tmp_path / "missing.srt"))
    with pytest.raises(SemcodecError, match="emotion-strength"):
        run(clip, tmp_path / "o.mp4", subtitles="auto", emotion_strength=-1)
    assert not os.path.exists(tmp_path / "o.mp4")


def test_cli_encode_and_analyze(clip, tmp_path, capsys):
    out = tmp_path / "cli.mp4"
    assert main(["encode", clip, "-o", str(out), "--subtitles", "auto", "--prompt", "the face",
                 "--emotion-strength", "3", "--json", "-q"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["text"]["curve"]["peak_to_peak_qp"] == pytest.approx(3, abs=0.05)
    assert rep["text"]["prompt"]["text"] == "the face"
    assert main(["encode", clip, "-o", str(out), "--subtitles", str(tmp_path / "nope.vtt")]) == 1
    assert capsys.readouterr().err.count("\n") == 1

    js, png = tmp_path / "a.json", tmp_path / "a.png"
    assert main(["analyze", clip, "--subtitles", "auto", "--prompt", "the text on screen", "--json", str(js),
                 "--plot", str(png), "--encoded", str(out), "--sample-fps", "4"]) == 0
    err = capsys.readouterr().err
    assert "correlation emotion vs bits per frame" in err
    a = json.loads(js.read_text())
    assert a["schema"] == "semcodec.text_analysis/1"
    assert [c["emotion"]["category"] for c in a["cues"]][1] == "anger"
    assert all(c["attention"] for c in a["cues"])  # every cue has analysed frames under it
    assert len(a["frames"]["time"]) == len(a["frames"]["emotion"]) == len(a["frames"]["qp_offset"]) == 75
    assert min(a["frames"]["qp_offset"]) < 0 < max(a["frames"]["qp_offset"])
    assert a["samples"] and all("importance_mean" in s and "regions" in s for s in a["samples"])
    assert a["encoded"][0]["correlation_emotion_bits_0.5s"] > 0.3
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert main(["analyze", clip, "--json", str(js)]) == 2  # neither subtitles nor a prompt
    assert "needs --subtitles" in capsys.readouterr().err


def test_emotion_model_flag_uses_the_classifier(clip, tmp_path):
    from test_text_emotion import build_tiny_classifier

    (tmp_path / "clf").mkdir()
    folder = build_tiny_classifier(tmp_path / "clf")
    js = tmp_path / "c.json"
    assert main(["analyze", clip, "--subtitles", "auto", "--emotion-model", folder, "--json", str(js),
                 "--roi", "text", "-q"]) == 0
    a = json.loads(js.read_text())
    assert a["text"]["emotion_method"].startswith("classifier:")
    assert all(set(c["emotion"]["labels"]) == {"anger", "joy", "neutral", "optimism"} for c in a["cues"])

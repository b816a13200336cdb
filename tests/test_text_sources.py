"""Timed-text readers on real-looking files the tests write: SRT, WebVTT, transcripts, text subtitle
tracks inside MKV/MP4, `--subtitles auto`; encodings, BOMs, styling, overlaps, malformed lines."""
import os
import subprocess
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_clip
from semcodec.errors import SemcodecError
from semcodec.text.cues import clean_text, decode_text
from semcodec.text.sources import (
    parse_srt,
    parse_transcript,
    parse_vtt,
    read_embedded,
    read_source,
    read_text_file,
    resolve,
    sidecars,
)

VIDEOS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "shared", "videos")

SRT = """1
00:00:01,000 --> 00:00:02,500
<i>Where were you?</i>

2
00:00:02,600 --> 00:00:04,000
{\\an8}<font color="#ffff00">I was at the café!</font>

4
00:00:06,000 --> 00:00:07,000
- Out of order?
- Yes.

3
00:00:03,500 --> 00:00:05,000
Overlapping the second cue

5
00:00:08,000 --> 00:00:09,000


6
00:00:09,000 --> 00:00:10,000
Tom &amp; Jerry
"""


def write(path, data: bytes) -> str:
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


# ---- SRT -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding,bom", [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("cp1252", b""),
                                          ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")])
def test_srt_encodings_and_crlf(tmp_path, encoding, bom):
    text = SRT.replace("\n", "\r\n")
    src = read_text_file(write(tmp_path / "a.srt", bom + text.encode(encoding)))
    texts = [c.text for c in src.cues]
    assert "I was at the café!" in texts  # decoded right, tags and {\an8} gone
    assert src.encoding in ({"utf-8": "utf-8-sig" if bom else "utf-8"}.get(encoding, encoding), "utf-16")
    if encoding == "cp1252":
        assert any("cp1252" in w for w in src.warnings)


def test_srt_sorted_overlaps_kept_empty_dropped_tags_cleaned():
    src = parse_srt(SRT, "a.srt")
    starts = [c.start for c in src.cues]
    assert starts == sorted(starts) and [c.index for c in src.cues] == list(range(len(src.cues)))
    texts = [c.text for c in src.cues]
    assert texts == ["Where were you?", "I was at the café!", "Overlapping the second cue",
                     "Out of order? Yes.", "Tom & Jerry"]  # the empty cue 5 is gone
    second, third = src.cues[1], src.cues[2]
    assert third.start < second.end  # overlap kept
    assert src.cues[0].raw == "<i>Where were you?</i>"


def test_srt_malformed_block_skipped_with_line_number():
    bad = SRT.replace("00:00:06,000 --> 00:00:07,000", "00:00:06,000 -> 00:00:07,000")
    src = parse_srt(bad, "film.srt")
    assert "Out of order? Yes." not in [c.text for c in src.cues]
    assert len(src.cues) == 4 and src.skipped == 1
    line = bad.split("\n").index("00:00:06,000 -> 00:00:07,000")  # 0-based line of the bad timing
    assert any(f"film.srt line {line}" in w or f"film.srt line {line + 1}" in w for w in src.warnings), src.warnings


def test_srt_nothing_readable_is_a_clear_error(tmp_path):
    with pytest.raises(SemcodecError, match=r"bad\.srt line 1: not an SRT cue"):
        read_text_file(write(tmp_path / "bad.srt", b"hello\nthis is not\nsubtitles at all\n"))
    with pytest.raises(SemcodecError, match="empty subtitle file"):
        read_text_file(write(tmp_path / "empty.srt", b"\xef\xbb\xbf  \n"))
    with pytest.raises(SemcodecError, match="binary data"):
        read_text_file(write(tmp_path / "bin.srt", b"\x00\x01\x02garbage\x00" * 20))
    with pytest.raises(SemcodecError, match="not found"):
        read_source(str(tmp_path / "missing.srt"))


def test_srt_end_before_start_skipped_with_warning():
    src = parse_srt("1\n00:00:05,000 --> 00:00:04,000\nbackwards\n\n2\n00:00:06,000 --> 00:00:07,000\nfine\n", "x.srt")
    assert [c.text for c in src.cues] == ["fine"]
    assert src.skipped == 1 and "not after start" in src.warnings[0]


def test_huge_srt_parses_fast(tmp_path):
    blocks = []
    for i in range(20000):
        s = i * 2
        blocks.append(f"{i + 1}\n{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d},000 --> "
                      f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60 + 1:02d},500\nLine number {i}, <i>styled</i>\n")
    path = write(tmp_path / "huge.srt", "\n".join(blocks).encode())
    t0 = time.perf_counter()
    src = read_text_file(path)
    assert len(src.cues) == 20000 and src.cues[-1].text == "Line number 19999, styled"
    assert time.perf_counter() - t0 < 10


# ---- WebVTT --------------------------------------------------------------------------------------

VTT = """WEBVTT - a film
Kind: captions
Language: en

STYLE
::cue { color: white }

NOTE written by hand

intro
00:00.500 --> 00:02.000 line:80% align:center
<v Roger Bingham><c.yellow>We are</c> <b>in</b> <00:00:01.000>New York!

00:00:02.500 --> 00:00:04.000
Second &lt;line&gt;

00:00:05.000 --> 00:00:04.000
backwards

00:00:06.000 --> 00:0x:07.000
broken timing

01:00:00.000 --> 01:00:01.000
An hour in
"""


def test_vtt_header_blocks_settings_tags_voice():
    src = parse_vtt(VTT, "a.vtt")
    texts = [c.text for c in src.cues]
    assert texts == ["We are in New York!", "Second <line>", "An hour in"]
    assert src.cues[0].speaker == "Roger Bingham"
    assert (src.cues[0].start, src.cues[0].end) == (0.5, 2.0)
    assert src.cues[2].start == 3600.0
    assert src.cues[0].line == 11  # line numbers of the timing lines
    broken = VTT.split("\n").index("00:00:06.000 --> 00:0x:07.000") + 1
    assert any(f"a.vtt line {broken}: malformed WebVTT cue timing" in w for w in src.warnings), src.warnings
    assert any("not after start" in w for w in src.warnings)


def test_vtt_errors_name_the_line(tmp_path):
    with pytest.raises(SemcodecError, match=r"line 1: a WebVTT file starts with 'WEBVTT'"):
        parse_vtt("00:01.000 --> 00:02.000\nhello\n", "x.vtt")
    with pytest.raises(SemcodecError, match=r"x\.vtt line 3: malformed WebVTT cue timing"):
        parse_vtt("WEBVTT\n\n00:01.000 --> 00:99.000\nhello\n", "x.vtt")
    # a .srt that is really WebVTT is read as WebVTT
    src = read_text_file(write(tmp_path / "really_vtt.srt", b"WEBVTT\n\n00:01.000 --> 00:02.000\nhi\n"))
    assert src.kind == "vtt" and src.cues[0].text == "hi"


# ---- transcripts ---------------------------------------------------------------------------------

def test_transcript_formats():
    text = ("Interview, recorded 2024\n"
            "[00:00:01.5] ALICE: Hello there!\n"
            "00:04 I hate waiting.\n"
            "it goes on here\n"
            "(00:00:10) Bob: ok\n"
            "[00:61:00] impossible time\n"
            "00:00:12.0 --> 00:00:15.0 a range\n")
    src = parse_transcript(text, "t.txt")
    assert [c.text for c in src.cues] == ["Hello there!", "I hate waiting. it goes on here", "ok", "a range"]
    assert src.cues[0].speaker == "ALICE" and src.cues[2].speaker == "Bob"
    assert src.cues[0].end == pytest.approx(2.5)  # one second for two words, before the next line
    assert (src.cues[3].start, src.cues[3].end) == (12.0, 15.0)
    assert src.skipped == 2
    assert any("t.txt line 1:" in w for w in src.warnings) and any("t.txt line 6:" in w for w in src.warnings)
    with pytest.raises(SemcodecError, match="not a timestamped transcript"):
        parse_transcript("just some words\nand more\n", "t.txt")


def test_clean_text():
    assert clean_text("{\\an8}{\\i1}Hi{\\i0}\\NBob") == ("Hi Bob", None)
    assert clean_text("<v.loud Jo>Run!</v>") == ("Run!", "Jo")
    assert clean_text("- One\n- Two") == ("One Two", None)
    assert clean_text("5 < 6 and 7 > 3") == ("5 < 6 and 7 > 3", None)
    assert decode_text(b"caf\xe9", "x")[0] == "café"  # latin-1 byte: cp1252 reads it


# ---- embedded tracks and auto --------------------------------------------------------------------

def _mux(video, subs, out, codec):
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(video), "-i", str(subs),
                    "-map", "0:v", "-map", "1", "-c:v", "copy", "-c:s", codec, str(out)], check=True)
    return str(out)


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("emb") / "v.mp4", frames=25)


@pytest.mark.parametrize("ext,codec,sub", [(".mkv", "srt", "a.srt"), (".mkv", "ass", "a.srt"),
                                           (".mkv", "webvtt", "a.vtt"), (".mp4", "mov_text", "a.srt")])
def test_embedded_text_tracks(tmp_path, tiny_video, ext, codec, sub):
    write(tmp_path / "a.srt", b"1\n00:00:00,100 --> 00:00:00,600\n<i>I hate you!</i>\n\n"
                              b"2\n00:00:00,700 --> 00:00:00,900\n{\\an8}Fine.\n")
    write(tmp_path / "a.vtt", b"WEBVTT\n\n00:00.100 --> 00:00.600\n<c.red>I hate you!</c>\n\n"
                              b"00:00.700 --> 00:00.900\nFine.\n")
    out = _mux(tiny_video, tmp_path / sub, tmp_path / f"muxed{ext}", codec)
    src = read_source(out)
    assert src.kind == "embedded" and src.stream == 1
    assert [c.text for c in src.cues] == ["I hate you!", "Fine."]
    assert src.cues[0].start == pytest.approx(0.1) and src.cues[0].end == pytest.approx(0.6)
    assert read_source(out + "#1").cues[1].text == "Fine."
    with pytest.raises(SemcodecError, match="no subtitle stream #5"):
        read_source(out + "#5")
    # --subtitles auto on the video itself (no sidecar): its first text stream
    assert [c.text for c in resolve("auto", out).cues] == ["I hate you!", "Fine."]


def test_auto_prefers_sidecar_and_says_when_nothing(tmp_path, tiny_video):
    video = str(tmp_path / "clip.mp4")
    with open(tiny_video, "rb") as f:
        write(video, f.read())
    notes = []
    assert resolve("auto", video, notes.append) is None
    assert "no .srt/.vtt beside clip.mp4" in notes[0]
    write(tmp_path / "clip.en.vtt", b"WEBVTT\n\n00:00.000 --> 00:00.500\ntagged\n")
    assert resolve("auto", video).cues[0].text == "tagged"
    write(tmp_path / "clip.srt", b"1\n00:00:00,000 --> 00:00:00,500\nexact\n")
    assert sidecars(video)[0].endswith("clip.srt")
    assert resolve("auto", video).cues[0].text == "exact"
    with pytest.raises(SemcodecError, match="no subtitle stream"):
        read_embedded(video)


@pytest.mark.release
@pytest.mark.skipif(not os.path.isdir(VIDEOS), reason="../shared/videos not present")
def test_bitmap_pgs_track_is_reported_not_guessed():
    mkv = os.path.join(VIDEOS, "popeye_sinbad_1936_excerpt.mkv")
    with pytest.raises(SemcodecError, match="bitmap pictures of text"):
        read_embedded(mkv)
    src = resolve("auto", mkv)  # the .srt beside it wins
    assert src.kind == "srt" and len(src.cues) == 14 and src.encoding == "utf-8-sig"


# ---- fuzz: only SemcodecError may escape ---------------------------------------------------------

TS = st.builds(lambda h, m, s, ms, sep: f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}",
               st.integers(0, 99), st.integers(0, 70), st.integers(0, 70), st.integers(0, 1200),
               st.sampled_from([",", ".", ":"]))
NOISE = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
PIECE = st.one_of(
    TS, NOISE, st.just("-->"), st.just("\n"), st.just("\n\n"), st.just("WEBVTT"), st.just("NOTE"),
    st.just("<i>"), st.just("</i>"), st.just("{\\an8}"), st.just("<c.yellow>"), st.just("<v Bob>"),
    st.just("\ufeff"), st.just("\r\n"), st.integers(-5, 100000).map(str),
    st.builds(lambda a, b, t: f"{a} --> {b}\n{t}\n\n", TS, TS, NOISE),
)
DOC = st.lists(PIECE, max_size=30).map("".join)
FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _only_clear_errors(fn, *args):
    try:
        src = fn(*args)
    except SemcodecError as exc:
        assert str(exc) and "\n" not in str(exc).strip()
        return
    for c in src.cues:
        assert c.end > c.start >= 0 and c.text == c.text.strip() and c.text


@FUZZ
@given(DOC)
def test_fuzz_srt(doc):
    _only_clear_errors(parse_srt, doc, "f.srt")


@FUZZ
@given(DOC)
def test_fuzz_vtt(doc):
    _only_clear_errors(parse_vtt, "WEBVTT\n\n" + doc, "f.vtt")
    _only_clear_errors(parse_vtt, doc, "f.vtt")


@FUZZ
@given(DOC)
def test_fuzz_transcript(doc):
    _only_clear_errors(parse_transcript, doc, "f.txt")


@settings(max_examples=100, deadline=None, database=None)
@given(st.binary(max_size=300), st.sampled_from([".srt", ".vtt", ".txt"]))
def test_fuzz_bytes_from_disk(tmp_path_factory, data, ext):
    path = tmp_path_factory.mktemp("fz") / f"f{ext}"
    write(path, data)
    _only_clear_errors(read_text_file, str(path))

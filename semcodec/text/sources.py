"""Read timed text: SRT and WebVTT files, timestamped transcripts, text subtitle tracks inside a video.

- SRT through the `srt` package, WebVTT through `webvtt-py`; both get their text already decoded
  (BOM, UTF-8/16/32, cp1252, Latin-1: `semcodec.text.cues.decode_text`).
- Malformed input: a block that cannot be read is skipped with a warning naming its line when the rest
  of the file is usable; a file with no readable cue is a SemcodecError naming the first bad line.
- Cues are sorted by start time; overlapping cues are kept (the emotion curve takes the strongest);
  cues whose end is not after their start are skipped with a warning; empty cues are dropped.
- Transcripts: one line per utterance starting with a timestamp, `[00:01:02.5] text`, `00:01 text`,
  `(1:02:03) Speaker: text`, or a range `00:01.0 --> 00:03.5 text`; a cue ends where the next one
  starts (capped by its length in words). Lines without a timestamp continue the previous cue.
- Embedded tracks (MKV/MP4/MOV/WebM, also .ass/.ssa files FFmpeg reads): subrip, ass/ssa, mov_text,
  webvtt and text streams, decoded with PyAV. Bitmap tracks (PGS, DVD, DVB) hold pictures of text,
  not text: they are reported as unreadable, never guessed at.
"""
from __future__ import annotations

import glob
import logging
import os
import re
from dataclasses import dataclass, field

from semcodec.errors import SemcodecError
from semcodec.text.cues import Cue, clean_text, decode_text, finish

log = logging.getLogger("semcodec")

MAX_FILE_BYTES = 64 * 1024 * 1024  # a subtitle file larger than this is not a subtitle file
BITMAP_CODECS = {"hdmv_pgs_subtitle", "pgssub", "dvd_subtitle", "dvdsub", "dvb_subtitle", "dvbsub",
                 "xsub", "hdmv_text_subtitle", "arib_caption", "dvb_teletext"}
MEDIA_EXT = {".mkv", ".mka", ".mks", ".mp4", ".m4v", ".mov", ".webm", ".ts", ".m2ts", ".avi", ".ogg", ".ogv",
             ".ass", ".ssa", ".sub", ".smi", ".sami", ".ttml", ".dfxp", ".lrc"}
SIDECAR_EXT = (".srt", ".vtt")
MAX_WARNINGS = 8


@dataclass
class TextSource:
    """Where the cues came from, and what went wrong on the way (for the report)."""

    kind: str  # srt | vtt | transcript | embedded | none
    path: str | None = None
    cues: list = field(default_factory=list)
    encoding: str | None = None
    stream: int | None = None  # index of the subtitle stream, for embedded tracks
    codec: str | None = None
    warnings: list = field(default_factory=list)
    skipped: int = 0  # blocks or lines that could not be read

    def warn(self, msg: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(msg)
        elif len(self.warnings) == MAX_WARNINGS:
            self.warnings.append("further problems not listed")

    def to_json(self) -> dict:
        d = {"kind": self.kind, "path": self.path, "cues": len(self.cues)}
        for key in ("encoding", "stream", "codec"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        if self.skipped:
            d["skipped"] = self.skipped
        if self.warnings:
            d["warnings"] = list(self.warnings)
        return d


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _snippet(s: str, n: int = 50) -> str:
    s = " ".join(s.split())
    return repr(s if len(s) <= n else s[:n] + "...")


def _add(src: TextSource, start: float, end: float, raw: str, line: int | None, what: str) -> None:
    """Append a cue after the checks every format shares."""
    if not (start == start and end == end) or start < 0 or end <= start:  # NaN, negative, empty span
        src.skipped += 1
        src.warn(f"{what}: end {end:.3f} s is not after start {start:.3f} s: skipped")
        return
    text, speaker = clean_text(raw)
    if not text:
        return  # an empty cue says nothing
    src.cues.append(Cue(start, end, text, raw, line=line, source=src.kind, speaker=speaker))


def _read_bytes(path: str) -> bytes:
    if not os.path.exists(path):
        raise SemcodecError(f"subtitle file not found: {path}")
    if os.path.isdir(path):
        raise SemcodecError(f"subtitle path is a folder: {path}")
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise SemcodecError(f"{path}: {size / 2**20:.0f} MiB is too large for a subtitle file "
                            f"(limit {MAX_FILE_BYTES // 2**20} MiB)")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise SemcodecError(f"cannot read {path}: {exc.strerror}") from None


# ---- SRT ----------------------------------------------------------------------------------------

def parse_srt(text: str, name: str = "<srt>") -> TextSource:
    """Cues of an SRT document. Unreadable stretches are skipped (warning with the line); if nothing
    at all can be read the error names the first bad line."""
    import srt

    src = TextSource("srt", name)
    pos, first_bad = 0, None
    while True:
        try:
            for sub in srt.parse(text[pos:]):
                start, end = sub.start.total_seconds(), sub.end.total_seconds()
                _add(src, start, end, sub.content, None, f"{name}: cue {sub.index}")
            break
        except srt.SRTParseError as exc:
            bad_line = _line_of(text, pos + exc.expected_start)
            first_bad = first_bad or (bad_line, exc.unmatched_content)
            src.skipped += 1
            src.warn(f"{name} line {bad_line}: not an SRT cue, skipped: {_snippet(exc.unmatched_content)}")
            # cues matched before the bad stretch were yielded already; go on after it
            pos += exc.actual_start
        except (srt.TimestampParseError, ValueError, OverflowError) as exc:
            # a timestamp the pattern matched but that is out of range (hours beyond timedelta's range)
            raise SemcodecError(f"{name}: bad SRT timestamp near line {_line_of(text, pos)}: {exc}") from None
    if not src.cues and first_bad and first_bad[1].strip():
        raise SemcodecError(f"{name} line {first_bad[0]}: not an SRT cue: {_snippet(first_bad[1])} "
                            "(expected an index line, then 'HH:MM:SS,mmm --> HH:MM:SS,mmm', then the text)")
    finish(src.cues)
    return src


# ---- WebVTT -------------------------------------------------------------------------------------

def parse_vtt(text: str, name: str = "<vtt>") -> TextSource:
    """Cues of a WebVTT document (header, NOTE/STYLE/REGION blocks, cue settings, inline tags).
    Cue blocks whose timing line is malformed are skipped with a warning naming the line."""
    import webvtt
    from webvtt.errors import MalformedCaptionError, MalformedFileError
    from webvtt.models import Timestamp
    from webvtt.vtt import WebVTTCueBlock

    src = TextSource("vtt", name)
    lines = text.split("\n")
    if not lines[0].startswith("WEBVTT"):
        raise SemcodecError(f"{name} line 1: a WebVTT file starts with 'WEBVTT', found {_snippet(lines[0])}")
    # Where each timing line is, and whether webvtt-py will accept it (same pattern, same timestamp
    # rules), so cues and warnings get line numbers: webvtt-py drops malformed blocks silently.
    timing_lines = []
    for no, line in enumerate(lines, start=1):
        if "-->" not in line:
            continue
        m = WebVTTCueBlock.CUE_TIMINGS_PATTERN.match(line)
        try:
            if not m:
                raise MalformedCaptionError("no timing")
            Timestamp.from_string(m.group(1)), Timestamp.from_string(m.group(2))
            timing_lines.append(no)
        except MalformedCaptionError:
            src.skipped += 1
            src.warn(f"{name} line {no}: malformed WebVTT cue timing (expected 'HH:MM:SS.mmm --> HH:MM:SS.mmm'), "
                     f"cue skipped: {_snippet(line)}")
    try:
        captions = list(webvtt.from_string(text).captions)
    except (MalformedFileError, MalformedCaptionError, ValueError) as exc:
        raise SemcodecError(f"{name}: not a readable WebVTT file: {exc}") from None
    exact = len(captions) == len(timing_lines)
    for i, cap in enumerate(captions):
        line = timing_lines[i] if exact else None
        start, end = cap.start_time.in_milliseconds() / 1000, cap.end_time.in_milliseconds() / 1000
        _add(src, start, end, cap.raw_text, line, f"{name} line {line}" if line else f"{name}: cue {i + 1}")
    if not captions and src.skipped:
        raise SemcodecError(src.warnings[0].replace(", cue skipped", ""))
    finish(src.cues)
    return src


# ---- transcript ---------------------------------------------------------------------------------

_TS = r"(?:\d{1,3}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
_TRANSCRIPT = re.compile(
    rf"^\s*[\[(<]?\s*(?P<start>{_TS})\s*(?:(?:-->|-|–|—|to)\s*(?P<end>{_TS})\s*)?[\])>]?\s*[-:–—|]?\s*(?P<text>.*)$")
_SPEAKER = re.compile(r"^\s*([A-Z][\w .'\-]{0,30}|\[[^\]]{1,30}\]):\s+(.*)$", re.S)
_LOOKS_TIMED = re.compile(r"^\s*[\[(<]?\s*\d{1,3}[:.]\d")
WORDS_PER_SECOND = 2.5  # a spoken line is shown about as long as it takes to say
MAX_CUE_S = 8.0


def _seconds(ts: str) -> float:
    parts = ts.replace(",", ".").split(":")
    h = int(parts[0]) if len(parts) == 3 else 0
    m, s = int(parts[-2]), float(parts[-1])
    if m > 59 and len(parts) == 3 or s >= 60:
        raise ValueError(f"{ts}: minutes and seconds go up to 59")
    return h * 3600 + m * 60 + s


def parse_transcript(text: str, name: str = "<transcript>") -> TextSource:
    src = TextSource("transcript", name)
    rows: list = []  # [start, end or None, text, line]
    first_bad = None
    for no, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        m = _TRANSCRIPT.match(line)
        if m and m.group("text") is not None:
            try:
                start = _seconds(m.group("start"))
                end = _seconds(m.group("end")) if m.group("end") else None
            except ValueError as exc:
                src.skipped += 1
                first_bad = first_bad or (no, line)
                src.warn(f"{name} line {no}: bad timestamp, line skipped: {exc}")
                continue
            body, speaker = m.group("text"), None
            sm = _SPEAKER.match(body)
            if sm:
                speaker, body = sm.group(1).strip(), sm.group(2)
            rows.append([start, end, body, no, speaker])
        elif _LOOKS_TIMED.match(line):
            src.skipped += 1
            first_bad = first_bad or (no, line)
            src.warn(f"{name} line {no}: unreadable timestamp, line skipped: {_snippet(line)}")
        elif rows:
            rows[-1][2] += "\n" + line  # continuation of the previous utterance
        else:
            src.skipped += 1
            first_bad = first_bad or (no, line)
            src.warn(f"{name} line {no}: text before the first timestamp, skipped: {_snippet(line)}")
    if not rows:
        where = f" line {first_bad[0]}: {_snippet(first_bad[1])}" if first_bad else ": empty"
        raise SemcodecError(f"{name}{where}: not a timestamped transcript (expected lines such as "
                            "'[00:01:02.5] text' or '00:01 text')")
    rows.sort(key=lambda r: r[0])
    for i, (start, end, body, no, speaker) in enumerate(rows):
        words = max(1, len(body.split()))
        natural = min(MAX_CUE_S, max(1.0, words / WORDS_PER_SECOND))
        if end is None:
            nxt = rows[i + 1][0] if i + 1 < len(rows) else None
            end = start + natural if nxt is None or nxt <= start else min(nxt, start + natural)
        _add(src, start, end, body, no, f"{name} line {no}")
        if speaker and src.cues and src.cues[-1].line == no:
            src.cues[-1].speaker = speaker
    finish(src.cues)
    return src


# ---- embedded tracks ----------------------------------------------------------------------------

def subtitle_streams(path: str) -> list[dict]:
    """[{index, codec, language, title, text}] of the subtitle streams of a media file."""
    import av

    try:
        with av.open(path) as c:
            out = []
            for s in c.streams.subtitles:
                name = s.codec_context.name if s.codec_context else "unknown"
                out.append({"index": s.index, "codec": name, "language": s.metadata.get("language"),
                            "title": s.metadata.get("title"), "text": name not in BITMAP_CODECS})
            return out
    except av.error.FFmpegError as exc:
        raise SemcodecError(f"cannot open {path}: {exc.strerror or exc}") from None


def read_embedded(path: str, stream: int | None = None) -> TextSource:
    """Cues of a text subtitle stream of a media file (`stream`: its index; default the first text one).
    A bitmap track (PGS/DVD/DVB) cannot be read as text: SemcodecError saying so."""
    import av

    streams = subtitle_streams(path)
    if not streams:
        raise SemcodecError(f"{path}: no subtitle stream")
    if stream is None:
        texts = [s for s in streams if s["text"]]
        if not texts:
            kinds = ", ".join(f"#{s['index']} {s['codec']}" for s in streams)
            raise SemcodecError(f"{path}: its subtitle stream(s) ({kinds}) are bitmap pictures of text, which "
                                "cannot be read as text (OCR is not part of semcodec); give an .srt or .vtt file")
        chosen = texts[0]
    else:
        chosen = next((s for s in streams if s["index"] == stream), None)
        if chosen is None:
            raise SemcodecError(f"{path}: no subtitle stream #{stream} (have "
                                f"{', '.join(str(s['index']) for s in streams)})")
        if not chosen["text"]:
            raise SemcodecError(f"{path}: subtitle stream #{stream} is {chosen['codec']}, a bitmap track: "
                                "it holds pictures of text, which cannot be read as text")
    src = TextSource("embedded", path, stream=chosen["index"], codec=chosen["codec"])
    src.kind = "embedded"
    pending: list = []  # cues with no duration: they end where the next one starts
    try:
        with av.open(path) as c:
            st = c.streams[chosen["index"]]
            tb = st.time_base
            for packet in c.demux(st):
                if packet.pts is None or not packet.size:
                    continue
                start = float(packet.pts * tb)
                dur = float(packet.duration * tb) if packet.duration else 0.0
                try:
                    subs = packet.decode()
                except av.error.FFmpegError as exc:
                    src.skipped += 1
                    src.warn(f"{path} stream #{chosen['index']} at {start:.3f} s: undecodable packet skipped ({exc})")
                    continue
                for sub in subs:
                    raw = _sub_text(sub)
                    if raw is None:
                        continue
                    if dur <= 0:
                        pending.append((start, raw))
                    else:
                        _add(src, start, start + dur, raw, None, f"{path} stream #{chosen['index']} at {start:.3f} s")
    except av.error.FFmpegError as exc:
        raise SemcodecError(f"cannot read subtitles from {path}: {exc.strerror or exc}") from None
    for i, (start, raw) in enumerate(pending):
        nxt = pending[i + 1][0] if i + 1 < len(pending) else start + 3.0
        _add(src, start, max(nxt, start + 0.5) if nxt > start else start + 3.0, raw, None, f"{path} at {start:.3f} s")
    for cue in src.cues:
        cue.source = f"embedded:{chosen['codec']}"
    finish(src.cues)
    return src


def _sub_text(sub) -> str | None:
    """The text of one decoded subtitle (PyAV gives ASS dialogue for every text codec)."""
    for attr in ("dialogue", "text", "ass"):
        value = getattr(sub, attr, None)
        if value:
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            if attr == "ass":  # 'ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text'
                value = value.split(",", 8)[-1]
            return value
    return None


# ---- entry points -------------------------------------------------------------------------------

def sniff(text: str) -> str:
    """'vtt', 'srt' or 'transcript' from the content."""
    head = text.lstrip()[:2048]
    if head.startswith("WEBVTT"):
        return "vtt"
    if re.search(r"\d+:\d{2}:\d{2}[,.:]\d+\s*-[ -]\s*>", head) or \
            re.search(r"^\s*\d+\s*\n\s*\d+:\d{2}:\d{2}", head, re.M):
        return "srt"
    return "transcript"


def read_text_file(path: str) -> TextSource:
    """Cues of a subtitle or transcript file: .srt, .vtt, or a timestamped transcript (.txt and
    anything else that is text); the content decides when the extension does not."""
    data = _read_bytes(path)
    text, encoding = decode_text(data, path)
    ext = os.path.splitext(path)[1].lower()
    kind = {".srt": "srt", ".vtt": "vtt", ".webvtt": "vtt"}.get(ext) or sniff(text)
    if kind == "srt" and text.lstrip().startswith("WEBVTT"):
        kind = "vtt"  # a WebVTT file named .srt: read what it is
    if not text.strip():
        raise SemcodecError(f"{path}: empty subtitle file")
    reader = {"srt": parse_srt, "vtt": parse_vtt, "transcript": parse_transcript}[kind]
    src = reader(text, path)
    src.encoding = encoding
    if encoding not in ("utf-8", "utf-8-sig"):
        src.warn(f"{path}: not UTF-8, read as {encoding}")
    return src


def read_source(path: str) -> TextSource:
    """Any supported timed-text input: a text file, or a media file's first text subtitle track
    (`FILE#N` picks stream N)."""
    stream = None
    m = re.match(r"^(.*)#(\d+)$", path)
    if m and not os.path.exists(path):
        path, stream = m.group(1), int(m.group(2))
    ext = os.path.splitext(path)[1].lower()
    if stream is not None or ext in MEDIA_EXT:
        if not os.path.exists(path):
            raise SemcodecError(f"subtitle file not found: {path}")
        return read_embedded(path, stream)
    return read_text_file(path)


def sidecars(video: str) -> list[str]:
    """Subtitle files beside `video` with its stem: clip.srt, clip.vtt, then clip.<lang>.srt/.vtt."""
    stem = os.path.splitext(video)[0]
    exact = [stem + ext for ext in SIDECAR_EXT if os.path.isfile(stem + ext)]
    tagged = sorted(p for ext in SIDECAR_EXT for p in glob.glob(glob.escape(stem) + ".*" + ext)
                    if p not in exact and os.path.isfile(p))
    return exact + tagged


def resolve(spec: str | None, video: str, warn=None) -> TextSource | None:
    """Cues for `--subtitles SPEC` of `video`. 'auto': a sidecar .srt/.vtt with the video's stem, else
    the video's first text subtitle stream, else None (with a warning saying why, e.g. a bitmap
    track). A path: that file (or FILE#N, stream N of a media file)."""
    warn = warn or log.warning
    if not spec:
        return None
    if spec.strip().lower() != "auto":
        return read_source(spec)
    for path in sidecars(video):
        return read_text_file(path)
    try:
        streams = subtitle_streams(video)
    except SemcodecError:
        streams = []
    if any(s["text"] for s in streams):
        return read_embedded(video)
    if streams:
        kinds = ", ".join(f"#{s['index']} {s['codec']}" for s in streams)
        warn(f"--subtitles auto: no .srt/.vtt beside {os.path.basename(video)}, and its subtitle stream(s) "
             f"({kinds}) are bitmap pictures of text, which cannot be read as text: no subtitle guidance")
    else:
        warn(f"--subtitles auto: no .srt/.vtt beside {os.path.basename(video)} and no subtitle stream in it: "
             "no subtitle guidance")
    return None

"""Timed text: the Cue record, text decoding (BOMs, legacy encodings) and markup cleaning.

A cue is a span of the video's timeline with the words shown or spoken in it. Every reader in
`semcodec.text.sources` produces cues sorted by start time, with cleaned text (styling tags, ASS
override blocks, HTML entities and speaker tags removed) and the raw text kept for the report.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from semcodec.errors import SemcodecError

# Encodings tried in order for a file without a BOM: UTF-8 first (a legacy file almost never decodes
# as valid UTF-8 by accident), then Windows-1252 (what most legacy Western subtitle files are), then
# Latin-1, which decodes any byte string.
ENCODINGS = ("utf-8", "cp1252", "latin-1")
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


@dataclass
class Cue:
    start: float  # seconds on the video's timeline
    end: float
    text: str  # cleaned: what a reader sees, one line
    raw: str = ""  # as in the file
    index: int = 0  # position after sorting (0-based)
    line: int | None = None  # 1-based line of the cue's timing in its file, when known
    source: str = ""  # srt | vtt | transcript | embedded:<codec> | prompt
    speaker: str | None = None
    emotion: dict = field(default_factory=dict)  # filled by semcodec.text.emotion

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_json(self) -> dict:
        d = {"index": self.index, "start": round(self.start, 3), "end": round(self.end, 3), "text": self.text}
        if self.line is not None:
            d["line"] = self.line
        if self.speaker:
            d["speaker"] = self.speaker
        if self.emotion:
            d["emotion"] = self.emotion
        return d


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """(text, encoding): BOM first (UTF-8/16/32), then UTF-8, cp1252, Latin-1. Newlines normalised to
    '\\n'. A file with NUL bytes and no UTF-16/32 BOM is binary, not text: SemcodecError."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(enc)
            except UnicodeDecodeError as exc:
                raise SemcodecError(f"{name}: starts with a {enc} byte-order mark but is not valid {enc} "
                                    f"(byte {exc.start})") from None
            return _normalise(text), enc
    if b"\x00" in data[:4096]:
        # UTF-16 without a BOM: every other byte of ASCII text is NUL
        for enc in ("utf-16-le", "utf-16-be"):
            half = data[:4096][1::2] if enc == "utf-16-le" else data[:4096][0::2]
            if len(data) % 2 == 0 and half and half.count(0) > 0.9 * len(half):
                try:
                    return _normalise(data.decode(enc)), enc
                except UnicodeDecodeError:
                    pass
        raise SemcodecError(f"{name}: binary data (NUL bytes), not a text subtitle file")
    for enc in ENCODINGS:
        try:
            return _normalise(data.decode(enc)), enc
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes anything")  # pragma: no cover


def _normalise(text: str) -> str:
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


_ASS_BLOCK = re.compile(r"\{[^{}]*\}")  # {\an8}, {\i1}, {\pos(1,2)}
_TAG = re.compile(r"</?[A-Za-z][^<>]*>|</?[biu]>|<\d{1,2}:\d{2}[:.\d]*>")  # <i>, <font ...>, <c.yellow>, <00:01.000>
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]*)>")  # WebVTT <v Speaker>
_SPACES = re.compile(r"\s+")
_DRAWING = re.compile(r"\{[^}]*\\p[1-9][^}]*\}.*?(\{[^}]*\\p0[^}]*\}|$)")  # ASS vector drawings


def clean_text(raw: str) -> tuple[str, str | None]:
    """(plain text on one line, speaker or None) from cue text with SRT/WebVTT/ASS markup."""
    speaker = None
    m = _VOICE.search(raw)
    if m:
        speaker = m.group(1).strip() or None
    t = _DRAWING.sub(" ", raw)
    t = t.replace("\\N", "\n").replace("\\n", "\n").replace("\\h", " ")
    t = _ASS_BLOCK.sub("", t)
    t = _TAG.sub("", t)
    t = html.unescape(t)
    # dialogue dashes at line starts ("- Hi.\n- Hello.") are punctuation, not words
    t = "\n".join(re.sub(r"^\s*[-\u2010-\u2015]\s*", "", line) for line in t.split("\n"))
    t = _SPACES.sub(" ", t).strip()
    return t, speaker


def finish(cues: list[Cue]) -> list[Cue]:
    """Sort by start (stable: file order breaks ties) and number them."""
    cues.sort(key=lambda c: (c.start, c.end))
    for i, c in enumerate(cues):
        c.index = i
    return cues


def prompt_cue(prompt: str) -> Cue:
    text, _ = clean_text(prompt)
    return Cue(0.0, float("inf"), text, prompt, source="prompt")

"""Shot lists in the formats other tools read.

- `scene_csv`: PySceneDetect's scene list (`scenedetect list-scenes`): a "Timecode List:" row of the cuts,
  then one row per scene with 1-based scene numbers, 1-based start frames, HH:MM:SS.nnn timecodes and
  seconds. Written by PySceneDetect's own `write_scene_list`, so the layout is theirs to the byte, and
  PySceneDetect's `load-scenes` reads it back.
- `edl`: CMX 3600 EDL, one cut event per shot, by PySceneDetect's `write_scene_list_edl` (what its
  `save-edl` writes).
- `chapters`: FFmpeg's metadata file (FFMETADATA1, one [CHAPTER] per shot, TIMEBASE=1/1000), for
  `ffmpeg -i video -i chapters.txt -map_metadata 1 -codec copy out.mkv`.
- `qpfile`: x264's `--qpfile` (`FRAME K` per shot start: a keyframe, an IDR in x264's default closed-GOP
  mode), also `-x264-params qpfile=...` in FFmpeg and PyAV.
- `keyframe_times`: the shot starts in seconds, one a line, for `ffmpeg -force_key_frames` (comma-joined)
  or any encoder that takes keyframe times.

The CSV and EDL count frames at the video's frame rate, as PySceneDetect does; chapters and keyframe times
use the shots' own times (seconds from the first frame), exact for variable frame rates too.
"""
from __future__ import annotations

import contextlib
import io
import logging
import math
from fractions import Fraction
from typing import Literal

from semcodec.shots.detector import Shot

Format = Literal["csv", "edl", "chapters", "qpfile", "keyframe_times"]
FORMATS: tuple[Format, ...] = ("csv", "edl", "chapters", "qpfile", "keyframe_times")


def shots_from_tags(tags: dict) -> list[Shot]:
    """The shots of a `semcodec tag` result (schema semcodec.tags/1) as Shot objects."""
    return [Shot(s["index"], s["start_frame"], s["end_frame"], s["start_time"], s["end_time"], s["transition"],
                 tuple(s["transition_frames"]) if s.get("transition_frames") else None) for s in tags["shots"]]


@contextlib.contextmanager
def _quiet_pyscenedetect():
    """PySceneDetect's writers log each write at INFO ('Writing scenes in CSV format to <file-like object>'):
    semcodec writes the file itself and says so; keep theirs out of the user's console."""
    log = logging.getLogger("pyscenedetect")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)


def _scene_list(shots: list[Shot], rate: Fraction):
    from scenedetect import FrameTimecode

    return [(FrameTimecode(s.start_frame, fps=rate), FrameTimecode(s.end_frame, fps=rate)) for s in shots]


def scene_csv(shots: list[Shot], rate: Fraction) -> str:
    """PySceneDetect's scene-list CSV (see the module's docstring)."""
    from scenedetect.output import write_scene_list

    scenes = _scene_list(shots, rate)
    buf = io.StringIO(newline="")
    with _quiet_pyscenedetect():
        write_scene_list(buf, scenes, include_cut_list=True, cut_list=[start for start, _ in scenes[1:]])
    return buf.getvalue()


def edl(shots: list[Shot], rate: Fraction, title: str = "semcodec") -> str:
    """CMX 3600 EDL, as PySceneDetect's save-edl writes it (reel AX, non-drop frame)."""
    from scenedetect.output import write_scene_list_edl

    buf = io.StringIO(newline="")
    with _quiet_pyscenedetect():
        write_scene_list_edl(buf, _scene_list(shots, rate), title=title.upper())
    return buf.getvalue()


def _escape(value: str) -> str:
    """FFMETADATA: '=', ';', '#', '\\' and newlines are escaped with a backslash."""
    for ch in ("\\", "=", ";", "#", "\n"):
        value = value.replace(ch, "\\" + ch)
    return value


def chapters(shots: list[Shot], titles: list[str] | None = None) -> str:
    """FFmpeg's FFMETADATA1 with one chapter per shot, in milliseconds from the first frame."""
    lines = [";FFMETADATA1"]
    for i, s in enumerate(shots):
        title = titles[i] if titles else f"Shot {s.index}"
        start, end = int(round(s.start_time * 1000)), int(round(s.end_time * 1000))
        lines += ["", "[CHAPTER]", "TIMEBASE=1/1000", f"START={start}", f"END={max(end, start + 1)}",
                  f"title={_escape(title)}"]
    return "\n".join(lines) + "\n"


def qpfile(shots: list[Shot], frame_type: Literal["I", "K"] = "K") -> str:
    """x264 qpfile: `FRAME TYPE` per shot start ('K' keyframe, or 'I' an IDR whatever the GOP mode); the QP is
    left to the encoder's rate control."""
    return "".join(f"{s.start_frame} {frame_type}\n" for s in shots)


def keyframe_times(shots: list[Shot]) -> str:
    """Shot starts in seconds, one a line, rounded down to the microsecond (an encoder that takes the first
    frame at or after a time must not skip to the frame after the cut)."""
    return "".join(f"{math.floor(s.start_time * 1e6 + 1e-3) / 1e6:.6f}\n" for s in shots)


def render(fmt: Format, shots: list[Shot], rate: Fraction, titles: list[str] | None = None) -> str:
    """One format's text."""
    if fmt == "csv":
        return scene_csv(shots, rate)
    if fmt == "edl":
        return edl(shots, rate)
    if fmt == "chapters":
        return chapters(shots, titles)
    if fmt == "qpfile":
        return qpfile(shots)
    if fmt == "keyframe_times":
        return keyframe_times(shots)
    raise ValueError(f"unknown shot list format {fmt!r} (choose from {', '.join(FORMATS)})")

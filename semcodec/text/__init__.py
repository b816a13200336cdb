"""Text guidance: subtitles, transcripts and prompts steer the bits.

- `sources`: SRT / WebVTT / timestamped transcripts / text subtitle tracks in MKV/MP4 -> `Cue`s
- `emotion`: per cue intensity, valence and category (VADER + MiniLM prototypes, or a local classifier)
- `attention`: scaled dot-product cross-attention from phrases to the analyzers' labelled regions
- `curve`: emotion curve -> smoothed, shot-aligned, rate-balanced per-frame QP offsets
- `guide`: the per-encode object the pipeline calls per frame; `analyze`: the `semcodec analyze` report
"""
from semcodec.text.cues import Cue
from semcodec.text.sources import TextSource, read_source, resolve

__all__ = ["Cue", "TextSource", "read_source", "resolve"]

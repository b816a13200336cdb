"""What a user asks of one encode (EncodeSettings), apart from which frames (ChunkRange) and how it runs
(Execution). Only EncodeSettings decides the output; the other two never change what a frame looks like."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Literal

from semcodec.analysis.fusion import RoiMode
from semcodec.encoding.codecs import (
    DEFAULT_CODEC,
    RateControl,
    caps_for,
    check_bitrate,
    check_crf,
    check_preset,
    two_pass_refusal,
)
from semcodec.errors import SemcodecError, UsageError
from semcodec.progress import Progress

CrfRate = Literal["neutral", "model", "extra"]
DEFAULT_CRF = {"libx264": 23, "libx265": 28, "libvpx-vp9": 34, "libsvtav1": 35}


@dataclass
class EncodeSettings:
    """User intent: codec, rate, the semantic map and its inputs."""

    codec: str = DEFAULT_CODEC
    crf: float | None = None
    bitrate: int | None = None  # bits per second
    two_pass: bool = False
    preset: str | None = None
    roi: str = "auto"  # auto | off | comma list of analyzers (parsed once, by RoiMode)
    roi_strength: float = 0.2  # FFmpeg qoffset units: 0.2 = 10.2 QP between most and least important
    # scale the strength down where the map's importance covers more than an eighth of the frame (a face
    # filling a QCIF frame); False: --roi-strength exactly as given
    adapt_strength: bool = True
    save_maps: str | None = None
    yolo_weights: str | None = None
    shots: str = "auto"  # auto: keyframe (IDR) at every detected cut; off: leave keyframes to the encoder
    keyframes_from: str | None = None  # a `semcodec tag` JSON, or 'auto' to tag first: shot-aware plan
    subtitles: str | None = None  # .srt/.vtt/transcript file, FILE#N (a media file's stream N), or 'auto'
    prompt: str | None = None  # text for the whole video: its regions get the bits ("the faces")
    emotion_strength: float = 4.0  # QP between the calmest and the most intense moment of the subtitles
    emotion_model: str | None = None  # local transformers emotion classifier folder (default VADER + MiniLM)
    # CRF with a map: 'neutral' lands at --roi off's size, fitted with probe encodes (the rest of the frame
    # pays); 'model' balances with the allocator's rate model only (no probes: faster, less exact); 'extra'
    # only adds bits to the favoured regions (nothing pays: the file grows)
    crf_rate: CrfRate = "neutral"

    @property
    def roi_mode(self) -> RoiMode:
        return RoiMode.parse(self.roi)

    def validate(self) -> None:
        """Check every value against the codec's real range before any work starts (UsageError naming the
        option), and that explicitly given model paths exist: a path the user named is never skipped
        silently, whatever --roi says (SemcodecError)."""
        caps_for(self.codec)
        mode = self.roi_mode  # an unknown analyzer name is refused before any file is looked at
        if self.crf is not None:
            check_crf(self.codec, self.crf)
        if self.bitrate is not None:
            check_bitrate(self.bitrate)
        check_preset(self.codec, self.preset)
        for name, value, hi in (("--roi-strength", self.roi_strength, 1),
                                ("--emotion-strength", self.emotion_strength, 24)):
            if not (math.isfinite(value) and 0 <= value <= hi):
                raise UsageError(f"{name} {value:g} is out of range (0-{hi})")
        if self.crf_rate not in ("neutral", "model", "extra"):
            raise UsageError(f"--crf-rate must be neutral, model or extra, not {self.crf_rate!r}")
        if self.shots not in ("auto", "off"):
            raise UsageError(f"--shots must be auto or off, not {self.shots!r}")
        if self.yolo_weights and not os.path.isfile(self.yolo_weights):
            raise SemcodecError(f"--yolo-weights {self.yolo_weights}: no such file")
        if self.emotion_model and not os.path.isdir(self.emotion_model):
            raise SemcodecError(f"--emotion-model {self.emotion_model}: not a folder (give a local transformers "
                                "model folder)")
        if mode.off and self.keyframes_from:
            raise SemcodecError("--keyframes-from needs the semantic mode (drop --roi off)")
        if mode.off and (self.subtitles or self.prompt is not None):
            raise SemcodecError("--subtitles and --prompt need the semantic mode (drop --roi off)")

    def rate_control(self) -> RateControl:
        self.validate()
        if self.crf is not None and self.bitrate:
            raise SemcodecError("give either --crf or --bitrate, not both")
        if self.two_pass and not self.bitrate:
            raise UsageError("--two-pass needs --bitrate")
        if self.two_pass and not caps_for(self.codec).two_pass:
            raise UsageError(two_pass_refusal(self.codec))
        crf = self.crf if self.crf is not None or self.bitrate else DEFAULT_CRF.get(self.codec, 23)
        return RateControl(crf=crf, bitrate=self.bitrate, two_pass=self.two_pass)


@dataclass(frozen=True)
class ChunkRange:
    """Input frames [start_frame, end_frame) of a parallel encode (semcodec.parallel); the default is all."""

    start_frame: int = 0
    end_frame: int | None = None
    seek_pts: int | None = None  # pts of start_frame (input video time base): seek there, not decode from 0
    # frames past end_frame that are encoded and then dropped: the encoder's lookahead and rate control see
    # the video go on, so the chunk's last frames are not starved as at the end of a stream (the frame before
    # them is forced to P, so no kept frame references a dropped one). x264/x265 only
    tail: int = 0
    # x264/x265 chunks: the quantiser scale, over the P-frames', that the chunk's opening IDR gets in pass 2, in
    # the budget pass its two-pass share is measured from, and in an x264 CRF encode (an encoder zone on that
    # frame where the encoder would code it otherwise: loop._opening_zone). At a cut, one piece's I-frame:
    # 1/ipratio; inside a shot, where one piece codes an inter frame, 1.0. None: the encoder's own choice
    opening_scale: float | None = None
    # two-pass x264 chunks: pass 2 reads statistics from a pass at this CRF run just before it (Job._final_stats)
    stats_crf: float | None = None

    @property
    def ranged(self) -> bool:
        return bool(self.start_frame) or self.end_frame is not None

    @property
    def kept(self) -> int | None:
        """Frames of the chunk that reach the output (None: all)."""
        return None if self.end_frame is None else self.end_frame - self.start_frame

    @property
    def seeks(self) -> bool:
        return self.seek_pts is not None and self.start_frame > 0

    def before_start(self, pts: int | None, skipped: int) -> bool:
        """Whether a decoded frame lies before the range: by pts after a seek, else by count (`skipped`: how
        many frames were dropped before it)."""
        if self.seeks:
            return pts is not None and pts < self.seek_pts
        return skipped < self.start_frame

    def done(self, decoded: int) -> bool:
        """True once `decoded` frames of this range are in."""
        return self.end_frame is not None and self.start_frame + decoded >= self.end_frame + self.tail


@dataclass(frozen=True)
class Execution:
    """How the encode runs, not what it makes."""

    threads: int | None = None  # fixed encoder thread count: bytes that do not depend on the machine
    audio: bool = True  # copy the input's audio (chunks carry none: it is joined once)
    progress: Progress | None = None  # the front end's bars; None: silent
    log_warnings: bool = True  # False for internal probe encodes: their warnings repeat the main encode's

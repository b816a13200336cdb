"""What one benchmark point is: a mode (how semcodec encodes) and a rate point (CRF or bitrate)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from semcodec.analysis.fusion import ANALYZERS
from semcodec.errors import UsageError
from semcodec.pipeline import EncodeSettings
from semcodec.units import parse_bitrate

DEFAULT_STRENGTH = EncodeSettings.roi_strength


@dataclass(frozen=True)
class Mode:
    """`NAME[@STRENGTH][:PRESET]`: NAME is `baseline` (--roi off), `roi` (--roi auto) or analyzers
    joined by '+' (faces+text); STRENGTH overrides --roi-strength, PRESET the run's --preset (so one
    run can compare presets, e.g. `baseline:ultrafast`)."""

    name: str
    roi: str  # what EncodeSettings.roi gets: off | auto | comma list
    strength: float
    preset: str | None

    def to_json(self) -> dict:
        return {"name": self.name, "roi": self.roi, "roi_strength": 0.0 if self.roi == "off" else self.strength,
                "preset": self.preset}


def parse_mode(text: str) -> Mode:
    name = text.strip()
    body, _, preset = name.partition(":")
    base, at, strength_text = body.partition("@")
    base = base.strip().lower()
    if base == "baseline":
        if at:
            raise UsageError(f"mode {name!r}: baseline has no ROI strength")
        roi = "off"
    elif base == "roi":
        roi = "auto"
    else:
        analyzers = [a for a in base.split("+") if a]
        unknown = [a for a in analyzers if a not in ANALYZERS]
        if not analyzers or unknown:
            raise UsageError(f"unknown mode {name!r}: use baseline, roi, roi@S or analyzers joined by '+' "
                                f"({', '.join(ANALYZERS)}), optionally with :PRESET")
        roi = ",".join(analyzers)
    strength = DEFAULT_STRENGTH
    if at:
        try:
            strength = float(strength_text)
        except ValueError:
            raise UsageError(f"mode {name!r}: ROI strength {strength_text!r} is not a number") from None
        if not 0 <= strength <= 1:
            raise UsageError(f"mode {name!r}: ROI strength must be in [0, 1]")
    if ":" in name and not preset.strip():
        raise UsageError(f"mode {name!r}: empty preset after ':'")
    return Mode(name=name, roi=roi, strength=strength, preset=preset.strip() or None)


def parse_modes(text: str) -> list[Mode]:
    modes = [parse_mode(t) for t in text.split(",") if t.strip()]
    if not modes:
        raise UsageError("--modes is empty")
    names = [m.name for m in modes]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"mode listed twice: {', '.join(dupes)}")
    return modes


@dataclass(frozen=True)
class RatePoint:
    """One rate point: a CRF value or a target bitrate in bits per second."""

    kind: str  # "crf" | "bitrate"
    value: float

    @property
    def label(self) -> str:  # stable key in results.json
        return f"crf{self.value:g}" if self.kind == "crf" else f"{int(self.value)}bps"

    def settings(self) -> dict:
        return {"crf": self.value} if self.kind == "crf" else {"bitrate": int(self.value)}

    def to_json(self) -> dict:
        return {"kind": self.kind, "value": self.value, "label": self.label}


def parse_points(kind: str, text: str) -> list[RatePoint]:
    """Comma list of CRF values or bitrates -> sorted, distinct rate points."""
    values = []
    for t in (s for s in text.split(",") if s.strip()):
        if kind == "bitrate":
            values.append(float(parse_bitrate(t, option="--bitrate")))
            continue
        try:
            values.append(float(t))
        except ValueError:
            raise UsageError(f"not a CRF value: {t!r}") from None
        if not math.isfinite(values[-1]):
            raise UsageError(f"--crf {t.strip()} is not a finite number")
    if not values:
        raise UsageError(f"no {kind} values given")
    if len(set(values)) != len(values):
        raise UsageError(f"a {kind} value is listed twice: {text}")
    return [RatePoint(kind, v) for v in sorted(values)]

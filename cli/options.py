"""argparse `type=` factories for option values that are wrong on their own (nan, inf, 0 workers, '1' as a
bitrate). argparse names the option in its error and exits 2, before any work starts. Checks that depend on
the codec (CRF range, preset names) live in the library (semcodec.encoding.codecs), so library users get
them too."""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from semcodec import units
from semcodec.errors import UsageError


def _range_text(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    return f"{'<' if hi_open else '<='} {hi:g}"


def finite_float(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
                 hi_open: bool = False) -> Callable[[str], float]:
    """A float that is finite (float() takes 'nan' and 'inf', which pass every comparison check or none)
    and optionally within [lo, hi]; lo_open/hi_open exclude the bound itself."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, not {text!r}")
        too_low = lo is not None and (value <= lo if lo_open else value < lo)
        too_high = hi is not None and (value >= hi if hi_open else value > hi)
        if too_low or too_high:
            want = _range_text(lo, hi, lo_open, hi_open)
            raise argparse.ArgumentTypeError(f"{text} is out of range (must be {want})")
        return value

    parse.__name__ = "number"  # what argparse calls the type in its own messages
    return parse


def int_range(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """A whole number in [lo, hi] (hi None: no upper bound)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            want = f"in [{lo}, {hi}]" if hi is not None else f"at least {lo}"
            raise argparse.ArgumentTypeError(f"{text} is out of range (must be {want})")
        return value

    parse.__name__ = "integer"
    return parse


positive_int = int_range(1)
positive_float = finite_float(0, lo_open=True)


def parse_bitrate(text: str) -> int:
    """'800k', '1.5M', '250000' -> bits per second; at least MIN_BITRATE (a bare '1' is a typo, not 1 b/s).
    The library's parser (semcodec.units), its error as argparse's."""
    try:
        return units.parse_bitrate(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None

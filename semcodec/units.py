"""Values users type, parsed once for the CLI and the library alike."""
from __future__ import annotations

import math

from semcodec.encoding.codecs import MIN_BITRATE
from semcodec.errors import UsageError


def parse_bitrate(text: str, option: str = "") -> int:
    """'800k', '1.5M', '250000', '800kbps', '800kb/s' -> bits per second.

    Args:
        text: the value as typed.
        option: the option's name ('--bitrate'), put in front of the below-minimum message.

    Returns:
        Bits per second, at least MIN_BITRATE (a bare '1' is a typo, not 1 b/s).

    Raises:
        UsageError: not a bitrate, not positive and finite, or below MIN_BITRATE.
    """
    t = text.strip().lower()
    t = next((t[:-len(u)] for u in ("bps", "b/s", "b") if t.endswith(u)), t)  # 800kbps, 800kb/s, 800kb
    mult = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if mult > 1 else t) * mult
    except ValueError:
        raise UsageError(f"not a bitrate: {text!r} (examples: 800k, 1.5M)") from None
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"bitrate must be positive and finite, not {text!r}")
    if value < MIN_BITRATE:
        raise UsageError(f"{option + ' ' if option else ''}{text} is below the minimum of {MIN_BITRATE // 1000} kb/s "
                         "(write 800k for 800 kb/s)")
    return int(round(value))

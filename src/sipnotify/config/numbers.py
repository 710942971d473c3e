"""Numbers as Asterisk reads them from AMI fields and dialplan arguments.

Asterisk reads these with `sscanf("%30d")` or `strtol`: leading blanks skipped, an optional
sign, ASCII digits, at most 30 characters. Python's `int()` and `str.isdigit()` differ: they
accept `²` and other digits outside ASCII (then fail), and refuse more than 4,300 digits.
Nothing here raises.
"""

from __future__ import annotations

import math
import re

INT_MAX = 2**31 - 1
_SCANNED = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]{1,29})")
_WHOLE = re.compile(r"[0-9]{1,29}")


def scan_int(text: str) -> int | None:
    """`sscanf(text, "%30d")`: the leading number (what follows it is ignored), clamped to
    a C int; None when there is none."""
    found = _SCANNED.match(text)
    if found is None:
        return None
    return max(-INT_MAX - 1, min(INT_MAX, int(found.group(1))))


def whole_number(text: str, *, maximum: int) -> int | None:
    """`strtol` that must consume everything: ASCII digits only, 0 to `maximum`; else None."""
    if _WHOLE.fullmatch(text) is None:
        return None
    value = int(text)
    return value if value <= maximum else None


def seconds(text: str) -> float | None:
    """A finite, non-negative number of seconds (`1.5`), or None."""
    try:
        value = float(text) if text.isascii() else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None

"""Lexical rules every SIP parser shares (RFC 3261 §25.1), sans I/O.

Owns what a number is on the wire and which characters a URI may hold. Python's own checks
are wider than SIP's: `str.isdigit()` accepts `²` and other digits outside ASCII, and `int()`
refuses texts of more than 4,300 digits with a ValueError. Everything here fails only with a
ParseError, so a hostile number is a 400 and never a traceback.
"""

from __future__ import annotations

import re

from sipnotify.sip.errors import ParseError

# RFC 3261 §25.1: DIGIT = %x30-39 (in ASCII, exactly what `isdigit()` accepts). A 32-bit
# value needs at most ten of them; leading zeros are allowed by the grammar, so a few more are
# tolerated before the text is refused.
_MOST_DIGITS = 16
# RFC 3261 §19.1.1 and §25.1: a URI is written in printable US-ASCII (anything else is
# %-escaped); no space, control character, CR, LF or NUL may appear in it.
_NOT_URI_CHAR = re.compile(r"[^!-~]")


def decimal(text: str, what: str, *, maximum: int = 2**32 - 1) -> int:
    """`1*DIGIT` as an int no larger than `maximum`; anything else is a ParseError naming
    `what` (the header or field it came from)."""
    if not is_decimal(text):
        raise ParseError(f"bad {what}: {text[:20]!r}")
    value = int(text)
    if value > maximum:
        raise ParseError(f"{what} out of range: {text[:20]!r}")
    return value


def delta_seconds(text: str) -> int | None:
    """RFC 3261 §20.19 delta-seconds: `1*DIGIT`, a value past 2**32-1 taken as 2**32-1 (read
    without converting a text of any length); None when it is not a number."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    stripped = text.lstrip("0") or "0"
    return min(int(stripped), 2**32 - 1) if len(stripped) <= 10 else 2**32 - 1


def is_decimal(text: str) -> bool:
    """Whether `text` is `1*DIGIT` of ASCII digits, short enough to be a number we use."""
    return 0 < len(text) <= _MOST_DIGITS and text.isascii() and text.isdigit()


def check_uri_chars(text: str) -> None:
    """Refuse a URI holding anything but printable US-ASCII (RFC 3261 §25.1)."""
    found = _NOT_URI_CHAR.search(text)
    if found is not None:
        raise ParseError(f"character {found.group()!r} not allowed in a URI")

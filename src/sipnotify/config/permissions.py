"""AMI privilege classes (Asterisk include/asterisk/manager.h and manager.c `perms[]`).

Owns the class names and their bits, the parsing of `read=` / `write=` lists and of event
masks (`Events:` / `EventMask:`), and the `Privilege:` text of events and ListCommands.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

SYSTEM = 1 << 0
CALL = 1 << 1
LOG = 1 << 2
VERBOSE = 1 << 3
COMMAND = 1 << 4
AGENT = 1 << 5
USER = 1 << 6
CONFIG = 1 << 7
DTMF = 1 << 8
REPORTING = 1 << 9
CDR = 1 << 10
DIALPLAN = 1 << 11
ORIGINATE = 1 << 12
AGI = 1 << 13
CC = 1 << 15
AOC = 1 << 16
TEST = 1 << 17
SECURITY = 1 << 18
MESSAGE = 1 << 30
ALL = (1 << 31) - 1  # INT_MAX in Asterisk: "all" sets every bit

# The order in which Asterisk spells a class list (authority_to_str).
CLASSES: tuple[tuple[str, int], ...] = (
    ("system", SYSTEM),
    ("call", CALL),
    ("log", LOG),
    ("verbose", VERBOSE),
    ("command", COMMAND),
    ("agent", AGENT),
    ("user", USER),
    ("config", CONFIG),
    ("dtmf", DTMF),
    ("reporting", REPORTING),
    ("cdr", CDR),
    ("dialplan", DIALPLAN),
    ("originate", ORIGINATE),
    ("agi", AGI),
    ("cc", CC),
    ("aoc", AOC),
    ("test", TEST),
    ("security", SECURITY),
    ("message", MESSAGE),
    ("all", ALL),
)
_BY_NAME = dict((*CLASSES, ("none", 0)))
_TRUE = frozenset(("yes", "true", "y", "t", "1", "on"))
_FALSE = frozenset(("no", "false", "n", "f", "0", "off"))


def unknown_classes(text: str) -> list[str]:
    """The words of a class list that name no class (Asterisk ignores them silently)."""
    return [word for word in _words(text) if word not in _BY_NAME]


def parse_classes(text: str) -> int:
    """A comma list of class names (`system,call`) as a bit mask; unknown words add nothing."""
    mask = 0
    for word in _words(text):
        mask |= _BY_NAME.get(word, 0)
    return mask


def parse_event_mask(text: str) -> int | None:
    """An `Events:` / `EventMask:` value as a mask; None when empty (Asterisk's -1).

    Asterisk's strings_to_mask(): all digits is a number, a false word is 0, a true word is
    every class, anything else a class list.
    """
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return int(text) & 0xFFFFFFFF
    lowered = text.lower()
    if lowered in _FALSE:
        return 0
    if lowered in _TRUE:
        return ALL
    return parse_classes(text)


@functools.cache
def privilege_text(mask: int) -> str:
    """Asterisk's authority_to_str(): `system,all` for SYSTEM, `<none>` for 0."""
    names = [name for name, bit in CLASSES if mask & bit]
    return ",".join(names) if names else "<none>"


def _words(text: str) -> Iterable[str]:
    return (word.strip() for word in text.split(",") if word.strip())

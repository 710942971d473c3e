"""`Variable:` headers into (name, value) pairs, as Asterisk's astman_get_variables().

Each header value (leading blanks skipped) is split on commas by the application-argument
splitter of main/app.c: a comma inside "…", (…) or […] does not split, double quotes are
removed, a backslash makes the next character literal and is removed; at most 64 items per
header, the last taking the rest. Each item splits at its first `=`; items without `=` or
with an empty name are dropped; nothing is trimmed. Headers keep their order.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_ITEMS = 64
_BLANKS = "".join(chr(c) for c in range(1, 33))


def split_arguments(text: str, *, limit: int = MAX_ITEMS) -> list[str]:
    """main/app.c __ast_app_separate_args(…, ',', remove_chars=1, …)."""
    items: list[str] = []
    current: list[str] = []
    paren = bracket = 0
    quoted = False
    chars = iter(text)
    for char in chars:
        if len(items) == limit - 1:
            current.append(char)
        elif char == "\\":
            current.append(next(chars, ""))
        elif char == '"':
            quoted = not quoted
        elif char == "," and not (paren or bracket or quoted):
            items.append("".join(current))
            current = []
        else:
            paren, bracket = _nesting(char, paren, bracket)
            current.append(char)
    items.append("".join(current))
    return items


def _nesting(char: str, paren: int, bracket: int) -> tuple[int, int]:
    if char == "(":
        return paren + 1, bracket
    if char == ")":
        return max(0, paren - 1), bracket
    if char == "[":
        return paren, bracket + 1
    if char == "]":
        return paren, max(0, bracket - 1)
    return paren, bracket


def split_variables(values: Iterable[str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for value in values:
        for item in split_arguments(value.lstrip(_BLANKS)):
            name, equals, rest = item.partition("=")
            if equals and name:
                pairs.append((name, rest))
    return pairs

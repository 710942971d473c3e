"""Identifiers a user agent makes: branches, tags, Call-IDs, CSeq numbers and cnonces.

One source per process, injected where identifiers are made, so tests can fix them. Unique
(a random prefix and a counter) and far cheaper than a UUID from the OS's random source per
message; RFC 3261 asks for global uniqueness (§8.1.1.4 Call-ID, §19.3 tags, §8.1.1.7 branch),
not unpredictability.
"""

from __future__ import annotations

import itertools
import random
import secrets

# RFC 3261 §8.1.1.7: a branch made by an RFC 3261 element starts with the magic cookie;
# pjsip adds "Pj", and so do we (phones' logs and captures look as they do with Asterisk).
BRANCH_PREFIX = "z9hG4bKPj"


class Ids:
    """`prefix` and `seed` fix what would be random (tests); by default both are."""

    __slots__ = ("_counter", "_prefix", "_random")

    def __init__(self, prefix: str | None = None, seed: int | None = None) -> None:
        self._prefix = secrets.token_hex(8) if prefix is None else prefix
        self._counter = itertools.count(1)
        self._random = random.Random(seed)

    def __call__(self) -> str:
        """A new unique token: a Call-ID, a tag, the variable part of a branch."""
        return f"{self._prefix}-{next(self._counter):x}"

    def branch(self) -> str:
        return BRANCH_PREFIX + self()

    def cseq(self) -> int:
        """A first CSeq number (§8.1.1.5: any number below 2**31; pjsip starts low)."""
        return 1 + int(self._random.random() * 65535)  # one C call; randint is five in Python

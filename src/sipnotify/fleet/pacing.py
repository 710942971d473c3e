"""Pacing a fleet operation, sans I/O: a rate in phones per second, a cap on NOTIFYs in
flight, a cap per remote address (many phones behind one NAT, or fetching from one
provisioning server after a reboot), and jitter so a fleet does not move in lockstep.

The defaults cannot overload a provisioning server: 5 phones a second, 20 in flight, 4 per
address. Time is passed in; randomness comes from an injected generator.

The rate is kept on average: a caller that asks late (its timer fired a few milliseconds
after the next free moment) is let catch up, by at most SLACK seconds' worth of sends at once,
so a job woken every few milliseconds still sends thousands a second.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass

SLACK = 0.01  # seconds of late asking the rate makes up for at once


class PaceError(Exception):
    """Pacing that cannot be used; the text is for the operator."""


@dataclass(frozen=True, slots=True)
class Pace:
    rate: float = 5.0  # phones per second; math.inf: as fast as the caps allow
    in_flight: int = 20
    per_address: int = 4
    jitter: float = 0.2  # each interval is stretched or shrunk by up to this fraction

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise PaceError(f"a rate of {self.rate:g} phones per second sends nothing")
        if self.in_flight < 1:
            raise PaceError(f"a cap of {self.in_flight} NOTIFYs in flight sends nothing")
        if self.per_address < 1:
            raise PaceError(f"a cap of {self.per_address} per address sends nothing")
        if not 0 <= self.jitter < 1:
            raise PaceError(f"jitter {self.jitter:g} is not a fraction below 1")


class Pacer:
    """Admits one send at a time: `admit` answers None (send now; it counts as in flight
    until `done`) or the earliest time to ask again (`math.inf`: when a send in flight ends)."""

    def __init__(self, pace: Pace, *, rng: random.Random) -> None:
        self.pace = pace
        self._rng = rng
        self._next = -math.inf  # the rate's next free moment
        self._flying = 0
        self._by_address: Counter[str] = Counter()

    @property
    def in_flight(self) -> int:
        return self._flying

    def admit(self, address: str, now: float) -> float | None:
        if self._flying >= self.pace.in_flight:
            return math.inf
        if self._by_address[address] >= self.pace.per_address:
            return math.inf
        if now < self._next:
            return self._next
        self._flying += 1
        self._by_address[address] += 1
        start = now if self._next == -math.inf else max(self._next, now - SLACK)
        self._next = start + self._interval()
        return None

    def done(self, address: str) -> None:
        """A send admitted for `address` ended (answered, failed or timed out)."""
        self._flying -= 1
        self._by_address[address] -= 1
        if self._by_address[address] <= 0:
            del self._by_address[address]

    def _interval(self) -> float:
        if math.isinf(self.pace.rate):
            return 0.0
        spread = self.pace.jitter * self._rng.uniform(-1.0, 1.0)
        return (1.0 + spread) / self.pace.rate

"""The process's two clocks, injected where time is read, so tests can fix them.

`monotonic` measures durations and drives timers (transactions, qualify, round-trip times);
`wall` stamps what outlives the process or is shown to people (registration expiry kept in
the store, event timestamps, uptime).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Clock:
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time

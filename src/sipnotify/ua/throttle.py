"""Log lines about what strangers send, rate-limited.

Owns the rule that a flood of bad input costs at most a few log lines: at most `burst` lines
per `period` seconds go through; the rest are counted, and the next line that goes through
says how many were held back. One short line each, never a traceback, so the log cannot
grow faster than the input (a traceback per datagram is a log amplification attack).
"""

from __future__ import annotations

import logging
from collections.abc import Callable


class Throttled:
    def __init__(
        self,
        logger: logging.Logger,
        clock: Callable[[], float],
        *,
        burst: int = 10,
        period: float = 10.0,
    ) -> None:
        self._logger = logger
        self._clock = clock
        self._burst = burst
        self._period = period
        self._window_start = float("-inf")
        self._sent = 0
        self._held = 0

    def warning(self, message: str, *args: object) -> None:
        now = self._clock()
        if now - self._window_start >= self._period:
            self._window_start = now
            self._sent = 0
        if self._sent >= self._burst:
            self._held += 1
            return
        self._sent += 1
        if self._held:
            message += " (%d similar lines held back)"
            args = (*args, self._held)
            self._held = 0
        self._logger.warning(message, *args)

"""Complaints about strangers' input cost at most a few log lines."""

from __future__ import annotations

import logging

import pytest

from sipnotify.ua.throttle import Throttled


def test_a_flood_is_a_few_lines_and_the_rest_are_counted(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    throttled = Throttled(logging.getLogger("test.throttle"), lambda: now[0], burst=3, period=10)
    with caplog.at_level(logging.WARNING, logger="test.throttle"):
        for i in range(1000):
            throttled.warning("bad message %d", i)
        now[0] = 11.0
        throttled.warning("bad message %d", 1000)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "bad message 0",
        "bad message 1",
        "bad message 2",
        "bad message 1000 (997 similar lines held back)",
    ]

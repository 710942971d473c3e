"""Pacing on a clock stepped by hand: the rate with its jitter, the in-flight cap, the cap per
address, and pacing that cannot be used."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from sipnotify.fleet.pacing import SLACK, Pace, PaceError, Pacer


def test_the_rate_spaces_sends_within_the_jitter() -> None:
    pacer = Pacer(Pace(rate=10, jitter=0.2, in_flight=1000, per_address=1000),
                  rng=random.Random(7))  # fmt: skip
    now, sent = 0.0, list[float]()
    for _ in range(200):
        wait = pacer.admit(f"10.0.0.{len(sent)}", now)
        if wait is None:
            sent.append(now)
        else:
            now = wait
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert all(0.08 - 1e-9 <= gap <= 0.12 + 1e-9 for gap in gaps)
    assert len({round(g, 6) for g in gaps}) > 10  # not in lockstep
    assert 9.0 < len(sent) / sent[-1] < 11.0


def test_a_caller_woken_late_catches_up_but_never_bursts_more_than_the_slack() -> None:
    pacer = Pacer(Pace(rate=5000, jitter=0.0, in_flight=10**6, per_address=10**6),
                  rng=random.Random(1))  # fmt: skip
    sent_at: list[float] = []
    for tick in range(1, 101):  # woken every 10 ms for a second
        now = tick * 0.01
        while pacer.admit("a", now) is None:
            sent_at.append(now)
    assert 4940 <= len(sent_at) <= 4960  # 0.99 s at the rate, although woken 100 times
    assert max(sent_at.count(t) for t in set(sent_at)) <= 5000 * SLACK + 1
    idle = sent_at[-1] + 60.0  # a minute without asking: no minute's worth at once
    burst = 0
    while pacer.admit("a", idle) is None:
        burst += 1
    assert burst <= 5000 * SLACK + 1


def test_in_flight_and_per_address_caps_wait_for_a_send_to_end() -> None:
    pacer = Pacer(Pace(rate=math.inf, in_flight=3, per_address=2), rng=random.Random(1))
    assert pacer.admit("nat", 0.0) is None
    assert pacer.admit("nat", 0.0) is None
    assert pacer.admit("nat", 0.0) == math.inf  # two behind that address already
    assert pacer.admit("other", 0.0) is None
    assert pacer.admit("third", 0.0) == math.inf  # three in flight
    pacer.done("nat")
    assert pacer.in_flight == 2
    assert pacer.admit("nat", 0.0) is None


@pytest.mark.parametrize(
    ("pace", "message"),
    [
        ({"rate": 0}, "a rate of 0 phones per second sends nothing"),
        ({"rate": -5}, "a rate of -5 phones per second sends nothing"),
        ({"in_flight": 0}, "a cap of 0 NOTIFYs in flight sends nothing"),
        ({"per_address": -1}, "a cap of -1 per address sends nothing"),
        ({"jitter": 1.5}, "jitter 1.5 is not a fraction below 1"),
    ],
)
def test_pacing_that_cannot_be_used_says_why(pace: dict[str, float], message: str) -> None:
    with pytest.raises(PaceError, match=message):
        Pace(**pace)  # type: ignore[arg-type]


def test_the_defaults_are_gentle() -> None:
    pace = Pace()
    assert (pace.rate, pace.in_flight, pace.per_address) == (5.0, 20, 4)

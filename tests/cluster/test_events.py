"""Relayed events cut into payloads PostgreSQL takes, and read back as they were sent."""

from __future__ import annotations

import json

from sipnotify.cluster.events import EventFollower, Fields
from sipnotify.cluster.outbox import PAYLOAD, batches


def test_events_are_cut_to_fit_and_come_back_whole() -> None:
    events = [("FleetPhone", 1, (("JobID", "j1"), ("URI", f"sip:p{n}@h" + "x" * 90)), "a1")
              for n in range(300)]  # fmt: skip
    cut = batches(events)
    assert len(cut) > 1
    assert all(len(text.encode()) <= PAYLOAD for text in cut)
    heard: list[tuple[str, int, Fields, str]] = []
    follower = EventFollower(lambda *event: heard.append(event))
    for text in cut:
        follower.told(text)
    assert heard == events
    assert batches([]) == []
    assert json.loads(batches(events[:1])[0])[0][0] == "FleetPhone"

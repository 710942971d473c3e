"""AMI events every node's sessions should hear although one node made them (a fleet job's
progress and end): sent through an outbox (outbox.py) on the channel `sipnotify_events` as
`[name, category, fields, action_id]`, and published by every other node to its own sessions.
Best-effort, as AMI events are.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sipnotify.cluster.outbox import Outbox

CHANNEL = "sipnotify_events"
Fields = tuple[tuple[str, str], ...]
Publish = Callable[[str, int, Fields, str], None]


class EventRelay:
    def __init__(self, conninfo: str, where: str, systemname: str) -> None:
        self._out = Outbox(conninfo, where, systemname, CHANNEL)

    def send(self, name: str, category: int, fields: Fields, action_id: str) -> None:
        self._out.put((name, category, fields, action_id))

    def close(self) -> None:
        self._out.close()


class EventFollower:
    """Publishes the events another node sent to this node's sessions."""

    def __init__(self, publish: Publish) -> None:
        self._publish = publish

    def told(self, key: str) -> None:
        for name, category, fields, action_id in json.loads(key):
            self._publish(str(name), int(category),
                          tuple((str(k), str(v)) for k, v in fields), str(action_id))  # fmt: skip

    def resync(self) -> None:
        """Events missed while disconnected are gone, as on an AMI session."""

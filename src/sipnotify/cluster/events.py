"""AMI events every node's sessions should hear although one node made them (a fleet job's
progress and end): sent on the channel `sipnotify_events`, a batch per NOTIFY, and published
by every other node to its own sessions.

Events are gathered for 10 ms and sent as JSON lists of `[name, category, fields, action_id]`
cut to fit PostgreSQL's 8,000-byte payloads, so a 100,000-phone job costs about 1,500
notifications, not 100,000. They are best-effort, as AMI events are: a batch that cannot be
sent (the database is down) is logged and dropped; nothing waits for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence

from sipnotify.storage.base import StorageError
from sipnotify.storage.pg_connection import PgConnection

log = logging.getLogger("sipnotify.cluster")
CHANNEL = "sipnotify_events"
GATHER = 0.010  # seconds events wait to be sent together
PAYLOAD = 7_000  # bytes of JSON per notification (PostgreSQL takes 8,000 with the prefix)
Fields = tuple[tuple[str, str], ...]
Event = tuple[str, int, Fields, str]  # name, category, fields, ActionID
Publish = Callable[[str, int, Fields, str], None]


class EventRelay:
    def __init__(self, conninfo: str, where: str, systemname: str) -> None:
        self._db = PgConnection(conninfo, where)
        self._prefix = f"{systemname} "
        self._waiting: list[Event] = []
        self._timer: asyncio.TimerHandle | None = None

    def send(self, name: str, category: int, fields: Fields, action_id: str) -> None:
        self._waiting.append((name, category, fields, action_id))
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(GATHER, self.flush)

    def flush(self) -> None:
        self._timer = None
        waiting, self._waiting = self._waiting, []
        try:
            with self._db.use() as db:
                for batch in batches(waiting):
                    db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self._prefix + batch))
        except StorageError as exc:
            log.error("%d events not told to the other nodes: %s", len(waiting), exc)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._db.close()


def batches(events: Sequence[Event]) -> list[str]:
    """The events as JSON lists of at most PAYLOAD bytes each (one event bigger than that
    goes alone, and PostgreSQL refuses it: logged)."""
    found: list[str] = []
    current: list[str] = []
    size = 0
    for event in events:
        text = json.dumps(event, separators=(",", ":"))
        if current and size + len(text) + 1 > PAYLOAD:
            found.append(f"[{','.join(current)}]")
            current, size = [], 0
        current.append(text)
        size += len(text) + 1
    if current:
        found.append(f"[{','.join(current)}]")
    return found


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

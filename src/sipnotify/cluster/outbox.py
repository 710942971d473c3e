"""Telling the other nodes through PostgreSQL: items put on a channel are gathered for 10 ms
and sent as JSON lists cut to fit PostgreSQL's 8,000-byte payloads (prefixed with this node's
name, so the feed drops a node's own), so a 100,000-phone job costs about 1,500 notifications,
not 100,000. Sending is best-effort: a batch that cannot be sent (the database is down) is
logged and dropped; nothing waits for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence

from sipnotify.storage.base import StorageError
from sipnotify.storage.pg_connection import PgConnection

log = logging.getLogger("sipnotify.cluster")
GATHER = 0.010  # seconds items wait to be sent together
PAYLOAD = 7_000  # bytes of JSON per notification (PostgreSQL takes 8,000 with the prefix)


class Outbox:
    def __init__(self, conninfo: str, where: str, systemname: str, channel: str) -> None:
        self._db = PgConnection(conninfo, where)
        self._prefix = f"{systemname} "
        self._channel = channel
        self._waiting: list[object] = []
        self._timer: asyncio.TimerHandle | None = None

    def put(self, item: object) -> None:
        """Send `item` (anything `json` writes) with the others of the next 10 ms."""
        self._waiting.append(item)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(GATHER, self.flush)

    def flush(self) -> None:
        self._timer = None
        waiting, self._waiting = self._waiting, []
        try:
            with self._db.use() as db:
                for batch in batches(waiting):
                    db.execute("SELECT pg_notify(%s, %s)", (self._channel, self._prefix + batch))
        except StorageError as exc:
            log.error("%d items on %s not told to the other nodes: %s", len(waiting),
                      self._channel, exc)  # fmt: skip

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._db.close()


def batches(items: Sequence[object]) -> list[str]:
    """The items as JSON lists of at most PAYLOAD bytes each (one item bigger than that goes
    alone, and PostgreSQL refuses it: logged)."""
    found: list[str] = []
    current: list[str] = []
    size = 0
    for item in items:
        text = json.dumps(item, separators=(",", ":"))
        if current and size + len(text) + 1 > PAYLOAD:
            found.append(f"[{','.join(current)}]")
            current, size = [], 0
        current.append(text)
        size += len(text) + 1
    if current:
        found.append(f"[{','.join(current)}]")
    return found

"""Taking over the fleet jobs of a node that died: every few seconds, for each other node
that owns unfinished jobs, try its name's advisory lock (identity.py); a running node holds it,
so getting it means that node is gone (PostgreSQL drops a session's locks when its process
dies, `kill -9` included). The lock is let go at once, the jobs are moved to this node in one
statement (two survivors racing move them once) and resumed here: phones whose answer was
recorded are not sent to again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sipnotify.cluster.background import Background
from sipnotify.cluster.identity import NodeName
from sipnotify.storage.base import StorageError
from sipnotify.storage.pg_jobs import PgJobStore

log = logging.getLogger("sipnotify.cluster")
EVERY = 3.0  # seconds between looks for dead nodes' jobs


class JobWatch:
    def __init__(self, store: PgJobStore, name: NodeName, resume: Callable[[], int], *,
                 every: float = EVERY) -> None:  # fmt: skip
        self._store, self._name, self._resume, self._every = store, name, resume, every
        self.background = Background(self._run)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                self.look()
            except StorageError as exc:
                log.error("cannot look for the jobs of stopped nodes: %s", exc)

    def look(self) -> int:
        """Take over the jobs of every node that is gone; returns how many were taken."""
        taken = 0
        for owner in self._store.owners():
            if not self._name.is_free(owner):
                continue
            moved = self._store.take_over(owner)
            if moved:
                log.warning("took over %d fleet jobs of node %s, which is not running",
                            moved, owner)  # fmt: skip
                taken += moved
        if taken:
            self._resume()
        return taken

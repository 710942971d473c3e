"""Learning of the other nodes' registrations: LISTEN on the channel the PostgreSQL contact
store notifies at each commit (payload `<systemname> <aor>`), and for each AOR another node
changed, read its rows again and hand them to the registrar (which tells this node's AMI
sessions, as for its own registrations).

PostgreSQL delivers a notification only to connections listening when the transaction
commits; so after a lost connection, the feed reconnects (1 s, then doubling to 30 s) and
reads every row again before listening on, so that nothing changed meanwhile is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable

import psycopg

from sipnotify.registrar.service import Registrar
from sipnotify.sip.registrar import Binding
from sipnotify.storage.base import StorageError
from sipnotify.storage.pg_schema import reason
from sipnotify.storage.postgres import CHANNEL, PgContactStore

log = logging.getLogger("sipnotify.cluster")
RETRY_FIRST, RETRY_MOST = 1.0, 30.0  # seconds between reconnections


class ContactFeed:
    def __init__(self, store: PgContactStore, registrar: Registrar, *, conninfo: str, where: str,
                 systemname: str, wall: Callable[[], float]) -> None:  # fmt: skip
        self._conninfo, self._where, self._systemname = conninfo, where, systemname
        self._store, self._registrar, self._wall = store, registrar, wall
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()  # listening (tests wait on it)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        pause, first = RETRY_FIRST, True
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, connect_timeout=5
                ) as db:
                    await db.execute(f"LISTEN {CHANNEL}")
                    if not first:
                        self._resync()
                    first, pause = False, RETRY_FIRST
                    self.connected.set()
                    async for notice in db.notifies():
                        self._told(notice.payload)
            except (psycopg.Error, StorageError) as exc:
                log.error("%s: other nodes' registrations not followed: %s", self._where,
                          reason(exc) if isinstance(exc, psycopg.Error) else exc)  # fmt: skip
            self.connected.clear()
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_MOST)

    def _told(self, payload: str) -> None:
        node, _, aor = payload.partition(" ")
        if node == self._systemname or not aor:
            return  # our own change, already in memory
        self._registrar.refresh(aor, self._store.load_aor(aor), self._wall())

    def _resync(self) -> None:
        stored: dict[str, list[Binding]] = defaultdict(list)
        for binding in self._store.load():
            stored[binding.aor].append(binding)
        now = self._wall()
        for aor in {*stored, *self._registrar.aors()}:
            self._registrar.refresh(aor, stored.get(aor, []), now)

"""Hearing the other nodes: one connection LISTENs on the channels the PostgreSQL stores
notify at each commit (payload `<systemname> <key>`); each notice from another node goes to
the channel's follower, which reads that key again (contacts.py, mailboxes.py).

PostgreSQL delivers a notification only to connections listening when the transaction
commits; so after a lost connection the feed reconnects (1 s, then doubling to 30 s) and each
follower reads everything again before the feed listens on, so nothing changed meanwhile is
missed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Protocol

import psycopg
from psycopg import sql

from sipnotify.cluster.background import Background
from sipnotify.storage.base import StorageError
from sipnotify.storage.pg_schema import reason

log = logging.getLogger("sipnotify.cluster")
RETRY_FIRST, RETRY_MOST = 1.0, 30.0  # seconds between reconnections


class Follower(Protocol):
    def told(self, key: str) -> None:
        """Another node changed `key`. Raises StorageError."""
        ...

    def resync(self) -> None:
        """Read everything again (notices may have been missed). Raises StorageError."""
        ...


class Feed:
    def __init__(self, followers: Mapping[str, Follower], *, conninfo: str, where: str,
                 systemname: str) -> None:  # fmt: skip
        self._followers = followers
        self._conninfo, self._where, self._systemname = conninfo, where, systemname
        self.background = Background(self._run)

    async def _run(self) -> None:
        pause, first = RETRY_FIRST, True
        while True:
            try:
                await self._listen(resync=not first)
            except (psycopg.Error, StorageError) as exc:
                log.error("%s: other nodes' changes not followed: %s", self._where,
                          reason(exc) if isinstance(exc, psycopg.Error) else exc)  # fmt: skip
            first = False
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_MOST)

    async def _listen(self, *, resync: bool) -> None:
        async with await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=5
        ) as db:
            for channel in self._followers:
                await db.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            if resync:
                for follower in self._followers.values():
                    follower.resync()
                log.info("%s: following the other nodes again", self._where)
            async for notice in db.notifies():
                node, _, key = notice.payload.partition(" ")
                told = self._followers.get(notice.channel)
                if told is not None and key and node != self._systemname:
                    told.told(key)

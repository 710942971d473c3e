"""This node's part in a cluster, when contacts are kept in PostgreSQL: its name held for as
long as it runs (identity.py), the shared contact store, and the feed of the other nodes'
registrations (contacts.py). Imported only when sorcery.conf puts contacts in PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from sipnotify.cluster.contacts import ContactFeed
from sipnotify.cluster.identity import NodeName
from sipnotify.config.realtime import Realtime
from sipnotify.registrar.service import Registrar
from sipnotify.storage.base import StorageError
from sipnotify.storage.postgres import PgContactStore


class Node:
    def __init__(self, realtime: Realtime, systemname: str) -> None:
        """Raises StorageError: no name, a name in use, or an unusable database."""
        self._connection, self._systemname = realtime.connection, systemname
        self._name = NodeName(self._connection.conninfo(), self.where, systemname)
        try:
            self.contacts = PgContactStore(self._connection.conninfo(), self.where,
                                           systemname=systemname)  # fmt: skip
        except StorageError:
            self._name.close()
            raise
        self._feed: ContactFeed | None = None

    @property
    def where(self) -> str:
        return self._connection.describe()

    def follow(self, registrar: Registrar, wall: Callable[[], float]) -> ContactFeed:
        """Start taking the other nodes' registrations into `registrar`."""
        conninfo = self._connection.conninfo()
        self._feed = ContactFeed(self.contacts, registrar, conninfo=conninfo, where=self.where,
                                 systemname=self._systemname, wall=wall)  # fmt: skip
        self._feed.start()
        return self._feed

    async def stop(self) -> None:
        if self._feed is not None:
            await self._feed.stop()
        self._name.close()

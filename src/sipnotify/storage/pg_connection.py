"""One PostgreSQL connection for a store, made again after it breaks.

A store's statements run on the event loop, in autocommit mode or one explicit transaction;
a connection is used by one thread only (the contact store's group commits have their own).
When the server goes away (restart, network), the failing call raises StoreUnavailable and the
next call connects again, so a database restart costs the calls made while it is down and
nothing more: nothing is cached as written that was not committed. Every psycopg error
becomes a StorageError naming the database, never its password.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from sipnotify.storage.base import StorageError, StoreUnavailable
from sipnotify.storage.pg_schema import check, reason

CONNECT_TIMEOUT = 5  # seconds


class PgConnection:
    def __init__(self, conninfo: str, where: str) -> None:
        """Connect and check the schema. Raises StorageError."""
        self._conninfo, self.where = conninfo, where
        self._db = self._connect()
        try:
            check(self._db, where)
        except (psycopg.Error, StorageError) as exc:
            self._db.close()
            raise self._error(exc) from exc

    @contextmanager
    def use(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        """The connection (made again if it broke); errors become StorageErrors."""
        if self._db.closed or self._db.broken:
            self._db = self._connect()
        try:
            yield self._db
        except psycopg.Error as exc:
            raise self._error(exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        """All or nothing: committed when the block ends without an error."""
        with self.use() as db, db.transaction():
            yield db

    def close(self) -> None:
        self._db.close()

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        try:
            return psycopg.connect(self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"{self.where}: {reason(exc)}") from exc

    def _error(self, exc: Exception) -> StorageError:
        if isinstance(exc, StorageError):
            return exc
        assert isinstance(exc, psycopg.Error)
        if isinstance(exc, psycopg.OperationalError) or self._db.broken:
            return StoreUnavailable(f"{self.where}: {reason(exc)}")
        return StorageError(f"{self.where}: {reason(exc)}")

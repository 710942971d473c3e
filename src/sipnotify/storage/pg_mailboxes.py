"""PostgreSQL mailbox store: the table `sipnotify_mailboxes` (made by `sipnotify db upgrade`),
when extconfig.conf maps it (`sipnotify_mailboxes => pgsql,general`). Same contract as the
SQLite store; every statement parameterised, every failure a StorageError naming the database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import psycopg

from sipnotify.storage.base import StorageError
from sipnotify.storage.pg_schema import check, reason

_PUT = """INSERT INTO sipnotify_mailboxes (id, new, old) VALUES (%s, %s, %s)
    ON CONFLICT (id) DO UPDATE SET new = EXCLUDED.new, old = EXCLUDED.old"""


class PgMailboxStore:
    def __init__(self, conninfo: str, where: str) -> None:
        self._where = where
        try:
            self._db = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            raise StorageError(f"{where}: {reason(exc)}") from exc
        try:
            check(self._db, where)
        except StorageError:
            self._db.close()
            raise

    def load(self) -> Mapping[str, tuple[int, int]]:
        try:
            rows = self._db.execute("SELECT id, new, old FROM sipnotify_mailboxes").fetchall()
        except psycopg.Error as exc:
            raise StorageError(f"{self._where}: {reason(exc)}") from exc
        return {mailbox: (int(new), int(old)) for mailbox, new, old in rows}

    def put(self, mailbox: str, new: int, old: int) -> None:
        try:
            self._db.execute(_PUT, (mailbox, new, old))
        except psycopg.Error as exc:
            raise StorageError(f"{self._where}: {reason(exc)}") from exc

    def delete(self, mailboxes: Sequence[str]) -> None:
        try:
            self._db.execute(
                "DELETE FROM sipnotify_mailboxes WHERE id = ANY(%s)", (list(mailboxes),)
            )
        except psycopg.Error as exc:
            raise StorageError(f"{self._where}: {reason(exc)}") from exc

    def close(self) -> None:
        self._db.close()

"""SQLite subscription store, the embedded default: one more table in the contacts' file, with
its durability (WAL, synchronous=NORMAL)."""

from __future__ import annotations

import operator
import sqlite3
from dataclasses import fields
from pathlib import Path

from sipnotify.storage.base import StorageError
from sipnotify.storage.sqlite import open_database
from sipnotify.storage.subscriptions import SubscriptionRecord

_COLUMNS = ("id, packet, src_name, src_port, transport, local_name, local_port, cseq, tag, "
            "endpoint, expires, contact_uri")  # fmt: skip
_VALUES = operator.attrgetter(*(f.name for f in fields(SubscriptionRecord)))
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS subscriptions (id TEXT PRIMARY KEY, packet TEXT,
        src_name TEXT, src_port INTEGER, transport TEXT, local_name TEXT, local_port INTEGER,
        cseq INTEGER, tag TEXT, endpoint TEXT, expires INTEGER, contact_uri TEXT)""",
)


class SqliteSubscriptionStore:
    def __init__(self, path: Path) -> None:
        self._db = open_database(path, _SCHEMA)

    def load(self) -> list[SubscriptionRecord]:
        try:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM subscriptions ORDER BY id")
            return [SubscriptionRecord(*row) for row in rows.fetchall()]
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc

    def save(self, record: SubscriptionRecord) -> None:
        self._write(f"INSERT OR REPLACE INTO subscriptions ({_COLUMNS}) VALUES "
                    f"({', '.join('?' * 12)})", _VALUES(record))  # fmt: skip

    def refresh(self, subscription_id: str, cseq: int, expires: int) -> None:
        self._write("UPDATE subscriptions SET cseq = ?, expires = ? WHERE id = ?",
                    (cseq, expires, subscription_id))  # fmt: skip

    def drop(self, subscription_id: str) -> None:
        self._write("DELETE FROM subscriptions WHERE id = ?", (subscription_id,))

    def close(self) -> None:
        self._db.close()

    def _write(self, query: str, row: tuple[object, ...]) -> None:
        try:
            with self._db:
                self._db.execute(query, row)
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc

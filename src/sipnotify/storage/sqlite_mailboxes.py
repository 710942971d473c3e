"""SQLite mailbox store, the embedded default: one more table in the contacts' file, with its
durability (WAL, synchronous=NORMAL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

from sipnotify.storage.base import StorageError
from sipnotify.storage.sqlite import open_database

_SCHEMA = ("CREATE TABLE IF NOT EXISTS mailboxes (id TEXT PRIMARY KEY, new INTEGER, old INTEGER)",)


class SqliteMailboxStore:
    def __init__(self, path: Path) -> None:
        self._db = open_database(path, _SCHEMA)

    def load(self) -> Mapping[str, tuple[int, int]]:
        try:
            rows = self._db.execute("SELECT id, new, old FROM mailboxes").fetchall()
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc
        return {mailbox: (new, old) for mailbox, new, old in rows}

    def put(self, mailbox: str, new: int, old: int) -> None:
        self._write("INSERT OR REPLACE INTO mailboxes (id, new, old) VALUES (?, ?, ?)",
                    [(mailbox, new, old)])  # fmt: skip

    def delete(self, mailboxes: Sequence[str]) -> None:
        self._write("DELETE FROM mailboxes WHERE id = ?", [(m,) for m in mailboxes])

    def close(self) -> None:
        self._db.close()

    def _write(self, query: str, rows: Sequence[tuple[object, ...]]) -> None:
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(query, rows)
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc

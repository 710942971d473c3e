"""SQLite contact store, the embedded default: one file in the data directory.

WAL journal with synchronous=NORMAL: a commit has been written to the WAL file before it
returns, so a binding survives a restart or `kill -9` once its 200 OK has left (a power cut may
lose the last commits; say `synchronous=FULL` in code if that matters more than speed).
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from sipnotify.sip.registrar import Binding
from sipnotify.storage.base import StorageError, Write

LOCK_TIMEOUT = 0.5  # seconds
_COLUMNS = list(Binding.__match_args__)
# A binding's values in column order (`astuple` would deep-copy each: 7 % of a REGISTER's CPU)
_VALUES = operator.attrgetter(*_COLUMNS)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS contacts (
    id TEXT PRIMARY KEY,
    {", ".join(_COLUMNS)}
)
"""
_ADDED = (("contacts", "reg_server", "TEXT NOT NULL DEFAULT ''"),)
_UPSERT = (
    f"INSERT OR REPLACE INTO contacts (id, {', '.join(_COLUMNS)}) "
    f"VALUES (?, {', '.join('?' for _ in _COLUMNS)})"
)


def open_database(path: Path, schema: Sequence[str]) -> sqlite3.Connection:
    """The data directory's database (made if missing), WAL with synchronous=NORMAL, with
    `schema`'s tables. Raises StorageError."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        # Calls run on the event loop: never wait long for a lock another process holds.
        db = sqlite3.connect(path, isolation_level=None, timeout=LOCK_TIMEOUT)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        for statement in schema:
            db.execute(statement)
    except sqlite3.Error as exc:
        raise StorageError(f"{path}: {exc}") from exc
    return db


def add_columns(db: sqlite3.Connection, path: Path,
                added: Sequence[tuple[str, str, str]]) -> None:  # fmt: skip
    """Bring tables written by an earlier version up to date: each (table, column, type) is
    added when missing. Raises StorageError."""
    try:
        for table, column, kind in added:
            have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    except sqlite3.Error as exc:
        raise StorageError(f"{path}: {exc}") from exc


class SqliteContactStore:
    def __init__(self, path: Path) -> None:
        self._db = open_database(path, (_SCHEMA,))
        add_columns(self._db, path, _ADDED)

    def load(self) -> list[Binding]:
        try:
            rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM contacts").fetchall()
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc
        return [Binding(*row) for row in rows]

    def change(self, store: Sequence[Binding], drop: Sequence[Binding], *, limit: int = 0,
               now: float = 0.0) -> None:  # fmt: skip
        """One process writes this file: its decision saw every binding, so `limit` holds."""
        self.change_many((Write(store, drop, limit, now),))

    def change_many(self, writes: Sequence[Write]) -> None:
        try:
            with self._transaction():
                self._apply(writes)
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc

    def _apply(self, writes: Sequence[Write]) -> None:
        """The writes in order, in as few statements as that allows: the stores of writes in
        a row go together, until a write that drops something (a turn of re-registrations is
        then one statement, not two per registration)."""
        stores: list[tuple[object, ...]] = []
        for write in writes:
            if write.drop:
                if stores:
                    self._db.executemany(_UPSERT, stores)
                    stores = []
                self._db.executemany("DELETE FROM contacts WHERE id = ?",
                                     [(b.id,) for b in write.drop])  # fmt: skip
            stores.extend((b.id, *_VALUES(b)) for b in write.store)
        if stores:
            self._db.executemany(_UPSERT, stores)

    def prune(self, now: float) -> int:
        try:
            with self._transaction():
                cursor = self._db.execute("DELETE FROM contacts WHERE expires_at <= ?", (now,))
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc
        return cursor.rowcount

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if kind is not None else "COMMIT")

"""PostgreSQL mailbox store: the table `sipnotify_mailboxes` (made by `sipnotify db upgrade`),
when extconfig.conf maps it (`sipnotify_mailboxes => pgsql,general`). Same contract as the
SQLite store; every statement parameterised, every failure a StorageError naming the database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sipnotify.storage.pg_connection import PgConnection

_PUT = """INSERT INTO sipnotify_mailboxes (id, new, old) VALUES (%s, %s, %s)
    ON CONFLICT (id) DO UPDATE SET new = EXCLUDED.new, old = EXCLUDED.old"""


class PgMailboxStore:
    def __init__(self, conninfo: str, where: str) -> None:
        self._db = PgConnection(conninfo, where)

    def load(self) -> Mapping[str, tuple[int, int]]:
        with self._db.use() as db:
            rows = db.execute("SELECT id, new, old FROM sipnotify_mailboxes").fetchall()
        return {str(mailbox): (int(str(new)), int(str(old))) for mailbox, new, old in rows}

    def put(self, mailbox: str, new: int, old: int) -> None:
        with self._db.use() as db:
            db.execute(_PUT, (mailbox, new, old))

    def delete(self, mailboxes: Sequence[str]) -> None:
        with self._db.use() as db:
            db.execute("DELETE FROM sipnotify_mailboxes WHERE id = ANY(%s)", (list(mailboxes),))

    def close(self) -> None:
        self._db.close()

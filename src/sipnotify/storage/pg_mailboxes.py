"""PostgreSQL mailbox store: the table `sipnotify_mailboxes` (made by `sipnotify db upgrade`),
when extconfig.conf maps it (`sipnotify_mailboxes => pgsql,general`). Same contract as the
SQLite store; every statement parameterised, every failure a StorageError naming the database.

Each change is announced on the channel `sipnotify_mailboxes` (payload `<systemname>
<mailbox>`) when it commits, so the other nodes read the mailbox again and tell their own
subscribers (cluster/feed.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sipnotify.storage.pg_connection import PgConnection

CHANNEL = "sipnotify_mailboxes"
_PUT = """INSERT INTO sipnotify_mailboxes (id, new, old) VALUES (%s, %s, %s)
    ON CONFLICT (id) DO UPDATE SET new = EXCLUDED.new, old = EXCLUDED.old"""


class PgMailboxStore:
    def __init__(self, conninfo: str, where: str, *, systemname: str = "") -> None:
        self._db = PgConnection(conninfo, where)
        self._systemname = systemname

    def load(self) -> Mapping[str, tuple[int, int]]:
        with self._db.use() as db:
            rows = db.execute("SELECT id, new, old FROM sipnotify_mailboxes").fetchall()
        return {str(mailbox): (int(str(new)), int(str(old))) for mailbox, new, old in rows}

    def load_one(self, mailbox: str) -> tuple[int, int] | None:
        """One mailbox's (new, old), or None when it is not stored."""
        with self._db.use() as db:
            row = db.execute("SELECT new, old FROM sipnotify_mailboxes WHERE id = %s",
                             (mailbox,)).fetchone()  # fmt: skip
        return (int(str(row[0])), int(str(row[1]))) if row else None

    def put(self, mailbox: str, new: int, old: int) -> None:
        with self._db.transaction() as db:
            db.execute(_PUT, (mailbox, new, old))
            db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{self._systemname} {mailbox}"))

    def delete(self, mailboxes: Sequence[str]) -> None:
        with self._db.transaction() as db:
            db.execute("DELETE FROM sipnotify_mailboxes WHERE id = ANY(%s)", (list(mailboxes),))
            for mailbox in mailboxes:
                db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{self._systemname} {mailbox}"))

    def close(self) -> None:
        self._db.close()

"""A node's name is its own: while a node runs it holds a PostgreSQL advisory lock on its
`systemname`, so a second node started by mistake with the same name (which would take the
first one's contacts for its own) is refused at start-up. This guards against mistakes, not
attacks: every node holds the database's credentials and could write any row (docs/cluster.md,
"Trust")."""

from __future__ import annotations

from sipnotify.storage.base import StorageError
from sipnotify.storage.pg_connection import PgConnection
from sipnotify.storage.pg_schema import shared_key

_NAMESPACE = 0x5195  # the first key of every node-name lock


class NodeName:
    def __init__(self, conninfo: str, where: str, systemname: str) -> None:
        """Raises StorageError if the name is empty or another running node holds it."""
        if not systemname:
            raise StorageError("asterisk.conf [options] systemname must be set when "
                               "PostgreSQL keeps contacts, subscriptions, mailboxes or jobs: each "
                               "node names its own changes")  # fmt: skip
        self.systemname = systemname
        self._db = PgConnection(conninfo, where)  # checks the schema first
        try:
            with self._db.use() as db:
                row = db.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                                 (_NAMESPACE, systemname)).fetchone()  # fmt: skip
        except StorageError:
            self._db.close()
            raise
        if not (row and row[0]):
            self._db.close()
            raise StorageError(f"{where}: another running node already has systemname "
                               f"'{systemname}'")  # fmt: skip

    def is_free(self, systemname: str) -> bool:
        """Whether no running node holds `systemname` (tried and let go at once)."""
        with self._db.use() as db:
            row = db.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                             (_NAMESPACE, systemname)).fetchone()  # fmt: skip
            if row and row[0]:
                db.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))",
                           (_NAMESPACE, systemname))  # fmt: skip
                return True
        return False

    def shared_key(self, name: str) -> bytes:
        """A key every node shares (storage/pg_schema.py). Raises StorageError."""
        with self._db.use() as db:
            return shared_key(db, name)

    def close(self) -> None:
        self._db.close()

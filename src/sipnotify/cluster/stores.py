"""Which store keeps what: the embedded SQLite file, or PostgreSQL where the realtime files
say so (mailboxes when extconfig.conf maps `sipnotify_mailboxes`; contacts, when sorcery.conf
maps `contact`, are opened by the node, node.py). psycopg is imported only when PostgreSQL
is configured, and its absence is then a clear error."""

from __future__ import annotations

from pathlib import Path

from sipnotify.config.realtime import OwnTable, Realtime
from sipnotify.storage.base import StorageError
from sipnotify.storage.mailboxes import MailboxStore
from sipnotify.storage.sqlite_mailboxes import SqliteMailboxStore

EMBEDDED_FILE = "contacts.sqlite3"


def mailbox_store(realtime: Realtime, data_dir: Path) -> MailboxStore:
    if OwnTable.MAILBOXES not in realtime.own:
        return SqliteMailboxStore(data_dir / EMBEDDED_FILE)
    _require_psycopg()
    from sipnotify.storage.pg_mailboxes import PgMailboxStore  # noqa: PLC0415

    return PgMailboxStore(realtime.connection.conninfo(), realtime.connection.describe())


def _require_psycopg() -> None:
    try:
        import psycopg  # noqa: F401, PLC0415
    except ImportError:
        hint = "pip install 'sipnotify[postgres]'"
        raise StorageError("PostgreSQL is configured (sorcery.conf, extconfig.conf) but "
                           f"psycopg is not installed: {hint}") from None  # fmt: skip

"""The mailbox store contract: SQLite and PostgreSQL pass the same tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sipnotify.storage.mailboxes import MailboxStore
from sipnotify.storage.pg_mailboxes import PgMailboxStore
from sipnotify.storage.sqlite_mailboxes import SqliteMailboxStore

Reopen = Callable[[], MailboxStore]


@pytest.fixture(params=["sqlite", "postgres"])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Reopen]:
    opened: list[MailboxStore] = []
    dsn = request.getfixturevalue("postgres").new_database() if request.param == "postgres" else ""

    def make() -> MailboxStore:
        store: MailboxStore = (PgMailboxStore(dsn, "test") if dsn
                               else SqliteMailboxStore(tmp_path / "c.sqlite3"))  # fmt: skip
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_counts_survive_a_restart(reopen: Reopen) -> None:
    store = reopen()
    store.put("1000@default", 2, 1)
    store.put("1000@default", 3, 1)
    store.put("1001@default", 0, 4294967295)
    store.put("1002@default", 1, 1)
    store.delete(["1002@default", "unknown@default"])
    assert dict(reopen().load()) == {"1000@default": (3, 1), "1001@default": (0, 4294967295)}

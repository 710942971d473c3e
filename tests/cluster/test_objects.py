"""Reading realtime PJSIP objects from a real PostgreSQL: non-NULL columns as text, Asterisk's
escapes read back; an unreadable table is a ConfigError naming the database, not its password."""

from __future__ import annotations

import psycopg
import pytest

from sipnotify.cluster.objects import read_rows
from sipnotify.config.parser import ConfigError
from sipnotify.config.realtime import Connection
from tests.storage.postgres import Server as Postgres


def connection(dsn: str) -> Connection:
    return Connection(tuple(tuple(part.split("=", 1)) for part in dsn.split()))  # type: ignore[misc]


def test_rows_come_back_unescaped_without_null_columns(postgres: Postgres) -> None:
    dsn = postgres.new_database()
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("INSERT INTO ps_endpoints (id, aors, from_user) VALUES "
                   "('bob', 'bob^3Bx', 'a^5E3Bb'), ('carol', NULL, 'c')")  # fmt: skip
    rows = read_rows(connection(dsn), "ps_endpoints")
    assert rows == [{"id": "bob", "aors": "bob;x", "from_user": "a^3Bb"},
                    {"id": "carol", "from_user": "c"}]  # fmt: skip


def test_an_unreadable_table_names_the_database_and_the_table(postgres: Postgres) -> None:
    dsn = postgres.new_database()
    with pytest.raises(ConfigError) as raised:
        read_rows(connection(dsn), "ps_nothing")
    assert "cannot read ps_nothing" in str(raised.value)
    assert str(raised.value).startswith("PostgreSQL ")

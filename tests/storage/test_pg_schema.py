"""The PostgreSQL schema: upgrades, and the check a node makes before using a database."""

from __future__ import annotations

import psycopg
import pytest

from sipnotify.storage.base import StorageError
from sipnotify.storage.pg_schema import VERSION, upgrade
from sipnotify.storage.postgres import PgContactStore
from tests.storage.postgres import Server


def test_upgrade_is_idempotent(postgres: Server) -> None:
    dsn = postgres.new_database(upgraded=False)
    assert upgrade(dsn, "db") == (0, VERSION)
    assert upgrade(dsn, "db") == (VERSION, VERSION)


def test_a_database_never_upgraded_is_refused_by_name(postgres: Server) -> None:
    dsn = postgres.new_database(upgraded=False)
    with pytest.raises(StorageError) as error:
        PgContactStore(dsn, "PostgreSQL db")
    assert str(error.value) == (
        f"PostgreSQL db: the schema is at version 0, this sipnotify needs {VERSION}: "
        "run `sipnotify db upgrade`"
    )


def test_asterisks_own_table_is_kept_and_a_foreign_one_is_named(postgres: Server) -> None:
    dsn = postgres.new_database(upgraded=False)
    with psycopg.connect(dsn, autocommit=True) as db:  # as Asterisk's migrations left it
        db.execute("CREATE TABLE ps_contacts (id varchar(255) NOT NULL, uri varchar(511))")
        db.execute("INSERT INTO ps_contacts VALUES ('bob^3B@1', 'sip:bob@h')")
    upgrade(dsn, "db")
    with pytest.raises(
        StorageError, match="ps_contacts has no column authenticate_qualify, call_id, endpoint"
    ):
        PgContactStore(dsn, "db")
    with psycopg.connect(dsn) as db:
        assert db.execute("SELECT id FROM ps_contacts").fetchall() == [("bob^3B@1",)]

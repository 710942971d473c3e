"""The subscription store contract, which every store must pass (SQLite, PostgreSQL): records
kept durably, replaced by id and dropped; and PostgreSQL's owners: a node loads its own
subscriptions, in Asterisk's ps_subscription_persistence, and takes over a dead node's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from sipnotify.storage.pg_subscriptions import PgSubscriptionStore
from sipnotify.storage.sqlite_subscriptions import SqliteSubscriptionStore
from sipnotify.storage.subscriptions import SubscriptionRecord, SubscriptionStore
from tests.storage.postgres import Server

PACKET = ("SUBSCRIBE sip:bob@192.0.2.5 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5062;branch=z9\r\n"
          "From: <sip:bob@192.0.2.5>;tag=f1\r\nTo: <sip:bob@192.0.2.5>\r\nCall-ID: c1\r\n"
          "CSeq: 1 SUBSCRIBE\r\nContact: <sip:bob@192.0.2.9:5062>\r\nEvent: message-summary\r\n"
          "Expires: 600\r\nContent-Length:  0\r\n\r\n")  # fmt: skip
RECORD = SubscriptionRecord("t-1", PACKET, "192.0.2.9", 5062, "udp", "192.0.2.5", 5060, 4242,
                            "t-1", "bob", 1_000_600, "sip:192.0.2.5:5060")  # fmt: skip
Open = Callable[[], SubscriptionStore]


@pytest.fixture(params=["sqlite", "postgres"])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Open]:
    opened: list[SubscriptionStore] = []
    dsn = request.getfixturevalue("postgres").new_database() if request.param == "postgres" else ""

    def make() -> SubscriptionStore:
        store: SubscriptionStore = (
            PgSubscriptionStore(dsn, "test", systemname="node-a") if dsn
            else SqliteSubscriptionStore(tmp_path / "contacts.sqlite3"))  # fmt: skip
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_records_survive_reopening_are_replaced_by_id_and_dropped(reopen: Open) -> None:
    store = reopen()
    other = replace(RECORD, id="t-2", tag="t-2", transport="tcp")
    store.save(RECORD)
    store.save(other)
    store.save(replace(RECORD, cseq=4200))  # saved again: replaced
    store.refresh("t-1", 4250, 1_001_200)  # a refresh
    store.refresh("nope", 1, 1)
    store.close()
    again = reopen()
    assert again.load() == [replace(RECORD, cseq=4250, expires=1_001_200), other]
    again.drop("t-1")
    again.drop("nope")
    assert again.load() == [other]


def test_rows_as_asterisk_keeps_them_and_a_dead_nodes_taken_over(postgres: Server) -> None:
    dsn = postgres.new_database()
    a, b = (PgSubscriptionStore(dsn, "test", systemname=n) for n in ("node-a", "node-b"))
    try:
        a.save(RECORD)
        with psycopg.connect(dsn) as db:
            row = db.execute("SELECT id, packet, src_name, src_port, transport_key, tag, "
                             "endpoint, expires, contact_uri, prune_on_boot "
                             "FROM ps_subscription_persistence").fetchone()  # fmt: skip
        assert row == ("t-1", PACKET, "192.0.2.9", 5062, "udp", "t-1", "bob", 1_000_600,
                       "sip:192.0.2.5:5060", "no")  # fmt: skip
        assert b.load() == []  # node A's
        assert b.owners() == ["node-a"]
        assert b.take_over("node-a") == 1
        assert (a.load(), b.load(), b.owners()) == ([], [RECORD], [])
    finally:
        a.close()
        b.close()

"""The contact store contract: SQLite (embedded) and PostgreSQL (Asterisk's `ps_contacts`) pass
the same tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from sipnotify.registrar.registry import Registry
from sipnotify.sip.registrar import Binding
from sipnotify.storage.base import ContactStore, Crowded, StorageError, StoreUnavailable, Write
from sipnotify.storage.postgres import PgContactStore
from sipnotify.storage.sqlite import SqliteContactStore
from tests.storage.postgres import Server

Reopen = Callable[[], ContactStore]  # opens the same store again (a restart)


def binding(uri: str, expires_at: float, aor: str = "bob") -> Binding:
    return Binding(aor=aor, uri=uri, expires_at=expires_at, endpoint=aor, via_port=5060)


@pytest.fixture(params=["sqlite", "postgres"])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Reopen]:
    opened: list[ContactStore] = []
    dsn = request.getfixturevalue("postgres").new_database() if request.param == "postgres" else ""

    def make() -> ContactStore:
        store: ContactStore = (
            PgContactStore(dsn, "test", systemname="node-a")
            if dsn
            else SqliteContactStore(tmp_path / "c.sqlite3")
        )
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_round_trip_replace_and_drop(reopen: Reopen) -> None:
    store = reopen()
    a, b = binding("sip:a@h", 100.0), binding("sip:b@h", 200.0)
    store.change([a, b], [])
    store.change([binding("sip:a@h", 300.0)], [b])
    again = reopen()
    assert again.load() == [binding("sip:a@h", 300.0)]
    assert again.prune(301.0) == 1
    assert again.load() == []


def test_several_writes_are_made_together_in_order(reopen: Reopen) -> None:
    store = reopen()
    old = binding("sip:old@h", 100.0, aor="zed")
    back = binding("sip:back@h", 100.0, aor="bo")
    store.change([old, back], [])
    gone = binding("sip:gone@h", 500.0, aor="al")
    store.change_many([
        Write([binding("sip:z@h", 200.0, aor="zed")], [old]),
        Write([binding("sip:a@h", 300.0, aor="al")], []),
        Write([binding("sip:z@h", 400.0, aor="zed")], []),  # the same AOR again: after the first
        Write([gone], []),
        Write([], [gone]),  # stored, then dropped
        Write([], [back]),
        Write([binding("sip:back@h", 600.0, aor="bo")], []),  # dropped, then stored again
    ])  # fmt: skip
    assert sorted((b.aor, b.uri, b.expires_at) for b in reopen().load()) == [
        ("al", "sip:a@h", 300.0), ("bo", "sip:back@h", 600.0),
        ("zed", "sip:z@h", 400.0)]  # fmt: skip


def test_every_field_survives(reopen: Reopen) -> None:
    full = Binding(
        aor="al;ice",
        uri="sip:a@h;transport=tcp;x=^y",
        expires_at=1234.5,
        endpoint="alice",
        call_id="c@h",
        cseq=7,
        user_agent="Yealink SIP-T46S",
        via_addr="10.0.0.1",
        via_port=5070,
        protocol="tcp",
        path="<sip:edge;lr>",
    )
    reopen().change([full], [])
    assert reopen().load() == [full]


def test_registry_hides_expired_and_prunes(reopen: Reopen) -> None:
    store = reopen()
    store.change([binding("sip:old@h", 10.0), binding("sip:new@h", 1000.0)], [])
    registry = Registry(store, now=50.0)  # start-up prunes what expired
    assert [b.uri for b in registry.bindings("bob", 60.0)] == ["sip:new@h"]
    assert registry.prune(1000.0, lambda _b, _c: None) == 1
    assert store.load() == []


def test_rows_as_asterisk_writes_and_reads_them(postgres: Server) -> None:
    dsn = postgres.new_database()
    store = PgContactStore(dsn, "test", systemname="node-a")
    bob = binding("sip:bob@10.0.0.9:5062;transport=tcp", 1800000000.0)
    store.change([bob.on_node("node-a")], [])
    with psycopg.connect(dsn) as db:
        row = db.execute(
            "SELECT id, uri, expiration_time, reg_server, endpoint, via_port FROM ps_contacts"
        ).fetchone()
        assert row is not None
        key, uri, expiration, reg_server, endpoint, via_port = row
        assert key.startswith("bob^3B@")
        assert ";" not in key
        assert uri == "sip:bob@10.0.0.9:5062^3Btransport=tcp"
        assert (expiration, reg_server, endpoint, via_port) == (1800000000, "node-a", "bob", 5060)
        # A row Asterisk wrote (no side row of ours) is read, its AOR taken from the id.
        db.execute(
            "INSERT INTO ps_contacts (id, uri, expiration_time, endpoint, reg_server) "
            "VALUES ('carol^3B@0f', 'sip:carol@h^3Btransport=tls', 1900000000, "
            "'carol', 'asterisk-1')"
        )
    carol = [b for b in store.load() if b.aor == "carol"]
    assert carol == [
        Binding(
            aor="carol",
            uri="sip:carol@h;transport=tls",
            expires_at=1900000000.0,
            endpoint="carol",
            protocol="tls",
            reg_server="asterisk-1",
        )
    ]
    store.close()


def test_an_unreachable_database_is_a_storage_error(postgres: Server) -> None:
    dsn = f"host=127.0.0.1 port={postgres.port + 1} user=u password=s3cret dbname=voip"
    with pytest.raises(StorageError) as error:
        PgContactStore(dsn, "PostgreSQL u@127.0.0.1/voip")
    assert str(error.value).startswith("PostgreSQL u@127.0.0.1/voip: ")
    assert "s3cret" not in str(error.value)


def test_a_change_tells_the_other_nodes_which_aors(postgres: Server) -> None:
    dsn = postgres.new_database()
    store = PgContactStore(dsn, "test", systemname="node-a")
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute("LISTEN sipnotify_contacts")
        store.change([binding("sip:a@h", 100.0), binding("sip:b@h", 100.0, aor="al")], [])
        told = [n.payload for n in listener.notifies(timeout=5, stop_after=2)]
    assert told == ["node-a al", "node-a bob"]
    assert store.load_aor("al") == [binding("sip:b@h", 100.0, aor="al")]
    store.close()


@pytest.fixture
def two_nodes(postgres: Server) -> Iterator[tuple[PgContactStore, PgContactStore]]:
    """Nodes A and B on one fresh database."""
    dsn = postgres.new_database()
    a = PgContactStore(dsn, "test", systemname="node-a")
    b = PgContactStore(dsn, "test", systemname="node-b")
    yield a, b
    a.close()
    b.close()


def test_a_change_past_the_limit_others_reached_is_refused_whole(
    two_nodes: tuple[PgContactStore, PgContactStore],
) -> None:
    a, b = two_nodes
    a.change([binding("sip:a@h", 1000.0)], [], limit=1, now=500.0)
    b.change([binding("sip:other@h", 1000.0, aor="al")], [], limit=1, now=500.0)
    with pytest.raises(Crowded) as crowded:  # node B had not heard of node A's
        b.change([binding("sip:b@h", 1000.0)], [], limit=1, now=500.0)
    assert crowded.value.aor == "bob"
    assert [x.uri for x in crowded.value.stored] == ["sip:a@h"]
    assert sorted(x.uri for x in b.load()) == ["sip:a@h", "sip:other@h"]  # nothing written
    b.change([binding("sip:b@h", 1000.0)], [binding("sip:a@h", 1000.0)], limit=1, now=500.0)
    b.change([binding("sip:c@h", 1000.0)], [], limit=1, now=1000.0)  # the others expired
    assert sorted(x.uri for x in a.load_aor("bob")) == ["sip:b@h", "sip:c@h"]


def test_several_aors_are_read_in_one_query(postgres: Server) -> None:
    store = PgContactStore(postgres.new_database(), "test", systemname="node-a")
    try:
        store.change([binding("sip:a@h", 100.0, aor="a_1"), binding("sip:x@h", 100.0, aor="ax1"),
                      binding("sip:p@h", 100.0, aor="50%")], [])  # fmt: skip
        found = store.load_aors(["a_1", "50%", "none"])  # `_` and `%` are literal
        assert {aor: [b.uri for b in rows] for aor, rows in found.items()} == {
            "a_1": ["sip:a@h"], "50%": ["sip:p@h"]}  # fmt: skip
    finally:
        store.close()


def test_writes_made_together_are_refused_together_past_a_limit(
    two_nodes: tuple[PgContactStore, PgContactStore],
) -> None:
    a, b = two_nodes
    a.change([binding("sip:a@h", 1000.0)], [], limit=1, now=500.0)
    with pytest.raises(StorageError):  # which one failed is learnt one at a time
        b.change_many([Write([binding("sip:x@h", 1000.0, aor="al")], [], 1, 500.0),
                       Write([binding("sip:b@h", 1000.0)], [], 1, 500.0)])  # fmt: skip
    assert [x.uri for x in b.load()] == ["sip:a@h"]  # nothing written, not even for "al"
    b.change_many([Write([binding("sip:x@h", 1000.0, aor="al")], [], 1, 500.0)])
    assert [x.uri for x in a.load_aor("al")] == ["sip:x@h"]


def test_a_database_restart_costs_only_the_calls_made_meanwhile(postgres: Server) -> None:
    store = PgContactStore(postgres.new_database(), "test")
    kept = binding("sip:kept@h", 500.0)
    store.change([kept], [])
    postgres.stop()
    try:
        with pytest.raises(StoreUnavailable, match=r"^test: "):
            store.change([binding("sip:lost@h", 600.0)], [])
        with pytest.raises(StoreUnavailable):
            store.change_many([Write([binding("sip:lost@h", 600.0)], [])])
        with pytest.raises(StoreUnavailable):
            store.load()  # still down: connecting again fails, clearly
    finally:
        postgres.start()
    assert store.load() == [kept]
    store.change([binding("sip:after@h", 700.0)], [])
    assert [b.uri for b in store.load()] == ["sip:after@h", "sip:kept@h"]
    store.close()

"""Following the other nodes' registrations: the AORs told of in one loop turn are read in
one query when it ends, and a read that fails is tried again later, losing nothing. The
store and the registrar are this unit's edges, recorded here."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sipnotify.cluster.contacts import RETRY, ContactFollower
from sipnotify.sip.registrar import Binding
from sipnotify.storage.base import StoreUnavailable


class Store:
    def __init__(self, rows: dict[str, list[Binding]], failures: int = 0) -> None:
        self.rows, self.failures, self.reads = rows, failures, list[list[str]]()

    def load(self) -> list[Binding]:
        return [b for bindings in self.rows.values() for b in bindings]

    def load_aors(self, aors: Sequence[str]) -> dict[str, list[Binding]]:
        self.reads.append(list(aors))
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("PostgreSQL: connection refused")
        return {aor: self.rows[aor] for aor in aors if aor in self.rows}


class Registrar:
    def __init__(self) -> None:
        self.refreshed: list[tuple[str, list[str]]] = []

    def refresh(self, aor: str, stored: list[Binding], now: float) -> None:
        assert now == 1e9
        self.refreshed.append((aor, [b.uri for b in stored]))

    def aors(self) -> list[str]:
        return []


class Loop:
    """What the follower schedules: at the turn's end, and after a delay."""

    def __init__(self) -> None:
        self.soon: list[Callable[[], None]] = []
        self.later: list[tuple[float, Callable[[], None]]] = []

    def call_soon(self, callback: Callable[[], None]) -> None:
        self.soon.append(callback)

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        self.later.append((delay, callback))


def binding(aor: str) -> Binding:
    return Binding(aor=aor, uri=f"sip:{aor}@192.0.2.1", expires_at=2e9, endpoint=aor)


def follower(store: Store) -> tuple[ContactFollower, Registrar, Loop]:
    registrar, loop = Registrar(), Loop()
    made = ContactFollower(store, registrar, lambda: 1e9, soon=loop.call_soon,
                           later=loop.call_later)  # fmt: skip
    return made, registrar, loop


def test_the_aors_told_in_one_turn_are_read_in_one_query() -> None:
    store = Store({"alice": [binding("alice")], "bob": [binding("bob")]})
    made, registrar, loop = follower(store)
    for key in ("alice", "bob", "alice", "gone"):
        made.told(key)
    assert registrar.refreshed == []
    (read,) = loop.soon
    read()
    assert store.reads == [["alice", "bob", "gone"]]
    assert registrar.refreshed == [("alice", ["sip:alice@192.0.2.1"]),
                                   ("bob", ["sip:bob@192.0.2.1"]), ("gone", [])]  # fmt: skip


def test_a_read_that_fails_is_tried_again_with_what_was_told_meanwhile() -> None:
    store = Store({"alice": [binding("alice")], "bob": [binding("bob")]}, failures=1)
    made, registrar, loop = follower(store)
    made.told("alice")
    loop.soon.pop()()
    assert registrar.refreshed == []
    made.told("bob")  # a read is already due: none scheduled twice
    assert loop.soon == []
    ((delay, again),) = loop.later
    assert delay == RETRY
    again()
    assert store.reads == [["alice"], ["alice", "bob"]]
    assert [aor for aor, _ in registrar.refreshed] == ["alice", "bob"]

"""The registry of contacts: a stored contact whose URI is not one the registrar would accept
today (a CR in it, say) is never loaded, so it can never reach the wire; another node's
changes are taken without being written again."""

from __future__ import annotations

from pathlib import Path

from sipnotify.registrar.registry import Change, Registry
from sipnotify.sip.registrar import Binding
from sipnotify.storage.sqlite import SqliteContactStore


def test_stored_contacts_with_forbidden_characters_are_not_loaded(tmp_path: Path) -> None:
    store = SqliteContactStore(tmp_path / "contacts.sqlite3")
    good = Binding(aor="bob", uri="sip:bob@192.0.2.1:5060", expires_at=4e9, endpoint="bob")
    bad = Binding(aor="bob", uri="sip:bob@192.0.2.1;x=1\rX-Injected: evil", expires_at=4e9,
                  endpoint="bob")  # fmt: skip
    store.change([good, bad], [])
    registry = Registry(store, 0.0)
    try:
        assert registry.bindings("bob", 0.0) == [good]
    finally:
        registry.close()


def test_another_nodes_change_is_taken_and_told(tmp_path: Path) -> None:
    a = Binding(aor="bob", uri="sip:bob@192.0.2.1", expires_at=4e9, endpoint="bob")
    b = Binding(aor="bob", uri="sip:bob@192.0.2.2", expires_at=4e9, endpoint="bob")
    store = SqliteContactStore(tmp_path / "contacts.sqlite3")
    store.change([a], [])
    registry = Registry(store, 0.0)
    told: list[tuple[str, Change]] = []
    moved = Binding(aor="bob", uri="sip:bob@192.0.2.2", expires_at=5e9, endpoint="bob")
    evil = Binding(aor="bob", uri="sip:bob@h\r\nX: y", expires_at=5e9, endpoint="bob")
    registry.replace("bob", [b], lambda binding, change: told.append((binding.uri, change)))
    registry.replace("bob", [b], lambda binding, change: told.append((binding.uri, change)))
    registry.replace("bob", [moved, evil], lambda bi, change: told.append((bi.uri, change)))
    assert told == [("sip:bob@192.0.2.1", Change.REMOVED), ("sip:bob@192.0.2.2", Change.CREATED),
                    ("sip:bob@192.0.2.2", Change.UPDATED)]  # fmt: skip
    assert registry.bindings("bob", 0.0) == [moved]
    registry.replace("bob", [], lambda binding, change: told.append((binding.uri, change)))
    assert [aor for aor, _ in registry.grouped()] == []
    assert store.load() == [a]  # nothing written: the other node already stored it
    registry.close()

"""The registry of contacts: a stored contact whose URI is not one the registrar would accept
today (a CR in it, say) is never loaded, so it can never reach the wire."""

from __future__ import annotations

from pathlib import Path

from sipnotify.registrar.registry import Registry
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

"""The SQLite contact store and the registry above it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sipnotify.registrar.registry import Registry
from sipnotify.sip.registrar import Binding, Decision
from sipnotify.storage.base import StorageError
from sipnotify.storage.sqlite import SqliteContactStore


def binding(uri: str, expires_at: float, aor: str = "bob") -> Binding:
    return Binding(aor=aor, uri=uri, expires_at=expires_at, endpoint=aor, via_port=5060)


def test_a_storage_failure_changes_nothing(tmp_path: Path) -> None:
    store = SqliteContactStore(tmp_path / "c.sqlite3")
    registry = Registry(store, now=0.0)
    kept = binding("sip:kept@h", 500.0)
    registry.apply(Decision(200, "OK", store=(kept,)), lambda _b, _c: None)
    lock = sqlite3.connect(tmp_path / "c.sqlite3", timeout=0)
    lock.execute("BEGIN EXCLUSIVE")  # another writer holds the database
    try:
        changed = Decision(200, "OK", store=(binding("sip:new@h", 600.0),), drop=(kept,))
        with pytest.raises(StorageError):
            registry.apply(changed, lambda _b, _c: None)
    finally:
        lock.rollback()
        lock.close()
    assert registry.bindings("bob", 1.0) == [kept]
    assert store.load() == [kept]

"""The contact store interface: small on purpose, so that a store shared by several nodes
(PostgreSQL, storage/postgres.py) implements it as well as the embedded one (SQLite);
`tests/storage/test_contacts.py` is the contract."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sipnotify.sip.registrar import Binding


class StorageError(Exception):
    """The store could not do what was asked; nothing it held has changed."""


class StoreUnavailable(StorageError):
    """The store cannot be reached now (a database server restarting); try again later."""


class ContactStore(Protocol):
    def load(self) -> list[Binding]:
        """Every stored binding, expired ones included."""
        ...

    def change(self, store: Sequence[Binding], drop: Sequence[Binding]) -> None:
        """Add or replace `store` and remove `drop`, all or nothing, durably, before returning.
        Raises StorageError."""
        ...

    def prune(self, now: float) -> int:
        """Remove bindings that expired before `now`; returns how many."""
        ...

    def close(self) -> None: ...

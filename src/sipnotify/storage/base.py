"""The contact store interface: small on purpose, so that a store shared by several nodes
(PostgreSQL, storage/postgres.py) implements it as well as the embedded one (SQLite);
`tests/storage/test_contacts.py` is the contract."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sipnotify.sip.registrar import Binding


class StorageError(Exception):
    """The store could not do what was asked; nothing it held has changed."""


class StoreUnavailable(StorageError):
    """The store cannot be reached now (a database server restarting); try again later."""


class Crowded(StorageError):
    """Other nodes added contacts to the AOR meanwhile: the change would leave more than its
    limit, so nothing changed; `stored` is the AOR's bindings as the store now holds them."""

    def __init__(self, aor: str, stored: list[Binding]) -> None:
        super().__init__(f"{aor}: more contacts registered through other nodes meanwhile")
        self.aor, self.stored = aor, stored


@dataclass(frozen=True, slots=True)
class Write:
    """One AOR's change, as `ContactStore.change` takes it: for writing several together."""

    store: Sequence[Binding]
    drop: Sequence[Binding]
    limit: int = 0
    now: float = 0.0


class ContactStore(Protocol):
    def load(self) -> list[Binding]:
        """Every stored binding, expired ones included."""
        ...

    def change(self, store: Sequence[Binding], drop: Sequence[Binding], *, limit: int = 0,
               now: float = 0.0) -> None:  # fmt: skip
        """Add or replace `store` and remove `drop` (one AOR's), all or nothing, durably,
        before returning. A store several nodes write raises Crowded when the AOR would hold
        more than `limit` (when not 0) bindings unexpired at `now`: the caller decided without
        the others' latest. Raises StorageError."""
        ...

    def change_many(self, writes: Sequence[Write]) -> None:
        """Every write, in order, all or nothing, in one transaction (one commit for a loop
        turn's registrations). Raises StorageError (StoreUnavailable when the store cannot be
        reached), without saying which write failed: the caller makes them one at a time to
        learn it."""
        ...

    def prune(self, now: float) -> int:
        """Remove bindings that expired before `now`; returns how many."""
        ...

    def close(self) -> None: ...

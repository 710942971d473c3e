"""The mailbox store interface: each mailbox's new and old message counts, durable across
restarts. Small on purpose, like the contact and job stores: SQLite (embedded) and PostgreSQL
implement it; `tests/storage/test_mailboxes.py` is the contract."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol


class MailboxStore(Protocol):
    def load(self) -> Mapping[str, tuple[int, int]]:
        """Every mailbox's (new, old)."""
        ...

    def put(self, mailbox: str, new: int, old: int) -> None:
        """Set one mailbox's counts, durably, before returning. Raises StorageError."""
        ...

    def delete(self, mailboxes: Sequence[str]) -> None:
        """Forget these mailboxes (unknown ones are ignored). Raises StorageError."""
        ...

    def close(self) -> None: ...

"""The other nodes' mailbox changes: each mailbox another node changed is read again; this
node remembers its counts and tells its own subscriptions and AMI sessions (the node that made
the change told the endpoints' contacts, which every node sees)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sipnotify.mwi.mailboxes import Change, Counts
from sipnotify.mwi.service import MwiService
from sipnotify.storage.pg_mailboxes import PgMailboxStore

Publish = Callable[[Sequence[Change]], None]  # the AMI events of changes


class MailboxFollower:
    def __init__(self, store: PgMailboxStore, mwi: MwiService, publish: Publish) -> None:
        self._store, self._mwi, self._publish = store, mwi, publish

    def told(self, key: str) -> None:
        self._take({key: self._store.load_one(key)})

    def resync(self) -> None:
        stored: dict[str, tuple[int, int] | None] = dict(self._store.load())
        known = [mailbox for mailbox, _ in self._mwi.mailboxes.find("/./")]
        self._take({**dict.fromkeys(known), **stored})

    def _take(self, stored: dict[str, tuple[int, int] | None]) -> None:
        boxes = self._mwi.mailboxes
        taken = (boxes.take(mailbox, Counts(*counts) if counts is not None else None)
                 for mailbox, counts in stored.items())  # fmt: skip
        changes = [change for change in taken if change is not None]
        if changes:
            self._mwi.heard(changes)
            self._publish(changes)

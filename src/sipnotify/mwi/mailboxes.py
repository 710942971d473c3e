"""Mailbox state, sans I/O (behaviour: MWI): each mailbox's new and old counts, kept in a store
and changed by MWIUpdate and MWIDelete, with what each change means for the events.

A mailbox id is used as given (`1000` and `1000@default` are two mailboxes). Counts are 32-bit
signed, as Asterisk parses them (`-1` is accepted and published as `-1`, listed by MWIGet as
4294967295). A mailbox is *waiting* when its new count is not zero; its device state
(`MWI:<mailbox>`) is INUSE when the new count is above zero, NOT_INUSE otherwise, and a
change of that state is told once. A `/regex/` names every mailbox it matches (a regex that
does not compile matches nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sipnotify.storage.mailboxes import MailboxStore


@dataclass(frozen=True, slots=True)
class Counts:
    new: int = 0
    old: int = 0

    @property
    def waiting(self) -> bool:
        return self.new != 0

    @property
    def in_use(self) -> bool:
        return self.new > 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.new + other.new, self.old + other.old)


@dataclass(frozen=True, slots=True)
class Change:
    """A mailbox was updated or deleted: its counts now, and whether its device state moved."""

    mailbox: str
    counts: Counts
    device_changed: bool


def unsigned(count: int) -> int:
    """As Asterisk lists a count it keeps unsigned (MWIGet)."""
    return count & 0xFFFFFFFF


class Mailboxes:
    def __init__(self, store: MailboxStore) -> None:
        self._store = store
        self._counts = {m: Counts(new, old) for m, (new, old) in store.load().items()}

    def counts(self, mailbox: str) -> Counts:
        return self._counts.get(mailbox, Counts())

    def update(self, mailbox: str, counts: Counts) -> Change:
        """Store first (raises StorageError, nothing changed), then remember."""
        before = self.counts(mailbox)
        self._store.put(mailbox, counts.new, counts.old)
        self._counts[mailbox] = counts
        return Change(mailbox, counts, before.in_use != counts.in_use)

    def take(self, mailbox: str, stored: Counts | None) -> Change | None:
        """Another node changed `mailbox` (to `stored`, None: deleted): remember it without
        writing; the change, or None when nothing changed here."""
        before = self._counts.get(mailbox)
        if before == stored:
            return None
        if stored is None:
            del self._counts[mailbox]
            return Change(mailbox, Counts(), before is not None and before.in_use)
        self._counts[mailbox] = stored
        return Change(mailbox, stored, (before or Counts()).in_use != stored.in_use)

    def delete(self, name: str) -> list[Change]:
        """The mailbox, or every one a `/regex/` matches; unknown ones change nothing."""
        found = [mailbox for mailbox, _ in self.find(name)]
        if not found:
            return []
        self._store.delete(found)
        changes = []
        for mailbox in found:
            before = self._counts.pop(mailbox)
            changes.append(Change(mailbox, Counts(), before.in_use))
        return changes

    def find(self, name: str) -> list[tuple[str, Counts]]:
        """The mailbox (if known), or every one a `/regex/` matches, by id."""
        if len(name) > 1 and name.startswith("/") and name.endswith("/"):
            try:
                pattern = re.compile(name[1:-1])
            except re.error:
                return []
            found = [(m, c) for m, c in self._counts.items() if pattern.search(m)]
            return sorted(found, key=lambda pair: pair[0])
        return [(name, self._counts[name])] if name in self._counts else []

"""The registered contacts of every AOR: read from memory, kept durable in a ContactStore.

Expired bindings are never returned, and are pruned from memory and store periodically
(and at start-up), as Asterisk's contact_expiration_check_interval does.
"""

from __future__ import annotations

import enum
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from sipnotify.sip.errors import ParseError
from sipnotify.sip.registrar import Binding, Decision
from sipnotify.sip.uri import parse_uri
from sipnotify.storage.base import ContactStore, Write

log = logging.getLogger("sipnotify.registrar")


class Change(enum.Enum):
    """What happened to a registered contact."""

    CREATED = "Created"
    UPDATED = "Updated"
    REMOVED = "Removed"


Tell = Callable[[Binding, Change], None]  # told of each change as it is made


def _usable(binding: Binding) -> bool:
    """A stored contact is used only if its URI is one the registrar would accept today: a
    row written by an older version, or by hand, must not put a CR or NUL on the wire."""
    try:
        parse_uri(binding.uri)
    except ParseError as exc:
        log.warning("stored contact of %s ignored: %s", binding.aor, exc.reason)
        return False
    return True


class Registry:
    def __init__(self, store: ContactStore, now: float) -> None:
        self._store = store
        self._by_aor: dict[str, dict[str, Binding]] = defaultdict(dict)
        store.prune(now)
        for binding in store.load():
            if _usable(binding):
                self._by_aor[binding.aor][binding.uri] = binding

    def bindings(self, aor: str, now: float) -> list[Binding]:
        """The unexpired bindings of `aor`, oldest registration first."""
        return [b for b in self._by_aor.get(aor, {}).values() if b.expires_at > now]

    def grouped(self) -> Iterable[tuple[str, Iterable[Binding]]]:
        """Every AOR with its bindings, expired ones included (a cheap look for counting)."""
        return ((aor, bindings.values()) for aor, bindings in self._by_aor.items())

    def all(self, now: float) -> list[Binding]:
        return [b for aor in sorted(self._by_aor) for b in self.bindings(aor, now)]

    def apply(self, decision: Decision, tell: Tell, *, limit: int = 0, now: float = 0.0) -> None:
        """Store first (raises StorageError, leaving everything as it was; Crowded when other
        nodes took the AOR past `limit` meanwhile), then remember, telling of each change
        right after it is made."""
        self._store.change(decision.store, decision.drop, limit=limit, now=now)
        self._remember(Write(decision.store, decision.drop), tell)

    def store_many(self, writes: Sequence[Write]) -> None:
        """Several writes stored together; raises StorageError, nothing stored. Touches the
        store only (it may run on a helper thread); `remember_many` follows on the loop."""
        self._store.change_many(writes)

    def remember_many(self, writes: Sequence[Write], tell: Tell) -> None:
        """Writes `store_many` stored, remembered in order, telling of each change."""
        for write in writes:
            self._remember(write, tell)

    def _remember(self, write: Write, tell: Tell) -> None:
        for binding in write.drop:
            if self._by_aor[binding.aor].pop(binding.uri, None) is not None:
                tell(binding, Change.REMOVED)
        for binding in write.store:
            known = binding.uri in self._by_aor[binding.aor]
            self._by_aor[binding.aor][binding.uri] = binding
            tell(binding, Change.UPDATED if known else Change.CREATED)

    def replace(self, aor: str, stored: Iterable[Binding], tell: Tell) -> None:
        """Take `aor`'s bindings as the store holds them now (another node changed them),
        telling of each difference; nothing is written."""
        known = self._by_aor[aor]
        fresh = {b.uri: b for b in stored if b.aor == aor and _usable(b)}
        for uri in [uri for uri in known if uri not in fresh]:
            tell(known.pop(uri), Change.REMOVED)
        for uri, binding in fresh.items():
            before = known.get(uri)
            known[uri] = binding
            if before != binding:
                tell(binding, Change.CREATED if before is None else Change.UPDATED)
        if not known:
            del self._by_aor[aor]

    def prune(self, now: float, tell: Tell) -> int:
        """Forget expired bindings, in memory and in the store, telling of each; returns how
        many rows the store dropped."""
        for aor, bindings in list(self._by_aor.items()):
            for uri, binding in list(bindings.items()):
                if binding.expires_at <= now:
                    del bindings[uri]
                    tell(binding, Change.REMOVED)
            if not bindings:
                del self._by_aor[aor]
        return self._store.prune(now)

    def close(self) -> None:
        self._store.close()

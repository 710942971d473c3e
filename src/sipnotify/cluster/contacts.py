"""The other nodes' registrations: for each AOR another node changed, its rows read again and
handed to the registrar, which tells this node's AMI sessions as for its own.

The AORs told of in one loop turn are read in one query when the turn ends (a node
registering hundreds of phones a second would otherwise cost this one a database round trip
for each); a read that fails is tried again after RETRY seconds, so no change is missed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Protocol

from sipnotify.sip.registrar import Binding
from sipnotify.storage.base import StorageError

log = logging.getLogger("sipnotify.cluster")
RETRY = 1.0  # seconds before reading again AORs whose read failed

Soon = Callable[[Callable[[], None]], object]  # loop.call_soon
Later = Callable[[float, Callable[[], None]], object]  # loop.call_later


class Stored(Protocol):
    """The shared contact store, as the follower reads it (storage/postgres.py)."""

    def load(self) -> list[Binding]: ...

    def load_aors(self, aors: Sequence[str]) -> dict[str, list[Binding]]: ...


class Refreshed(Protocol):
    """The registrar, as the follower hands it what the store holds (registrar/service.py)."""

    def refresh(self, aor: str, stored: list[Binding], now: float) -> None: ...

    def aors(self) -> list[str]: ...


class ContactFollower:
    def __init__(self, store: Stored, registrar: Refreshed, wall: Callable[[], float],
                 *, soon: Soon, later: Later) -> None:  # fmt: skip
        self._store, self._registrar, self._wall = store, registrar, wall
        self._soon, self._later = soon, later
        self._told: dict[str, None] = {}  # the AORs to read, in the order told
        self._reading = False  # a read is scheduled

    def told(self, key: str) -> None:
        self._told[key] = None
        if not self._reading:
            self._reading = True
            self._soon(self._read)

    def _read(self) -> None:
        self._reading = False
        keys = list(self._told)
        try:
            stored = self._store.load_aors(keys)
        except StorageError as exc:
            log.error("cannot read %d AORs another node changed (again in %.0f s): %s",
                      len(keys), RETRY, exc)  # fmt: skip
            self._reading = True
            self._later(RETRY, self._read)
            return
        self._told.clear()
        now = self._wall()
        for key in keys:
            self._registrar.refresh(key, stored.get(key, []), now)

    def resync(self) -> None:
        stored: dict[str, list[Binding]] = defaultdict(list)
        for binding in self._store.load():
            stored[binding.aor].append(binding)
        now = self._wall()
        for aor in {*stored, *self._registrar.aors()}:
            self._registrar.refresh(aor, stored.get(aor, []), now)

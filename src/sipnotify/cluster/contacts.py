"""The other nodes' registrations: for each AOR another node changed, its rows read again and
handed to the registrar, which tells this node's AMI sessions as for its own."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from sipnotify.registrar.service import Registrar
from sipnotify.sip.registrar import Binding
from sipnotify.storage.postgres import PgContactStore


class ContactFollower:
    def __init__(self, store: PgContactStore, registrar: Registrar,
                 wall: Callable[[], float]) -> None:  # fmt: skip
        self._store, self._registrar, self._wall = store, registrar, wall

    def told(self, key: str) -> None:
        self._registrar.refresh(key, self._store.load_aor(key), self._wall())

    def resync(self) -> None:
        stored: dict[str, list[Binding]] = defaultdict(list)
        for binding in self._store.load():
            stored[binding.aor].append(binding)
        now = self._wall()
        for aor in {*stored, *self._registrar.aors()}:
            self._registrar.refresh(aor, stored.get(aor, []), now)

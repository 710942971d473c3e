"""Watching for nodes that died: every few seconds, for each other node that owns unfinished
jobs, MWI subscriptions or registered contacts, try its name's advisory lock (identity.py). A
running node holds it, so getting it means that node is gone (PostgreSQL drops a session's
locks when its process dies, `kill -9` included); the lock is let go at once. Then:

- requests forwarded to it are reported failed, and no more are forwarded (relay.py): its
  contacts are sent to from here;
- its TCP/TLS contacts registered without a Path are reported Unreachable (their connection
  died with it; no other node can reach them) until they register again through a live node;
- its unfinished jobs and its MWI subscriptions are moved to this node, each kind in one
  statement (two survivors racing move them once), and resumed here: phones whose answer was
  recorded are not sent to again; each subscriber is told the current state.

At every look, dead nodes or not, the jobs running here also act on their stored state, so a
pause or cancel another node made, whose notice was missed, takes effect within a look.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from sipnotify.cluster.background import Background
from sipnotify.cluster.identity import NodeName
from sipnotify.sip.registrar import Binding
from sipnotify.storage.base import StorageError

log = logging.getLogger("sipnotify.cluster")
EVERY = 3.0  # seconds between looks for dead nodes


class Owned(Protocol):
    """What a node owns in the database (jobs, subscriptions), moved when it dies."""

    @property
    def what(self) -> str:
        """What it is, for the log ("fleet jobs")."""
        ...

    def owners(self) -> list[str]:
        """The other nodes that own some."""
        ...

    def take_over(self, owner: str) -> int:
        """Make `owner`'s this node's; returns how many."""
        ...


def flow_bound(binding: Binding) -> bool:
    """Reached only over the connection it registered on (no Path around it)."""
    return binding.protocol in ("tcp", "tls") and not binding.path


class NodeWatch:
    def __init__(self, name: NodeName, *, owned: Sequence[Owned], resume: Callable[[], int],
                 contacts: Callable[[], Iterable[Binding]], orphan: Callable[[Binding], None],
                 lost: Callable[[set[str]], None], tick: Callable[[], None],
                 every: float = EVERY) -> None:  # fmt: skip
        """`tick` runs at each look too (the jobs running here check their stored state)."""
        self._name, self._owned, self._resume = name, owned, resume
        self._contacts, self._orphan, self._lost, self._every = contacts, orphan, lost, every
        self._tick = tick
        self._alive: set[str] = set()  # other nodes found running at the last look
        self._dead: set[str] = set()  # and found stopped
        self.background = Background(self._run)

    async def _run(self) -> None:
        while True:
            try:
                self.look()
            except StorageError as exc:
                log.error("cannot look for stopped nodes: %s", exc)
            await asyncio.sleep(self._every)

    def running(self, node: str) -> bool:
        """Whether `node` runs, as the last look found it; a node it did not look at (new
        since) is looked at now, once."""
        if node in self._alive or node in self._dead:
            return node in self._alive
        try:
            free = self._name.is_free(node)
        except StorageError as exc:
            log.error("cannot tell whether node %s runs: %s", node, exc)
            return False
        (self._dead if free else self._alive).add(node)
        return not free

    def look(self) -> None:
        self._tick()
        contacts = list(self._contacts())
        owners = {owner for store in self._owned for owner in store.owners()}
        others = {*owners, *(b.reg_server for b in contacts)} - {"", self._name.systemname}
        dead = {node for node in others if self._name.is_free(node)}
        self._alive, self._dead = others - dead, dead
        if dead:
            self._lost(dead)
        for binding in filter(flow_bound, contacts):
            if binding.reg_server in dead:
                self._orphan(binding)
        taken = 0
        for owner in dead & owners:
            for store in self._owned:
                moved = store.take_over(owner)
                if moved:
                    log.warning("took over %d %s of node %s, which is not running", moved,
                                store.what, owner)  # fmt: skip
                    taken += moved
        if taken:
            self._resume()

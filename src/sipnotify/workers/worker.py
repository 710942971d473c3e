"""This process as one of the workers: its index, its name in the cluster, the marks its
identifiers carry, and how a datagram meant for a sibling is recognised.

A phone's datagrams always reach the worker its address is steered to (`steering.owner`).
That worker holds the phone's server transactions and registrations, but a NOTIFY another
worker sent to the phone is answered to the shared port too, so the answer reaches the
phone's worker, not the sender. Every branch, tag and Call-ID a worker makes starts with
`<base>.<index>.` (`base` is random, shared by the workers of one supervisor): a response
whose branch, or an in-dialog request whose To tag, names another worker is handed to it
(`handoff.py`).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

WORKER_ENV = "SIPNOTIFY_WORKER"


@dataclass(frozen=True, slots=True)
class Worker:
    index: int  # 0 to count - 1: this worker's socket in each steered group
    count: int
    base: str  # hexadecimal, shared by the workers of one supervisor
    systemname: str  # the host's (asterisk.conf); each worker is `<systemname>-<index + 1>`

    @classmethod
    def from_environment(cls) -> Worker | None:
        text = os.environ.get(WORKER_ENV)
        if text is None:
            return None
        index, count, base, systemname = text.split(" ", 3)
        return cls(int(index), int(count), base, systemname)

    def environment(self) -> str:
        return f"{self.index} {self.count} {self.base} {self.systemname}"

    @property
    def name(self) -> str:
        """This worker's systemname: its node name in the cluster, its contacts' reg_server."""
        return self.name_of(self.index)

    def name_of(self, index: int) -> str:
        return f"{self.systemname}-{index + 1}"

    @property
    def siblings(self) -> frozenset[str]:
        """The names of the other workers of this host."""
        return frozenset(self.name_of(i) for i in range(self.count) if i != self.index)

    def ids_prefix(self) -> str:
        """The prefix of every identifier this worker makes (the last part differs at each
        start, so a restarted worker never repeats its predecessor's)."""
        return f"{self.base}.{self.index}.{secrets.token_hex(3)}"

    @property
    def marker(self) -> bytes:
        return f"{self.base}.".encode()

    def meant_for(self, data: bytes) -> int | None:
        """The sibling whose identifiers `data` carries first, or None when it is this
        worker's (or nobody's: a phone's new request)."""
        at = data.find(self.marker)
        if at < 0:
            return None
        start = at + len(self.marker)
        end = data.find(b".", start, start + 3)
        if end < 0 or not data[start:end].isdigit():
            return None
        index = int(data[start:end])
        return index if index != self.index and index < self.count else None

    def address(self, index: int) -> str:
        """Worker `index`'s hand-off socket (Linux's abstract namespace: no file to clean)."""
        return f"\0sipnotify-{self.base}-{index}"

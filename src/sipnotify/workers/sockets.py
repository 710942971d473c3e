"""The listening sockets the supervisor binds once for all workers, and how a worker finds
its own among those it inherited.

For each address sipnotify listens on (a pjsip.conf transport, AMI, HTTP) the supervisor
binds one socket per worker with SO_REUSEPORT; a UDP group gets the steering program. Worker
n inherits the n-th socket of each group: the descriptor numbers travel in the environment
variable SOCKETS_ENV as JSON. The supervisor keeps its copies open, so datagrams and
connections for a worker that is restarting wait in its socket's queue instead of going to
another worker (or being refused).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from sipnotify.workers.steering import attach

SOCKETS_ENV = "SIPNOTIFY_SOCKETS"
BACKLOG = 1024


class Kind(Enum):
    """What listens: SIP over UDP, SIP over TCP or TLS, AMI, HTTP(S)."""

    UDP = "udp"
    STREAM = "stream"
    AMI = "ami"
    HTTP = "http"


@dataclass(frozen=True, slots=True)
class Listen:
    """One address to listen on, as the configuration names it (`port` 0: any free port,
    the same for every worker)."""

    kind: Kind
    host: str
    port: int

    @property
    def key(self) -> str:
        return f"{self.kind.value} {self.host} {self.port}"


def bind_group(listen: Listen, count: int) -> list[socket.socket]:
    """`count` sockets sharing listen's address; raises OSError (closing what it bound)."""
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    datagram = listen.kind is Kind.UDP
    group: list[socket.socket] = []
    port = listen.port
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_DGRAM if datagram else socket.SOCK_STREAM)
            group.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((listen.host, port))
            port = int(sock.getsockname()[1])
            if not datagram:
                sock.listen(BACKLOG)
        if datagram:
            attach(group[0], count)
    except OSError:
        for sock in group:
            sock.close()
        raise
    return group


def environment(groups: Mapping[Listen, list[socket.socket]], index: int) -> str:
    """SOCKETS_ENV's value for worker `index`."""
    return json.dumps({listen.key: group[index].fileno() for listen, group in groups.items()})


class Inherited:
    """The sockets this worker inherited, each taken once by the part that listens there."""

    def __init__(self, descriptors: Mapping[str, int]) -> None:
        self._descriptors = dict(descriptors)

    @classmethod
    def from_environment(cls) -> Inherited | None:
        text = os.environ.get(SOCKETS_ENV)
        if text is None:
            return None
        return cls({str(key): int(fd) for key, fd in json.loads(text).items()})

    def take(self, kind: Kind, host: str, port: int) -> socket.socket | None:
        """The socket for this address, or None when the supervisor bound none (a
        listener added by a reload binds on its own)."""
        fd = self._descriptors.pop(Listen(kind, host, port).key, None)
        if fd is None:
            return None
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        return sock

    def close_rest(self) -> None:
        for fd in self._descriptors.values():
            os.close(fd)
        self._descriptors.clear()


def descriptors(groups: Iterable[list[socket.socket]], index: int) -> list[int]:
    return [group[index].fileno() for group in groups]

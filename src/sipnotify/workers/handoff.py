"""Datagrams that reached this worker but belong to a sibling, passed on over a local
datagram socket (see worker.py for why they arrive here).

A hand-off is one Unix datagram: `<transport>\n<host>\n<port>\n` then the SIP message as
received; the sibling takes it as if its own socket of that transport had read it from
host:port. A sibling that is not running (restarting) loses it, as the network may: the
sender's transactions died with it, and a phone retransmits requests.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from sipnotify.workers.worker import Worker

log = logging.getLogger("sipnotify.workers")

Address = tuple[str, int]
Inject = Callable[[str, bytes, Address], None]
MAX_DATAGRAM = 65_536 + 512


def encode(transport: str, data: bytes, source: Address) -> bytes:
    return f"{transport}\n{source[0]}\n{source[1]}\n".encode() + data


def decode(packet: bytes) -> tuple[str, bytes, Address]:
    """Raises ValueError for what a sibling would never send."""
    transport, host, port, data = packet.split(b"\n", 3)
    return transport.decode(), data, (host.decode(), int(port))


class Handoff:
    """This worker's end: `divert` passes a sibling's datagram on; what siblings pass here
    goes to `inject`."""

    def __init__(self, worker: Worker, inject: Inject) -> None:
        self._worker = worker
        self._inject = inject
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self.passed = self.lost = 0

    def start(self) -> None:
        self._sock.bind(self._worker.address(self._worker.index))
        asyncio.get_running_loop().add_reader(self._sock.fileno(), self._read)

    def close(self) -> None:
        try:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
        finally:
            self._sock.close()

    def divert(self, transport: str, data: bytes, source: Address) -> bool:
        """True when `data` belongs to a sibling (passed on, or lost if it is down)."""
        index = self._worker.meant_for(data)
        if index is None:
            return False
        try:
            self._sock.sendto(encode(transport, data, source), self._worker.address(index))
            self.passed += 1
        except OSError as exc:
            self.lost += 1
            log.debug("worker %d not reachable: %s", index + 1, exc)
        return True

    def _read(self) -> None:
        for _ in range(64):  # bounded: the other sockets get their turn
            try:
                packet = self._sock.recv(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            try:
                self._inject(*decode(packet))
            except (ValueError, KeyError) as exc:
                log.warning("a malformed hand-off dropped: %s", exc)

"""SIP over UDP (RFC 3261 §18): one datagram, one message; nothing else here."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import cast

log = logging.getLogger("sipnotify.transport")

Address = tuple[str, int]
Deliver = Callable[[bytes, Address, "UdpTransport"], None]


class UdpTransport(asyncio.DatagramProtocol):
    """A bound UDP socket; received datagrams go to `deliver`."""

    protocol = "udp"

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._transport: asyncio.DatagramTransport | None = None
        self.host = ""
        self.port = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)
        self.host, self.port = transport.get_extra_info("sockname")[:2]

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self._deliver(data, (str(addr[0]), int(cast(int, addr[1]))), self)

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error: %s", exc)

    def grow_receive_buffer(self, size: int) -> None:
        """Ask for a larger kernel receive buffer (the kernel caps it at net.core.rmem_max)."""
        sock = self._transport.get_extra_info("socket") if self._transport else None
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)

    def send(self, data: bytes, address: Address) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(data, address)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

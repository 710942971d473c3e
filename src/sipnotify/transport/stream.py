"""SIP over TCP and TLS (RFC 3261 §18.3): framing by Content-Length, CRLF keep-alives,
and one connection reused per destination, whichever side opened it.

A peer that sends a header block or body past the framer's bound, or bytes that cannot be
framed, is closed: a stream cannot be resynchronised.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import cast

from sipnotify.sip.errors import ParseError
from sipnotify.sip.parser import StreamFramer

log = logging.getLogger("sipnotify.transport")

Address = tuple[str, int]
Deliver = Callable[[bytes, Address, "StreamConnection"], None]


class StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection; whole messages go to `deliver`."""

    def __init__(self, protocol: str, deliver: Deliver, pool: StreamPool) -> None:
        self.protocol = protocol
        self._deliver = deliver
        self._pool = pool
        self._framer = StreamFramer()
        self._transport: asyncio.Transport | None = None
        self.peer: Address = ("", 0)
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        host, port = transport.get_extra_info("peername")[:2]
        self.peer = (str(host), int(port))
        self._pool.add(self)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._framer.feed(data)
        except ParseError as exc:
            log.warning("%s peer %s:%d closed: %s", self.protocol, *self.peer, exc.reason)
            self.close()
            return
        if self._framer.pings:
            self._framer.pings = 0
            self.send(b"\r\n")
        for frame in frames:
            self._deliver(frame, self.peer, self)

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            log.debug("%s connection to %s:%d lost: %s", self.protocol, *self.peer, exc)
        self._pool.remove(self)
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, data: bytes, _address: Address | None = None) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class StreamPool:
    """Open TCP/TLS connections by (protocol, peer address), for reuse in both directions."""

    def __init__(self) -> None:
        self._connections: dict[tuple[str, Address], StreamConnection] = {}
        self._connecting: dict[tuple[str, Address], asyncio.Future[StreamConnection]] = {}

    def add(self, connection: StreamConnection) -> None:
        self._connections.setdefault((connection.protocol, connection.peer), connection)

    def remove(self, connection: StreamConnection) -> None:
        key = (connection.protocol, connection.peer)
        if self._connections.get(key) is connection:
            del self._connections[key]

    def has(self, protocol: str, address: Address) -> bool:
        """Whether a connection to `address` over `protocol` is open now."""
        return (protocol, address) in self._connections

    def open(self, protocol: str, address: Address) -> StreamConnection | None:
        """The connection to `address` over `protocol` if one is open now."""
        return self._connections.get((protocol, address))

    async def get(
        self,
        protocol: str,
        address: Address,
        deliver: Deliver,
        context: ssl.SSLContext | None,
        server_hostname: str | None,
    ) -> StreamConnection:
        """The open connection to `address`, or a new one (concurrent callers share it)."""
        key = (protocol, address)
        existing = self._connections.get(key)
        if existing is not None:
            return existing
        pending = self._connecting.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StreamConnection] = loop.create_future()
        self._connecting[key] = future
        try:
            _, connection = await loop.create_connection(
                lambda: StreamConnection(protocol, deliver, self),
                address[0],
                address[1],
                ssl=context,
                server_hostname=server_hostname if context is not None else None,
            )
            future.set_result(connection)
            return connection
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here; callers get it through `await`
            raise
        finally:
            del self._connecting[key]

    def close_all(self) -> None:
        for connection in list(self._connections.values()):
            connection.close()

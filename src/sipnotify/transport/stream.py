"""SIP over TCP and TLS (RFC 3261 §18.3): framing by Content-Length, CRLF keep-alives,
and one connection reused per destination, whichever side opened it.

A peer that sends a header block or body past the framer's bound, or bytes that cannot be
framed, is closed: a stream cannot be resynchronised.

Connections are bounded, so idle or slow peers cannot use up the process's descriptors (and
with them AMI logins): at most `Limits.total` accepted connections at once and
`Limits.per_address` from one address; a connection that has not sent a whole message (TLS
handshake included) within `Limits.first_message` seconds, or that carried nothing either way
for `Limits.idle` seconds, is closed. One periodic sweep checks them all, so the hot path
only stamps the time of each read.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from sipnotify.sip.errors import ParseError
from sipnotify.sip.parser import StreamFramer

log = logging.getLogger("sipnotify.transport")

Address = tuple[str, int]
Deliver = Callable[[bytes, Address, "StreamConnection"], None]


@dataclass(frozen=True, slots=True)
class Limits:
    total: int = 1024  # accepted connections at once
    per_address: int = 256  # accepted connections from one source address
    first_message: float = 10.0  # seconds to the first whole message, TLS handshake included
    idle: float = 600.0  # seconds with nothing read or written
    sweep: float = 5.0  # seconds between checks


DEFAULT_LIMITS = Limits()


class StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection; whole messages go to `deliver`. `inbound` is one a peer
    opened (counted against the limits)."""

    def __init__(
        self, protocol: str, deliver: Deliver, pool: StreamPool, *, inbound: bool = False
    ) -> None:
        self.protocol = protocol
        self.inbound = inbound
        self._deliver = deliver
        self._pool = pool
        self._framer = StreamFramer()
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self.peer: Address = ("", 0)
        self.closed = self._loop.create_future()
        self.opened_at = self.last_seen = self._loop.time()
        # a whole message (or keep-alive) has arrived; the rule is for connections peers open
        self.spoke = not inbound

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        host, port = transport.get_extra_info("peername")[:2]
        self.peer = (str(host), int(port))
        refused = self._pool.add(self)
        if refused:
            log.warning("%s connection from %s:%d refused: %s", self.protocol, *self.peer, refused)
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        self.last_seen = self._loop.time()
        try:
            frames = self._framer.feed(data)
        except ParseError as exc:
            log.warning("%s peer %s:%d closed: %s", self.protocol, *self.peer, exc.reason)
            self.close()
            return
        if self._framer.pings:
            self._framer.pings = 0
            self.spoke = True
            self.send(b"\r\n")
        for frame in frames:
            self.spoke = True
            self._deliver(frame, self.peer, self)

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            log.debug("%s connection to %s:%d lost: %s", self.protocol, *self.peer, exc)
        self._pool.remove(self)
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, data: bytes, _address: Address | None = None) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self.last_seen = self._loop.time()
            self._transport.write(data)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class StreamPool:
    """Open TCP/TLS connections by (protocol, peer address), for reuse in both directions,
    within `Limits`. `connect_timeout` bounds opening one (TCP connect and TLS handshake)."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS, *, connect_timeout: float = 32.0) -> None:
        self._limits = limits
        self._connect_timeout = connect_timeout
        self._connections: dict[tuple[str, Address], StreamConnection] = {}
        self._connecting: dict[tuple[str, Address], asyncio.Future[StreamConnection]] = {}
        self._accepted: set[StreamConnection] = set()
        self._per_address: Counter[str] = Counter()
        self._sweeper: asyncio.TimerHandle | None = None

    def add(self, connection: StreamConnection) -> str:
        """Take a new connection; the reason to refuse an accepted one ("" to keep it)."""
        if connection.inbound:
            host = connection.peer[0]
            if len(self._accepted) >= self._limits.total:
                return f"{self._limits.total} connections open"
            if self._per_address[host] >= self._limits.per_address:
                return f"{self._limits.per_address} connections from {host} open"
            self._accepted.add(connection)
            self._per_address[host] += 1
        self._connections.setdefault((connection.protocol, connection.peer), connection)
        return ""

    def remove(self, connection: StreamConnection) -> None:
        key = (connection.protocol, connection.peer)
        if self._connections.get(key) is connection:
            del self._connections[key]
        if connection in self._accepted:
            self._accepted.discard(connection)
            host = connection.peer[0]
            self._per_address[host] -= 1
            if self._per_address[host] <= 0:
                del self._per_address[host]

    def start_sweeping(self) -> None:
        """Check every connection every `Limits.sweep` seconds (until `close_all`)."""
        loop = asyncio.get_running_loop()
        self._sweeper = loop.call_later(self._limits.sweep, self._sweep)

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        limits = self._limits
        for connection in {*self._connections.values(), *self._accepted}:
            if not connection.spoke and now - connection.opened_at > limits.first_message:
                log.info("%s peer %s:%d closed: nothing within %g s", connection.protocol,
                         *connection.peer, limits.first_message)  # fmt: skip
                connection.close()
            elif now - connection.last_seen > limits.idle:
                log.info("%s connection to %s:%d closed: idle for %g s", connection.protocol,
                         *connection.peer, limits.idle)  # fmt: skip
                connection.close()
        self._sweeper = loop.call_later(limits.sweep, self._sweep)

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
            opening = loop.create_connection(
                lambda: StreamConnection(protocol, deliver, self),
                address[0],
                address[1],
                ssl=context,
                server_hostname=server_hostname if context is not None else None,
                ssl_handshake_timeout=self._connect_timeout if context is not None else None,
            )
            try:
                _, connection = await asyncio.wait_for(opening, self._connect_timeout)
            except TimeoutError:
                raise OSError(f"no connection within {self._connect_timeout:g} s") from None
            future.set_result(connection)
            return connection
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here; callers get it through `await`
            raise
        finally:
            del self._connecting[key]

    def close_all(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for connection in {*self._connections.values(), *self._accepted}:
            connection.close()

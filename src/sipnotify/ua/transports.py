"""The sockets of pjsip.conf's transports: UDP sockets, TCP/TLS listeners, and the pool of
TCP/TLS connections in both directions. Bytes received go to one `Deliver` callback.

A worker (`workers = N`) takes the listening sockets its supervisor bound instead of binding
its own, and lets `divert` pass on a UDP datagram that belongs to a sibling worker."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Mapping

from sipnotify.config.pjsip import Transport
from sipnotify.sip.transactions.exchange import Link
from sipnotify.transport.stream import Limits, StreamConnection, StreamPool
from sipnotify.transport.tls import client_context, server_context
from sipnotify.transport.udp import UdpTransport
from sipnotify.ua.addresses import Address, Destination, bracketed
from sipnotify.workers.sockets import Inherited, Kind

Deliver = Callable[[bytes, Address, Link], None]
Divert = Callable[[str, bytes, Address], bool]
# Asked of the kernel for UDP sockets (it doubles it for its bookkeeping; capped by rmem_max):
# about 1,000 queued datagrams, half a second of REGISTERs at full load. Bursts of answers to
# our own NOTIFYs fit; a deeper queue only makes an overloaded server read requests older than
# a phone's first retransmission (T1, 500 ms), so every copy is read too and the load grows.
RECEIVE_BUFFER = 512 * 1024


def _udp_socket(transport: Transport, inherited: Inherited | None) -> socket.socket:
    """A bound UDP socket: the supervisor's, else bound here (which keeps the kernel's reason,
    address in use, that the event loop's own bind replaces with a generic message)."""
    if inherited is not None:
        sock = inherited.take(Kind.UDP, transport.host, transport.port)
        if sock is not None:
            return sock
    family = socket.AF_INET6 if ":" in transport.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind((transport.host, transport.port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class Transports:
    """`transports` are pjsip.conf's, bound by `start` and kept until `close` (a reload does
    not rebind them). `connect_timeout` bounds opening a TCP/TLS connection (Timer F: a peer
    that stalls the handshake ends the transaction when its own timer would, RFC 3261
    §17.1.2.2)."""

    _deliver: Deliver  # set by `start`: nothing arrives before

    def __init__(
        self, transports: Mapping[str, Transport], *, limits: Limits, connect_timeout: float,
        inherited: Inherited | None = None, divert: Divert | None = None,
    ) -> None:  # fmt: skip
        self.config = transports
        self._inherited = inherited
        self._divert = divert
        self._limits = limits
        self.pool = StreamPool(limits, connect_timeout=connect_timeout)
        self._udp: dict[str, UdpTransport] = {}
        self._stream_ports: dict[str, int] = {}
        self._servers: list[asyncio.Server] = []

    async def start(self, deliver: Deliver) -> list[str]:
        """Bind every transport; returns lines saying what listens where."""
        self._deliver = deliver
        bound = [await self._bind(transport) for transport in self.config.values()]
        self.pool.start_sweeping()
        return bound

    async def _bind(self, transport: Transport) -> str:
        try:
            return await self._bind_one(transport)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            where = f"{transport.protocol} {bracketed(transport.host)}:{transport.port}"
            raise OSError(exc.errno, f"{transport.name} ({where}): {reason}") from None

    async def _bind_one(self, transport: Transport) -> str:
        loop = asyncio.get_running_loop()
        if transport.protocol == "udp":
            deliver = self._udp_deliver(transport.name)
            _, udp = await loop.create_datagram_endpoint(
                lambda: UdpTransport(deliver), sock=_udp_socket(transport, self._inherited)
            )
            self._udp[transport.name] = udp
            udp.grow_receive_buffer(RECEIVE_BUFFER)
            return f"SIP {transport.name}: udp {transport.host}:{udp.port}"
        context = server_context(transport) if transport.protocol == "tls" else None
        handshake = self._limits.first_message if context is not None else None

        def accepted() -> StreamConnection:
            return StreamConnection(transport.protocol, self._deliver, self.pool, inbound=True)

        sock = None
        if self._inherited is not None:
            sock = self._inherited.take(Kind.STREAM, transport.host, transport.port)
        if sock is not None:
            server = await loop.create_server(
                accepted, sock=sock, ssl=context, ssl_handshake_timeout=handshake
            )
        else:
            server = await loop.create_server(
                accepted, transport.host, transport.port, ssl=context,
                ssl_handshake_timeout=handshake, reuse_address=True,
            )  # fmt: skip
        self._servers.append(server)
        port = server.sockets[0].getsockname()[1]
        self._stream_ports[transport.name] = int(port)
        return f"SIP {transport.name}: {transport.protocol} {transport.host}:{port}"

    def _udp_deliver(self, name: str) -> Deliver:
        """What transport `name`'s socket hands what it reads to."""
        divert, deliver = self._divert, self._deliver
        if divert is None:
            return deliver

        def deliver_here(data: bytes, source: Address, link: Link) -> None:
            if not divert(name, data, source):
                deliver(data, source, link)

        return deliver_here

    def inject(self, name: str, data: bytes, source: Address) -> None:
        """A datagram a sibling worker read on transport `name`'s port, meant for this one.
        Raises KeyError for a transport this worker does not have."""
        self._deliver(data, source, self._udp[name])

    def local_port(self, transport: Transport) -> int:
        if transport.protocol == "udp":
            return self._udp[transport.name].port
        return self._stream_ports.get(transport.name, transport.port)

    def link_now(self, destination: Destination) -> UdpTransport | StreamConnection | None:
        """The link to `destination` when no connection must be opened first."""
        if destination.protocol == "udp":
            return self._udp[destination.transport]
        return self.pool.open(destination.protocol, destination.address)

    async def link(self, destination: Destination) -> UdpTransport | StreamConnection:
        """The link to `destination`, opening a TCP/TLS connection if none is open."""
        if destination.protocol == "udp":
            return self._udp[destination.transport]
        transport = self.config[destination.transport]
        context = client_context(transport) if destination.protocol == "tls" else None
        return await self.pool.get(
            destination.protocol,
            destination.address,
            self._deliver,
            context,
            destination.server_name,
        )

    def has_flow(self, protocol: str, address: Address) -> bool:
        return self.pool.has(protocol, address)

    def close(self) -> None:
        for udp in self._udp.values():
            udp.close()
        for server in self._servers:
            server.close()
        self.pool.close_all()

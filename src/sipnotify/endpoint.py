"""The SIP endpoint: where the sans-IO SIP core meets asyncio.

Owns the transports of pjsip.conf, the client transactions and one timer for them and for
the server side's (`uas.py`; the core is given `now`, only this module reads the loop's
clock), choosing a transport and local address for a destination, answering digest
challenges with bounded rounds, and routing received messages: responses to their
transaction, requests to the server side. Bytes that cannot be parsed are answered 400 (or
413/505) when a response is possible, else dropped.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from ipaddress import ip_address

from sipnotify.config.pjsip import PjsipConfig, Transport
from sipnotify.registrar import Registrar
from sipnotify.sending import (
    Address,
    Destination,
    Done,
    Exchange,
    Factory,
    Final,
    Hop,
    Key,
    Link,
    Local,
    bracketed,
    transport_error,
)
from sipnotify.sip import auth
from sipnotify.sip.errors import ParseError
from sipnotify.sip.message import Request, Response, outgoing
from sipnotify.sip.parser import parse_message, peek_response, via_branch
from sipnotify.sip.responses import bad_request
from sipnotify.sip.transaction import (
    Effect,
    NonInviteClient,
    Outcome,
    Timers,
    Transmit,
)
from sipnotify.sip.uri import SipUri, parse_uri
from sipnotify.throttle import Throttled
from sipnotify.transport.stream import DEFAULT_LIMITS, Limits, StreamConnection, StreamPool
from sipnotify.transport.tls import client_context, server_context
from sipnotify.transport.udp import UdpTransport
from sipnotify.uac import CallEvents, ClientInvite
from sipnotify.uas import Uas

log = logging.getLogger("sipnotify.sip")

# Flow control: at most this many requests may be waiting for their first response. A burst
# of NOTIFYs otherwise draws a burst of responses that overflows the socket's receive buffer,
# and the retransmissions that follow make it worse. A slot frees on the first response, or
# after T1 (over UDP: at the first retransmission, Timer E), so phones that never answer cannot
# stall the others.
WINDOW = 128
RECEIVE_BUFFER = 4 * 1024 * 1024  # asked of the kernel for UDP sockets (capped by rmem_max)
# Routes to IP addresses are remembered (the configuration does not change while running);
# past this many the memory starts afresh, so arbitrary URIs cannot grow it without bound.
ROUTE_CACHE = 4096
# Deadlines this close together are handled in one wake-up of the shared timer.
TIMER_SLACK = 0.01


def _udp_socket(transport: Transport) -> socket.socket:
    """A bound UDP socket: binding it here keeps the kernel's reason (address in use) that
    the event loop's own bind replaces with a generic message."""
    family = socket.AF_INET6 if ":" in transport.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind((transport.host, transport.port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


@dataclass(slots=True)
class _Client:
    """A client transaction in the table: its exchange, and its place in the window until
    `slot_until` or the first response."""

    txn: NonInviteClient
    exchange: Exchange
    slot_until: float
    holding: bool = True
    lost: Callable[[asyncio.Future[None]], None] | None = None


class SipEndpoint:
    def __init__(
        self,
        config: PjsipConfig,
        registrar: Registrar | None = None,
        *,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self._config = config
        self._loop = asyncio.get_running_loop()
        t1 = config.system.timer_t1 / 1000
        self.timers = self._timers = Timers(t1=t1, t2=max(4.0, t1), t4=5.0)
        self._udp: dict[str, UdpTransport] = {}
        self._stream_ports: dict[str, int] = {}
        self._servers: list[asyncio.Server] = []
        self._limits = limits
        # Timer F bounds a TCP connect and TLS handshake too: a peer that stalls the handshake
        # ends the transaction when its own timer would (RFC 3261 §17.1.2.2).
        self._pool = StreamPool(limits, connect_timeout=64 * t1)
        self._clients: dict[Key, _Client] = {}
        self.uas = Uas(
            self,
            timers=self._timers,
            user_agent=config.global_.user_agent,
            registrar=registrar,
        )
        self._heap: list[tuple[float, int, Key]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at: float | None = None
        self._local_ips: dict[str, str] = {}
        self._routes: dict[Hop, tuple[Local, Destination]] = {}  # hops to an IP address
        self._inflight = 0
        self._invites: dict[Key, ClientInvite] = {}
        self._waiting: deque[Exchange] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._complaints = Throttled(log, self._loop.time)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> list[str]:
        """Bind every transport of pjsip.conf; returns lines saying what listens where."""
        bound = []
        for transport in self._config.transports.values():
            bound.append(await self._bind(transport))
        self._pool.start_sweeping()
        return bound

    async def _bind(self, transport: Transport) -> str:
        try:
            return await self._bind_one(transport)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            where = f"{transport.protocol} {bracketed(transport.host)}:{transport.port}"
            raise OSError(exc.errno, f"{transport.name} ({where}): {reason}") from None

    async def _bind_one(self, transport: Transport) -> str:
        if transport.protocol == "udp":
            _, udp = await self._loop.create_datagram_endpoint(
                lambda: UdpTransport(self._on_bytes), sock=_udp_socket(transport)
            )
            self._udp[transport.name] = udp
            udp.grow_receive_buffer(RECEIVE_BUFFER)
            return f"SIP {transport.name}: udp {transport.host}:{udp.port}"
        context = server_context(transport) if transport.protocol == "tls" else None
        server = await self._loop.create_server(
            lambda: StreamConnection(transport.protocol, self._on_bytes, self._pool, inbound=True),
            transport.host,
            transport.port,
            ssl=context,
            ssl_handshake_timeout=self._limits.first_message if context is not None else None,
            reuse_address=True,
        )
        self._servers.append(server)
        port = server.sockets[0].getsockname()[1]
        self._stream_ports[transport.name] = int(port)
        return f"SIP {transport.name}: {transport.protocol} {transport.host}:{port}"

    def running(self, config: PjsipConfig) -> PjsipConfig:
        """A reloaded pjsip.conf as it can run now: the transports bound at start stay until
        the next start (their sockets are open)."""
        if config.transports != self._config.transports:
            log.warning("transport changes in pjsip.conf take effect at the next start")
        return replace(config, transports=self._config.transports)

    def reconfigure(self, config: PjsipConfig) -> None:
        """Endpoints, AORs and options of a reloaded pjsip.conf (see `running`) apply at once."""
        self._config = config
        self._routes.clear()
        self.uas.user_agent = config.global_.user_agent

    async def close(self) -> None:
        for udp in self._udp.values():
            udp.close()
        for server in self._servers:
            server.close()
        self._pool.close_all()
        if self._timer is not None:
            self._timer.cancel()
        for task in self._tasks:
            task.cancel()
        stopped = Outcome(error="shutting down")
        while self._waiting:
            self._waiting.popleft().ended(stopped)
        for key, client in list(self._clients.items()):
            self._apply(key, client, [stopped])
        for invite in list(self._invites.values()):
            invite.transport_error("shutting down")

    # -- routing ---------------------------------------------------------------------------

    def _route_now(self, hop: Hop) -> tuple[Local, Destination] | None:
        """RFC 3263 without DNS records: the proxy's or the URI's host and port, over the
        endpoint's transport, else the URI's `transport=` (UDP by default, TLS for sips:).
        None when the host is a name that must be resolved first (`_route`).

        A contact that registered over TCP or TLS (`hop.flow`) is reached over that connection
        while it is open (RFC 5626-style flow reuse), wherever its Contact URI points."""
        if hop.flow is not None and self._pool.has(*hop.flow):
            return self._over_flow(*hop.flow)
        known = self._routes.get(hop)
        if known is not None:
            return known
        chosen, host, port = self._next_hop(hop)
        try:
            address = str(ip_address(host))
        except ValueError:
            return None
        routed = self._routes[hop] = self._routed(chosen, host, address, port)
        if len(self._routes) > ROUTE_CACHE:
            self._routes.clear()
        return routed

    async def _route(self, hop: Hop) -> tuple[Local, Destination]:
        routed = self._route_now(hop)
        if routed is not None:
            return routed
        chosen, host, port = self._next_hop(hop)
        address = await self._resolve(host, port, chosen.protocol)
        return self._routed(chosen, host, address, port)

    def _next_hop(self, hop: Hop) -> tuple[Transport, str, int]:
        proxy = hop.proxy
        uri = parse_uri(proxy.strip().removeprefix("<").removesuffix(">")) if proxy else hop.uri
        chosen = self._transport_for(hop.transport, uri)
        port = uri.port or (5061 if chosen.protocol == "tls" else 5060)
        return chosen, uri.host.strip("[]"), port

    def _routed(
        self, chosen: Transport, host: str, address: str, port: int
    ) -> tuple[Local, Destination]:
        local_host = chosen.host
        if local_host in ("0.0.0.0", "::"):
            local_host = self._source_ip(address)
        local = Local(protocol=chosen.protocol, host=local_host, port=self._local_port(chosen))
        return local, Destination(chosen.name, chosen.protocol, (address, port), host)

    def _over_flow(self, protocol: str, address: Address) -> tuple[Local, Destination]:
        chosen = next(t for t in self._config.transports.values() if t.protocol == protocol)
        host = chosen.host
        if host in ("0.0.0.0", "::"):
            host = self._source_ip(address[0])
        local = Local(protocol=protocol, host=host, port=self._local_port(chosen))
        return local, Destination(chosen.name, protocol, address, address[0])

    def _transport_for(self, name: str, uri: SipUri) -> Transport:
        transports = self._config.transports
        if name:
            chosen = transports.get(name)
            if chosen is None:  # added by a reload: transports bind at start
                raise OSError(f"transport {name} is not running; it starts at the next start")
            return chosen
        wanted = "tls" if uri.secure else (uri.param("transport") or "udp").lower()
        for transport in transports.values():
            if transport.protocol == wanted:
                return transport
        raise OSError(f"no {wanted} transport in pjsip.conf")

    def _local_port(self, transport: Transport) -> int:
        if transport.protocol == "udp":
            return self._udp[transport.name].port
        return self._stream_ports.get(transport.name, transport.port)

    async def _resolve(self, host: str, port: int, protocol: str) -> str:
        kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
        infos = await self._loop.getaddrinfo(host, port, type=kind)
        if not infos:
            raise OSError(f"cannot resolve {host}")
        return str(infos[0][4][0])

    def _source_ip(self, destination: str) -> str:
        """The local address the kernel picks for `destination` (no packet is sent)."""
        known = self._local_ips.get(destination)
        if known is None:
            family = socket.AF_INET6 if ":" in destination else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect((destination, 9))
                known = str(probe.getsockname()[0])
            self._local_ips[destination] = known
        return known

    # -- outgoing INVITEs (uac.InviteHost) --------------------------------------------------

    async def invite(
        self, hop: Hop, build: Callable[[Local], Request], events: CallEvents
    ) -> ClientInvite:
        """Route and send an INVITE (`build` makes it for the local address); the call hears
        of its responses through `events`. Raises OSError when it cannot be sent."""
        local, destination = await self._route(hop)
        link = await self._link(destination)
        invite = ClientInvite(
            self,
            build(local),
            link=link,
            address=destination.address,
            timers=self._timers,
            events=events,
        )
        self._invites[invite.key] = invite
        invite.start()
        return invite

    def forget_invite(self, key: Key) -> None:
        self._invites.pop(key, None)

    def cancel_request(self, cancel: Request, link: Link, address: Address) -> None:
        def ignore(_final: Final) -> None:
            return None

        wire = outgoing(cancel)
        exchange = Exchange(self, lambda _cseq, _auth: wire, (link, address),
                             credentials=[], done=ignore)  # fmt: skip
        self.transact(exchange)

    # -- sending ---------------------------------------------------------------------------

    def submit(
        self, hop: Hop, factory: Factory, credentials: list[auth.Credentials], done: Done
    ) -> None:
        """Route, build and send one request; `done` is called once with how it ended. The
        common case (an address over UDP, or a connection already open) runs without a task;
        a host name to resolve or a connection to open continues in one."""
        try:
            routed = self._route_now(hop)
        except OSError as exc:
            done(transport_error(exc))
            return
        if routed is not None:
            local, destination = routed
            link = self._open_link(destination)
            if link is not None:
                where = (link, destination.address)
                build = factory(local)
                self.transact(Exchange(self, build, where, credentials=credentials, done=done))
                return
        task = self._loop.create_task(self._submit_later(hop, factory, credentials, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _submit_later(
        self, hop: Hop, factory: Factory, credentials: list[auth.Credentials], done: Done
    ) -> None:
        try:
            local, destination = await self._route(hop)
            link = await self._link(destination)
        except OSError as exc:
            done(transport_error(exc))
            return
        where = (link, destination.address)
        self.transact(Exchange(self, factory(local), where, credentials=credentials, done=done))

    def _open_link(self, destination: Destination) -> Link | None:
        if destination.protocol == "udp":
            return self._udp[destination.transport]
        return self._pool.open(destination.protocol, destination.address)

    async def _link(self, destination: Destination) -> Link:
        if destination.protocol == "udp":
            return self._udp[destination.transport]
        transport = self._config.transports[destination.transport]
        context = client_context(transport) if destination.protocol == "tls" else None
        return await self._pool.get(
            destination.protocol,
            destination.address,
            self._on_bytes,
            context,
            destination.server_name,
        )

    def transact(self, exchange: Exchange) -> None:
        """Start the exchange's current request when the flow-control window has room."""
        if self._inflight >= WINDOW:
            self._waiting.append(exchange)
            return
        self._inflight += 1
        self._start(exchange)

    def _start(self, exchange: Exchange) -> None:
        request = exchange.request
        link = exchange.link
        now = self._loop.time()
        reliable = link.protocol != "udp"
        txn = NonInviteClient(request.data, reliable=reliable, now=now, timers=self._timers)
        key = (request.branch, request.method)
        client = _Client(txn, exchange, now + self._timers.t1)
        self._clients[key] = client
        if isinstance(link, StreamConnection):

            def lost(_closed: asyncio.Future[None]) -> None:
                error = "transport error: connection closed"
                self._apply(key, client, txn.transport_error(error, self._loop.time()))

            client.lost = lost
            link.closed.add_done_callback(lost)
        exchange.started = time.perf_counter()  # the loop's clock may tick in milliseconds
        self._apply(key, client, txn.start())
        self.arm(key, txn.next_deadline())
        if reliable:  # over UDP, Timer E falls due at the same time
            self.arm(key, client.slot_until)

    def _apply(self, key: Key, client: _Client, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Transmit):
                client.exchange.link.send(effect.data, client.exchange.address)
            elif isinstance(effect, Outcome) and self._clients.get(key) is client:
                self._finish(key, client)
                client.exchange.ended(effect)

    def _finish(self, key: Key, client: _Client) -> None:
        del self._clients[key]
        self._release(client)
        link = client.exchange.link
        if client.lost is not None and isinstance(link, StreamConnection):
            link.closed.remove_done_callback(client.lost)

    def _release(self, client: _Client) -> None:
        """Give the client's place in the window back (once), and start whoever waits."""
        if not client.holding:
            return
        client.holding = False
        self._inflight -= 1
        while self._waiting and self._inflight < WINDOW:
            self._inflight += 1
            self._start(self._waiting.popleft())

    # -- what the server side needs (uas.Host) ---------------------------------------------

    def now(self) -> float:
        return self._loop.time()

    def contact_for(self, link: Link, peer: str) -> str:
        """Our URI as `peer` reaches us over `link` (RFC 3261 §8.1.1.8), for Contact."""
        if isinstance(link, UdpTransport):
            host, port = link.host, link.port
            protocol = "udp"
        else:
            chosen = next(
                t for t in self._config.transports.values() if t.protocol == link.protocol
            )
            host, port, protocol = chosen.host, self._local_port(chosen), link.protocol
        if host in ("0.0.0.0", "::"):
            host = self._source_ip(peer)
        suffix = "" if protocol == "udp" else f";transport={protocol.upper()}"
        return f"sip:{bracketed(host)}:{port}{suffix}"

    # -- the one timer ---------------------------------------------------------------------

    def arm(self, key: Key, deadline: float | None) -> None:
        """Wake the one timer at `deadline` for the transaction `key` (None: no deadline)."""
        if deadline is None:
            return
        heapq.heappush(self._heap, (deadline, next(self._seq), key))
        if self._armed_at is None or deadline < self._armed_at - TIMER_SLACK:
            if self._timer is not None:
                self._timer.cancel()
            self._armed_at = deadline
            self._timer = self._loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = self._armed_at = None
        now = self._loop.time()
        while self._heap and self._heap[0][0] <= now + TIMER_SLACK:
            _, _, key = heapq.heappop(self._heap)
            self._due(key, now)
        if self._heap:
            deadline = self._heap[0][0]
            self._armed_at = deadline
            self._timer = self._loop.call_at(deadline, self._fire)

    def _due(self, key: Key, now: float) -> None:
        invite = self._invites.get(key)
        if invite is not None:
            invite.on_timer(now + TIMER_SLACK)
            return
        client = self._clients.get(key)
        if client is not None:
            if client.holding and client.slot_until <= now + TIMER_SLACK:
                self._release(client)
            deadline = client.txn.next_deadline()
            if deadline is not None and deadline <= now + TIMER_SLACK:
                self._apply(key, client, client.txn.on_timer(max(now, deadline)))
                if key in self._clients:
                    self.arm(key, client.txn.next_deadline())
            return
        self.uas.due(key, now + TIMER_SLACK)

    # -- receiving -------------------------------------------------------------------------

    def _on_bytes(self, data: bytes, source: Address, link: Link) -> None:
        """One message from a transport. Nothing a peer sends raises into the transport (which
        would drop a TCP connection and log a traceback): what cannot be parsed is answered or
        dropped, and a failure while handling it costs one rate-limited line."""
        if data.strip(b"\r\n") == b"":
            return  # a keep-alive
        try:
            if data.startswith(b"SIP/2.0 ") and self._matched(data):
                return
            message = parse_message(data)
        except ParseError as exc:
            self._reject(data, exc, source, link)
            return
        try:
            if isinstance(message, Response):
                self._on_response(message)
            else:
                self.uas.on_request(message, source, link, self._loop.call_soon)
        except Exception as exc:  # a peer's message must not take the transport down
            self._complaints.warning("message from %s:%d dropped: %s: %s", *source,
                                     type(exc).__name__, exc)  # fmt: skip

    def _matched(self, data: bytes) -> bool:
        """The answer to one of our non-INVITE requests that needs no more than its status
        (the hot path: a NOTIFY's 200), matched without parsing the whole message. Anything
        else (a challenge, an INVITE's answer, a stray, an odd message) is parsed in full."""
        head = peek_response(data)
        if head is None or head.status in (401, 407):
            return False
        key = (head.branch, head.method)
        client = self._clients.get(key)
        if client is None:
            return False
        self._deliver(key, client, Response(status=head.status, reason=head.reason, headers=()))
        return True

    def _on_response(self, response: Response) -> None:
        key = (via_branch(response.header("Via") or ""), response.cseq.method)
        client = self._clients.get(key)
        if client is None:
            invite = self._invites.get(key)
            if invite is not None:
                invite.on_response(response)
            return  # else a stray or late response: the transaction is gone
        self._deliver(key, client, response)

    def _deliver(self, key: Key, client: _Client, response: Response) -> None:
        self._release(client)
        self._apply(key, client, client.txn.receive(response, self._loop.time()))
        if key in self._clients:
            self.arm(key, client.txn.next_deadline())

    def _reject(self, data: bytes, exc: ParseError, source: Address, link: Link) -> None:
        answer = bad_request(data, exc, source)
        self._complaints.warning("unparseable message from %s:%d: %s", *source, exc.reason)
        if answer is not None:
            link.send(answer, source)

"""The SIP endpoint: where the sans-IO transaction layer meets asyncio.

Reads one clock and arms one timer for the layer; feeds it what the transports receive and
carries out what it returns (bytes to send, each request's final result for whoever sent it,
an INVITE's responses for its call). Requests go to the server side (`server.py`); bytes that
cannot be parsed are answered 400 (or 413/505) when a response is possible, else dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Protocol

from sipnotify.config.pjsip import PjsipConfig
from sipnotify.sip.auth import Credentials
from sipnotify.sip.errors import ParseError
from sipnotify.sip.ids import Ids
from sipnotify.sip.message import Outgoing, Request, Response
from sipnotify.sip.parser import parse_message
from sipnotify.sip.responses import bad_request
from sipnotify.sip.transactions.exchange import Build, Exchange, Final, Link
from sipnotify.sip.transactions.layer import (
    Broken,
    Ended,
    InviteEvent,
    InviteTransaction,
    Send,
    ServerTransaction,
    TransactionLayer,
)
from sipnotify.sip.transactions.machines import ErrorKind, Failure, Timers
from sipnotify.transport.stream import StreamConnection
from sipnotify.ua.addresses import Address, Hop, Local
from sipnotify.ua.client import CallEvents, OutgoingInvite
from sipnotify.ua.routing import Router
from sipnotify.ua.throttle import Throttled
from sipnotify.ua.transports import Transports

log = logging.getLogger("sipnotify.sip")

# Deadlines this close together are handled in one wake-up of the timer.
TIMER_SLACK = 0.01
# Deadlines handled in one wake-up at most (a fan-out's thousand transactions end together;
# the rest follow in the next turns of the loop, after the sockets are read).
TIMER_BATCH = 200
Factory = Callable[[Local], Build]
Done = Callable[[Final], None]


class RequestHandler(Protocol):
    """The server side, as the endpoint hands it requests (`server.Uas`)."""

    def receive(self, request: Request, source: Address, link: Link) -> None: ...


def _resolve(result: asyncio.Future[Final], final: Final) -> None:
    if not result.done():  # a waiter may have given up (a cancelled qualify)
        result.set_result(final)


def failed(exc: OSError) -> Final:
    return Final(None, "", Failure(ErrorKind.TRANSPORT, exc.strerror or str(exc)), None)


class SipEndpoint:
    _handler: RequestHandler  # set by `start`: nothing arrives before

    def __init__(
        self, transports: Transports, router: Router, timers: Timers, *,
        clock: Callable[[], float], ids: Ids,
    ) -> None:  # fmt: skip
        self.transports = transports
        self.router = router
        self.layer = TransactionLayer(timers)
        self.now = clock
        self._ids = ids
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at: float | None = None
        self._results: dict[Exchange, Done] = {}
        self._watched: set[StreamConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._complaints = Throttled(log, clock)

    async def start(self, handler: RequestHandler) -> list[str]:
        """Bind every transport and serve `handler`; returns lines saying what listens where."""
        self._handler = handler
        return await self.transports.start(self._on_bytes)

    def running(self, config: PjsipConfig) -> PjsipConfig:
        """A reloaded pjsip.conf as it can run now: the transports bound at start stay until
        the next start (their sockets are open)."""
        if config.transports != self.transports.config:
            log.warning("transport changes in pjsip.conf take effect at the next start")
        return replace(config, transports=self.transports.config)

    def close(self) -> None:
        """Stop: what is under way ends with SHUTDOWN, the sockets close."""
        self.layer.close(self.now())
        self._drain()
        self.transports.close()
        if self._timer is not None:
            self._timer.cancel()
        for task in self._tasks:
            task.cancel()

    # -- sending ---------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop this endpoint's futures and callbacks run on."""
        return self._loop

    def request(
        self, hop: Hop, factory: Factory, credentials: list[Credentials]
    ) -> asyncio.Future[Final]:
        """Route, build and send one request; the future has its final result (never an
        exception)."""
        result: asyncio.Future[Final] = self._loop.create_future()
        self.send(hop, factory, credentials, partial(_resolve, result))
        return result

    def send(self, hop: Hop, factory: Factory, credentials: list[Credentials], done: Done) -> None:
        """`request` for a fan-out: `done` is called once with the final result, with no
        future per request (two fewer objects for each of thousands of contacts). The common
        case (an address over UDP, or a connection already open) runs without a task; a name
        to resolve or a connection to open continues in one."""
        try:
            routed = self.router.route_now(hop)
        except OSError as exc:
            done(failed(exc))
            return
        if routed is not None:
            local, destination = routed
            link = self.transports.link_now(destination)
            if link is not None:
                self._send(factory(local), link, destination.address, credentials, done)
                return
        task = self._loop.create_task(self._send_later(hop, factory, credentials, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_later(
        self, hop: Hop, factory: Factory, credentials: list[Credentials], done: Done
    ) -> None:
        try:
            local, destination = await self.router.route(hop)
            link = await self.transports.link(destination)
        except OSError as exc:
            done(failed(exc))
            return
        self._send(factory(local), link, destination.address, credentials, done)

    def send_on(self, request: Outgoing, link: Link, address: Address) -> asyncio.Future[Final]:
        """A request over a link already chosen (a CANCEL goes where its INVITE went)."""
        result: asyncio.Future[Final] = self._loop.create_future()
        self._send(lambda _cseq, _auth: request, link, address, [], partial(_resolve, result))
        return result

    def _send(self, build: Build, link: Link, address: Address,
              credentials: list[Credentials], done: Done) -> None:  # fmt: skip
        exchange = Exchange(build, link, address, credentials=credentials, cseq=self._ids.cseq(),
                            cnonce=self._ids)  # fmt: skip
        self._results[exchange] = done
        self._watch(link)
        self.layer.send(exchange, self.now())
        self._drain()

    async def invite(self, hop: Hop, build: Callable[[Local], Request],
                     events: CallEvents) -> OutgoingInvite:  # fmt: skip
        """Route and send an INVITE; the call hears of its responses through `events`.
        Raises OSError when it cannot be sent."""
        local, destination = await self.router.route(hop)
        link = await self.transports.link(destination)
        self._watch(link)
        txn = self.layer.invite(build(local), link, destination.address, self.now())
        invite = txn.user = OutgoingInvite(self, txn, events)
        self._drain()
        return invite

    def _watch(self, link: Link) -> None:
        """Tell the layer when a TCP/TLS connection its transactions use closes."""
        if isinstance(link, StreamConnection) and link not in self._watched:
            self._watched.add(link)
            link.closed.add_done_callback(lambda _closed: self._lost(link))

    def _lost(self, link: StreamConnection) -> None:
        self._watched.discard(link)
        self.layer.connection_lost(link, self.now())
        self._drain()

    # -- what the server side calls (server.Host) ------------------------------------------

    def accept(self, request: Request, link: Link, address: Address) -> ServerTransaction | None:
        server = self.layer.receive_request(request, link, address, self.now())
        self._drain()
        return server

    def take_ack(self, request: Request) -> bool:
        return self.layer.receive_ack(request, self.now())

    def respond(self, server: ServerTransaction, status: int, data: bytes) -> None:
        self.layer.respond(server, status, data, self.now())
        self._drain()

    def respond_statelessly(self, server: ServerTransaction, data: bytes) -> None:
        self.layer.respond_statelessly(server, data)
        self._drain()

    def server_for(self, request: Request, method: str) -> ServerTransaction | None:
        return self.layer.server_for(request, method)

    def contact_for(self, link: Link, peer: str) -> str:
        return self.router.contact_for(link, peer)

    def local_address(self, link: Link, peer: str) -> tuple[str, int]:
        return self.router.local_address(link, peer)

    # -- receiving -------------------------------------------------------------------------

    def _on_bytes(self, data: bytes, source: Address, link: Link) -> None:
        """One message from a transport. Nothing a peer sends raises into the transport (which
        would drop a TCP connection and log a traceback): what cannot be parsed is answered or
        dropped, and a failure while handling it costs one rate-limited line."""
        if data.strip(b"\r\n") == b"":
            return  # a keep-alive
        try:
            if data.startswith(b"SIP/2.0 "):
                if self.layer.receive_head(data, self.now()):
                    self._drain()
                    return
            elif self.layer.receive_retransmission(data, self.now()):
                self._drain()
                return
            message = parse_message(data)
        except ParseError as exc:
            self._reject(data, exc, source, link)
            return
        try:
            if isinstance(message, Response):
                self.layer.receive_response(message, self.now())
            else:
                self._handler.receive(message, source, link)
        except Exception as exc:  # a peer's message must not take the transport down
            self._complaints.warning("message from %s:%d dropped: %s: %s", *source,
                                     type(exc).__name__, exc)  # fmt: skip
        self._drain()

    def _reject(self, data: bytes, exc: ParseError, source: Address, link: Link) -> None:
        answer = bad_request(data, exc, source)
        self._complaints.warning("unparseable message from %s:%d: %s", *source, exc.reason)
        if answer is not None:
            link.send(answer, source)

    # -- carrying out what the layer returns, and the one timer ----------------------------

    def _drain(self) -> None:
        """Carry out every effect the layer has (the hot path: one `Send` per NOTIFY, one
        `Ended` per answer), then arm the timer for its next deadline."""
        take = self.layer.next_event
        while (event := take()) is not None:
            if type(event) is Send:  # exact types: cheaper than isinstance, and they are final
                event.link.send(event.data, event.address)
            elif type(event) is Ended:
                done = self._results.pop(event.exchange, None)
                if done is not None:
                    done(event.final)
            elif isinstance(event, InviteEvent):
                _invite_of(event.invite).on_event(event.effect)
            elif isinstance(event, Broken):
                self._complaints.warning("transaction ended: %s", event.error)
        self._arm()

    def _arm(self) -> None:
        deadline = self.layer.get_timer()
        if deadline is None:
            return
        if self._armed_at is None or deadline < self._armed_at - TIMER_SLACK:
            if self._timer is not None:
                self._timer.cancel()
            self._armed_at = deadline
            self._timer = self._loop.call_later(max(0.0, deadline - self.now()), self._fire)

    def _fire(self) -> None:
        self._timer = self._armed_at = None
        self.layer.handle_timer(self.now() + TIMER_SLACK, TIMER_BATCH)
        self._drain()


def _invite_of(txn: InviteTransaction) -> OutgoingInvite:
    invite = txn.user
    assert isinstance(invite, OutgoingInvite)
    return invite

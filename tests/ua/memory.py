"""The user agent in memory, for tests: a transaction layer on a clock stepped by hand, with
links that keep what is sent instead of sending it, and the server side's `Host` over it.

Two of them make a UAC<->UAS pair (`Pair`): what one side sends is carried to the other
by `deliver`, which may drop it, so loss and retransmission are tested without sockets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sipnotify.sip.message import Request, Response
from sipnotify.sip.parser import parse_message
from sipnotify.sip.transactions.exchange import Exchange, Final, Link
from sipnotify.sip.transactions.layer import (
    Broken,
    Ended,
    InviteEvent,
    Send,
    ServerTransaction,
    TransactionLayer,
)
from sipnotify.sip.transactions.machines import Timers

Address = tuple[str, int]


@dataclass(eq=False)
class MemoryLink:
    """A transport that keeps what it is asked to send."""

    protocol: str = "udp"
    sent: list[tuple[bytes, Address]] = field(default_factory=list)

    def send(self, data: bytes, address: Address) -> None:
        self.sent.append((data, address))


class MemoryHost:
    """`ua.server.Host` over a transaction layer, carrying out its events at once."""

    def __init__(
        self, timers: Timers | None = None, *, contact: str = "sip:192.0.2.5:5060"
    ) -> None:
        self.layer = TransactionLayer(timers or Timers())
        self.clock = 0.0
        self.contact = contact
        self.finals: dict[Exchange, Final] = {}
        self.invite_events: list[InviteEvent] = []
        self.broken: list[Broken] = []

    def now(self) -> float:
        return self.clock

    def accept(self, request: Request, link: Link, address: Address) -> ServerTransaction | None:
        server = self.layer.receive_request(request, link, address, self.clock)
        self.drain()
        return server

    def take_ack(self, request: Request) -> bool:
        taken = self.layer.receive_ack(request, self.clock)
        self.drain()
        return taken

    def respond(self, server: ServerTransaction, status: int, data: bytes) -> None:
        self.layer.respond(server, status, data, self.clock)
        self.drain()

    def respond_statelessly(self, server: ServerTransaction, data: bytes) -> None:
        self.layer.respond_statelessly(server, data)
        self.drain()

    def server_for(self, request: Request, method: str) -> ServerTransaction | None:
        return self.layer.server_for(request, method)

    def contact_for(self, _link: object, _peer: str) -> str:
        return self.contact

    def local_address(self, _link: object, _peer: str) -> tuple[str, int]:
        host, _, port = self.contact.removeprefix("sip:").partition(";")[0].rpartition(":")
        return host.strip("[]"), int(port)

    def send(self, exchange: Exchange) -> None:
        self.layer.send(exchange, self.clock)
        self.drain()

    def receive_response(self, data: bytes) -> None:
        if not self.layer.receive_head(data, self.clock):
            message = parse_message(data)
            assert isinstance(message, Response)
            self.layer.receive_response(message, self.clock)
        self.drain()

    def advance(self, to: float) -> None:
        """Step the clock to `to`, firing every timer due on the way, in order."""
        while (deadline := self.layer.get_timer()) is not None and deadline <= to:
            self.clock = max(self.clock, deadline)
            self.layer.handle_timer(self.clock)
            self.drain()
        self.clock = max(self.clock, to)

    def drain(self) -> None:
        while (event := self.layer.next_event()) is not None:
            if isinstance(event, Send):
                event.link.send(event.data, event.address)
            elif isinstance(event, Ended):
                self.finals[event.exchange] = event.final
            elif isinstance(event, InviteEvent):
                self.invite_events.append(event)
            else:
                self.broken.append(event)

"""The client side of an INVITE, for outgoing calls: its transaction and what the call sees.

Owns the INVITE client transaction in the endpoint's table (no flow-control slot: calls are
few), passing provisional and final responses to the call, acknowledging a 300-699 itself
(RFC 3261 §17.1.1.3), sending a CANCEL only once a provisional response has arrived (§9.1),
and the bytes a call sends without a transaction (the ACK of a 2xx, §13.2.2.4).
`endpoint.py` owns the sockets and the one timer.
"""

from __future__ import annotations

from typing import Protocol

from sipnotify.sending import Address, Key, Link
from sipnotify.sip.invite import InviteClient, ack_for, cancel_for
from sipnotify.sip.message import Request, Response, serialize
from sipnotify.sip.transaction import Effect, Outcome, Provisional, State, Timers, Transmit


class CallEvents(Protocol):
    """What an outgoing call is told."""

    def provisional(self, response: Response) -> None: ...

    def final(self, response: Response | None, error: str | None) -> None: ...

    def repeated(self, response: Response) -> None:
        """A copy of the 2xx: its ACK was lost, send it again."""


class InviteHost(Protocol):
    """What a client INVITE needs from the endpoint."""

    def now(self) -> float: ...

    def arm(self, key: Key, deadline: float | None) -> None: ...

    def forget_invite(self, key: Key) -> None: ...

    def cancel_request(self, cancel: Request, link: Link, address: Address) -> None: ...


class ClientInvite:
    def __init__(
        self,
        host: InviteHost,
        request: Request,
        *,
        link: Link,
        address: Address,
        timers: Timers,
        events: CallEvents,
    ) -> None:
        self._host = host
        self.request = request
        self.link = link
        self.address = address
        self._events = events
        self._cancel_wanted = False
        reliable = link.protocol != "udp"
        self._txn = InviteClient(serialize(request), reliable=reliable, now=host.now(),
                                 timers=timers)  # fmt: skip
        via = request.top_via
        self.key: Key = (via.branch, "INVITE")

    def start(self) -> None:
        self._apply(self._txn.start())

    def on_response(self, response: Response) -> None:
        ack = ack_for(self.request, response) if response.status >= 300 else b""
        self._apply(self._txn.receive(response, self._host.now(), ack))
        if response.status < 200 and self._cancel_wanted:
            self._send_cancel()

    def on_timer(self, now: float) -> None:
        self._apply(self._txn.on_timer(now))

    def transport_error(self, reason: str) -> None:
        self._apply(self._txn.transport_error(reason))

    def cancel(self) -> None:
        """§9.1: CANCEL a pending INVITE; held back until a provisional response came."""
        if self._txn.state is State.PROCEEDING:
            self._send_cancel()
        elif self._txn.state is State.CALLING:
            self._cancel_wanted = True

    def send(self, data: bytes) -> None:
        """Bytes outside any transaction (the ACK of a 2xx) to where the INVITE went."""
        self.link.send(data, self.address)

    def _send_cancel(self) -> None:
        self._cancel_wanted = False
        self._host.cancel_request(cancel_for(self.request), self.link, self.address)

    def _apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Transmit):
                self.link.send(effect.data, self.address)
            elif isinstance(effect, Provisional):
                if effect.response.status < 200:
                    self._events.provisional(effect.response)
                else:
                    self._events.repeated(effect.response)
            elif isinstance(effect, Outcome):
                self._events.final(effect.response, effect.error)
        if self._txn.state is State.TERMINATED:
            self._host.forget_invite(self.key)
        else:
            self._host.arm(self.key, self._txn.next_deadline())

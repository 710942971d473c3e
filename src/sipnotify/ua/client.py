"""The client side of an INVITE, for outgoing calls: what the call sees of its transaction.

Passes provisional and final responses to the call (the transaction acknowledges a 300-699
itself, RFC 3261 §17.1.1.3), sends a CANCEL only once a provisional response has arrived
(§9.1), and the bytes a call sends without a transaction (the ACK of a 2xx, §13.2.2.4).
"""

from __future__ import annotations

from typing import Protocol

from sipnotify.sip.message import Outgoing, Request, Response, outgoing
from sipnotify.sip.transactions.exchange import Link
from sipnotify.sip.transactions.layer import InviteTransaction
from sipnotify.sip.transactions.machines import Outcome, Passed, State, cancel_for
from sipnotify.ua.addresses import Address


class CallEvents(Protocol):
    """What an outgoing call is told."""

    def provisional(self, response: Response) -> None: ...

    def final(self, outcome: Outcome) -> None: ...

    def repeated(self, response: Response) -> None:
        """A copy of the 2xx: its ACK was lost, send it again."""


class CancelSender(Protocol):
    def send_on(self, request: Outgoing, link: Link, address: Address) -> object: ...


class OutgoingInvite:
    def __init__(self, host: CancelSender, txn: InviteTransaction, events: CallEvents) -> None:
        self._host = host
        self._txn = txn
        self._events = events
        self._cancel_wanted = False

    @property
    def request(self) -> Request:
        return self._txn.request

    def on_event(self, effect: Passed | Outcome) -> None:
        if isinstance(effect, Outcome):
            self._events.final(effect)
            return
        response = effect.response
        if response.status >= 200:
            self._events.repeated(response)
            return
        self._events.provisional(response)
        if self._cancel_wanted:
            self._send_cancel()

    def cancel(self) -> None:
        """§9.1: CANCEL a pending INVITE; held back until a provisional response came."""
        if self._txn.state is State.PROCEEDING:
            self._send_cancel()
        elif self._txn.state is State.CALLING:
            self._cancel_wanted = True

    def send(self, data: bytes) -> None:
        """Bytes outside any transaction (the ACK of a 2xx) to where the INVITE went."""
        self._txn.link.send(data, self._txn.address)

    def _send_cancel(self) -> None:
        self._cancel_wanted = False
        self._host.send_on(outgoing(cancel_for(self.request)), self._txn.link, self._txn.address)

"""RFC 3261 §17.1.1 and §17.2.1 (Figures 5 and 7): the INVITE transactions, sans I/O.

A table of (state, input) → handler with the RFC's names, like the non-INVITE transactions.
Proceeding: provisional responses are sent and repeated to request retransmissions. A 2xx ends
the transaction at once (§17.2.1: the TU, the call, retransmits it until the ACK). A 300-699
moves to Completed: Timer G repeats it (T1, doubling up to T2; not over reliable transports)
until the ACK moves to Confirmed, or Timer H (64*T1) gives up; Confirmed absorbs ACK copies
until Timer I (T4; zero over reliable transports). Time is passed in.
"""

from __future__ import annotations

from collections.abc import Callable

from sipnotify.sip.message import Request, Response, serialize
from sipnotify.sip.transaction import Effect, Outcome, Provisional, State, Timers, Transmit


class InviteServer:
    def __init__(self, *, reliable: bool, timers: Timers) -> None:
        self.state = State.PROCEEDING
        self._reliable = reliable
        self._timers = timers
        self._last: bytes | None = None
        self._interval = timers.t1
        self._g: float | None = None
        self._h: float | None = None
        self._i: float | None = None

    def next_deadline(self) -> float | None:
        due = [t for t in (self._g, self._h, self._i) if t is not None]
        return min(due) if due else None

    def request_again(self) -> list[Effect]:
        """A retransmission of the INVITE arrived."""
        return self._step("invite", 0.0, None)

    def respond(self, status: int, data: bytes, now: float) -> list[Effect]:
        """The TU sends a response."""
        kind = "provisional" if status < 200 else "2xx" if status < 300 else "final"
        return self._step(kind, now, data)

    def ack(self, now: float) -> list[Effect]:
        """An ACK for a non-2xx final response arrived (2xx ACKs go to the TU)."""
        return self._step("ack", now, None)

    def on_timer(self, now: float) -> list[Effect]:
        effects: list[Effect] = []
        for name in ("h", "i", "g"):
            due = getattr(self, f"_{name}")
            if due is not None and due <= now and self.state is not State.TERMINATED:
                effects += self._step(f"timer_{name}", now, None)
        return effects

    def _step(self, kind: str, now: float, data: bytes | None) -> list[Effect]:
        handler = _TABLE.get((self.state, kind))
        if handler is None:
            return []
        return handler(self, now, data)

    def _terminate(self) -> None:
        self.state = State.TERMINATED
        self._g = self._h = self._i = None

    # Handlers: (self, now, data) -> effects
    def _send_provisional(self, _now: float, data: bytes | None) -> list[Effect]:
        self._last = data
        return [Transmit(data)] if data is not None else []

    def _send_2xx(self, _now: float, data: bytes | None) -> list[Effect]:
        self._terminate()
        return [Transmit(data)] if data is not None else []

    def _send_final(self, now: float, data: bytes | None) -> list[Effect]:
        self._last = data
        self.state = State.COMPLETED
        if not self._reliable:
            self._g = now + self._interval
        self._h = now + 64 * self._timers.t1
        return [Transmit(data)] if data is not None else []

    def _repeat(self, _now: float, _data: bytes | None) -> list[Effect]:
        return [Transmit(self._last)] if self._last is not None else []

    def _timer_g(self, now: float, _data: bytes | None) -> list[Effect]:
        self._interval = min(2 * self._interval, self._timers.t2)
        self._g = now + self._interval
        return self._repeat(now, None)

    def _timer_h(self, _now: float, _data: bytes | None) -> list[Effect]:
        self._terminate()
        return [Outcome(error="timeout")]

    def _confirm(self, now: float, _data: bytes | None) -> list[Effect]:
        self.state = State.CONFIRMED
        self._g = self._h = None
        self._i = now + (0.0 if self._reliable else self._timers.t4)
        return []

    def _absorb(self, _now: float, _data: bytes | None) -> list[Effect]:
        return []

    def _done(self, _now: float, _data: bytes | None) -> list[Effect]:
        self._terminate()
        return []


_Handler = Callable[[InviteServer, float, "bytes | None"], list[Effect]]
_TABLE: dict[tuple[State, str], _Handler] = {
    (State.PROCEEDING, "invite"): InviteServer._repeat,
    (State.PROCEEDING, "provisional"): InviteServer._send_provisional,
    (State.PROCEEDING, "2xx"): InviteServer._send_2xx,
    (State.PROCEEDING, "final"): InviteServer._send_final,
    (State.COMPLETED, "invite"): InviteServer._repeat,
    (State.COMPLETED, "timer_g"): InviteServer._timer_g,
    (State.COMPLETED, "timer_h"): InviteServer._timer_h,
    (State.COMPLETED, "ack"): InviteServer._confirm,
    (State.CONFIRMED, "invite"): InviteServer._absorb,
    (State.CONFIRMED, "ack"): InviteServer._absorb,
    (State.CONFIRMED, "timer_i"): InviteServer._done,
}


class InviteClient:
    """RFC 3261 §17.1.1 (Figure 5), with RFC 6026's Accepted state.

    Calling: Timer A repeats the INVITE (T1, doubling; not over reliable transports) until a
    response; Timer B (64*T1) gives up. A provisional response moves to Proceeding (no more
    repeats) and goes to the TU, as every provisional does. A 2xx goes to the TU and moves to
    Accepted (RFC 6026 §7.2: the TU sends the ACK; later 2xx copies go to the TU too, so it
    can repeat its ACK) until Timer M (64*T1). A 300-699 is acknowledged here (`ack` bytes for
    that response, built by the owner) and moves to Completed, absorbing copies until Timer D
    (32 s, zero over reliable transports).
    """

    def __init__(self, data: bytes, *, reliable: bool, now: float, timers: Timers) -> None:
        self.state = State.CALLING
        self._data = data
        self._reliable = reliable
        self._timers = timers
        self._interval = timers.t1
        self._a: float | None = None if reliable else now + timers.t1
        self._b: float | None = now + 64 * timers.t1
        self._d: float | None = None
        self._m: float | None = None
        self._ack: bytes | None = None

    def start(self) -> list[Effect]:
        return [Transmit(self._data)]

    def next_deadline(self) -> float | None:
        due = [t for t in (self._a, self._b, self._d, self._m) if t is not None]
        return min(due) if due else None

    def receive(self, response: Response, now: float, ack: bytes = b"") -> list[Effect]:
        """A response; for a 300-699 `ack` is the ACK to send for it (§17.1.1.3)."""
        if response.status < 200:
            return self._provisional(response)
        if response.status < 300:
            return self._accepted(response, now)
        return self._completed(response, now, ack)

    def transport_error(self, reason: str) -> list[Effect]:
        if self.state in (State.CALLING, State.PROCEEDING):
            self._terminate()
            return [Outcome(error=reason)]
        return []

    def on_timer(self, now: float) -> list[Effect]:
        effects: list[Effect] = []
        if self._b is not None and self._b <= now and self.state is State.CALLING:
            self._terminate()
            return [Outcome(error="timeout")]
        if self._a is not None and self._a <= now and self.state is State.CALLING:
            self._interval *= 2
            self._a = now + self._interval
            effects.append(Transmit(self._data))
        for timer in (self._d, self._m):
            if timer is not None and timer <= now:
                self._terminate()
        return effects

    def _provisional(self, response: Response) -> list[Effect]:
        if self.state not in (State.CALLING, State.PROCEEDING):
            return []
        self.state = State.PROCEEDING
        self._a = self._b = None
        return [Provisional(response)]

    def _accepted(self, response: Response, now: float) -> list[Effect]:
        if self.state in (State.CALLING, State.PROCEEDING):
            self.state = State.ACCEPTED
            self._a = self._b = None
            self._m = now + 64 * self._timers.t1
            return [Outcome(response=response)]
        if self.state is State.ACCEPTED:
            return [Provisional(response)]  # a 2xx copy: the TU repeats its ACK
        return []

    def _completed(self, response: Response, now: float, ack: bytes) -> list[Effect]:
        if self.state in (State.CALLING, State.PROCEEDING):
            self.state = State.COMPLETED
            self._a = self._b = None
            self._d = now + (0.0 if self._reliable else 32.0)
            self._ack = ack
            return [Transmit(ack), Outcome(response=response)]
        if self.state is State.COMPLETED and self._ack is not None:
            return [Transmit(self._ack)]
        return []

    def _terminate(self) -> None:
        self.state = State.TERMINATED
        self._a = self._b = self._d = self._m = None


def ack_for(invite: Request, response: Response) -> bytes:
    """RFC 3261 §17.1.1.3: the ACK for a 300-699 answer to `invite`: its Request-URI, top
    Via, From, Call-ID, CSeq number and Route, with the response's To (and tag)."""
    headers = (
        ("Via", invite.header_values("Via")[0]),
        ("From", invite.header("From") or ""),
        ("To", response.header("To") or ""),
        ("Call-ID", invite.call_id),
        ("CSeq", f"{invite.cseq.number} ACK"),
        *(("Route", route) for route in invite.header_values("Route")),
        ("Max-Forwards", "70"),
    )
    return serialize(Request(method="ACK", uri=invite.uri, headers=headers))


def cancel_for(invite: Request) -> Request:
    """RFC 3261 §9.1: CANCEL carries the INVITE's Request-URI, top Via (so its branch), From,
    To, Call-ID, CSeq number and Route."""
    headers = (
        ("Via", invite.header_values("Via")[0]),
        ("From", invite.header("From") or ""),
        ("To", invite.header("To") or ""),
        ("Call-ID", invite.call_id),
        ("CSeq", f"{invite.cseq.number} CANCEL"),
        *(("Route", route) for route in invite.header_values("Route")),
        ("Max-Forwards", "70"),
    )
    return Request(method="CANCEL", uri=invite.uri, headers=headers)

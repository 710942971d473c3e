"""RFC 3261 §17.1.2 and §17.2.2: non-INVITE client and server transactions, sans I/O.

Each transaction is a state machine written as a table of (state, input) → handler, with the
RFC's state and timer names. Time is passed in: the owner asks `next_deadline()`, and calls
`on_timer(now)` when it is due; every call returns the effects to carry out (bytes to send, a
result to report). A (state, input) pair missing from the table terminates the transaction.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from sipnotify.sip.message import Request, Response
from sipnotify.sip.uri import parse_name_addr


@dataclass(frozen=True, slots=True)
class Timers:
    """RFC 3261 §17.1.1.1 / Table 4: T1 (RTT estimate), T2 (max retransmit interval), T4."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0


class State(enum.Enum):
    CALLING = "Calling"  # INVITE client transactions only (RFC 3261 Figure 5)
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"  # INVITE server transactions only (RFC 3261 Figure 7)
    ACCEPTED = "Accepted"  # INVITE transactions after a 2xx (RFC 6026)
    TERMINATED = "Terminated"


@dataclass(frozen=True, slots=True)
class Transmit:
    """Send these bytes to the transaction's destination."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    """The transaction's result for its user: a final response, or an error text
    ("timeout", or the transport's reason)."""

    response: Response | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Provisional:
    """A response the INVITE client transaction passes up without ending: a 1xx, or a copy
    of the 2xx it already reported."""

    response: Response


Effect = Transmit | Outcome | Provisional


class NonInviteClient:
    """RFC 3261 §17.1.2.2 (Figure 6).

    Trying: Timer E retransmits at T1, doubling up to T2; Timer F (64*T1) times out.
    A provisional response moves to Proceeding, where Timer E fires every T2. A final
    response moves to Completed and is reported; Timer K (T4 over unreliable transports,
    zero over reliable ones) then terminates, absorbing response retransmissions.
    """

    def __init__(self, data: bytes, *, reliable: bool, now: float, timers: Timers) -> None:
        self.state = State.TRYING
        self._data = data
        self._reliable = reliable
        self._timers = timers
        self._interval = timers.t1
        self._e: float | None = None if reliable else now + timers.t1
        self._f: float | None = now + 64 * timers.t1
        self._k: float | None = None

    def start(self) -> list[Effect]:
        return [Transmit(self._data)]

    def next_deadline(self) -> float | None:
        due = [t for t in (self._e, self._f, self._k) if t is not None]
        return min(due) if due else None

    def receive(self, response: Response, now: float) -> list[Effect]:
        kind = "provisional" if response.status < 200 else "final"
        return self._step(kind, now, response)

    def transport_error(self, reason: str, now: float) -> list[Effect]:
        return self._step("transport_error", now, None, reason)

    def on_timer(self, now: float) -> list[Effect]:
        effects: list[Effect] = []
        for name in ("f", "k", "e"):
            due = getattr(self, f"_{name}")
            if due is not None and due <= now and self.state is not State.TERMINATED:
                effects += self._step(f"timer_{name}", now, None)
        return effects

    def _step(
        self, kind: str, now: float, response: Response | None, reason: str = ""
    ) -> list[Effect]:
        handler = _CLIENT_TABLE.get((self.state, kind))
        if handler is None:
            self._terminate()
            return []
        return handler(self, now, response, reason)

    def _terminate(self) -> None:
        self.state = State.TERMINATED
        self._e = self._f = self._k = None

    # Handlers: (self, now, response, reason) -> effects
    def _retransmit(self, now: float, _r: Response | None, _reason: str) -> list[Effect]:
        if self.state is State.TRYING:
            self._interval = min(2 * self._interval, self._timers.t2)
        else:
            self._interval = self._timers.t2
        self._e = now + self._interval
        return [Transmit(self._data)]

    def _timeout(self, _now: float, _r: Response | None, _reason: str) -> list[Effect]:
        self._terminate()
        return [Outcome(error="timeout")]

    def _provisional(self, now: float, _r: Response | None, _reason: str) -> list[Effect]:
        if self.state is State.TRYING and self._e is not None:
            self._e = now + self._timers.t2
        self.state = State.PROCEEDING
        return []

    def _final(self, now: float, response: Response | None, _reason: str) -> list[Effect]:
        self.state = State.COMPLETED
        self._e = self._f = None
        self._k = now + (0.0 if self._reliable else self._timers.t4)
        return [Outcome(response=response)]

    def _absorb(self, _now: float, _r: Response | None, _reason: str) -> list[Effect]:
        return []

    def _done(self, _now: float, _r: Response | None, _reason: str) -> list[Effect]:
        self._terminate()
        return []

    def _failed(self, _now: float, _r: Response | None, reason: str) -> list[Effect]:
        self._terminate()
        return [Outcome(error=reason)]


_ClientHandler = Callable[[NonInviteClient, float, "Response | None", str], list[Effect]]
_CLIENT_TABLE: dict[tuple[State, str], _ClientHandler] = {
    (State.TRYING, "timer_e"): NonInviteClient._retransmit,
    (State.TRYING, "timer_f"): NonInviteClient._timeout,
    (State.TRYING, "provisional"): NonInviteClient._provisional,
    (State.TRYING, "final"): NonInviteClient._final,
    (State.TRYING, "transport_error"): NonInviteClient._failed,
    (State.PROCEEDING, "timer_e"): NonInviteClient._retransmit,
    (State.PROCEEDING, "timer_f"): NonInviteClient._timeout,
    (State.PROCEEDING, "provisional"): NonInviteClient._absorb,
    (State.PROCEEDING, "final"): NonInviteClient._final,
    (State.PROCEEDING, "transport_error"): NonInviteClient._failed,
    (State.COMPLETED, "provisional"): NonInviteClient._absorb,
    (State.COMPLETED, "final"): NonInviteClient._absorb,
    (State.COMPLETED, "timer_k"): NonInviteClient._done,
}


class NonInviteServer:
    """RFC 3261 §17.2.2 (Figure 8).

    Trying absorbs request retransmissions; a provisional response from the user moves to
    Proceeding (retransmissions get it again); a final response moves to Completed, where
    retransmissions get the final again until Timer J (64*T1 unreliable, zero reliable).
    """

    def __init__(self, *, reliable: bool, timers: Timers) -> None:
        self.state = State.TRYING
        self._reliable = reliable
        self._timers = timers
        self._last: bytes | None = None
        self._j: float | None = None

    def next_deadline(self) -> float | None:
        return self._j

    def request_again(self) -> list[Effect]:
        """A retransmission of the request arrived."""
        if self.state in (State.PROCEEDING, State.COMPLETED) and self._last is not None:
            return [Transmit(self._last)]
        return []

    def respond(self, status: int, data: bytes, now: float) -> list[Effect]:
        if self.state in (State.COMPLETED, State.TERMINATED):
            return []
        self._last = data
        if status < 200:
            self.state = State.PROCEEDING
        else:
            self.state = State.COMPLETED
            self._j = now + (0.0 if self._reliable else 64 * self._timers.t1)
        return [Transmit(data)]

    def on_timer(self, now: float) -> list[Effect]:
        if self._j is not None and self._j <= now:
            self.state = State.TERMINATED
            self._j = None
        return []


# RFC 3261 §8.1.1.7: a branch that starts with the magic cookie was made by an RFC 3261
# element and is unique per transaction.
MAGIC_COOKIE = "z9hG4bK"


def server_key(request: Request, method: str | None = None) -> tuple[str, str, str]:
    """The server transaction a request belongs to (RFC 3261 §17.2.3). `method` names the
    transaction's method when it differs from the request's (an ACK or CANCEL looks up its
    INVITE).

    With the magic cookie: the top Via's branch and sent-by, and the method. Without it (an
    RFC 2543 peer), §17.2.3 matches on the Request-URI, From tag, Call-ID, CSeq number and the
    whole top Via instead; the To tag is left out, since the ACK of a non-2xx carries the tag
    of our response and the INVITE none."""
    via = request.top_via
    sent_by = f"{via.host}:{via.port}"
    wanted = method or request.method
    if via.branch.startswith(MAGIC_COOKIE):
        return (via.branch, sent_by, wanted)
    from_tag = parse_name_addr(request.header("From") or "").tag or ""
    legacy = "\n".join((request.uri, from_tag, request.call_id, str(request.cseq.number), str(via)))
    return (legacy, sent_by, wanted)

"""RFC 3261 §17: the four transaction state machines, sans I/O, written one way.

Each machine is a table from (State, Input) to a handler, with the RFC's state and timer names.
An input is a response received or sent, a retransmitted request, an ACK, a transport error or
a timer falling due. A pair missing from the table is a bug or a peer's nonsense: the machine
terminates and raises `TransactionError`. Time is passed in: the owner asks `next_deadline()`
and calls `handle_timer(now)` when it is due; every step returns the effects to carry out.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, final

from sipnotify.sip.message import Request, Response, serialize
from sipnotify.sip.value import Value


@dataclass(frozen=True, slots=True)
class Timers:
    """RFC 3261 §17.1.1.1 and Table 4: T1 (the round-trip estimate), T2 (the longest
    retransmission interval), T4 (how long a message may linger in the network), and
    `timeout`: Timers B, F, H and J, 64*T1 in the RFC. As in pjsip, `timeout` (pjsip.conf
    `timer_b`) is also Timer D, the time an INVITE client absorbs answer retransmissions."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    timeout: float = 32.0


class State(enum.Enum):
    CALLING = "Calling"  # INVITE client (Figure 5)
    TRYING = "Trying"  # non-INVITE client and server (Figures 6 and 8)
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"  # INVITE server (Figure 7)
    ACCEPTED = "Accepted"  # INVITE client and server after a 2xx (RFC 6026)
    TERMINATED = "Terminated"

    # Members are singletons compared by identity: hashing by identity keeps the (State,
    # Input) lookups of every step in C (Enum's own __hash__ is Python code).
    __hash__ = object.__hash__


class Input(enum.Enum):
    REQUEST = "request"  # the request again: a retransmission reached the server
    PROVISIONAL = "1xx"  # received by a client, sent by a server's user
    SUCCESS = "2xx"
    FAILURE = "300-699"
    ACK = "ACK"  # for an INVITE server's 300-699
    TRANSPORT_ERROR = "transport error"
    TIMER_A = "Timer A"  # INVITE request retransmission
    TIMER_B = "Timer B"  # INVITE transaction timeout
    TIMER_D = "Timer D"  # wait for response retransmissions
    TIMER_E = "Timer E"  # non-INVITE request retransmission
    TIMER_F = "Timer F"  # non-INVITE transaction timeout
    TIMER_G = "Timer G"  # INVITE final response retransmission
    TIMER_H = "Timer H"  # wait for ACK receipt
    TIMER_I = "Timer I"  # wait for ACK retransmissions
    TIMER_J = "Timer J"  # wait for non-INVITE request retransmissions
    TIMER_K = "Timer K"  # wait for response retransmissions
    TIMER_M = "Timer M"  # wait for 2xx retransmissions (RFC 6026)

    __hash__ = object.__hash__  # as State's

    @staticmethod
    def of(status: int) -> Input:
        """The input a response with `status` is."""
        if status < 200:
            return Input.PROVISIONAL
        return Input.SUCCESS if status < 300 else Input.FAILURE


class ErrorKind(enum.Enum):
    TIMEOUT = "timeout"
    TRANSPORT = "transport error"
    SHUTDOWN = "shutting down"


@final
class Failure(Value):
    """Why a transaction ended without a final response; `str()` is how it is reported
    ("timeout", "transport error: connection refused", "shutting down")."""

    __match_args__ = ("kind", "detail")

    def __init__(self, kind: ErrorKind, detail: str = "") -> None:
        self.kind: Final = kind
        self.detail: Final = detail

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value


TIMEOUT = Failure(ErrorKind.TIMEOUT)


@final
class Transmit(Value):
    """Send these bytes to the transaction's peer."""

    __match_args__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data: Final = data


@final
class Outcome(Value):
    """The transaction's result for its user: a final response, or a failure."""

    __match_args__ = ("response", "failure")

    def __init__(self, response: Response | None = None, failure: Failure | None = None) -> None:
        self.response: Final = response
        self.failure: Final = failure


@final
class Passed(Value):
    """A response an INVITE client passes up without ending: a 1xx, or a copy of the 2xx it
    already reported (the user repeats its ACK)."""

    __match_args__ = ("response",)

    def __init__(self, response: Response) -> None:
        self.response: Final = response


Effect = Transmit | Outcome | Passed
Handler = Callable[[Any, float, Any], list[Effect]]


class TransactionError(Exception):
    """A (state, input) pair the machine's table has no entry for; the machine terminated."""

    def __init__(self, machine: str, state: State, event: Input) -> None:
        super().__init__(f"{machine}: no transition from {state.value} on {event.value}")
        self.state = state
        self.input = event


class Machine:
    """What every machine shares: the state, the running timers, and stepping by table."""

    __slots__ = ("deadlines", "reliable", "state", "timers")
    TIMERS: ClassVar[tuple[Input, ...]]  # in the order they are handled when due together
    INITIAL: ClassVar[State]

    def __init__(self, *, reliable: bool, timers: Timers) -> None:
        self.state = self.INITIAL
        self.reliable = reliable
        self.timers = timers
        self.deadlines: dict[Input, float] = {}

    def next_deadline(self) -> float | None:
        deadlines = self.deadlines
        return min(deadlines.values()) if deadlines else None

    def step(self, event: Input, now: float, arg: Any = None) -> list[Effect]:
        handler = TRANSITIONS[type(self)].get((self.state, event))
        if handler is None:
            state = self.state
            self.terminate()
            raise TransactionError(type(self).__name__, state, event)
        return handler(self, now, arg)

    def handle_timer(self, now: float) -> list[Effect]:
        effects: list[Effect] = []
        for timer in self.TIMERS:
            due = self.deadlines.get(timer)
            if due is not None and due <= now and self.state is not State.TERMINATED:
                del self.deadlines[timer]
                effects += self.step(timer, now)
        return effects

    def terminate(self) -> None:
        self.state = State.TERMINATED
        self.deadlines.clear()

    def _absorb(self, _now: float, _arg: Any) -> list[Effect]:
        return []

    def _end(self, _now: float, _arg: Any) -> list[Effect]:
        self.terminate()
        return []

    def _linger(self, unreliable: float) -> float:
        """How long a finished transaction waits for retransmissions: no time over TCP/TLS."""
        return 0.0 if self.reliable else unreliable


class NonInviteClient(Machine):
    """RFC 3261 §17.1.2.2 (Figure 6).

    Trying: Timer E retransmits at T1, doubling up to T2; Timer F times out. A provisional
    response moves to Proceeding, where Timer E fires every T2. A final response moves to
    Completed and is reported; Timer K (T4 over unreliable transports, zero over reliable ones)
    then terminates, absorbing response retransmissions.
    """

    __slots__ = ("_data", "_interval")
    INITIAL = State.TRYING
    TIMERS = (Input.TIMER_F, Input.TIMER_K, Input.TIMER_E)

    def __init__(self, data: bytes, *, reliable: bool, now: float, timers: Timers) -> None:
        super().__init__(reliable=reliable, timers=timers)
        self._data = data
        self._interval = timers.t1
        if not reliable:
            self.deadlines[Input.TIMER_E] = now + timers.t1
        self.deadlines[Input.TIMER_F] = now + timers.timeout

    def start(self) -> list[Effect]:
        return [Transmit(self._data)]

    def _retransmit(self, now: float, _arg: Any) -> list[Effect]:
        if self.state is State.TRYING:
            self._interval = min(2 * self._interval, self.timers.t2)
        else:
            self._interval = self.timers.t2
        self.deadlines[Input.TIMER_E] = now + self._interval
        return [Transmit(self._data)]

    def _timeout(self, _now: float, _arg: Any) -> list[Effect]:
        self.terminate()
        return [Outcome(failure=TIMEOUT)]

    def _proceeding(self, now: float, _arg: Any) -> list[Effect]:
        if Input.TIMER_E in self.deadlines:
            self.deadlines[Input.TIMER_E] = now + self.timers.t2
        self.state = State.PROCEEDING
        return []

    def _completed(self, now: float, response: Response) -> list[Effect]:
        self.state = State.COMPLETED
        self.deadlines.clear()
        self.deadlines[Input.TIMER_K] = now + self._linger(self.timers.t4)
        return [Outcome(response=response)]

    def _failed(self, _now: float, failure: Failure) -> list[Effect]:
        self.terminate()
        return [Outcome(failure=failure)]


_NON_INVITE_CLIENT: Mapping[tuple[State, Input], Handler] = {
    (State.TRYING, Input.TIMER_E): NonInviteClient._retransmit,
    (State.TRYING, Input.TIMER_F): NonInviteClient._timeout,
    (State.TRYING, Input.PROVISIONAL): NonInviteClient._proceeding,
    (State.TRYING, Input.SUCCESS): NonInviteClient._completed,
    (State.TRYING, Input.FAILURE): NonInviteClient._completed,
    (State.TRYING, Input.TRANSPORT_ERROR): NonInviteClient._failed,
    (State.PROCEEDING, Input.TIMER_E): NonInviteClient._retransmit,
    (State.PROCEEDING, Input.TIMER_F): NonInviteClient._timeout,
    (State.PROCEEDING, Input.PROVISIONAL): Machine._absorb,
    (State.PROCEEDING, Input.SUCCESS): NonInviteClient._completed,
    (State.PROCEEDING, Input.FAILURE): NonInviteClient._completed,
    (State.PROCEEDING, Input.TRANSPORT_ERROR): NonInviteClient._failed,
    (State.COMPLETED, Input.PROVISIONAL): Machine._absorb,
    (State.COMPLETED, Input.SUCCESS): Machine._absorb,
    (State.COMPLETED, Input.FAILURE): Machine._absorb,
    (State.COMPLETED, Input.TRANSPORT_ERROR): Machine._end,
    (State.COMPLETED, Input.TIMER_K): Machine._end,
}


class NonInviteServer(Machine):
    """RFC 3261 §17.2.2 (Figure 8).

    Trying absorbs request retransmissions; a provisional response from the user moves to
    Proceeding (retransmissions get it again); a final response moves to Completed, where
    retransmissions get the final again until Timer J (zero over reliable transports). Any other
    response the user passes in Completed is discarded.
    """

    __slots__ = ("_last",)
    INITIAL = State.TRYING
    TIMERS = (Input.TIMER_J,)

    def __init__(self, *, reliable: bool, timers: Timers) -> None:
        super().__init__(reliable=reliable, timers=timers)
        self._last = b""

    def _repeat(self, _now: float, _arg: Any) -> list[Effect]:
        return [Transmit(self._last)]

    def _provisional(self, _now: float, data: bytes) -> list[Effect]:
        self.state = State.PROCEEDING
        self._last = data
        return [Transmit(data)]

    def _final(self, now: float, data: bytes) -> list[Effect]:
        self.state = State.COMPLETED
        self._last = data
        self.deadlines[Input.TIMER_J] = now + self._linger(self.timers.timeout)
        return [Transmit(data)]


_NON_INVITE_SERVER: Mapping[tuple[State, Input], Handler] = {
    (State.TRYING, Input.REQUEST): Machine._absorb,
    (State.TRYING, Input.PROVISIONAL): NonInviteServer._provisional,
    (State.TRYING, Input.SUCCESS): NonInviteServer._final,
    (State.TRYING, Input.FAILURE): NonInviteServer._final,
    (State.PROCEEDING, Input.REQUEST): NonInviteServer._repeat,
    (State.PROCEEDING, Input.PROVISIONAL): NonInviteServer._provisional,
    (State.PROCEEDING, Input.SUCCESS): NonInviteServer._final,
    (State.PROCEEDING, Input.FAILURE): NonInviteServer._final,
    (State.COMPLETED, Input.REQUEST): NonInviteServer._repeat,
    (State.COMPLETED, Input.PROVISIONAL): Machine._absorb,
    (State.COMPLETED, Input.SUCCESS): Machine._absorb,
    (State.COMPLETED, Input.FAILURE): Machine._absorb,
    (State.COMPLETED, Input.TIMER_J): Machine._end,
}


class InviteServer(Machine):
    """RFC 3261 §17.2.1 (Figure 7).

    Proceeding: provisional responses are sent and repeated to request retransmissions. A 2xx
    ends the transaction at once (the user, the call, retransmits it until the ACK, §13.3.1.4).
    A 300-699 moves to Completed: Timer G repeats it (T1, doubling up to T2; not over reliable
    transports) until the ACK moves to Confirmed, or Timer H gives up; Confirmed absorbs ACK
    copies until Timer I (T4; zero over reliable transports).
    """

    __slots__ = ("_interval", "_last")
    INITIAL = State.PROCEEDING
    TIMERS = (Input.TIMER_H, Input.TIMER_I, Input.TIMER_G)

    def __init__(self, *, reliable: bool, timers: Timers) -> None:
        super().__init__(reliable=reliable, timers=timers)
        self._last = b""
        self._interval = timers.t1

    def _repeat(self, _now: float, _arg: Any) -> list[Effect]:
        return [Transmit(self._last)] if self._last else []

    def _provisional(self, _now: float, data: bytes) -> list[Effect]:
        self._last = data
        return [Transmit(data)]

    def _success(self, _now: float, data: bytes) -> list[Effect]:
        self.terminate()
        return [Transmit(data)]

    def _failure(self, now: float, data: bytes) -> list[Effect]:
        self._last = data
        self.state = State.COMPLETED
        if not self.reliable:
            self.deadlines[Input.TIMER_G] = now + self._interval
        self.deadlines[Input.TIMER_H] = now + self.timers.timeout
        return [Transmit(data)]

    def _timer_g(self, now: float, _arg: Any) -> list[Effect]:
        self._interval = min(2 * self._interval, self.timers.t2)
        self.deadlines[Input.TIMER_G] = now + self._interval
        return [Transmit(self._last)]

    def _timer_h(self, _now: float, _arg: Any) -> list[Effect]:
        self.terminate()
        return [Outcome(failure=TIMEOUT)]

    def _confirmed(self, now: float, _arg: Any) -> list[Effect]:
        self.state = State.CONFIRMED
        self.deadlines.clear()
        self.deadlines[Input.TIMER_I] = now + self._linger(self.timers.t4)
        return []


_INVITE_SERVER: Mapping[tuple[State, Input], Handler] = {
    (State.PROCEEDING, Input.REQUEST): InviteServer._repeat,
    (State.PROCEEDING, Input.PROVISIONAL): InviteServer._provisional,
    (State.PROCEEDING, Input.SUCCESS): InviteServer._success,
    (State.PROCEEDING, Input.FAILURE): InviteServer._failure,
    (State.COMPLETED, Input.REQUEST): InviteServer._repeat,
    (State.COMPLETED, Input.TIMER_G): InviteServer._timer_g,
    (State.COMPLETED, Input.TIMER_H): InviteServer._timer_h,
    (State.COMPLETED, Input.ACK): InviteServer._confirmed,
    (State.CONFIRMED, Input.REQUEST): Machine._absorb,
    (State.CONFIRMED, Input.ACK): Machine._absorb,
    (State.CONFIRMED, Input.TIMER_I): Machine._end,
}


class InviteClient(Machine):
    """RFC 3261 §17.1.1 (Figure 5), with RFC 6026's Accepted state.

    Calling: Timer A repeats the INVITE (T1, doubling; not over reliable transports) until a
    response; Timer B gives up. A provisional response moves to Proceeding (no more repeats)
    and is passed up, as every provisional is. A 2xx is reported and moves to Accepted (RFC 6026
    §7.2: the user sends the ACK; later 2xx copies are passed up too, so it can repeat its ACK)
    until Timer M (64*T1). A 300-699 is acknowledged here (§17.1.1.3) and moves to Completed,
    absorbing copies (each acknowledged again) until Timer D (zero over reliable transports).
    """

    __slots__ = ("_ack", "_interval", "request")
    INITIAL = State.CALLING
    TIMERS = (Input.TIMER_B, Input.TIMER_A, Input.TIMER_D, Input.TIMER_M)

    def __init__(self, request: Request, *, reliable: bool, now: float, timers: Timers) -> None:
        super().__init__(reliable=reliable, timers=timers)
        self.request = request
        self._interval = timers.t1
        self._ack = b""
        if not reliable:
            self.deadlines[Input.TIMER_A] = now + timers.t1
        self.deadlines[Input.TIMER_B] = now + timers.timeout

    def start(self) -> list[Effect]:
        return [Transmit(serialize(self.request))]

    def _timer_a(self, now: float, _arg: Any) -> list[Effect]:
        self._interval *= 2
        self.deadlines[Input.TIMER_A] = now + self._interval
        return self.start()

    def _timer_b(self, _now: float, _arg: Any) -> list[Effect]:
        self.terminate()
        return [Outcome(failure=TIMEOUT)]

    def _proceeding(self, _now: float, response: Response) -> list[Effect]:
        self.state = State.PROCEEDING
        self.deadlines.clear()
        return [Passed(response)]

    def _accepted(self, now: float, response: Response) -> list[Effect]:
        self.state = State.ACCEPTED
        self.deadlines.clear()
        self.deadlines[Input.TIMER_M] = now + self.timers.timeout
        return [Outcome(response=response)]

    def _copy(self, _now: float, response: Response) -> list[Effect]:
        return [Passed(response)]

    def _completed(self, now: float, response: Response) -> list[Effect]:
        self.state = State.COMPLETED
        self.deadlines.clear()
        self.deadlines[Input.TIMER_D] = now + self._linger(self.timers.timeout)
        self._ack = ack_for(self.request, response)
        return [Transmit(self._ack), Outcome(response=response)]

    def _ack_again(self, _now: float, _response: Response) -> list[Effect]:
        return [Transmit(self._ack)]

    def _failed(self, _now: float, failure: Failure) -> list[Effect]:
        self.terminate()
        return [Outcome(failure=failure)]


_INVITE_CLIENT: Mapping[tuple[State, Input], Handler] = {
    (State.CALLING, Input.TIMER_A): InviteClient._timer_a,
    (State.CALLING, Input.TIMER_B): InviteClient._timer_b,
    (State.CALLING, Input.PROVISIONAL): InviteClient._proceeding,
    (State.CALLING, Input.SUCCESS): InviteClient._accepted,
    (State.CALLING, Input.FAILURE): InviteClient._completed,
    (State.CALLING, Input.TRANSPORT_ERROR): InviteClient._failed,
    (State.PROCEEDING, Input.PROVISIONAL): InviteClient._proceeding,
    (State.PROCEEDING, Input.SUCCESS): InviteClient._accepted,
    (State.PROCEEDING, Input.FAILURE): InviteClient._completed,
    (State.PROCEEDING, Input.TRANSPORT_ERROR): InviteClient._failed,
    (State.ACCEPTED, Input.PROVISIONAL): Machine._absorb,
    (State.ACCEPTED, Input.SUCCESS): InviteClient._copy,
    (State.ACCEPTED, Input.FAILURE): Machine._absorb,
    (State.ACCEPTED, Input.TRANSPORT_ERROR): Machine._absorb,
    (State.ACCEPTED, Input.TIMER_M): Machine._end,
    (State.COMPLETED, Input.PROVISIONAL): Machine._absorb,
    (State.COMPLETED, Input.SUCCESS): Machine._absorb,
    (State.COMPLETED, Input.FAILURE): InviteClient._ack_again,
    (State.COMPLETED, Input.TRANSPORT_ERROR): Machine._absorb,
    (State.COMPLETED, Input.TIMER_D): Machine._end,
}


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


# Each kind's transitions, (state, input) to handler; the tables follow their classes (a table
# built in the class body is something mypyc cannot compile).
TRANSITIONS: Mapping[type[Machine], Mapping[tuple[State, Input], Handler]] = {
    NonInviteClient: _NON_INVITE_CLIENT,
    NonInviteServer: _NON_INVITE_SERVER,
    InviteServer: _INVITE_SERVER,
    InviteClient: _INVITE_CLIENT,
}

"""RFC 3261 §17.2.1 (Figure 7): the INVITE server transaction, sans I/O.

A table of (state, input) → handler with the RFC's names, like the non-INVITE transactions.
Proceeding: provisional responses are sent and repeated to request retransmissions. A 2xx ends
the transaction at once (§17.2.1: the TU, the call, retransmits it until the ACK). A 300-699
moves to Completed: Timer G repeats it (T1, doubling up to T2; not over reliable transports)
until the ACK moves to Confirmed, or Timer H (64*T1) gives up; Confirmed absorbs ACK copies
until Timer I (T4; zero over reliable transports). Time is passed in.
"""

from __future__ import annotations

from collections.abc import Callable

from sipnotify.sip.transaction import Effect, Outcome, State, Timers, Transmit


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

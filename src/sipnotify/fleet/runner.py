"""One job's progress, sans I/O: which phones to send to now, what each answer means, and for a
reboot, whether the phone really restarted.

- Sends go out as the pacer admits them, to phones pending, sent but unanswered when the job
  was resumed, or due for a retry; each is counted as an attempt.
- A 2xx answers the phone; any other final answer fails it. No answer (timeout, transport
  error) is retried with backoff (30 s doubling to 5 min) until the job's deadline, then fails.
- After a reboot's 2xx the phone has a confirmation window: a registration with a new Call-ID
  (a restarted phone registers afresh; a refresh keeps its Call-ID) confirms it, with the
  User-Agent after (a firmware change shows); none by the window's end marks it ignored.

Time is passed in; every change to a phone is queued in `changes()` for the store.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import replace

from sipnotify.fleet.pacing import Pacer
from sipnotify.storage.jobs import JobRecord, PhoneRecord, PhoneState

RETRY_FIRST = 30.0  # seconds before the first retry of a phone that did not answer
RETRY_MOST = 300.0
_SENDABLE = (PhoneState.PENDING, PhoneState.SENT, PhoneState.RETRYING)

Address = Callable[[PhoneRecord], str]  # the remote address a phone is reached at (for caps)


class JobRun:
    """Kept so every step costs O(log n) for a job of 100,000 phones: a queue of phones ready
    to send, a heap of retries, a heap of confirmation windows, and a count of phones still
    open."""

    def __init__(
        self, job: JobRecord, phones: list[PhoneRecord], pacer: Pacer, *, reboot: bool,
        address: Address, confirm_window: float,
    ) -> None:  # fmt: skip
        self.job = job
        self._phones = {p.uri: p for p in phones}
        self._pacer = pacer
        self._reboot = reboot
        self._address = address
        self._window = confirm_window
        self._flying: set[str] = set()
        self._ready: deque[str] = deque()  # in the job's order
        self._retries: list[tuple[float, str]] = []  # (next_at, uri)
        self._waiting_until: dict[str, float] = {}  # uri -> end of its confirmation window
        self._windows: list[tuple[float, str]] = []  # the same, as a heap
        self._open = 0  # phones not finished
        self._held = math.inf  # when the pacer lets the next send go
        self._changes: list[PhoneRecord] = []
        self.counts: Counter[PhoneState] = Counter(p.state for p in phones)  # kept live
        for phone in phones:
            self._open += not self._finished(phone)
            if phone.state in _SENDABLE:
                self._queue(phone)
            elif reboot and phone.state is PhoneState.ANSWERED:  # resumed: wait again
                self._wait(phone.uri, phone.updated_at + confirm_window)

    @property
    def phones(self) -> list[PhoneRecord]:
        return list(self._phones.values())

    @property
    def done(self) -> bool:
        """Every phone settled, or answered with nothing left to wait for."""
        return self._open == 0

    def changes(self) -> list[PhoneRecord]:
        """The phones changed since the last call, to store."""
        changed, self._changes = self._changes, []
        return changed

    def due(self, now: float) -> list[PhoneRecord]:
        """The phones to send to now (already counted as sent)."""
        while self._retries and self._retries[0][0] <= now:
            self._ready.append(heapq.heappop(self._retries)[1])
        self._held = math.inf
        sends = []
        while self._ready:
            phone = self._phones[self._ready[0]]
            wait = self._pacer.admit(self._address(phone), now)
            if wait is not None:
                self._held = wait
                break  # the rate or a cap holds everyone behind it too
            self._ready.popleft()
            self._flying.add(phone.uri)
            sends.append(self._set(phone, now, state=PhoneState.SENT, attempts=phone.attempts + 1))
        return sends

    def answered(self, uri: str, status: int | None, now: float) -> None:
        """The final answer to the send of `uri` (None: no answer, timeout or transport)."""
        phone = self._phones[uri]
        self._flying.discard(uri)
        self._pacer.done(self._address(phone))
        if status is None:
            self._retry(phone, now)
        elif 200 <= status < 300:
            self._set(phone, now, state=PhoneState.ANSWERED, status=status)
            if self._reboot:
                self._wait(uri, now + self._window)
            else:
                self._open -= 1
        else:
            self._set(phone, now, state=PhoneState.FAILED, status=status)
            self._open -= 1

    def registered(self, aor: str, call_id: str, user_agent: str, now: float) -> None:
        """A registration of `aor` was stored: a phone of it waiting for its reboot that now
        registers with a new Call-ID has restarted."""
        for uri, until in list(self._waiting_until.items()):
            phone = self._phones[uri]
            if phone.aor == aor and call_id != phone.call_id_before and now <= until:
                del self._waiting_until[uri]
                self._open -= 1
                self._set(phone, now, state=PhoneState.CONFIRMED, user_agent_after=user_agent)

    def get_timer(self) -> float | None:
        """When `handle_timer` (and `due`) should run next."""
        if self.done:
            return None
        wakes = [self._held, self.job.deadline]
        if self._retries:
            wakes.append(self._retries[0][0])
        if self._windows:
            wakes.append(self._windows[0][0])
        return min(wakes)

    def handle_timer(self, now: float) -> None:
        """Windows that ended mark their phones ignored; past the deadline, phones still
        without an answer fail."""
        while self._windows and self._windows[0][0] <= now:
            until, uri = heapq.heappop(self._windows)
            if self._waiting_until.get(uri) == until:
                del self._waiting_until[uri]
                self._open -= 1
                self._set(self._phones[uri], now, state=PhoneState.IGNORED)
        if now >= self.job.deadline and (self._ready or self._retries):
            for uri in [*self._ready, *(uri for _, uri in self._retries)]:
                self._open -= 1
                self._set(self._phones[uri], now, state=PhoneState.FAILED)
            self._ready.clear()
            self._retries.clear()

    def _retry(self, phone: PhoneRecord, now: float) -> None:
        wait = min(RETRY_FIRST * 2 ** max(phone.attempts - 1, 0), RETRY_MOST)
        if now + wait > self.job.deadline:
            self._set(phone, now, state=PhoneState.FAILED)
            self._open -= 1
        else:
            self._set(phone, now, state=PhoneState.RETRYING, next_at=now + wait)
            heapq.heappush(self._retries, (now + wait, phone.uri))

    def _queue(self, phone: PhoneRecord) -> None:
        if phone.state is PhoneState.RETRYING and phone.next_at > 0:
            heapq.heappush(self._retries, (phone.next_at, phone.uri))
        else:
            self._ready.append(phone.uri)

    def _wait(self, uri: str, until: float) -> None:
        self._waiting_until[uri] = until
        heapq.heappush(self._windows, (until, uri))

    def _finished(self, phone: PhoneRecord) -> bool:
        if phone.state.settled:
            return True
        return phone.state is PhoneState.ANSWERED and not self._reboot

    def _set(self, phone: PhoneRecord, now: float, **changes: object) -> PhoneRecord:
        changed = replace(phone, updated_at=now, **changes)  # type: ignore[arg-type]
        self.counts[phone.state] -= 1
        self.counts[changed.state] += 1
        self._phones[phone.uri] = changed
        self._changes.append(changed)
        return changed

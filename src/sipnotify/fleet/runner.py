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

import math
from collections.abc import Callable
from dataclasses import replace

from sipnotify.fleet.pacing import Pacer
from sipnotify.storage.jobs import JobRecord, PhoneRecord, PhoneState

RETRY_FIRST = 30.0  # seconds before the first retry of a phone that did not answer
RETRY_MOST = 300.0
CONFIRM_WINDOW = 300.0  # seconds a rebooted phone has to register again
_SENDABLE = (PhoneState.PENDING, PhoneState.SENT, PhoneState.RETRYING)

Address = Callable[[PhoneRecord], str]  # the remote address a phone is reached at (for caps)


class JobRun:
    def __init__(
        self, job: JobRecord, phones: list[PhoneRecord], pacer: Pacer, *, reboot: bool,
        address: Address, confirm_window: float = CONFIRM_WINDOW,
    ) -> None:  # fmt: skip
        self.job = job
        self._phones = {p.uri: p for p in phones}
        self._pacer = pacer
        self._reboot = reboot
        self._address = address
        self._window = confirm_window
        self._flying: set[str] = set()
        self._waiting_until: dict[str, float] = {}  # uri -> end of its confirmation window
        self._wake = math.inf
        self._changes: list[PhoneRecord] = []
        for phone in phones:  # resumed after a restart: answered reboots wait again
            if reboot and phone.state is PhoneState.ANSWERED:
                self._waiting_until[phone.uri] = phone.updated_at + confirm_window

    @property
    def phones(self) -> list[PhoneRecord]:
        return list(self._phones.values())

    @property
    def done(self) -> bool:
        """Every phone settled, or answered with nothing left to wait for."""
        return not self._flying and all(self._finished(p) for p in self._phones.values())

    def changes(self) -> list[PhoneRecord]:
        """The phones changed since the last call, to store."""
        changed, self._changes = self._changes, []
        return changed

    def due(self, now: float) -> list[PhoneRecord]:
        """The phones to send to now (already counted as sent)."""
        self._wake = math.inf
        sends = []
        for phone in self._phones.values():
            if phone.state not in _SENDABLE or phone.uri in self._flying:
                continue
            if phone.next_at > now:
                self._wake = min(self._wake, phone.next_at)
                continue
            wait = self._pacer.admit(self._address(phone), now)
            if wait is not None:
                self._wake = min(self._wake, wait)
                break  # the rate or a cap holds everyone behind it too
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
                self._waiting_until[uri] = now + self._window
        else:
            self._set(phone, now, state=PhoneState.FAILED, status=status)

    def registered(self, aor: str, call_id: str, user_agent: str, now: float) -> None:
        """A registration of `aor` was stored: a phone of it waiting for its reboot that now
        registers with a new Call-ID has restarted."""
        for uri, until in list(self._waiting_until.items()):
            phone = self._phones[uri]
            if phone.aor == aor and call_id != phone.call_id_before and now <= until:
                del self._waiting_until[uri]
                self._set(phone, now, state=PhoneState.CONFIRMED, user_agent_after=user_agent)

    def get_timer(self) -> float | None:
        """When `handle_timer` (and `due`) should run next."""
        wakes = [self._wake, *self._waiting_until.values(), self.job.deadline]
        soonest = min(wakes)
        return None if self.done or math.isinf(soonest) else soonest

    def handle_timer(self, now: float) -> None:
        """Windows that ended mark their phones ignored; past the deadline, phones still
        without an answer fail."""
        for uri, until in list(self._waiting_until.items()):
            if until <= now:
                del self._waiting_until[uri]
                self._set(self._phones[uri], now, state=PhoneState.IGNORED)
        if now >= self.job.deadline:
            for phone in list(self._phones.values()):
                if phone.state in _SENDABLE and phone.uri not in self._flying:
                    self._set(phone, now, state=PhoneState.FAILED)

    def _retry(self, phone: PhoneRecord, now: float) -> None:
        wait = min(RETRY_FIRST * 2 ** max(phone.attempts - 1, 0), RETRY_MOST)
        if now + wait > self.job.deadline:
            self._set(phone, now, state=PhoneState.FAILED)
        else:
            self._set(phone, now, state=PhoneState.RETRYING, next_at=now + wait)

    def _finished(self, phone: PhoneRecord) -> bool:
        if phone.state.settled:
            return True
        return phone.state is PhoneState.ANSWERED and phone.uri not in self._waiting_until

    def _set(self, phone: PhoneRecord, now: float, **changes: object) -> PhoneRecord:
        changed = replace(phone, updated_at=now, **changes)  # type: ignore[arg-type]
        self._phones[phone.uri] = changed
        self._changes.append(changed)
        return changed

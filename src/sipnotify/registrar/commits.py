"""Group commit of registrations: one transaction, one database round trip, for many 200s.

The 200s decided in one loop turn are stored together when the turn ends, and answered once
the transaction has committed; only one such transaction is out at a time, and registrations
decided meanwhile wait for the next. The store's work may run off the loop (`offload`: a
helper thread for PostgreSQL, which then answers while the loop goes on deciding), or inline
(SQLite, a local file).

A REGISTER for an AOR whose registration waits or is being committed is decided after it, on
what was stored, in the order received. When the transaction fails, each registration is
stored alone (`alone`), so each gets the answer it would have had alone; when the database
cannot be reached, all are answered 503 at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Final, final

from sipnotify.config.pjsip import Endpoint
from sipnotify.registrar.registry import Registry, Tell
from sipnotify.sip.errors import ParseError
from sipnotify.sip.message import Request
from sipnotify.sip.registrar import Decision, Source
from sipnotify.sip.responses import Reply
from sipnotify.sip.value import Value
from sipnotify.storage.base import StoreUnavailable, Write

log = logging.getLogger("sipnotify.registrar")
RETRY_AFTER = 5  # seconds a phone is asked to wait while the database is unreachable
UNAVAILABLE = Reply(503, "Service Unavailable", (("Retry-After", str(RETRY_AFTER)),))

Answer = Callable[[Reply], None]  # sends a REGISTER's reply
Soon = Callable[[Callable[[], None]], object]  # runs a callback when the loop turn ends
Done = Callable[[BaseException | None], None]
# Runs the store's work (on a helper thread, or at once), then `Done` on the loop.
Offload = Callable[[Callable[[], None], Done], None]


def inline(work: Callable[[], None], done: Done) -> None:
    """Offload for a store used on the loop only (SQLite): the work, at once."""
    try:
        work()
    except Exception as exc:  # handed to `done`, as a thread's failure is
        done(exc)
        return
    done(None)


@final
class Asked(Value):
    """A REGISTER proven and addressed to one of its endpoint's AORs, to decide."""

    __match_args__ = ("request", "endpoint", "aor", "source", "now", "answer")

    def __init__(  # noqa: PLR0917 (a value's fields, in order)
        self, request: Request, endpoint: Endpoint, aor: str, source: Source, now: float,
        answer: Answer,
    ) -> None:  # fmt: skip
        self.request: Final = request
        self.endpoint: Final = endpoint
        self.aor: Final = aor
        self.source: Final = source
        self.now: Final = now
        self.answer: Final = answer


@final
class Waiting(Value):
    """A 200 decided, waiting for the commit (with what it was decided from, to decide it
    again alone)."""

    __match_args__ = ("asked", "decision")

    def __init__(self, asked: Asked, decision: Decision) -> None:
        self.asked: Final = asked
        self.decision: Final = decision

    def reply(self) -> Reply:
        return Reply(self.decision.status, self.decision.reason, self.decision.headers)


class GroupCommit:
    def __init__(
        self, registry: Registry, *, soon: Soon, offload: Offload,
        decide: Callable[[Asked], Decision], alone: Callable[[Waiting], Reply],
        tell: Callable[[float], Tell], limit: Callable[[str], int],
    ) -> None:  # fmt: skip
        """`decide` makes a REGISTER's decision on what is stored; `alone` stores one
        registration in its own transaction (its answer); `tell(now)` hears each change
        remembered; `limit` is an AOR's max_contacts."""
        self._registry = registry
        self._soon, self._offload = soon, offload
        self._decide, self._alone, self._tell, self._limit = decide, alone, tell, limit
        self._waiting: dict[str, Waiting] = {}  # by AOR, in the order decided
        self._committing: dict[str, Waiting] = {}  # the transaction out now
        self._later: dict[str, list[Asked]] = {}  # by AOR: asked while one of its was busy
        self._due = False  # a commit is scheduled for the end of the turn

    def ask(self, asked: Asked) -> None:
        """Decide and answer `asked` (a 200 once stored), after any of its AOR's before it."""
        if asked.aor in self._waiting or asked.aor in self._committing:
            self._later.setdefault(asked.aor, []).append(asked)
            return
        decision = self._decide(asked)
        if decision.status != 200:
            asked.answer(Reply(decision.status, decision.reason, decision.headers))
            return
        self._waiting[asked.aor] = Waiting(asked, decision)
        self._schedule()

    def commit(self) -> None:
        """Send the registrations waiting to the store now, unless a transaction is out (the
        next starts when it is done)."""
        if self._committing or not self._waiting:
            return
        writes = self._writes(self._waiting.values())
        self._committing, self._waiting = self._waiting, {}
        self._offload(lambda: self._registry.store_many(writes),
                      lambda error: self._committed(writes, error))  # fmt: skip

    def _schedule(self) -> None:
        if not self._due and not self._committing:
            self._due = True
            self._soon(self._turn_ended)

    def _turn_ended(self) -> None:
        self._due = False
        self.commit()

    def _writes(self, batch: Iterable[Waiting]) -> list[Write]:
        return [Write(w.decision.store, w.decision.drop, self._limit(w.asked.aor), w.asked.now)
                for w in batch]  # fmt: skip

    def _committed(self, writes: list[Write], error: BaseException | None) -> None:
        batch = list(self._committing.values())
        self._committing = {}
        try:
            self._answer(batch, writes, error)
        finally:
            for waiting in batch:
                for asked in self._later.pop(waiting.asked.aor, []):
                    self._ask_later(asked)
            if self._waiting:
                self._schedule()

    def _answer(self, batch: list[Waiting], writes: list[Write],
                error: BaseException | None) -> None:  # fmt: skip
        if error is None:
            try:
                tell = self._tell(max(w.asked.now for w in batch))
                self._registry.remember_many(writes, tell)
            except Exception as exc:  # stored: the 200s stand, whoever listens failed
                log.error("a registration listener failed: %s: %s", type(exc).__name__, exc)
            for waiting in batch:
                waiting.asked.answer(waiting.reply())
        elif isinstance(error, StoreUnavailable):  # alone, each would wait for it again
            log.error("cannot store %d registrations: %s", len(batch), error)
            for waiting in batch:
                waiting.asked.answer(UNAVAILABLE)
        else:  # which one failed is learnt one at a time
            for waiting in batch:
                waiting.asked.answer(self._alone_answer(waiting))

    def _alone_answer(self, waiting: Waiting) -> Reply:
        try:
            return self._alone(waiting)
        except Exception as exc:  # every REGISTER gets an answer
            log.error("cannot store the registration of %s: %s: %s", waiting.asked.aor,
                      type(exc).__name__, exc)  # fmt: skip
            return Reply(500, "Server Internal Error")

    def _ask_later(self, asked: Asked) -> None:
        """`ask`, for a REGISTER held back: what goes wrong is its answer (as the server side
        answers a request asked at once)."""
        try:
            self.ask(asked)
        except ParseError:
            asked.answer(Reply(400, "Bad Request"))
        except Exception as exc:  # every REGISTER gets an answer
            log.error("REGISTER for %s failed: %s: %s", asked.aor, type(exc).__name__, exc)
            asked.answer(Reply(500, "Server Internal Error"))

"""One request from its first send to its final answer, across digest challenges, sans I/O.

RFC 3261 §22.2: a 401 or 407 is answered by sending the request again with credentials; each
attempt is a new client transaction with the next CSeq and a new branch, keeping the Call-ID
and From tag (§8.1.3.5). At most MAX_CHALLENGES are answered, and never the same nonce twice
unless it is stale (`auth.answer_challenges`), so a peer cannot keep us in a loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final as Fixed
from typing import Protocol, final

from sipnotify.sip import auth
from sipnotify.sip.message import Outgoing
from sipnotify.sip.transactions.machines import Failure, Outcome
from sipnotify.sip.value import Value

MAX_CHALLENGES = 10  # Asterisk answers up to 10 challenges to one request
Address = tuple[str, int]
Headers = tuple[tuple[str, str], ...]
Build = Callable[[int, Headers], Outgoing]  # (CSeq number, Authorization headers) -> request


class Link(Protocol):
    """Where the transaction layer's bytes leave: a transport the asyncio side owns; the core
    only reads whether it is reliable."""

    @property
    def protocol(self) -> str: ...

    def send(self, data: bytes, address: Address) -> None: ...


@final
class Final(Value):
    """How a request ended: a final response's status and reason, or a failure; `rtt` in
    seconds from the last attempt's first send to its answer."""

    __match_args__ = ("status", "reason", "failure", "rtt")

    def __init__(
        self, status: int | None, reason: str, failure: Failure | None, rtt: float | None
    ) -> None:
        self.status: Fixed = status
        self.reason: Fixed = reason
        self.failure: Fixed = failure
        self.rtt: Fixed = rtt

    @property
    def error(self) -> str | None:
        """The failure as it is reported ("timeout", "transport error: …"), or None."""
        return None if self.failure is None else str(self.failure)


class Exchange:
    """One request and its attempts; `request` is the current attempt."""

    __slots__ = (
        "_answered",
        "_build",
        "_cnonce",
        "_credentials",
        "_rounds",
        "address",
        "cseq",
        "link",
        "request",
        "started",
    )

    def __init__(
        self,
        build: Build,
        link: Link,
        address: Address,
        *,
        credentials: list[auth.Credentials],
        cseq: int,
        cnonce: Callable[[], str],
    ) -> None:
        self._build = build
        self._credentials = credentials
        self._cnonce = cnonce
        self._answered: set[str] = set()
        self._rounds = 0
        self.link = link
        self.address = address
        self.cseq = cseq
        self.started = 0.0
        self.request = build(cseq, ())

    def answer(self, outcome: Outcome, now: float) -> Final | None:
        """The current attempt's transaction ended: the exchange's final result, or None when
        a challenge was answered and `request` is the next attempt to send."""
        response = outcome.response
        if response is None:
            return Final(None, "", outcome.failure, None)
        final = Final(response.status, response.reason, None, now - self.started)
        if response.status not in (401, 407) or not self._credentials:
            return final
        authorization = auth.answer_challenges(
            response,
            self._credentials,
            self._answered,
            method=self.request.method,
            uri=self.request.uri,
            cnonce=self._cnonce(),
        )
        self._rounds += 1
        if not authorization or self._rounds > MAX_CHALLENGES:
            return final
        self.cseq += 1
        self.request = self._build(self.cseq, authorization)
        return None

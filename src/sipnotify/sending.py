"""What sending a request involves, apart from sockets: where it leaves from and goes to,
how it ended, and the exchange that carries one request across digest challenges.

Owns the values the endpoint and its users share (Local, Destination, Hop, Final), and
`Exchange`: each attempt a client transaction with the next CSeq and a new branch, the Call-ID
and From tag kept; at most MAX_CHALLENGES answered, never the same nonce twice unless stale.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sipnotify.sip import auth
from sipnotify.sip.message import Outgoing
from sipnotify.sip.transaction import Outcome
from sipnotify.sip.uri import SipUri
from sipnotify.transport.stream import StreamConnection
from sipnotify.transport.udp import UdpTransport

MAX_CHALLENGES = 10  # Asterisk answers up to 10 challenges to one request
Address = tuple[str, int]
Link = UdpTransport | StreamConnection
Key = tuple[str, ...]  # (branch, method) for clients, (branch, sent-by, method) for servers
Build = Callable[[int, tuple[tuple[str, str], ...]], Outgoing]


class Transactor(Protocol):
    """Where an exchange's attempts go (endpoint.SipEndpoint)."""

    def transact(self, exchange: Exchange) -> None: ...


@dataclass(frozen=True, slots=True)
class Local:
    """The address a request leaves from, for its Via and Contact."""

    protocol: str
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a request is sent: the transport section, protocol and resolved address."""

    transport: str
    protocol: str
    address: Address
    server_name: str


@dataclass(frozen=True, slots=True)
class Final:
    """How a request ended: a final response, or an error; `rtt` in seconds."""

    status: int | None
    reason: str
    error: str | None
    rtt: float | None


@dataclass(frozen=True, slots=True)
class Hop:
    """Where a request is headed before routing: the target URI, the endpoint's transport
    section and outbound proxy, and the TCP/TLS flow the contact registered on, if any."""

    uri: SipUri
    transport: str = ""
    proxy: str = ""
    flow: tuple[str, Address] | None = None


def bracketed(host: str) -> str:
    """A host as it stands in a URI or a Via: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def via(local: Local, branch: str) -> str:
    """Our Via for a request leaving from `local` (RFC 3261 §18.1.1): `rport` asked for
    (RFC 3581) and, over TCP/TLS, `alias` (RFC 5923), as pjsip sends it."""
    alias = "" if local.protocol == "udp" else ";alias"
    sent_by = f"{bracketed(local.host)}:{local.port}"
    return f"SIP/2.0/{local.protocol.upper()} {sent_by};rport;branch={branch}{alias}"


Done = Callable[[Final], None]
Factory = Callable[[Local], Build]


def transport_error(exc: OSError) -> Final:
    return Final(None, "", f"transport error: {exc.strerror or exc}", None)


class Exchange:
    """One request from its first send to its final answer, across digest challenges: each
    attempt is a client transaction with the next CSeq and a new branch, keeping the Call-ID
    and From tag; at most MAX_CHALLENGES answered, and never the same nonce twice."""

    __slots__ = (
        "_answered",
        "_build",
        "_credentials",
        "_done",
        "_endpoint",
        "_rounds",
        "address",
        "cseq",
        "link",
        "request",
        "started",
    )

    def __init__(
        self,
        endpoint: Transactor,
        build: Build,
        destination: tuple[Link, Address],
        *,
        credentials: list[auth.Credentials],
        done: Done,
    ) -> None:
        self._endpoint = endpoint
        self._build = build
        self._credentials = credentials
        self._done = done
        self._answered: set[str] = set()
        self._rounds = 0
        self.link, self.address = destination
        self.cseq = random.randint(1, 65535)
        self.started = 0.0
        self.request = build(self.cseq, ())

    def ended(self, outcome: Outcome) -> None:
        """The current attempt's transaction reported: finish, or answer the challenge."""
        response = outcome.response
        if response is None:
            self._done(Final(None, "", outcome.error, None))
            return
        final = Final(response.status, response.reason, None, time.perf_counter() - self.started)
        if response.status not in (401, 407) or not self._credentials:
            self._done(final)
            return
        authorization = auth.answer_challenges(
            response,
            self._credentials,
            self._answered,
            method=self.request.method,
            uri=self.request.uri,
            cnonce=uuid.uuid4().hex,
        )
        self._rounds += 1
        if not authorization or self._rounds > MAX_CHALLENGES:
            self._done(final)
            return
        self.cseq += 1
        self.request = self._build(self.cseq, authorization)
        self._endpoint.transact(self)

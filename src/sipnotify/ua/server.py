"""The server side of the user agent: what each request received is answered.

OPTIONS here; REGISTER by the registrar (whose 200 may follow at the end of the loop turn,
once stored); INVITE, the ACK of a 2xx, CANCEL (RFC 3261 §9.2) and requests inside a call by
the calls layer, through the `IncomingInvite` a call answers; where responses go (§18.2.2
with RFC 3581). The transactions themselves (retransmissions,
matching, timers) are the transaction layer's; the endpoint feeds it and hands new requests
here with their server transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Protocol

from sipnotify.registrar.service import Registrar
from sipnotify.sip.errors import ParseError
from sipnotify.sip.ids import Ids
from sipnotify.sip.message import Request, serialize
from sipnotify.sip.registrar import Source
from sipnotify.sip.responses import Reply, make_response, stateless_tag, unsupported
from sipnotify.sip.transactions.exchange import Link
from sipnotify.sip.transactions.layer import ServerTransaction
from sipnotify.sip.uri import parse_uri
from sipnotify.ua.addresses import Address
from sipnotify.ua.throttle import Throttled

Headers = tuple[tuple[str, str], ...]
Soon = Callable[[Callable[[], None]], object]  # loop.call_soon
IN_DIALOG = frozenset(("BYE", "INFO", "NOTIFY", "UPDATE", "MESSAGE", "REFER", "PRACK"))
# Option tags a request may `Require` of us (RFC 3261 §8.2.2.3): Path for registrations
# through an edge proxy (RFC 3327). Any other is answered 420 Bad Extension.
SUPPORTED = frozenset(("path",))
CHALLENGES = frozenset((401, 407))  # answered statelessly (RFC 3261 §8.2.7)
log = logging.getLogger("sipnotify.sip")


class Host(Protocol):
    """What the server side needs of the endpoint: the clock, the transaction layer (each
    call carried out at once), and our address as a peer reaches us (for Contact)."""

    def now(self) -> float: ...

    def accept(self, request: Request, link: Link, address: Address) -> ServerTransaction | None:
        """A new server transaction for `request`, or None for a retransmission (answered)."""

    def take_ack(self, request: Request) -> bool:
        """Whether the ACK belonged to an INVITE transaction (a 300-699's)."""

    def respond(self, server: ServerTransaction, status: int, data: bytes) -> None: ...

    def respond_statelessly(self, server: ServerTransaction, data: bytes) -> None: ...

    def server_for(self, request: Request, method: str) -> ServerTransaction | None: ...

    def contact_for(self, link: Link, peer: str) -> str: ...

    def local_address(self, link: Link, peer: str) -> tuple[str, int]:
        """Our address (unbracketed) and port as the peer reaches us: `contact_for`'s."""


class Subscribing(Protocol):
    """Whoever answers SUBSCRIBE (MWI), as the server side sees it."""

    def subscribe(self, request: Request, source: Source, contact: str,
                  flow: tuple[str, Address] | None, now: float) -> Reply:  # fmt: skip
        """The answer; a NOTIFY may follow it (after the answer has gone)."""
        ...


class Calls(Protocol):
    """The calls layer, as the server side sees it."""

    def invite(self, invite: IncomingInvite) -> None:
        """A new INVITE (a retransmission never reaches here)."""

    def ack(self, request: Request) -> None:
        """The ACK of a 2xx (its own transaction; §13.2.2.4)."""

    def cancel(self, invite: IncomingInvite) -> None:
        """The caller gave up before the final answer (§9.2); answer 487."""

    def in_dialog(self, request: Request) -> Reply:
        """BYE, INFO, NOTIFY… inside a call: the answer (481 when there is no such call)."""


class IncomingInvite:
    """The server side of one INVITE, for the call that answers it. Every response carries the
    same To tag; a 2xx ends the transaction and the call repeats it until the ACK
    (§13.3.1.4) with `send_again`."""

    def __init__(self, uas: Uas, server: ServerTransaction, source: Address) -> None:
        self._uas = uas
        self._server = server
        self.request = server.request
        self.source = source
        self.local_tag = uas.ids()
        self.contact = uas.host.contact_for(server.link, source[0])
        self.answered = False

    @property
    def protocol(self) -> str:
        return self._server.link.protocol

    @property
    def reliable(self) -> bool:
        return self.protocol != "udp"

    @property
    def local_host(self) -> str:
        """Our address in `contact`, without brackets (for SDP)."""
        return parse_uri(self.contact).host.strip("[]")

    def respond(self, status: int, reason: str, *, extra: Headers = (), body: bytes = b"") -> bytes:
        """Send a response; returns its bytes. After a final response, nothing more is sent."""
        if self.answered:
            return b""
        self.answered = status >= 200
        data = self._response(status, reason, extra, body)
        self._uas.host.respond(self._server, status, data)
        return data

    def refuse(self, status: int, reason: str, *, extra: Headers = ()) -> None:
        """A final error before any call exists, sent statelessly (RFC 3261 §8.2.7): the
        transaction is dropped at once, so a flood of INVITEs that are refused (unknown
        callers, unknown extensions) holds no memory; a retransmission is refused again and
        the ACK finds nothing to do."""
        if self.answered:
            return
        self.answered = True
        self._uas.host.respond_statelessly(self._server, self._response(status, reason, extra))

    def _response(self, status: int, reason: str, extra: Headers, body: bytes = b"") -> bytes:
        tag = "" if status == 100 else self.local_tag
        with_contact = () if status == 100 else (("Contact", f"<{self.contact}>"),)
        response = make_response(self.request, status, reason, self.source,
                                 server=self._uas.user_agent, extra=(*with_contact, *extra),
                                 to_tag=tag, body=body)  # fmt: skip
        return serialize(response)

    def send_again(self, data: bytes) -> None:
        self._server.link.send(data, self._server.address)


class Uas:
    def __init__(
        self, host: Host, *, registrar: Registrar, calls: Calls, user_agent: str, ids: Ids,
        soon: Soon, wall_clock: Callable[[], float], subscribing: Subscribing | None = None,
    ) -> None:  # fmt: skip
        self.host = host
        self._subscribing = subscribing
        self.user_agent = user_agent
        self.ids = ids
        self._calls = calls
        self._registrar = registrar
        self._soon = soon
        self._wall_clock = wall_clock
        self._complaints = Throttled(log, host.now)

    def receive(self, request: Request, source: Address, link: Link) -> None:
        """A request from `source` over `link`: its transaction, then its answer."""
        if request.method == "ACK":
            if not self.host.take_ack(request):
                self._calls.ack(request)  # §17.2.3: the ACK of a 2xx, for the call
            return
        server = self.host.accept(request, link, self.reply_address(request, source, link))
        if server is not None:
            self._on_request(server, source)

    def _on_request(self, server: ServerTransaction, source: Address) -> None:
        request = server.request
        if request.method == "INVITE":
            self._on_invite(server, source)
            return
        answer = self._safe_answer(server, source)
        if answer is not None:
            self._respond(server, source, answer)

    def _respond(self, server: ServerTransaction, source: Address, answer: Reply) -> None:
        """The answer outside any call; a challenge is sent statelessly (RFC 3261 §8.2.7), so
        a flood of unauthenticated requests keeps nothing (for 32 s over UDP otherwise)."""
        request = server.request
        tag = answer.to_tag or stateless_tag(request) or self.ids()
        response = make_response(request, answer.status, answer.reason, source,
                                 server=self.user_agent, extra=answer.headers,
                                 to_tag=tag)  # fmt: skip
        if answer.status in CHALLENGES:
            self.host.respond_statelessly(server, serialize(response))
        else:
            self.host.respond(server, answer.status, serialize(response))

    def _safe_answer(self, server: ServerTransaction, source: Address) -> Reply | None:
        """The answer (None: the registrar sends it once the registration is stored),
        whatever goes wrong while finding it: a value the parser let through but a rule
        cannot use is a 400, anything else a 500. The transaction stored for the request
        always gets its final response, so it ends and its retransmissions are answered."""
        request = server.request
        refused = _bad_extension(request)
        if refused:
            return Reply(420, "Bad Extension", refused)
        try:
            return self._answer(server, source)
        except ParseError as exc:
            self._complaints.warning("bad %s from %s:%d: %s", request.method, *source, exc.reason)
            return Reply(400, "Bad Request")
        except Exception as exc:  # every request gets an answer
            self._complaints.warning(
                "%s from %s:%d failed: %s: %s", request.method, *source, type(exc).__name__, exc
            )
            return Reply(500, "Server Internal Error")

    def _on_invite(self, server: ServerTransaction, source: Address) -> None:
        """§17.2.1: a new INVITE gets 100 Trying at once (as Asterisk), then the call decides."""
        invite = IncomingInvite(self, server, source)
        server.user = invite
        refused = _bad_extension(server.request)
        if refused:
            invite.refuse(420, "Bad Extension", extra=refused)
            return
        invite.respond(100, "Trying")
        try:
            self._calls.invite(invite)
        except Exception as exc:  # every INVITE gets a final answer
            self._complaints.warning("INVITE from %s:%d failed: %s: %s", *source,
                                     type(exc).__name__, exc)  # fmt: skip
            if not invite.answered:
                invite.refuse(500, "Server Internal Error")

    def _source(self, source: Address, link: Link) -> Source:
        """Both ends of a REGISTER, for the registrar's security events."""
        host, port = self.host.local_address(link, source[0])
        return Source(address=source[0], port=source[1], protocol=link.protocol,
                      local_host=host, local_port=port)  # fmt: skip

    def _answer(self, server: ServerTransaction, source: Address) -> Reply | None:
        request, link = server.request, server.link
        method = request.method
        if method == "OPTIONS":
            return Reply(200, "OK")
        if method == "REGISTER":
            self._registrar.handle(request, self._source(source, link), self._wall_clock(),
                                   partial(self._respond, server, source))  # fmt: skip
            return None
        if method == "CANCEL":
            return self._cancel(request)
        if method == "SUBSCRIBE" and self._subscribing is not None:
            flow = None if link.protocol == "udp" else (link.protocol, source)
            contact = self.host.contact_for(link, source[0])
            return self._subscribing.subscribe(request, self._source(source, link), contact, flow,
                                               self._wall_clock())  # fmt: skip
        if method in IN_DIALOG and _has_to_tag(request):
            return self._calls.in_dialog(request)
        return Reply(501, "Not Implemented")

    def _cancel(self, request: Request) -> Reply:
        """§9.2: CANCEL names the INVITE transaction by its branch; 481 if there is none. The
        INVITE's 487 follows the CANCEL's 200."""
        server = self._servers_invite(request)
        if server is None:
            return Reply(481, "Call/Transaction Does Not Exist")
        if not server.answered:
            calls = self._calls
            self._soon(lambda: calls.cancel(server))
        return Reply(200, "OK")

    def _servers_invite(self, request: Request) -> IncomingInvite | None:
        found = self.host.server_for(request, "INVITE")
        return found.user if found is not None and isinstance(found.user, IncomingInvite) else None

    def reply_address(self, request: Request, source: Address, link: Link) -> Address:
        """RFC 3261 §18.2.2 with RFC 3581: over UDP a response goes to the source address and,
        with `rport` (or the endpoint's force_rport, Asterisk's default), the source port;
        otherwise to the Via's sent-by port."""
        via = request.top_via
        if link.protocol != "udp" or via.param("rport") is not None:
            return source
        if self._registrar.force_rport(request, source[0]):
            return source
        return (source[0], via.port or 5060)


def _bad_extension(request: Request) -> Headers:
    """The `Unsupported` header of a 420 for the request's unknown `Require` options, or ()."""
    tags = unsupported(request, SUPPORTED)
    return (("Unsupported", ", ".join(tags)),) if tags else ()


def _has_to_tag(request: Request) -> bool:
    """§12.2: a request inside a dialog carries the To tag the dialog gave."""
    return ";tag=" in (request.header("To") or "").replace(" ", "")

"""The server side of the SIP endpoint: requests received, their transactions, the answers.

Owns non-INVITE server transactions (answered here for OPTIONS, by the registrar for REGISTER,
by the calls layer for requests inside a call), INVITE server transactions and the
`ServerInvite` a call answers through, CANCEL and ACK matching (RFC 3261 §9.2, §17.2.3), and
where responses go (§18.2.2 with RFC 3581). `endpoint.py` owns the sockets and the one timer.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sipnotify.registrar import Registrar
from sipnotify.sending import Address, Key, Link
from sipnotify.sip.errors import ParseError
from sipnotify.sip.invite import InviteServer
from sipnotify.sip.message import Request, serialize
from sipnotify.sip.registrar import Source
from sipnotify.sip.responses import make_response, unsupported
from sipnotify.sip.transaction import (
    Effect,
    NonInviteServer,
    State,
    Timers,
    Transmit,
    server_key,
)
from sipnotify.sip.uri import parse_uri
from sipnotify.throttle import Throttled

Headers = tuple[tuple[str, str], ...]
Answer = tuple[int, str, Headers]
Soon = Callable[[Callable[[], None]], object]  # loop.call_soon
IN_DIALOG = frozenset(("BYE", "INFO", "NOTIFY", "UPDATE", "MESSAGE", "REFER", "PRACK"))
# Option tags a request may `Require` of us (RFC 3261 §8.2.2.3): Path for registrations
# through an edge proxy (RFC 3327). Any other is answered 420 Bad Extension.
SUPPORTED = frozenset(("path",))
log = logging.getLogger("sipnotify.sip")


class Host(Protocol):
    """What the server side needs from the endpoint: the clock, the shared timer, and the
    address and port a link is reached at (for Contact)."""

    def now(self) -> float: ...

    def arm(self, key: Key, deadline: float | None) -> None: ...

    def contact_for(self, link: Link, peer: str) -> str: ...


class Calls(Protocol):
    """The calls layer, as the server side sees it."""

    def invite(self, invite: ServerInvite) -> None:
        """A new INVITE (a retransmission never reaches here)."""

    def ack(self, request: Request) -> None:
        """The ACK of a 2xx (its own transaction; §13.2.2.4)."""

    def cancel(self, invite: ServerInvite) -> None:
        """The caller gave up before the final answer (§9.2); answer 487."""

    def in_dialog(self, request: Request) -> Answer:
        """BYE, INFO, NOTIFY… inside a call: the answer (481 when there is no such call)."""


@dataclass(slots=True)
class _Server:
    txn: NonInviteServer | InviteServer
    link: Link
    address: Address
    invite: ServerInvite | None = None


class ServerInvite:
    """The server side of one INVITE, for the call that answers it. Every response carries the
    same To tag; a 2xx ends the transaction and the call repeats it until the ACK
    (§13.3.1.4) with `send_again`."""

    def __init__(
        self, uas: Uas, request: Request, source: Address, server: _Server, key: Key
    ) -> None:
        self._uas = uas
        self._server = server
        self._key = key
        self.request = request
        self.source = source
        self.local_tag = uuid.uuid4().hex
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
        tag = "" if status == 100 else self.local_tag
        with_contact = () if status == 100 else (("Contact", f"<{self.contact}>"),)
        response = make_response(
            self.request,
            status,
            reason,
            self.source,
            server=self._uas.user_agent,
            extra=(*with_contact, *extra),
            to_tag=tag,
            body=body,
        )
        data = serialize(response)
        self._uas.respond_invite(self._key, self._server, status, data)
        return data

    def refuse(self, status: int, reason: str, *, extra: Headers = ()) -> None:
        """A final error before any call exists, sent statelessly (RFC 3261 §8.2.7): the
        transaction is forgotten at once, so a flood of INVITEs that are refused (unknown
        callers, unknown extensions) holds no memory; a retransmission is refused again and
        the ACK finds nothing to do."""
        self.respond(status, reason, extra=extra)
        self._uas.forget(self._key)

    def send_again(self, data: bytes) -> None:
        self._server.link.send(data, self._server.address)


class Uas:
    def __init__(
        self,
        host: Host,
        *,
        timers: Timers,
        user_agent: str,
        registrar: Registrar | None,
    ) -> None:
        self.host = host
        self.user_agent = user_agent
        self.calls: Calls | None = None
        self._timers = timers
        self._registrar = registrar
        self._servers: dict[Key, _Server] = {}
        self._complaints = Throttled(log, host.now)

    def on_request(self, request: Request, source: Address, link: Link, soon: Soon) -> None:
        reply_to = self._reply_address(request, source, link)
        if request.method == "ACK":
            self._on_ack(request, self._servers.get(server_key(request, "INVITE")))
            return
        key = server_key(request)
        existing = self._servers.get(key)
        if existing is not None:
            self._send(existing.txn.request_again(), existing)
            return
        if request.method == "INVITE" and self.calls is not None:
            self._on_invite(request, source, _Server(self._invite_txn(link), link, reply_to), key)
            return
        server = _Server(NonInviteServer(reliable=link.protocol != "udp", timers=self._timers),
                         link, reply_to)  # fmt: skip
        self._servers[key] = server
        status, reason, extra = self._safe_answer(request, source, link, soon)
        response = make_response(
            request, status, reason, source, server=self.user_agent, extra=extra
        )
        now = self.host.now()
        self._send(server.txn.respond(status, serialize(response), now), server)
        self._settle(key, server, now)

    def _safe_answer(self, request: Request, source: Address, link: Link, soon: Soon) -> Answer:
        """The answer, whatever goes wrong while finding it: a value the parser let through
        but a rule cannot use is a 400, anything else a 500. The transaction stored for the
        request always gets its final response, so it ends and its retransmissions are
        answered."""
        refused = _bad_extension(request)
        if refused:
            return 420, "Bad Extension", refused
        try:
            return self._answer(request, source, link, soon)
        except ParseError as exc:
            self._complaints.warning("bad %s from %s:%d: %s", request.method, *source, exc.reason)
            return 400, "Bad Request", ()
        except Exception as exc:  # every request gets an answer
            self._complaints.warning(
                "%s from %s:%d failed: %s: %s", request.method, *source, type(exc).__name__, exc
            )
            return 500, "Server Internal Error", ()

    @property
    def open_transactions(self) -> int:
        """Server transactions not yet ended."""
        return len(self._servers)

    def due(self, key: Key, now: float) -> bool:
        """A timer of one of our transactions; False when the key is not ours."""
        server = self._servers.get(key)
        if server is None:
            return False
        self._send(server.txn.on_timer(now), server)
        self._settle(key, server, now)
        return True

    def respond_invite(self, key: Key, server: _Server, status: int, data: bytes) -> None:
        now = self.host.now()
        self._send(server.txn.respond(status, data, now), server)
        self._settle(key, server, now)

    def forget(self, key: Key) -> None:
        self._servers.pop(key, None)

    def _invite_txn(self, link: Link) -> InviteServer:
        return InviteServer(reliable=link.protocol != "udp", timers=self._timers)

    def _on_invite(self, request: Request, source: Address, server: _Server, key: Key) -> None:
        """§17.2.1: a new INVITE gets 100 Trying at once (as Asterisk), then the call decides."""
        assert self.calls is not None
        self._servers[key] = server
        invite = ServerInvite(self, request, source, server, key)
        server.invite = invite
        refused = _bad_extension(request)
        if refused:
            invite.refuse(420, "Bad Extension", extra=refused)
            return
        invite.respond(100, "Trying")
        try:
            self.calls.invite(invite)
        except Exception as exc:  # every INVITE gets a final answer
            self._complaints.warning("INVITE from %s:%d failed: %s: %s", *source,
                                     type(exc).__name__, exc)  # fmt: skip
            if not invite.answered:
                invite.refuse(500, "Server Internal Error")

    def _on_ack(self, request: Request, invite: _Server | None) -> None:
        """§17.2.3: an ACK with the INVITE's branch acknowledges a non-2xx final response and
        belongs to the transaction; any other ACK is the 2xx's, for the call."""
        if invite is not None and invite.txn.state is State.COMPLETED:
            assert isinstance(invite.txn, InviteServer)
            invite.txn.ack(self.host.now())
            self.host.arm(server_key(request, "INVITE"), invite.txn.next_deadline())
        elif self.calls is not None:
            self.calls.ack(request)

    def _source(self, source: Address, link: Link) -> Source:
        """Both ends of a REGISTER, for the registrar's security events."""
        ours = self.host.contact_for(link, source[0]).removeprefix("sip:").partition(";")[0]
        host, _, port = ours.rpartition(":")
        return Source(address=source[0], port=source[1], protocol=link.protocol,
                      local_host=host.strip("[]"), local_port=int(port))  # fmt: skip

    def _answer(self, request: Request, source: Address, link: Link, soon: Soon) -> Answer:
        method = request.method
        if method == "OPTIONS":
            return 200, "OK", ()
        if method == "REGISTER" and self._registrar is not None:
            where = self._source(source, link)
            answer = self._registrar.handle(request, where, time.time())
            return answer.status, answer.reason, answer.headers
        if method == "CANCEL":
            return self._cancel(request, soon)
        if method in IN_DIALOG and self.calls is not None and _has_to_tag(request):
            return self.calls.in_dialog(request)
        return 501, "Not Implemented", ()

    def _cancel(self, request: Request, soon: Soon) -> Answer:
        """§9.2: CANCEL names the INVITE transaction by its branch; 481 if there is none. The
        INVITE's 487 follows the CANCEL's 200."""
        server = self._servers.get(server_key(request, "INVITE"))
        if server is None or server.invite is None:
            return 481, "Call/Transaction Does Not Exist", ()
        invite = server.invite
        if self.calls is not None and not invite.answered:
            calls = self.calls
            soon(lambda: calls.cancel(invite))
        return 200, "OK", ()

    def _reply_address(self, request: Request, source: Address, link: Link) -> Address:
        """RFC 3261 §18.2.2 with RFC 3581: over UDP a response goes to the source address and,
        with `rport` (or the endpoint's force_rport, Asterisk's default), the source port;
        otherwise to the Via's sent-by port."""
        via = request.top_via
        if link.protocol != "udp" or via.param("rport") is not None:
            return source
        if self._registrar is None or self._registrar.force_rport(request, source[0]):
            return source
        return (source[0], via.port or 5060)

    def _send(self, effects: list[Effect], server: _Server) -> None:
        for effect in effects:
            if isinstance(effect, Transmit):
                server.link.send(effect.data, server.address)

    def _settle(self, key: Key, server: _Server, now: float) -> None:
        """Forget a finished transaction, or wake up at its next deadline."""
        deadline = server.txn.next_deadline()
        if server.txn.state is State.TERMINATED or (
            deadline is None and server.txn.state is not State.PROCEEDING
        ):
            self._servers.pop(key, None)
        elif deadline is not None and deadline <= now:
            server.txn.on_timer(now)
            self._settle(key, server, now)
        else:
            self.host.arm(key, deadline)


def _bad_extension(request: Request) -> Headers:
    """The `Unsupported` header of a 420 for the request's unknown `Require` options, or ()."""
    tags = unsupported(request, SUPPORTED)
    return (("Unsupported", ", ".join(tags)),) if tags else ()


def _has_to_tag(request: Request) -> bool:
    """§12.2: a request inside a dialog carries the To tag the dialog gave."""
    return ";tag=" in (request.header("To") or "").replace(" ", "")

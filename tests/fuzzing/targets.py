"""Every place bytes or text from outside enter sipnotify, as a function of one byte string
that may fail only in the declared way (the target's `declared` exceptions).

The SIP server side runs whole: a request that parses is handed to the server transactions
on a fake clock, the clock is run past every timer, and no transaction may be left open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sipnotify.ami.codec import AmiDecoder
from sipnotify.ami.variables import split_variables
from sipnotify.config.parser import ConfigError, parse_text
from sipnotify.config.pjsip import PjsipConfig
from sipnotify.registrar.registry import Registry
from sipnotify.registrar.service import Registrar
from sipnotify.sip import auth, sdp
from sipnotify.sip.errors import ParseError
from sipnotify.sip.ids import Ids
from sipnotify.sip.message import Request, parse_cseq, parse_via
from sipnotify.sip.parser import StreamFramer, parse_message, peek_response
from sipnotify.sip.registrar import Policy, Source, register
from sipnotify.sip.responses import Reply
from sipnotify.sip.transactions.matching import first_branch, peek_server_key
from sipnotify.sip.uri import parse_name_addr, parse_uri
from sipnotify.storage.sqlite import SqliteContactStore
from sipnotify.ua.server import IncomingInvite, Uas
from tests.ua.memory import MemoryHost, MemoryLink


class OpenTransaction(AssertionError):
    """A request left a server transaction behind after every timer ran."""


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes], object]
    declared: tuple[type[Exception], ...] = (ParseError,)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _framer(data: bytes) -> object:
    """Fed in pieces whose sizes the data's first byte chooses: any split frames the same."""
    step = (data[0] % 17 + 1) if data else 1
    framer = StreamFramer()
    return [framer.feed(data[i : i + step]) for i in range(0, len(data), step)]


def _config(data: bytes) -> object:
    """Asterisk's config syntax; `#include` lines are defused so an input cannot make the
    fuzzer read /dev/zero or the disk."""
    text = _text(data).replace("include", "inclusion")
    return parse_text(text)


def _ami(data: bytes) -> object:
    decoder = AmiDecoder()
    return decoder.feed(data[: len(data) // 2]) + decoder.feed(data[len(data) // 2 :])


POLICY = Policy(max_contacts=2, remove_existing=True, minimum_expiration=60,
                maximum_expiration=7200, default_expiration=3600, support_path=True,
                rewrite_contact=True)  # fmt: skip


def _registrar(data: bytes) -> object:
    message = parse_message(data)
    if not isinstance(message, Request):
        return None
    return register(message, aor="a", endpoint="a", policy=POLICY, existing=[],
                    source=Source("192.0.2.1", 5060, "udp"), now=1000.0)  # fmt: skip


class _RefusingCalls:
    """The calls layer at the server side's edge: every INVITE refused, no call exists."""

    def invite(self, invite: IncomingInvite) -> None:
        invite.refuse(404, "Not Found")

    def ack(self, request: Request) -> None:
        del request

    def cancel(self, invite: IncomingInvite) -> None:
        invite.respond(487, "Request Terminated")

    def in_dialog(self, request: Request) -> Reply:
        del request
        return Reply(481, "Call/Transaction Does Not Exist")


def _server(data: bytes) -> object:
    """The server side whole, with an empty registrar and no calls: every request is
    answered and its transaction ends once its timers (J at most 32 s) have run."""
    message = parse_message(data)
    if not isinstance(message, Request):
        return None
    host = MemoryHost()
    registry = Registry(SqliteContactStore(Path(":memory:")), 0.0)
    registrar = Registrar(PjsipConfig(), registry, security=lambda _e: None,
                          contacts=lambda _c: None, soon=lambda call: call())  # fmt: skip
    uas = Uas(host, registrar=registrar, calls=_RefusingCalls(), user_agent="fuzz",
              ids=Ids("fuzz", 0), soon=lambda call: call(), wall_clock=lambda: 0.0)  # fmt: skip
    link = MemoryLink()
    uas.receive(message, ("192.0.2.1", 5060), link)
    host.advance(64.0)
    registry.close()
    if host.layer.open_servers:
        raise OpenTransaction(f"{host.layer.open_servers} transaction(s) left open")
    if message.method != "ACK" and not link.sent:
        raise OpenTransaction("a request was not answered")
    return [sent for sent, _ in link.sent]


TARGETS = (
    Target("sip.parse_message", parse_message),
    Target("sip.peek_response", peek_response, ()),
    Target("sip.peek_server_key", peek_server_key, ()),
    Target("sip.first_branch", first_branch, ()),
    Target("sip.stream_framer", _framer),
    Target("sip.parse_uri", lambda d: parse_uri(_text(d))),
    Target("sip.parse_name_addr", lambda d: parse_name_addr(_text(d))),
    Target("sip.parse_via", lambda d: parse_via(_text(d))),
    Target("sip.parse_cseq", lambda d: parse_cseq(_text(d))),
    Target("sip.auth.parse_challenge", lambda d: auth.parse_challenge(_text(d))),
    Target("sip.auth.parse_answer", lambda d: auth.parse_answer(_text(d))),
    Target("sip.sdp", sdp.parse, (sdp.SdpError,)),
    Target("sip.registrar", _registrar),
    Target("sip.server", _server),
    Target("ami.decoder", _ami, ()),
    Target("ami.variables", lambda d: split_variables(_text(d).split("\n")), ()),
    Target("config.parse_text", _config, (ConfigError,)),
)

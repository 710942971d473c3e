"""A sans-IO AMI session for unit tests: requests in, exact reply bytes out."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sipnotify.ami.actions.fleet import FleetEvents
from sipnotify.ami.audience import Audience
from sipnotify.ami.codec import AmiDecoder, AmiMessage, Fields, encode
from sipnotify.ami.dispatch import handle
from sipnotify.ami.session import ActionResult, AmiContext, ManagerSettings, SessionState
from sipnotify.app import action_table
from sipnotify.calls.manager import CallManager
from sipnotify.config.extensions import Dialplan
from sipnotify.config.manager import load_manager, named_acls
from sipnotify.config.notify import load_notify
from sipnotify.config.parser import parse_text
from sipnotify.config.pjsip import load_pjsip
from sipnotify.config.reload import ReloadResult as Reloaded
from sipnotify.config.reload import Status
from sipnotify.config.sipnotify import FleetSettings
from sipnotify.fleet.catalogue import load_catalogue
from sipnotify.fleet.service import FleetService
from sipnotify.mwi.mailboxes import Mailboxes
from sipnotify.mwi.service import MwiService
from sipnotify.mwi.subscriptions import Subscriptions
from sipnotify.notify.notifier import Notifier
from sipnotify.notify.requests import Factory
from sipnotify.registrar.reachability import Reachability
from sipnotify.registrar.registry import Registry
from sipnotify.registrar.service import Registrar
from sipnotify.sip.auth import Credentials
from sipnotify.sip.ids import Ids
from sipnotify.sip.message import Outgoing, Request
from sipnotify.sip.transactions.exchange import Final
from sipnotify.sip.transactions.machines import Timers
from sipnotify.storage.sqlite import SqliteContactStore
from sipnotify.storage.sqlite_jobs import SqliteJobStore
from sipnotify.storage.sqlite_mailboxes import SqliteMailboxStore
from sipnotify.ua.addresses import Hop, Local
from sipnotify.ua.client import OutgoingInvite

NOTIFY_CONF = """
[clear-mwi]
Event=message-summary
Content-Type=application/simple-message-summary
Content=Messages-Waiting: no
Content=Message-Account: sip:asterisk@127.0.0.1
Content=Voice-Message: 0/0 (0/0)
Content=
"""
MANAGER_CONF = """
[general]
enabled = yes
[admin]
secret = s3cret
read = system,call,reporting
write = system,call
[reader]
secret = r
read = call
write = call
[single]
secret = one
allowmultiplelogin = no
read = all
write = all
[local]
secret = l
deny = 0.0.0.0/0
permit = 127.0.0.1
"""


class FakeSender:
    """The SIP endpoint at the AMI layer's edge: every request is answered `answer` at once,
    and kept in `sent` (its hop, and the request its factory builds)."""

    def __init__(self, answer: Final | None = None) -> None:
        self.answer = answer or Final(200, "OK", None, 0.0015)
        self.sent: list[tuple[Hop, Outgoing]] = []

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def request(
        self, hop: Hop, factory: Factory, credentials: list[Credentials]
    ) -> asyncio.Future[Final]:
        result: asyncio.Future[Final] = self.loop.create_future()
        self.send(hop, factory, credentials, result.set_result)
        return result

    def send(
        self, hop: Hop, factory: Factory, credentials: list[Credentials],
        done: Callable[[Final], None],
    ) -> None:  # fmt: skip
        del credentials
        self.sent.append((hop, factory(Local("udp", "192.0.2.5", 5060))(1, ())))
        done(self.answer)


@dataclass
class Reloads:
    """The reloader at the AMI layer's edge: what was asked, and the outcome to give."""

    outcome: Reloaded = field(default_factory=lambda: Reloaded(Status.SUCCESS))
    asked: list[str | None] = field(default_factory=list)

    def __call__(self, name: str | None) -> Reloaded:
        self.asked.append(name)
        return self.outcome


async def _no_invite(
    _hop: Hop, _build: Callable[[Local], Request], _call: object
) -> OutgoingInvite:
    raise OSError("no SIP in this test")


def context(
    manager_conf: str = MANAGER_CONF,
    pjsip_conf: str = "",
    *,
    sender: FakeSender | None = None,
    registry: Registry | None = None,
) -> AmiContext:
    """Every part an action reaches, real, with fakes at their edges (no sockets, no clock)."""
    acls, _ = named_acls(parse_text(""))
    manager, _ = load_manager(parse_text(manager_conf, name="manager.conf"), acls)
    pjsip, _ = load_pjsip(parse_text(pjsip_conf, name="pjsip.conf"))
    presets, _ = load_notify(parse_text(NOTIFY_CONF, name="pjsip_notify.conf"))
    ids = Ids("test", seed=1)
    audience = Audience(manager.general, lambda: 1042.5)
    registry = registry or Registry(SqliteContactStore(Path(":memory:")), 0.0)
    registrar = Registrar(pjsip, registry, security=lambda _e: None, contacts=lambda _c: None,
                          soon=lambda call: call())  # fmt: skip
    notifier = Notifier(config=pjsip, presets=presets, sender=sender or FakeSender(), ids=ids,
                        registered=lambda aor: registrar.bindings(aor, 1042.5))  # fmt: skip
    calls = CallManager(config=pjsip, dialplan=Dialplan(), registrar=registrar,
                        notifier=notifier, timers=Timers(), send_invite=_no_invite,
                        listener=lambda _name, _channel: None, max_channels=0,
                        wall_clock=lambda: 1042.5)  # fmt: skip
    fleet = FleetService(store=SqliteJobStore(Path(":memory:")), notifier=notifier,
                         catalogue=load_catalogue(None),
                         local_for=lambda _hop: Local("udp", "192.0.2.5", 5060),
                         wall=lambda: 1042.5, ids=ids, rng=random.Random(1),
                         listener=FleetEvents(audience), settings=FleetSettings())  # fmt: skip
    mwi = MwiService(Mailboxes(SqliteMailboxStore(Path(":memory:"))), notifier,
                     tell=lambda _e, _m, _r: None, admit=registrar.admit, ids=ids,
                     subscriptions=Subscriptions(total=10, per_endpoint=2),
                     wall=lambda: 1042.5)  # fmt: skip
    return AmiContext(
        settings=ManagerSettings(manager),
        actions=action_table(),
        audience=audience,
        notifier=notifier,
        reachability=Reachability(notifier, lambda *_change: None, clock=lambda: 0.0),
        calls=calls,
        fleet=fleet,
        mwi=mwi,
        reload=Reloads(),
        started_at=1000.0,
        reloaded_at=1000.0,
        wall_clock=lambda: 1042.5,
        new_challenge=lambda: "840744101",
    )


class Session:
    """One session in memory; `send` answers with the outcome and its wire bytes."""

    def __init__(self, ctx: AmiContext | None = None, peer: str = "127.0.0.1") -> None:
        self.ctx = ctx or context()
        self.state = SessionState(peer=peer)

    def outcome(self, raw: str) -> ActionResult:
        (incoming,) = AmiDecoder().feed(raw.encode())
        return handle(self.ctx, self.state, incoming)

    def send(self, raw: str) -> bytes:
        return b"".join(encode(fields) for fields in self.outcome(raw).replies)

    def run(self, raw: str) -> list[dict[str, str]]:
        """The reply and every message its follow-up emits (results, lists), in order, each
        as a dict of its fields; the follow-up runs to its end on an event loop."""
        return [dict(fields) for fields in self.messages(raw)]

    def wire(self, raw: str) -> bytes:
        """`run`'s messages as the session's client reads them, byte for byte."""
        return b"".join(encode(fields) for fields in self.messages(raw))

    def messages(self, raw: str) -> list[Fields]:
        outcome = self.outcome(raw)
        messages = list(outcome.replies)
        if outcome.followup is not None:
            followup = outcome.followup

            async def follow() -> None:
                await followup(_Collect(messages))

            asyncio.run(follow())
        return messages

    def login(self, user: str = "admin", secret: str = "s3cret", events: str = "") -> bytes:
        extra = f"Events: {events}\r\n" if events else ""
        return self.send(f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\n{extra}\r\n")


class _Collect:
    """The session's sink, as a follow-up sees it: messages are kept, never held up."""

    def __init__(self, into: list[Fields]) -> None:
        self._into = into

    def __call__(self, fields: Fields) -> None:
        self._into.append(fields)

    async def drain(self) -> None:
        return None


def message(*fields: tuple[str, str]) -> AmiMessage:
    return AmiMessage(headers=fields)

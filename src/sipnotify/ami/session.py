"""AMI session state and the server-wide context actions run in; no I/O here.

Owns what one AMI connection knows (authenticated, user, permissions, event mask, MD5
challenge) and what every action may consult (configuration, clocks, the action table,
who is logged in), plus the `ActionResult` an action returns for the adapter to carry out.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, final
from typing import Final as Fixed

from sipnotify.ami.audience import Audience, Broadcast
from sipnotify.ami.codec import AmiMessage, Fields
from sipnotify.calls.manager import CallManager
from sipnotify.config.manager import ManagerConfig
from sipnotify.config.reload import ReloadResult as Reloaded
from sipnotify.fleet.service import FleetService
from sipnotify.mwi.service import MwiService
from sipnotify.notify.notifier import Notifier, Observer, ignore
from sipnotify.registrar.reachability import Reachability
from sipnotify.sip.value import Value

ALL_EVENTS = -1  # Asterisk's initial send_events: every class until Events/Login narrows it


@dataclass(slots=True)
class SessionState:
    peer: str
    authenticated: bool = False
    username: str = ""
    readperm: int = 0
    writeperm: int = 0
    send_events: int = ALL_EVENTS
    challenge: str = ""
    displayconnects: bool = True
    writetimeout_ms: int = 100
    over_http: bool = False  # an HTTP manager session (no FullyBooted at login)

    def wants(self, category: int) -> bool:
        """Whether an event of `category` goes to this session (manager.c send rules)."""
        return (
            self.authenticated
            and (self.readperm & category) == category
            and (self.send_events & category) == category
        )


class Emit(Protocol):
    """Where a follow-up sends messages: to its own session."""

    def __call__(self, fields: Fields) -> None: ...

    async def drain(self) -> None:
        """Wait until the session's client has read enough of what was sent."""
        ...


# Work after the reply: a coroutine (run in a task) or a future completed by callbacks.
Followup = Callable[[Emit], Coroutine[Any, Any, None] | asyncio.Future[None]]


@final
class ActionResult(Value):
    """What to send, after how long, whether to close the connection afterwards, and work
    that goes on after the reply and may send more messages to this session (`followup`).
    An `exclusive` follow-up holds the session's later requests until it is done, so that
    its messages (a long list) are not interleaved with other replies. `broadcast`: events
    for every session, after the replies. A compiled value (sip/value.py): one is made per
    action."""

    __match_args__ = ("replies", "delay", "close", "followup", "exclusive", "broadcast")

    def __init__(  # noqa: PLR0917 (a value's fields, in order)
        self, replies: tuple[Fields, ...], delay: float = 0.0, close: bool = False,
        followup: Followup | None = None, exclusive: bool = False,
        broadcast: tuple[Broadcast, ...] = (),
    ) -> None:  # fmt: skip
        self.replies: Fixed = replies
        self.delay: Fixed = delay
        self.close: Fixed = close
        self.followup: Fixed = followup
        self.exclusive: Fixed = exclusive
        self.broadcast: Fixed = broadcast


Handler = Callable[["AmiContext", SessionState, AmiMessage], ActionResult]


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    synopsis: str
    authority: int
    handler: Handler


def _challenge() -> str:
    return str(secrets.randbelow(2**31))


@dataclass(slots=True)
class ManagerSettings:
    """manager.conf as it runs now: a reload replaces `config` (its [general] stays as it
    was at start)."""

    config: ManagerConfig


@dataclass(slots=True)
class AmiContext:
    """Server-wide facts an action may read; the adapter owns the I/O around it."""

    settings: ManagerSettings
    actions: Mapping[str, Action]
    audience: Audience
    notifier: Notifier
    reachability: Reachability
    calls: CallManager
    fleet: FleetService
    mwi: MwiService
    reload: Callable[[str | None], Reloaded]  # one module by name, or everything for None
    started_at: float
    reloaded_at: float
    wall_clock: Callable[[], float] = time.time
    new_challenge: Callable[[], str] = _challenge
    logins: Counter[str] = field(default_factory=Counter)
    shutting_down: bool = False
    observe: Observer = ignore  # every PJSIPNotify result, for the metrics

    @property
    def manager(self) -> ManagerConfig:
        return self.settings.config

    def release(self, session: SessionState) -> None:
        """Forget a closed session's login (for `allowmultiplelogin = no`)."""
        if session.authenticated:
            key = session.username.lower()
            self.logins[key] -= 1
            if self.logins[key] <= 0:
                del self.logins[key]


def reply(*fields: Fields) -> ActionResult:
    return ActionResult(replies=fields)

"""PJSIPNotify's whole job for one configuration: sending to every target at once through
a `Sender` (the SIP endpoint) and reporting each contact's answer; and qualify's OPTIONS.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Final as Fixed
from typing import Protocol, final

from sipnotify.config.notify import NotifyPresets
from sipnotify.config.pjsip import PjsipConfig
from sipnotify.notify.content import NotifyContent
from sipnotify.notify.requests import Factory, credentials_for, in_dialog_factory, request_factory
from sipnotify.notify.targets import (
    InDialog,
    Registered,
    Target,
    dialog_hop,
    no_registrations,
    target_hop,
)
from sipnotify.sip.auth import Credentials
from sipnotify.sip.ids import Ids
from sipnotify.sip.transactions.exchange import Build, Final
from sipnotify.sip.transactions.machines import ErrorKind, Failure
from sipnotify.sip.value import Value
from sipnotify.ua.addresses import Hop, Local

log = logging.getLogger("sipnotify.notify")
# Seconds of sending in one turn of the loop: an AMI action that arrives during a fan-out
# waits at most about this long per fan-out going on (50 NOTIFYs a turn were 2 ms).
SLICE = 0.0005


@final
class NotifyResult(Value):
    """What one contact answered: a final status, or a failure (timeout, transport)."""

    __match_args__ = ("label", "uri", "status", "reason", "failure", "rtt")

    def __init__(  # noqa: PLR0917 (a value's fields, in order)
        self, label: str, uri: str, status: int | None, reason: str, failure: Failure | None,
        rtt: float | None,
    ) -> None:  # fmt: skip
        self.label: Fixed = label
        self.uri: Fixed = uri
        self.status: Fixed = status
        self.reason: Fixed = reason
        self.failure: Fixed = failure
        self.rtt: Fixed = rtt

    @classmethod
    def of(cls, label: str, uri: str, final: Final) -> NotifyResult:
        return cls(label, uri, final.status, final.reason, final.failure, final.rtt)

    @property
    def error(self) -> str | None:
        """The failure as it is reported ("timeout", "transport error: …"), or None."""
        return None if self.failure is None else str(self.failure)

    @property
    def timed_out(self) -> bool:
        return self.failure is not None and self.failure.kind is ErrorKind.TIMEOUT

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@final
class Observation(Value):
    """One NOTIFY's outcome, for the metrics: who sent it (`pjsipnotify`, `fleet`), what
    (a preset's name, `variables`, or a fleet verb), to which vendor's phone (fleet only)."""

    __match_args__ = ("source", "order", "vendor", "result")

    def __init__(self, source: str, order: str, vendor: str, result: NotifyResult) -> None:
        self.source: Fixed = source
        self.order: Fixed = order
        self.vendor: Fixed = vendor
        self.result: Fixed = result


Observer = Callable[[Observation], None]


def ignore(_observation: Observation) -> None:
    """An observer that keeps nothing."""


class Sender(Protocol):
    """What sending needs from the SIP endpoint (ua.endpoint.SipEndpoint implements it)."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop its futures and callbacks run on."""

    def request(
        self, hop: Hop, factory: Factory, credentials: list[Credentials]
    ) -> asyncio.Future[Final]:
        """One request; the future has its final result."""

    def send(
        self, hop: Hop, factory: Factory, credentials: list[Credentials],
        done: Callable[[Final], None],
    ) -> None:  # fmt: skip
        """One request of a fan-out; `done` is called once with its final result."""


Report = Callable[[NotifyResult], None]
Sending = Callable[[Report], None]  # starts sending; reports each result
Done = Callable[[Final], None]


class Forward(Protocol):
    """Sending through the node that holds a target's flow (cluster/relay.py)."""

    def __call__(self, target: Target, content: NotifyContent, done: Done) -> bool:
        """True when the request went to `target.node`, which reports to `done`; False
        when it is this node's to send (its own, or that node is not running)."""


@dataclass(slots=True)
class Notifier:
    """PJSIPNotify's whole job for one configuration: presets, targets, sending."""

    config: PjsipConfig
    presets: NotifyPresets
    sender: Sender
    ids: Ids
    registered: Registered = no_registrations
    forward: Forward | None = None
    clock: Callable[[], float] = time.monotonic  # times the slices of a fan-out

    def send(self, targets: list[Target], content: NotifyContent, report: Report) -> None:
        """Send to every target at once, SLICE seconds of it in each turn of the loop (so a
        fan-out to thousands does not hold up other work: another AMI action is read and
        answered between slices); `report` gets each contact's result as it arrives
        (possibly before this returns, for a contact that cannot be reached at all)."""
        self._send_from(targets, 0, content, report)

    def _send_from(self, targets: list[Target], first: int, content: NotifyContent,
                   report: Report) -> None:  # fmt: skip
        """Targets from `first` until SLICE has passed (one at least); the rest in the next
        turn (no list copied)."""
        clock = self.clock
        stop = clock() + SLICE
        index, count = first, len(targets)
        while index < count:
            self._send_one(targets[index], content, report)
            index += 1
            if clock() >= stop:
                break
        if index < count:
            self.sender.loop.call_soon(self._send_from, targets, index, content, report)

    def future(self) -> asyncio.Future[None]:
        """A future on the sender's loop, for a follow-up that ends with the last result.
        Not `asyncio.get_running_loop()`: on Python 3.11 that asks the kernel for the process
        id (a system call, to notice a fork) every time, once per PJSIPNotify."""
        return self.sender.loop.create_future()

    def sending(self, targets: list[Target], content: NotifyContent) -> Sending:
        """`send` for these targets, to be started with the report callback."""
        return partial(self.send, targets, content)  # no lambda: see requests._Formatted

    def send_in_dialog(self, target: InDialog, content: NotifyContent, report: Report) -> None:
        """One NOTIFY inside a call's dialog; `report` gets its result."""
        config, ids, endpoint = self.config, self.ids, target.endpoint

        def factory(local: Local) -> Build:
            return in_dialog_factory(target, content, local, config, ids)

        def done(answered: asyncio.Future[Final]) -> None:
            report(NotifyResult.of(target.label, target.dialog.remote_target, answered.result()))

        hop = dialog_hop(target.dialog, endpoint, target.flow)
        self.sender.request(hop, factory, credentials_for(endpoint, config)).add_done_callback(done)

    def deliver(self, target: Target, content: NotifyContent, done: Done) -> None:
        """One NOTIFY of a fan-out: through the node holding the contact's flow when another
        node registered it, else from here; `done` gets its final result."""
        if target.node and self.forward is not None and self.forward(target, content, done):
            return
        config, ids = self.config, self.ids

        def factory(local: Local) -> Build:
            return request_factory(target, content, local, config, ids=ids)

        credentials = credentials_for(target.endpoint, config)
        self.sender.send(target_hop(target), factory, credentials, done)

    def _send_one(self, target: Target, content: NotifyContent, report: Report) -> None:
        label, uri = target.label, str(target.uri)

        def done(final: Final) -> None:
            report(NotifyResult.of(label, uri, final))

        self.deliver(target, content, done)


async def qualify(notifier: Notifier, target: Target) -> Final:
    """An OPTIONS to the target (RFC 3261 §11); any final answer means it is reachable."""
    config = notifier.config

    def factory(local: Local) -> Build:
        empty = NotifyContent(headers=())
        return request_factory(target, empty, local, config, method="OPTIONS", ids=notifier.ids)

    return await notifier.sender.request(
        target_hop(target), factory, credentials_for(target.endpoint, config)
    )

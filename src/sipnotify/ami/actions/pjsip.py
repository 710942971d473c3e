"""The PJSIPNotify AMI action (behaviour: notify checks), with deliberate differences 1 and 2.

Owns translating the AMI request into the notify rules and their errors into Asterisk's exact
texts, in Asterisk's check order; the `NOTIFY sent` reply; and the result events that follow
it on the same session: one `PJSIPNotifyResult` per contact and a `PJSIPNotifyComplete`,
each carrying the request's ActionID.
"""

from __future__ import annotations

import asyncio
from typing import final

from sipnotify.ami import replies
from sipnotify.ami.codec import AmiMessage, Fields
from sipnotify.ami.session import (
    Action,
    ActionResult,
    AmiContext,
    Emit,
    Followup,
    SessionState,
    reply,
)
from sipnotify.ami.variables import split_variables
from sipnotify.config import permissions
from sipnotify.config.notify import NotifyPreset
from sipnotify.notify.content import (
    NotifyContent,
    NotifyError,
    build_content,
    preset_content,
    shown,
)
from sipnotify.notify.notifier import Notifier, NotifyResult, Observation, Report, Sending
from sipnotify.notify.targets import Target, endpoint_targets, uri_target

_BLANKS = "".join(chr(c) for c in range(1, 33))
NEED_OPTION_OR_VARIABLE = (
    "PJSIPNotify requires either an Option or Variable(s).You must use only one of them."
)
NEED_ONE_TARGET = "PJSIPNotify requires either an endpoint name, a SIP URI, or a channel."
ONLY_ONE_TARGET = NEED_ONE_TARGET + "  You must use only one of them."


def _present(request: AmiMessage, name: str) -> str:
    return request.get(name).lstrip(_BLANKS)


def strip_endpoint_prefix(name: str) -> str:
    """AMI strips a leading `sip/`, then `pjsip/` (case-insensitive) from Endpoint."""
    for prefix in ("sip/", "pjsip/"):
        if name[: len(prefix)].lower() == prefix:
            name = name[len(prefix) :]
    return name


def pjsip_notify(ctx: AmiContext, session: SessionState, request: AmiMessage) -> ActionResult:
    option = _present(request, "Option")
    if bool(option) == bool(_present(request, "Variable")):
        return reply(replies.error(request, NEED_OPTION_OR_VARIABLE))
    endpoint, uri, channel = (_present(request, n) for n in ("Endpoint", "URI", "Channel"))
    given = sum(bool(x) for x in (endpoint, uri, channel))
    if given > 1:
        return reply(replies.error(request, ONLY_ONE_TARGET))
    if not given:
        return reply(replies.error(request, NEED_ONE_TARGET))
    notifier = ctx.notifier
    if channel:
        return _in_dialog(ctx, session, request, option, channel)
    try:
        targets, content = _prepare(notifier, request, option, endpoint, uri)
    except NotifyError as exc:
        return reply(replies.error(request, exc.message))
    followup = reporter(ctx, session, notifier.sending(targets, content), len(targets), request)
    return ActionResult(replies=(replies.success(request, "NOTIFY sent"),), followup=followup)


def _in_dialog(
    ctx: AmiContext, session: SessionState, request: AmiMessage, option: str, channel: str
) -> ActionResult:
    """behaviour: notify request in-dialog; the Option is honoured too (deliberate difference 5)."""
    notifier = ctx.notifier
    target = ctx.calls.notify_target(channel)
    if target is None:
        return reply(replies.error(request, "Channel not found"))
    try:
        content = _content(notifier, request, option)
    except NotifyError as exc:
        return reply(replies.error(request, exc.message))

    def send(report: Report) -> None:
        notifier.send_in_dialog(target, content, report)

    followup = reporter(ctx, session, send, 1, request)
    return ActionResult(replies=(replies.success(request, "NOTIFY sent"),), followup=followup)


def _prepare(
    notifier: Notifier, request: AmiMessage, option: str, endpoint: str, uri: str
) -> tuple[list[Target], NotifyContent]:
    preset = _preset(notifier, option)
    if endpoint:
        name = strip_endpoint_prefix(endpoint)
        targets = endpoint_targets(notifier.config, name, notifier.registered)
    else:
        targets = [uri_target(notifier.config, uri)]
    return targets, _content(notifier, request, option, preset)


def _preset(notifier: Notifier, option: str) -> NotifyPreset | None:
    if not option:
        return None
    preset = notifier.presets.find(option)
    if preset is None:
        raise NotifyError(f"Unable to find notify type '{shown(option)}'\n")
    return preset


def _content(
    notifier: Notifier, request: AmiMessage, option: str, preset: NotifyPreset | None = None
) -> NotifyContent:
    preset = preset or _preset(notifier, option)
    if preset is not None:
        return preset_content(preset.items)
    return build_content(split_variables(request.get_all("Variable")), from_ami=True)


def reporter(
    ctx: AmiContext, session: SessionState, send: Sending, total: int, request: AmiMessage
) -> Followup:
    """Start sending; emit a PJSIPNotifyResult per contact, then the totals. Runs on
    callbacks, not in a task: the follow-up is a future completed by the last result.

    The events are events like any other: they reach the session only when its event mask
    and read classes take `system` and `disabledevents` does not name them; manager.conf's
    `notifyresults = no` turns them off for everyone. A client written for Asterisk that
    reads "the next message" as its answer then stays in step."""
    return _Reporter(ctx, session, send, total, request)


@final
class _Reporter:
    """`reporter`'s follow-up. Classes rather than nested functions: compiled by mypyc, nested
    functions and their environment form a reference cycle, left for the collector's slower
    passes once per action."""

    def __init__(self, ctx: AmiContext, session: SessionState, send: Sending, total: int,
                 request: AmiMessage) -> None:  # fmt: skip
        self.ctx = ctx
        self.session = session
        self.send = send
        self.total = total
        self.action_id = request.get("ActionID")
        self.enabled = ctx.manager.general.notifyresults
        self.order = request.get("Option").strip() or "variables"

    def __call__(self, emit: Emit) -> asyncio.Future[None]:
        finished = self.ctx.notifier.future()
        self.send(_Tally(self, emit, finished).one)
        return finished

    def tell(self, emit: Emit, name: str, fields: Fields) -> None:
        ctx = self.ctx
        if self.enabled and ctx.audience.delivers(self.session, name, permissions.SYSTEM):
            emit(_event(ctx, name, self.action_id, fields))


@final
class _Tally:
    """One report's counts: each result is told, the totals after the last."""

    def __init__(self, reporter: _Reporter, emit: Emit, finished: asyncio.Future[None]) -> None:
        self._reporter = reporter
        self._emit = emit
        self._finished = finished
        self._succeeded = 0
        self._failed = 0

    def one(self, result: NotifyResult) -> None:
        reporter = self._reporter
        reporter.ctx.observe(Observation("pjsipnotify", reporter.order, "", result))
        if result.ok:
            self._succeeded += 1
        else:
            self._failed += 1
        reporter.tell(self._emit, "PJSIPNotifyResult", result_fields(result))
        if self._succeeded + self._failed < reporter.total:
            return
        totals = (
            ("Total", str(reporter.total)),
            ("Succeeded", str(self._succeeded)),
            ("Failed", str(self._failed)),
        )
        reporter.tell(self._emit, "PJSIPNotifyComplete", totals)
        if not self._finished.done():
            self._finished.set_result(None)


def result_fields(result: NotifyResult) -> Fields:
    """Endpoint, URI, Result (Success, Failure, Timeout, TransportError), StatusCode,
    ReasonPhrase, RoundtripUsec and, for errors, Error."""
    if result.status is not None:
        outcome = "Success" if result.ok else "Failure"
    elif result.timed_out:
        outcome = "Timeout"
    else:
        outcome = "TransportError"
    rtt = str(round(result.rtt * 1_000_000)) if result.rtt is not None else "N/A"
    fields: list[tuple[str, str]] = [
        ("Endpoint", result.label),
        ("URI", result.uri),
        ("Result", outcome),
        ("StatusCode", str(result.status) if result.status is not None else ""),
        ("ReasonPhrase", result.reason),
        ("RoundtripUsec", rtt),
    ]
    if result.error is not None:
        fields.append(("Error", result.error))
    return tuple(fields)


def _event(ctx: AmiContext, name: str, action_id: str, fields: Fields) -> Fields:
    stamp = ctx.audience.timestamp()
    return replies.event(name, permissions.SYSTEM, fields, action_id=action_id, timestamp=stamp)


ACTIONS = (
    Action(
        "PJSIPNotify",
        "Send NOTIFY to either an endpoint, an arbitrary URI, or inside a SIP dialog.",
        permissions.SYSTEM,
        pjsip_notify,
    ),
)

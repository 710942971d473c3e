"""The Originate action (manager.c action_originate), for PJSIP channels.

Owns its parameters (Channel `PJSIP/<endpoint>`; Context, Exten and Priority, or Application
and Data; Timeout in ms; CallerID; Async), Asterisk's replies (`Originate successfully
queued`, `Originate failed`, and the errors for a missing channel or a bad priority), and the
`OriginateResponse` event of an Async originate. The call rings the endpoint's first contact;
once answered, the channel runs the extension from Priority, or the one application, then
hangs up.
"""

from __future__ import annotations

import asyncio

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
from sipnotify.calls.manager import CallManager
from sipnotify.calls.outbound import OutboundCall
from sipnotify.config import permissions
from sipnotify.config.extensions import Extension, Step
from sipnotify.config.numbers import scan_int
from sipnotify.config.parser import Origin

DEFAULT_TIMEOUT_MS = 30_000
ANSWERED, NO_ANSWER, BUSY, FAILURE = "4", "3", "5", "0"
BUSY_CAUSE = 17


# An application named with Originate runs with the privileges of the AMI user. Those that
# reach a shell, start other calls, or send NOTIFYs (which PJSIPNotify reserves to `system`)
# need the `system` write class too, as Asterisk requires for its shell-reaching ones; so
# do data that could expand a shell or an expression.
_SYSTEM_ONLY_APPS = ("system", "exec", "agi", "mixmonitor", "externalivr", "originate", "notify")
_SYSTEM_ONLY_DATA = ("SHELL", "EVAL")


def originate(ctx: AmiContext, session: SessionState, request: AmiMessage) -> ActionResult:
    channel = request.get("Channel").strip()
    if not channel:
        return reply(replies.error(request, "Channel not specified"))
    forbidden = _forbidden(session, request)
    if forbidden:
        return reply(replies.error(request, f"Originate Access Forbidden: {forbidden}"))
    priority_text = request.get("Priority")
    priority = scan_int(priority_text) if priority_text else 1
    if priority is None or priority < 1:
        return reply(replies.error(request, "Invalid priority"))
    timeout_text = request.get("Timeout")
    timeout = scan_int(timeout_text) if timeout_text else DEFAULT_TIMEOUT_MS
    if timeout is None:
        return reply(replies.error(request, "Invalid timeout"))
    plan = _plan(ctx.calls, request, priority)
    timeout = timeout if timeout > 0 else DEFAULT_TIMEOUT_MS
    if request.get("Async").strip().lower() in ("true", "yes", "1", "on"):
        queued = replies.success(request, "Originate successfully queued")
        return ActionResult(
            replies=(queued,), followup=_async(ctx, ctx.calls, request, plan, timeout)
        )
    return ActionResult(
        replies=(), followup=_sync(ctx.calls, request, plan, timeout), exclusive=True
    )


Plan = tuple[Extension | None, int]


def _forbidden(session: SessionState, request: AmiMessage) -> str:
    """ "Application" or "Data" when the user may not run what was asked; "" otherwise."""
    application = request.get("Application").lower()
    if not application or session.writeperm & permissions.SYSTEM:
        return ""
    if any(word in application for word in _SYSTEM_ONLY_APPS):
        return "Application"
    if any(word in request.get("Data") for word in _SYSTEM_ONLY_DATA):
        return "Data"
    return ""


def _plan(calls: CallManager, request: AmiMessage, priority: int) -> Plan:
    """What the answered channel runs: one application, or an extension from a priority."""
    application = request.get("Application").strip()
    if application:
        step = Step(1, application, request.get("Data"), Origin("Originate", 0))
        return Extension(name="", steps=(step,)), 1
    context = request.get("Context").strip() or "default"
    exten = request.get("Exten").strip() or "s"
    return calls.find_extension(context, exten), priority


async def _call(
    calls: CallManager, request: AmiMessage, plan: Plan, timeout_ms: int
) -> tuple[str, OutboundCall | None]:
    """Ring the channel; the Reason code and, when answered, the running leg."""
    tech, _, endpoint = request.get("Channel").strip().partition("/")
    caller_id = _caller_id(request.get("CallerID"))
    leg = await calls.call_out(endpoint, caller_id=caller_id) if tech.upper() == "PJSIP" else None
    if leg is None:
        return FAILURE, None
    try:
        await asyncio.wait_for(_answered_or_ended(leg), timeout_ms / 1000)
    except TimeoutError:
        leg.hang_up()
        return NO_ANSWER, None
    if not leg.answered.is_set():
        return (BUSY if leg.failure_cause == BUSY_CAUSE else FAILURE), None
    extension, priority = plan
    if extension is None:
        leg.hang_up()
    else:
        calls.run_on(leg, extension, start=priority)
    return ANSWERED, leg


async def _answered_or_ended(leg: OutboundCall) -> None:
    done, pending = await asyncio.wait(
        [asyncio.ensure_future(leg.answered.wait()), asyncio.ensure_future(leg.finished.wait())],
        return_when=asyncio.FIRST_COMPLETED,
    )
    for task in pending:
        task.cancel()
    del done


def _sync(calls: CallManager, request: AmiMessage, plan: Plan, timeout: int) -> Followup:
    async def run(emit: Emit) -> None:
        reason, _ = await _call(calls, request, plan, timeout)
        if reason == ANSWERED:
            emit(replies.success(request, "Originate successfully queued"))
        else:
            emit(replies.error(request, "Originate failed"))

    return run


def _async(
    ctx: AmiContext, calls: CallManager, request: AmiMessage, plan: Plan, timeout: int
) -> Followup:
    async def run(emit: Emit) -> None:
        reason, leg = await _call(calls, request, plan, timeout)
        fields: Fields = (
            ("Response", "Success" if reason == ANSWERED else "Failure"),
            ("Channel", leg.channel.name if leg is not None else request.get("Channel")),
            ("Context", request.get("Context")),
            ("Exten", request.get("Exten")),
            ("Application", request.get("Application")),
            ("Data", request.get("Data")),
            ("Reason", reason),
            ("Uniqueid", leg.channel.uniqueid if leg is not None else "<null>"),
            ("CallerIDNum", leg.channel.caller_num if leg is not None else "<unknown>"),
            ("CallerIDName", leg.channel.caller_name if leg is not None else "<unknown>"),
        )
        emit(
            replies.event(
                "OriginateResponse",
                permissions.CALL,
                fields,
                action_id=request.get("ActionID"),
                timestamp=ctx.audience.timestamp(),
            )
        )

    return run


def _caller_id(text: str) -> tuple[str, str] | None:
    """`"Name" <number>` or a bare number."""
    text = text.strip()
    if not text:
        return None
    if "<" in text and text.endswith(">"):
        name, _, number = text[:-1].partition("<")
        return number.strip() or "<unknown>", name.strip().strip('"') or "<unknown>"
    return text, "<unknown>"


ACTIONS = (Action("Originate", "Originate a call.", permissions.ORIGINATE, originate),)

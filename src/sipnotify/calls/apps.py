"""The dialplan applications a call runs, and the loop that runs them (Asterisk's pbx.c, small).

Owns Answer, Ringing, Progress, Wait, NoOp, Hangup, Echo, Dial(PJSIP/a[&PJSIP/b][,timeout])
(a second leg to each endpoint's first contact; the first to answer is bridged, RTP relayed
both ways) and PJSIPNotify(to,content) (behaviour: notify app, with deliberate difference 6:
the `&` list keeps the order written). Steps run in priority order; an unknown application,
or running off the end of the extension, hangs up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from sipnotify.calls.call import NORMAL_CLEARING, InboundCall, hangup_cause
from sipnotify.calls.channels import Channel, ChannelState
from sipnotify.calls.outbound import OutboundCall
from sipnotify.config.extensions import Extension
from sipnotify.config.numbers import seconds
from sipnotify.notify.content import NotifyContent, NotifyError, build_content, preset_content
from sipnotify.notify.notifier import Notifier, NotifyResult
from sipnotify.notify.targets import uri_target

log = logging.getLogger("sipnotify.dialplan")
MAX_WAIT = 86_400.0


Leg = InboundCall | OutboundCall


class AppContext(Protocol):
    notifier: Notifier

    async def call_out(
        self, endpoint_name: str, *, caller: Channel | None = None, caller_id: CallerId = None
    ) -> OutboundCall | None: ...


CallerId = tuple[str, str] | None
App = Callable[[Leg, str, AppContext], Awaitable[bool]]  # False: the call is over


async def run(call: Leg, extension: Extension, ctx: AppContext, *, start: int = 1) -> None:
    """Run the extension's steps from priority `start` until one ends the call."""
    step = extension.step(start) or extension.next_step(start)
    try:
        while step is not None and not call.ended:
            channel = call.channel
            channel.priority, channel.application = step.priority, step.app
            channel.app_data = step.data
            app = APPS.get(step.app.lower())
            if app is None:
                log.warning("%s: no application '%s'; hanging up", step.origin, step.app)
                break
            if not await app(call, step.data, ctx):
                return
            step = extension.next_step(step.priority)
    finally:  # running off the end, an error, or the call ending: nothing is left behind
        call.hang_up(NORMAL_CLEARING)


async def answer(call: Leg, _data: str, _ctx: AppContext) -> bool:
    await call.answer()
    return True


async def ringing(call: Leg, _data: str, _ctx: AppContext) -> bool:
    await call.ring()
    return True


async def progress(call: Leg, _data: str, _ctx: AppContext) -> bool:
    await call.progress()
    return True


async def wait(call: Leg, data: str, _ctx: AppContext) -> bool:
    wait = seconds(data.strip() or "0")
    if wait is None:
        log.warning("%s: Wait(%s): not a number of seconds", call.channel.name, data[:40])
        wait = 0.0
    await asyncio.sleep(min(wait, MAX_WAIT))
    return True


async def noop(call: Leg, data: str, _ctx: AppContext) -> bool:
    log.info("%s: NoOp(%s)", call.channel.name, data)
    return True


async def hangup(call: Leg, data: str, _ctx: AppContext) -> bool:
    call.hang_up(hangup_cause(data.strip()))
    return False


async def echo(call: Leg, _data: str, _ctx: AppContext) -> bool:
    """RTP comes back to the caller until the call ends (the call is answered first)."""
    await call.answer()
    if call.media is not None:
        call.media.echo = True
    await call.finished.wait()
    return False


async def pjsip_notify(call: Leg, data: str, ctx: AppContext) -> bool:
    """behaviour: notify app: `to` empty sends inside this call's dialog, else to that URI;
    `content` names a pjsip_notify.conf section, else is a `&name=value` list (kept in order)."""
    to, _, spec = data.partition(",")
    notifier = ctx.notifier
    try:
        content = _content(notifier, spec)
        if to.strip():
            target = uri_target(notifier.config, to.strip())
            notifier.send([target], content, _logged(call))
        else:
            in_dialog = call.notify_target()
            if in_dialog is None:
                raise NotifyError("the channel has no dialog")
            notifier.send_in_dialog(in_dialog, content, _logged(call))
    except NotifyError as exc:
        log.error("%s: PJSIPNotify(%s): %s", call.channel.name, data, exc.message.strip())
        call.hang_up(NORMAL_CLEARING)
        return False
    return True


def _content(notifier: Notifier, spec: str) -> NotifyContent:
    preset = notifier.presets.find(spec.strip())
    if preset is not None:
        return preset_content(preset.items)
    items = []
    for item in spec.split("&"):
        name, eq, value = item.partition("=")
        if eq and name:
            items.append((name, value))
    return build_content(items, from_ami=True)


async def dial(call: Leg, data: str, ctx: AppContext) -> bool:
    """Dial(PJSIP/a[&PJSIP/b][,timeout]): the caller hears ringing when a leg rings; the first
    leg to answer is bridged and the others cancelled; the dialplan goes on when the bridge
    ends with the caller still there, or when nobody answered within `timeout` seconds."""
    spec, _, rest = data.partition(",")
    legs = []
    for name in (part.strip() for part in spec.split("&") if part.strip()):
        tech, _, endpoint = name.partition("/")
        leg = await ctx.call_out(endpoint, caller=call.channel) if tech.upper() == "PJSIP" else None
        if leg is None:
            log.warning("%s: Dial(%s): cannot call %s", call.channel.name, data, name)
        elif not leg.ended:
            legs.append(leg)
    try:
        answered = await _first_answer(call, legs, _seconds(rest.partition(",")[0]))
        for leg in legs:
            if leg is not answered:
                leg.hang_up(NORMAL_CLEARING)
        if answered is not None and not call.ended:
            await call.answer()
            _bridge(call, answered)
            await _first_done(call.finished.wait(), answered.finished.wait())
    finally:  # also when the caller hangs up, which cancels the dialplan
        for leg in legs:
            leg.hang_up(NORMAL_CLEARING)
    return not call.ended


def _seconds(text: str) -> float | None:
    try:
        return float(text) if text.strip() else None
    except ValueError:
        return None


async def _first_answer(
    call: Leg, legs: list[OutboundCall], timeout: float | None
) -> OutboundCall | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (timeout if timeout is not None else MAX_WAIT)
    rang = False
    while not call.ended and loop.time() < deadline:
        live = [leg for leg in legs if not leg.ended]
        answered = next((leg for leg in live if leg.answered.is_set()), None)
        if answered is not None or not live:
            return answered
        if not rang and any(leg.channel.state is ChannelState.RINGING for leg in live):
            rang = True
            await call.ring()
        waits = [leg.answered.wait() for leg in live] + [leg.finished.wait() for leg in live]
        await _first_done(call.finished.wait(), *waits, timeout=min(0.2, deadline - loop.time()))
    return None


async def _first_done(*waits: Awaitable[object], timeout: float | None = None) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _bridge(caller: Leg, callee: OutboundCall) -> None:
    """RTP from each phone goes out through the other leg's port to the other phone."""
    theirs, ours = callee.peer_media, caller.peer_media
    if caller.media is None or callee.media is None or theirs is None or ours is None:
        return
    caller.media.relay_to(callee.media, (theirs.address, theirs.port))
    callee.media.relay_to(caller.media, (ours.address, ours.port))


def _logged(call: Leg) -> Callable[[NotifyResult], None]:
    def report(result: NotifyResult) -> None:
        answer = result.status if result.status is not None else result.error
        log.info("%s: NOTIFY to %s: %s", call.channel.name, result.uri, answer)

    return report


APPS: dict[str, App] = {
    "answer": answer,
    "ringing": ringing,
    "progress": progress,
    "wait": wait,
    "noop": noop,
    "hangup": hangup,
    "echo": echo,
    "dial": dial,
    "pjsipnotify": pjsip_notify,
}

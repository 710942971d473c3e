"""The dialplan applications a call runs, and the loop that runs them (Asterisk's pbx.c, small).

Owns Answer, Ringing, Progress, Wait, NoOp, Hangup, Echo and PJSIPNotify(to,content)
(compat §1.9, with DIFFERENCES.md 4: the `&` list keeps the order written). Steps run in
priority order; an unknown application, or running off the end of the extension, hangs up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from sipnotify.calls.call import NORMAL_CLEARING, InboundCall
from sipnotify.config.extensions import Extension
from sipnotify.notify import (
    Notifier,
    NotifyContent,
    NotifyError,
    NotifyResult,
    build_content,
    preset_content,
    uri_target,
)

log = logging.getLogger("sipnotify.dialplan")
MAX_WAIT = 86_400.0


class AppContext(Protocol):
    notifier: Notifier


App = Callable[[InboundCall, str, AppContext], Awaitable[bool]]  # False: the call is over


async def run(call: InboundCall, extension: Extension, ctx: AppContext) -> None:
    """Run the extension's steps from its first priority until one ends the call."""
    step = extension.steps[0] if extension.steps else None
    while step is not None and not call.ended:
        channel = call.channel
        channel.priority, channel.application, channel.app_data = step.priority, step.app, step.data
        app = APPS.get(step.app.lower())
        if app is None:
            log.warning("%s: no application '%s'; hanging up", step.origin, step.app)
            break
        if not await app(call, step.data, ctx):
            return
        step = extension.next_step(step.priority)
    call.hang_up(NORMAL_CLEARING)


async def answer(call: InboundCall, _data: str, _ctx: AppContext) -> bool:
    await call.answer()
    return True


async def ringing(call: InboundCall, _data: str, _ctx: AppContext) -> bool:
    await call.ring()
    return True


async def progress(call: InboundCall, _data: str, _ctx: AppContext) -> bool:
    await call.progress()
    return True


async def wait(call: InboundCall, data: str, _ctx: AppContext) -> bool:
    try:
        seconds = float(data.strip() or 0)
    except ValueError:
        log.warning("%s: Wait(%s): not a number of seconds", call.channel.name, data)
        seconds = 0.0
    await asyncio.sleep(min(max(seconds, 0.0), MAX_WAIT))
    return True


async def noop(call: InboundCall, data: str, _ctx: AppContext) -> bool:
    log.info("%s: NoOp(%s)", call.channel.name, data)
    return True


async def hangup(call: InboundCall, data: str, _ctx: AppContext) -> bool:
    text = data.strip()
    call.hang_up(int(text) if text.isdigit() else NORMAL_CLEARING)
    return False


async def echo(call: InboundCall, _data: str, _ctx: AppContext) -> bool:
    """RTP comes back to the caller until the call ends (the call is answered first)."""
    await call.answer()
    if call.media is not None:
        call.media.echo = True
    await call.finished.wait()
    return False


async def pjsip_notify(call: InboundCall, data: str, ctx: AppContext) -> bool:
    """compat §1.9: `to` empty sends inside this call's dialog, else to that URI; `content`
    names a pjsip_notify.conf section, else is a `&name=value` list (kept in order)."""
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


def _logged(call: InboundCall) -> Callable[[NotifyResult], None]:
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
    "pjsipnotify": pjsip_notify,
}

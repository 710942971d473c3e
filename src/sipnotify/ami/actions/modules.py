"""Reload, ModuleCheck and ModuleLoad as Asterisk answers them, for the modules sipnotify
stands in for (`config/reload.py` says which), and the `Reload` event every session hears.

A file with an error keeps the running configuration; the error reply names the file and
line after Asterisk's own words. sipnotify's modules cannot be unloaded: `unload` is an
error, and `refresh` is a reload.
"""

from __future__ import annotations

from sipnotify.ami import replies
from sipnotify.ami.audience import Broadcast
from sipnotify.ami.codec import AmiMessage, Fields
from sipnotify.ami.session import Action, ActionResult, AmiContext, SessionState, reply
from sipnotify.config import permissions
from sipnotify.config.reload import ReloadResult as Reloaded
from sipnotify.config.reload import Status, is_loaded

RELOAD_MESSAGES = {
    Status.SUCCESS: "Module Reloaded",
    Status.NOT_FOUND: "No such module",
    Status.ERROR: "An unknown error occurred",
    Status.NOT_SUPPORTED: "Module does not support reload",
}
INCOMPLETE = "Incomplete ModuleLoad action."


def reload_event(module: str, status: Status) -> Broadcast:
    fields: Fields = (("Module", module), ("Status", str(int(status))))
    return Broadcast("Reload", permissions.SYSTEM, fields)


def run_reload(ctx: AmiContext, module: str | None) -> Reloaded:
    outcome = ctx.reload(module)
    if outcome.status is Status.SUCCESS or outcome.error:
        ctx.reloaded_at = ctx.wall_clock()
    return outcome


def _message(words: str, outcome: Reloaded) -> str:
    return f"{words}: {outcome.error}" if outcome.error else words


def reload_action(ctx: AmiContext, _session: SessionState, request: AmiMessage) -> ActionResult:
    module = request.get("Module").strip() or None
    outcome = run_reload(ctx, module)
    words = RELOAD_MESSAGES[outcome.status]
    if outcome.status is Status.SUCCESS:
        answer = replies.success(request, words)
    else:
        answer = replies.error(request, _message(words, outcome))
    return ActionResult(
        replies=(answer,), broadcast=(reload_event(module or "All", outcome.status),)
    )


def module_check(_ctx: AmiContext, _session: SessionState, request: AmiMessage) -> ActionResult:
    if not is_loaded(request.get("Module")):
        return reply(replies.error(request, "Module not loaded"))
    return reply(replies.success(request, extra=(("Version", ""),)))


def module_load(ctx: AmiContext, _session: SessionState, request: AmiMessage) -> ActionResult:
    module = request.get("Module").strip()
    kind = request.get("LoadType").strip().lower()
    if kind in ("reload", "refresh"):
        return _module_reload(ctx, request, module or None, refresh=kind == "refresh")
    if kind == "load":
        if not module:  # Asterisk answers this one twice
            return reply(replies.error(request, "Need module name"),
                         replies.error(request, "Could not load module."))  # fmt: skip
        text = "Could not load module." if is_loaded(module) else "Module not found."
        return reply(replies.error(request, text))
    if kind == "unload":
        return reply(replies.error(request, "Could not unload module."))
    if not kind:  # Asterisk answers a missing LoadType twice
        return reply(replies.error(request, INCOMPLETE), replies.error(request, INCOMPLETE))
    return reply(replies.error(request, INCOMPLETE))


def _module_reload(
    ctx: AmiContext, request: AmiMessage, module: str | None, *, refresh: bool
) -> ActionResult:
    outcome = run_reload(ctx, module)
    events: tuple[Broadcast, ...] = (reload_event(module or "All", outcome.status),)
    if outcome.status is not Status.SUCCESS:
        text = "Could not reload module." if module else "Could not reload all modules"
        answer = replies.error(request, _message(text, outcome))
    elif module is None:
        answer = replies.success(request, "All modules reloaded")
    elif not refresh:
        answer = replies.success(request, "Module reloaded.")
    else:
        answer = replies.success(request, "Module unloaded and loaded.")
        status = (("Module", module), ("Status", "Success"))
        events = (Broadcast("Unload", permissions.SYSTEM, status),
                  Broadcast("Load", permissions.SYSTEM, status))  # fmt: skip
    return ActionResult(replies=(answer,), broadcast=events)


ACTIONS = (
    Action("Reload", "Send a reload event.", permissions.SYSTEM | permissions.CONFIG,
           reload_action),
    Action("ModuleCheck", "Check if module is loaded.", permissions.SYSTEM, module_check),
    Action("ModuleLoad", "Module management.", permissions.SYSTEM, module_load),
)  # fmt: skip

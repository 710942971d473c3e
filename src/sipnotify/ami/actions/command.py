"""The AMI `Command` action, for the one CLI command sipnotify has: `pjsip send notify`.

Owns the CLI's words and output lines exactly as Asterisk's res_pjsip_notify.c prints them
(behaviour: notify CLI) and the Command reply shape (`Message: Command output follows`, one
`Output:` line each). Endpoint targets are not prefix-stripped here, as in Asterisk's CLI.
The NOTIFYs that go out are reported with the same result events as the PJSIPNotify action.
"""

from __future__ import annotations

from sipnotify.ami import replies
from sipnotify.ami.actions.modules import reload_event, run_reload
from sipnotify.ami.actions.pjsip import reporter
from sipnotify.ami.codec import AmiMessage
from sipnotify.ami.session import Action, ActionResult, AmiContext, SessionState, reply
from sipnotify.config import permissions
from sipnotify.config.reload import ReloadResult as Reloaded
from sipnotify.config.reload import Status
from sipnotify.notify.content import NotifyContent, NotifyError, preset_content
from sipnotify.notify.notifier import Notifier, Report
from sipnotify.notify.targets import InDialog, Target, endpoint_targets, uri_target

USAGE = (
    "Usage: pjsip send notify <type> {endpoint|uri|channel} <peer> [<peer>...]",
    "       Send a NOTIFY request to an endpoint",
    "       Message types are defined in pjsip_notify.conf",
)


RELOADS = (["core", "reload"], ["manager", "reload"])


def command(ctx: AmiContext, session: SessionState, request: AmiMessage) -> ActionResult:
    words = request.get("Command").split()
    lowered = [w.lower() for w in words]
    if lowered[:2] == ["module", "reload"] or lowered in RELOADS:
        return _reload(ctx, request, words)
    if lowered[:3] != ["pjsip", "send", "notify"]:
        text = " ".join(words)
        unknown = (
            f"No such command '{text}' (type 'core show help {text}' for other possible commands)"
        )
        return reply(_output(request, (unknown,), ok=False))
    if len(words) < 6 or words[4].lower() not in ("endpoint", "uri", "channel"):
        return reply(_output(request, USAGE, ok=False))
    kind, mode, names = words[3], words[4].lower(), words[5:]
    preset = ctx.notifier.presets.find(kind)
    if preset is None:
        return reply(_output(request, (f"Unable to find notify type '{kind}'",), ok=False))
    content = preset_content(preset.items)
    if mode == "channel":
        return _channels(ctx, session, request, names, kind=kind, content=content)
    lines, targets = _targets(ctx.notifier, kind, mode, names)
    answer = _output(request, tuple(lines), ok=True)
    if not targets:
        return reply(answer)
    sending = ctx.notifier.sending(targets, content)
    followup = reporter(ctx, session, sending, len(targets), request)
    return ActionResult(replies=(answer,), followup=followup)


def _reload(ctx: AmiContext, request: AmiMessage, words: list[str]) -> ActionResult:
    """`module reload [MODULE…]`, `core reload` (everything, one `Module: All` event) and
    `manager reload` (manager.conf, no event), with Asterisk's CLI words."""
    if words[0].lower() == "manager":
        outcome = run_reload(ctx, "manager")
        return reply(_output(request, _errors(outcome) or ("",), ok=True))
    modules = words[2:]
    if not modules:
        outcome = run_reload(ctx, None)
        event = reload_event("All", outcome.status)
        answer = _output(request, _errors(outcome) or ("",), ok=True)
        return ActionResult(replies=(answer,), broadcast=(event,))
    lines: list[str] = []
    events = []
    for module in modules:
        outcome = run_reload(ctx, module)
        lines += [CLI_RELOAD[outcome.status].format(module), *_errors(outcome)]
        events.append(reload_event(module, outcome.status))
    return ActionResult(replies=(_output(request, tuple(lines), ok=True),), broadcast=tuple(events))


def _errors(outcome: Reloaded) -> tuple[str, ...]:
    return tuple(outcome.error.split("; ")) if outcome.error else ()


def _channels(
    ctx: AmiContext,
    session: SessionState,
    request: AmiMessage,
    names: list[str],
    *,
    kind: str,
    content: NotifyContent,
) -> ActionResult:
    """`channel` targets: a NOTIFY inside each named call's dialog (behaviour: notify CLI)."""
    lines: list[str] = []
    found: list[InDialog] = []
    for name in names:
        lines.append(f"Sending NOTIFY of type '{kind}' to '{name}'")
        target = ctx.calls.notify_target(name)
        if target is None:
            lines.append(f"Unable to find channel {name}")
        else:
            found.append(target)
    answer = _output(request, tuple(lines), ok=True)
    if not found:
        return reply(answer)

    notifier = ctx.notifier

    def send(report: Report) -> None:
        for target in found:
            notifier.send_in_dialog(target, content, report)

    return ActionResult(
        replies=(answer,), followup=reporter(ctx, session, send, len(found), request)
    )


def _targets(
    notifier: Notifier, kind: str, mode: str, names: list[str]
) -> tuple[list[str], list[Target]]:
    lines: list[str] = []
    targets: list[Target] = []
    for name in names:
        lines.append(f"Sending NOTIFY of type '{kind}' to '{name}'")
        try:
            if mode == "endpoint":
                targets += endpoint_targets(notifier.config, name, notifier.registered)
            else:
                targets.append(uri_target(notifier.config, name))
        except NotifyError as exc:
            lines.append(exc.message)
    return lines, targets


CLI_RELOAD = {
    Status.SUCCESS: "Module '{}' reloaded successfully.",
    Status.NOT_FOUND: "No such module '{}'",
    Status.ERROR: "The module '{}' reported a reload failure",
    Status.NOT_SUPPORTED: "The module '{}' does not support reloading",
}


def _output(request: AmiMessage, lines: tuple[str, ...], *, ok: bool) -> replies.Fields:
    kind = "Success" if ok else "Error"
    return replies.response(
        request, kind, "Command output follows", extra=tuple(("Output", line) for line in lines)
    )


ACTIONS = (Action("Command", "Execute Asterisk CLI Command.", permissions.COMMAND, command),)

"""The generic request rules every AMI action passes through (behaviour: AMI wire, manager.c).

Owns, in Asterisk's order: missing Action, shutdown, login required, `Login Already In Use`,
unknown action, and the write-class permission check; then hands over to the action.
"""

from __future__ import annotations

from sipnotify.ami import replies
from sipnotify.ami.codec import AmiMessage, FramingError, Incoming
from sipnotify.ami.session import ActionResult, AmiContext, SessionState, reply

_WITHOUT_LOGIN = frozenset(("login", "logoff", "challenge"))
_FAILURE_DELAY = 1.0


def handle(ctx: AmiContext, session: SessionState, incoming: Incoming) -> ActionResult:
    """Answer one decoded request."""
    if isinstance(incoming, FramingError):
        return reply(replies.error(incoming.message, incoming.text))
    return _dispatch(ctx, session, incoming)


def _dispatch(ctx: AmiContext, session: SessionState, request: AmiMessage) -> ActionResult:
    name = request.action
    if not name:
        return reply(replies.error(request, "Missing action in request"))
    if ctx.shutting_down:
        return reply(replies.error(request, "Asterisk is shutting down"))
    lowered = name.lower()
    if not session.authenticated:
        if lowered not in _WITHOUT_LOGIN:
            return reply(replies.error(request, "Permission denied"))
        if lowered != "logoff" and _login_in_use(ctx, request):
            return ActionResult(
                replies=(replies.error(request, "Login Already In Use"),),
                delay=_FAILURE_DELAY,
                close=True,
            )
    action = ctx.actions.get(lowered)
    if action is None:
        return reply(
            replies.error(
                request,
                f"Invalid/unknown command: {name}. "
                "Use Action: ListCommands to show available commands.",
            )
        )
    if action.authority and not session.writeperm & action.authority:
        return reply(replies.error(request, "Permission denied"))
    return action.handler(ctx, session, request)


def _login_in_use(ctx: AmiContext, request: AmiMessage) -> bool:
    username = request.get("Username")
    if not username or not ctx.logins[username.lower()]:
        return False
    user = ctx.manager.user(username)
    return user is not None and not user.allowmultiplelogin

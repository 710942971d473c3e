"""The core AMI actions of Asterisk's main/manager.c (behaviour: AMI wire).

Owns Login (plain and Challenge/MD5), Challenge, Logoff, Ping, Events and ListCommands,
byte for byte as Asterisk answers them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from sipnotify.ami import replies
from sipnotify.ami.codec import AmiMessage, Fields
from sipnotify.ami.session import Action, ActionResult, AmiContext, SessionState, reply
from sipnotify.config import permissions
from sipnotify.config.manager import ManagerUser

log = logging.getLogger("sipnotify.ami")

_LOGIN_FAILURE_DELAY = 1.0


def login(ctx: AmiContext, session: SessionState, request: AmiMessage) -> ActionResult:
    if session.authenticated:
        return reply(replies.success(request, "Already authenticated"))
    user = _authenticate(ctx, session, request)
    if user is None:
        log.warning("%s failed to authenticate as '%s'", session.peer, request.get("Username"))
        return ActionResult(
            replies=(replies.error(request, "Authentication failed"),),
            delay=_LOGIN_FAILURE_DELAY,
            close=True,
        )
    log_in(ctx, session, user, request.get("Username"), request.get("Events"))
    out = [replies.success(request, "Authentication accepted")]
    if not session.over_http and ctx.audience.delivers(session, "FullyBooted", permissions.SYSTEM):
        out.append(_fully_booted(ctx))
    return ActionResult(replies=tuple(out))


def _authenticate(
    ctx: AmiContext, session: SessionState, request: AmiMessage
) -> ManagerUser | None:
    username = request.get("Username")
    user = ctx.manager.user(username) if username else None
    if user is None or user.secret is None:
        return None
    if not user.allows(session.peer):
        log.warning("%s failed to pass IP ACL as '%s'", session.peer, username)
        return None
    if request.get("AuthType").lower() == "md5":
        if not session.challenge:
            return None
        digest = hashlib.md5((session.challenge + user.secret).encode("utf-8", "surrogateescape"))
        matched = _same(digest.hexdigest(), request.get("Key"))
    else:
        matched = _same(user.secret, request.get("Secret"))
    return user if matched else None


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogateescape"), given.encode("utf-8", "surrogateescape")
    )


def log_in(ctx: AmiContext, session: SessionState, user: ManagerUser, username: str,
           events: str = "") -> None:  # fmt: skip
    """The session acts as `user` from now on (a Login, or HTTP digest credentials)."""
    session.authenticated = True
    session.username = username
    session.readperm = user.readperm
    session.writeperm = user.writeperm
    session.displayconnects = user.displayconnects
    session.writetimeout_ms = user.writetimeout_ms
    mask = permissions.parse_event_mask(events)
    if mask is not None:
        session.send_events = mask
    ctx.logins[session.username.lower()] += 1


def _fully_booted(ctx: AmiContext) -> Fields:
    now = ctx.wall_clock()
    return replies.event(
        "FullyBooted",
        permissions.SYSTEM,
        (
            ("Uptime", str(int(now - ctx.started_at))),
            ("LastReload", str(int(now - ctx.reloaded_at))),
            ("Status", "Fully Booted"),
        ),
    )


def challenge(ctx: AmiContext, session: SessionState, request: AmiMessage) -> ActionResult:
    if request.get("AuthType").lower() != "md5":
        return reply(replies.error(request, "Must specify AuthType"))
    if not session.challenge:
        session.challenge = ctx.new_challenge()
    return reply(replies.success(request, extra=(("Challenge", session.challenge),)))


def logoff(_ctx: AmiContext, _session: SessionState, request: AmiMessage) -> ActionResult:
    goodbye = replies.response(request, "Goodbye", "Thanks for all the fish.")
    return ActionResult(replies=(goodbye,), close=True)


def ping(ctx: AmiContext, _session: SessionState, request: AmiMessage) -> ActionResult:
    stamp = replies.format_timestamp(ctx.wall_clock())
    return reply(replies.success(request, extra=(("Ping", "Pong"), ("Timestamp", stamp))))


def events(ctx: AmiContext, session: SessionState, request: AmiMessage) -> ActionResult:
    """Asterisk's action_events(), including `brokeneventsaction` (no reply for "all")."""
    mask = permissions.parse_event_mask(request.get("EventMask"))
    if mask is not None:
        session.send_events = mask
    if ctx.manager.general.brokeneventsaction and (mask is None or mask == permissions.ALL):
        return ActionResult(replies=())
    if mask is None:
        return reply(replies.error(request, "Invalid event mask"))
    state = "On" if mask else "Off"
    return reply(replies.response(request, "Success", extra=(("Events", state),)))


def list_commands(ctx: AmiContext, session: SessionState, request: AmiMessage) -> ActionResult:
    lines = tuple(
        (action.name, f"{action.synopsis} (Priv: {permissions.privilege_text(action.authority)})")
        for _, action in sorted(ctx.actions.items())
        if not action.authority or session.writeperm & action.authority
    )
    return reply(replies.success(request, extra=lines))


ACTIONS = (
    Action("Challenge", "Generate Challenge for MD5 Auth.", 0, challenge),
    Action("Events", "Control Event Flow.", 0, events),
    Action("ListCommands", "List available manager commands.", 0, list_commands),
    Action("Login", "Login Manager.", 0, login),
    Action("Logoff", "Logoff Manager.", 0, logoff),
    Action("Ping", "Keepalive command.", 0, ping),
)

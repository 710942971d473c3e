"""Who calls the JSON API, sans I/O: a manager.conf user proven by HTTP Basic credentials
(scripts) or by a session cookie from signing in (the console), and what that user may do.

- A session token is 32 random hex digits with a CSRF token of its own; it lives
  SESSION_LIFETIME seconds after its last use, ends at sign-out, and is never valid again.
  At most MAX_SESSIONS exist (the one closest to expiry goes first).
- A request that changes something must send JSON (an HTML form on another site cannot), and
  with a session cookie also the session's CSRF token in `X-CSRF-Token`.
- Permissions are manager.conf's classes: the API's actions need the `system` write class,
  as the AMI actions they stand for; live events need the `system` read class.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from dataclasses import dataclass

from sipnotify.config import permissions
from sipnotify.config.manager import ManagerConfig, ManagerUser

SESSION_LIFETIME = 1800.0  # seconds
MAX_SESSIONS = 1000
COOKIE = "sipnotify_session"


@dataclass(slots=True)
class Caller:
    """A user as the API sees one: who, with which classes, through which session."""

    username: str
    readperm: int
    writeperm: int
    token: str = ""  # the session's, when signed in
    csrf: str = ""
    expires_at: float = 0.0

    @property
    def may_act(self) -> bool:
        return bool(self.writeperm & permissions.SYSTEM)

    @property
    def may_watch(self) -> bool:
        return bool(self.readperm & permissions.SYSTEM)


def check_secret(
    manager: ManagerConfig, username: str, secret: str, peer: str
) -> ManagerUser | None:
    """The user whose secret this is, if the user's ACL lets `peer` in."""
    user = manager.user(username)
    if user is None or user.secret is None or not user.allows(peer):
        return None
    if not hmac.compare_digest(user.secret.encode(), secret.encode()):
        return None
    return user


def basic(manager: ManagerConfig, header: str, peer: str) -> Caller | None:
    """The caller an `Authorization: Basic` header proves."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, secret = decoded.partition(":")
    user = check_secret(manager, username, secret, peer) if colon else None
    return None if user is None else _caller(user)


def _caller(user: ManagerUser) -> Caller:
    return Caller(user.name, user.readperm, user.writeperm)


class ApiSessions:
    def __init__(self) -> None:
        self._sessions: dict[str, Caller] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, user: ManagerUser, now: float) -> Caller:
        self._purge(now)
        if len(self._sessions) >= MAX_SESSIONS:
            oldest = min(self._sessions.values(), key=lambda c: c.expires_at)
            del self._sessions[oldest.token]
        caller = _caller(user)
        caller.token, caller.csrf = secrets.token_hex(16), secrets.token_hex(16)
        caller.expires_at = now + SESSION_LIFETIME
        self._sessions[caller.token] = caller
        return caller

    def find(self, token: str, manager: ManagerConfig, now: float) -> Caller | None:
        """The live session of `token`, with its user's classes as manager.conf says now (a
        user removed since has no session)."""
        self._purge(now)
        caller = self._sessions.get(token)
        if caller is None:
            return None
        user = manager.user(caller.username)
        if user is None:
            del self._sessions[token]
            return None
        caller.readperm, caller.writeperm = user.readperm, user.writeperm
        caller.expires_at = now + SESSION_LIFETIME
        return caller

    def close(self, token: str) -> None:
        self._sessions.pop(token, None)

    def _purge(self, now: float) -> None:
        for token in [t for t, c in self._sessions.items() if c.expires_at <= now]:
            del self._sessions[token]


def csrf_ok(caller: Caller, header: str | None) -> bool:
    return bool(caller.csrf) and header is not None and hmac.compare_digest(caller.csrf, header)

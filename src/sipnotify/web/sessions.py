"""HTTP manager sessions, sans I/O (behaviour: AMI over HTTP): the `mansession_id` cookie's
session, its lifetime, and the events it keeps for `WaitEvent`.

- A request without a known, live session id gets a new session (and a cookie naming it);
  an unauthenticated session lives 5 seconds after its last request, a logged-in one
  manager.conf's `httptimeout`; Logoff or a failed login ends it, so its id is never valid
  again.
- A logged-in session keeps the events its user may read (up to `MAX_EVENTS`; the oldest go
  first) until a WaitEvent takes them.
- At most `MAX_SESSIONS` exist: past that, the session closest to expiry is dropped, so a
  flood of cookie-less requests costs bounded memory.
Time is passed in.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable

from sipnotify.ami.session import SessionState

UNAUTHENTICATED_LIFETIME = 5.0  # seconds, as Asterisk (or httptimeout if that is shorter)
MAX_EVENTS = 1000
MAX_SESSIONS = 1000


class HttpSession:
    """One session: its AMI state, when it ends, and the events waiting for it."""

    def __init__(self, ident: str, peer: str) -> None:
        self.id = ident
        self.state = SessionState(peer=peer, over_http=True)
        self.expires_at = 0.0
        self.events: deque[bytes] = deque(maxlen=MAX_EVENTS)
        self.ended = False
        self.wake: Callable[[], None] = _nothing  # set by the adapter while a WaitEvent waits

    @property
    def session(self) -> SessionState:
        """As the audience sees a member."""
        return self.state

    def send_event(self, data: bytes) -> None:
        self.events.append(data)
        self.wake()

    def take_events(self) -> list[bytes]:
        taken = list(self.events)
        self.events.clear()
        return taken


def _nothing() -> None:
    return None


class SessionTable:
    def __init__(self, *, httptimeout: Callable[[], int], new_id: Callable[[], str] | None = None,
                 on_end: Callable[[HttpSession], None]) -> None:  # fmt: skip
        self._timeout = httptimeout
        self._new_id = new_id or (lambda: secrets.token_hex(4))
        self._on_end = on_end
        self._sessions: dict[str, HttpSession] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def find(self, cookie: str | None, peer: str, now: float, *,
             name: str | None = None) -> HttpSession:  # fmt: skip
        """The cookie's live session, or a new one (named `name`, or at random)."""
        self.purge(now)
        found = self._sessions.get(_ident(cookie)) if cookie else None
        if found is not None:
            return found
        if len(self._sessions) >= MAX_SESSIONS:
            self.end(min(self._sessions.values(), key=lambda s: s.expires_at))
        ident = name or self._new_id()
        while ident in self._sessions:
            ident = self._new_id()
        created = self._sessions[ident] = HttpSession(ident, peer)
        self.touch(created, now)
        return created

    def touch(self, session: HttpSession, now: float) -> None:
        """A request was answered: the session lives on from now."""
        timeout = float(self._timeout())
        if not session.state.authenticated:
            timeout = min(timeout, UNAUTHENTICATED_LIFETIME)
        session.expires_at = now + timeout

    def end(self, session: HttpSession) -> None:
        if self._sessions.pop(session.id, None) is not None:
            session.ended = True
            self._on_end(session)

    def purge(self, now: float) -> None:
        for session in [s for s in self._sessions.values() if s.expires_at <= now]:
            self.end(session)

    def live(self) -> list[HttpSession]:
        return list(self._sessions.values())


def _ident(cookie: str) -> str:
    """The id inside the cookie's value, which Asterisk writes quoted."""
    return cookie.strip().strip('"').lower()

"""AMI over HTTP on the event loop (behaviour: AMI over HTTP): `/rawman`, `/manager` and
`/mxml` with the `mansession_id` cookie, and `/arawman`, `/amanager`, `/amxml` with HTTP
Digest credentials instead. Each request is one AMI action, answered by the same dispatcher,
permissions and actions as the socket; the response carries its reply and, for a list, the
whole list. What goes on after the reply (PJSIPNotify's results) and every event the user may
read wait in the session for a `WaitEvent`. Knows nothing of the HTTP library: the server
hands it an `HttpRequest` and writes the `HttpAnswer` it returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sipnotify.ami import replies
from sipnotify.ami.actions.core import log_in
from sipnotify.ami.codec import AmiMessage, Fields, Incoming, encode
from sipnotify.ami.dispatch import handle
from sipnotify.ami.session import ActionResult, AmiContext
from sipnotify.web import pages
from sipnotify.web.digest import DigestGate
from sipnotify.web.formats import BadRequest, Format, Params, decode_event, render, to_request
from sipnotify.web.sessions import HttpSession, SessionTable

log = logging.getLogger("sipnotify.web")
LIST_TIMEOUT = 60.0  # seconds a list (or a synchronous Originate) may take to write out
WAITED = "Waiting for Event completed."


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    target: str  # path and query exactly as sent (what a digest answer signs)
    params: Params
    cookie: str | None
    authorization: str | None
    peer: str


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    content_type: str
    body: str
    cookie: str | None = None  # the session id to set
    challenge: str | None = None  # a WWW-authenticate value


class ManagerOverHttp:
    def __init__(self, ctx: AmiContext, *, now: Callable[[], float],
                 servername: Callable[[], str]) -> None:  # fmt: skip
        self._ctx = ctx
        self._now = now
        self._servername = servername
        self.sessions = SessionTable(httptimeout=lambda: ctx.manager.general.httptimeout,
                                     on_end=self._ended)  # fmt: skip
        self._digest = DigestGate()
        self._tasks: set[asyncio.Future[None]] = set()

    @property
    def httptimeout(self) -> int:
        """Seconds a logged-in session lives (its cookie's Max-Age)."""
        return self._ctx.manager.general.httptimeout

    async def answer(self, request: HttpRequest, form: Format, *, digest: bool) -> HttpAnswer:
        incoming = to_request(request.params)
        if isinstance(incoming, BadRequest):
            page = pages.error_page(400, incoming.text, self._servername())
            return HttpAnswer(400, Format.HTML.value, page)
        session = self._session(request, digest)
        if session is None:
            page = pages.error_page(401, "", self._servername())
            return HttpAnswer(401, Format.HTML.value, page, challenge=self._digest.challenge(
                self._now()))  # fmt: skip
        if isinstance(incoming, AmiMessage) and self._waits(session, incoming):
            messages = await self._wait_event(session, incoming)
            close = False
        else:
            messages, close = await self._act(session, incoming)
        if close:
            self.sessions.end(session)
        elif not session.ended:
            self.sessions.touch(session, self._now())
        body = render(form, messages, request.params)
        if form is Format.HTML:
            head, tail = (pages.AMANAGER_HEAD, pages.AMANAGER_TAIL) if digest else (
                pages.MANAGER_HEAD, pages.MANAGER_TAIL)  # fmt: skip
            body = head + body + tail
        return HttpAnswer(200, form.value, body, cookie=None if digest else session.id)

    def close(self) -> None:
        """Shutting down: end every session and what still runs for them."""
        for task in list(self._tasks):
            task.cancel()
        for session in self.sessions.live():
            self.sessions.end(session)

    # -- sessions --------------------------------------------------------------------------

    def _session(self, request: HttpRequest, digest: bool) -> HttpSession | None:
        now = self._now()
        if not digest:
            return self.sessions.find(request.cookie, request.peer, now)
        if not request.authorization:
            return None
        accepted = self._digest.check(request.authorization, method=request.method,
                                      target=request.target, peer=request.peer,
                                      manager=self._ctx.manager, now=now)  # fmt: skip
        if accepted is None:
            return None
        key = f"{accepted.nonce}-{accepted.user.name.lower()}"
        session = self.sessions.find(key, request.peer, now, name=key)
        if not session.state.authenticated:
            log_in(self._ctx, session.state, accepted.user, accepted.user.name)
            self._logged_in(session)
        return session

    def _logged_in(self, session: HttpSession) -> None:
        self._ctx.audience.join(session)
        if session.state.displayconnects:
            log.info("HTTP Manager '%s' logged on from %s", session.state.username,
                     session.state.peer)  # fmt: skip

    def _ended(self, session: HttpSession) -> None:
        self._ctx.audience.leave(session)
        self._ctx.release(session.state)
        session.wake()

    # -- one action ------------------------------------------------------------------------

    async def _act(self, session: HttpSession, incoming: Incoming) -> tuple[list[Fields], bool]:
        was_in = session.state.authenticated
        outcome = handle(self._ctx, session.state, incoming)
        if session.state.authenticated and not was_in:
            self._logged_in(session)
        if outcome.delay:
            await asyncio.sleep(outcome.delay)
        messages = list(outcome.replies)
        self._ctx.audience.publish_all(outcome.broadcast)
        if outcome.followup is not None:
            if outcome.exclusive:
                await self._collect(outcome, messages)
            else:
                self._follow(outcome, session)
        return messages, outcome.close

    async def _collect(self, outcome: ActionResult, into: list[Fields]) -> None:
        """A list (or a synchronous Originate) belongs to the response: wait for all of it."""
        assert outcome.followup is not None
        try:
            await asyncio.wait_for(asyncio.ensure_future(outcome.followup(_Into(into))),
                                   LIST_TIMEOUT)  # fmt: skip
        except TimeoutError:
            log.warning("AMI over HTTP: a list took over %g s and was cut", LIST_TIMEOUT)

    def _follow(self, outcome: ActionResult, session: HttpSession) -> None:
        """What comes after the reply goes to the session's events, for a WaitEvent."""
        assert outcome.followup is not None
        task = asyncio.ensure_future(outcome.followup(_Into(session)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- WaitEvent -------------------------------------------------------------------------

    def _waits(self, session: HttpSession, request: AmiMessage) -> bool:
        return request.action.lower() == "waitevent" and session.state.authenticated

    async def _wait_event(self, session: HttpSession, request: AmiMessage) -> list[Fields]:
        """manager.c's action_waitevent() over HTTP: the events queued, or the first to come
        within `Timeout` seconds (at most httptimeout - 10)."""
        longest = max(1, self._ctx.manager.general.httptimeout - 10)
        asked = request.get("Timeout").strip()
        timeout = int(asked) if asked.isdigit() and 0 < int(asked) < longest else longest
        if not session.events:
            arrived = asyncio.Event()
            session.wake = arrived.set
            try:
                await asyncio.wait_for(arrived.wait(), timeout)
            except TimeoutError:
                pass
            finally:
                session.wake = _nothing
        action_id = request.get("ActionID")
        head: Fields = (("ActionID", action_id),) if action_id else ()
        events = [decode_event(data) for data in session.take_events()]
        return [replies.success(request, WAITED), *events,
                (("Event", "WaitEventComplete"), *head)]  # fmt: skip


def _nothing() -> None:
    return None


class _Into:
    """The sink a follow-up writes to: a list of messages, or a session's events."""

    def __init__(self, into: list[Fields] | HttpSession) -> None:
        self._into = into

    def __call__(self, fields: Fields) -> None:
        if isinstance(self._into, list):
            self._into.append(fields)
        else:
            self._into.send_event(encode(fields))

    async def drain(self) -> None:
        return None

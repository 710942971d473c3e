"""Asyncio adapter for AMI: one protocol object per TCP connection, no protocol rules here.

Owns sockets and timers: the banner, `authlimit` (over it a connection is closed before the
banner), `authtimeout`, strict in-order processing (a delayed reply holds back the requests
behind it, so pipelined actions are answered in order), back-pressure (a client that stops
reading stops being read, and is dropped after its write timeout), half-closed connections
(requests already received are answered before closing), events to every session that
wants them, and graceful shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import Counter, deque
from collections.abc import Sequence
from typing import cast

from sipnotify.ami.codec import AmiDecoder, Fields, Incoming, encode
from sipnotify.ami.dispatch import handle
from sipnotify.ami.session import ActionResult, AmiContext, Emit, SessionState
from sipnotify.config import permissions

log = logging.getLogger("sipnotify.ami")

AMI_VERSION = "12.0.0"
BANNER = f"Asterisk Call Manager/{AMI_VERSION}\r\n".encode()
# What a session has read is decoded a slice at a time, as it is handled: decoding a whole
# read (256 KB: 2,000 pipelined actions) at once kept every one of them alive together, and
# the heap they fragmented stayed with the process after the burst (7 MB in B1).
DECODE_SLICE = 8 * 1024
MAX_UNREAD = 64 * 1024  # bytes read but not yet handled per session before reading pauses
MAX_FOLLOWUPS = 256  # actions still reporting (e.g. NOTIFYs awaiting answers) per session
HIGH_WATER = 256 * 1024  # bytes of unsent output before a session counts as not reading
HARD_CAP = 8 * 1024 * 1024  # unsent output past which a session is dropped at once


class AmiServer:
    """The listening sockets and the set of live sessions."""

    def __init__(self, ctx: AmiContext) -> None:
        self.ctx = ctx
        self._waiting: Counter[str] = Counter()  # unauthenticated sessions by source address
        self._audience = ctx.audience
        self._servers: list[asyncio.Server] = []
        self._followups: set[asyncio.Future[None]] = set()

    async def start(
        self, host: str, port: int, sock: socket.socket | None = None
    ) -> list[tuple[str, int]]:
        """Listen on host:port (on `sock`, bound there already, for a worker); returns the
        bound addresses."""
        loop = asyncio.get_running_loop()
        if sock is not None:
            server = await loop.create_server(lambda: AmiConnection(self), sock=sock)
        else:
            server = await loop.create_server(
                lambda: AmiConnection(self), host, port, reuse_address=True
            )
        self._servers.append(server)
        # uvloop's `sockets` is a list, not the tuple typeshed says; compiled, that is checked
        sockets: Sequence[socket.socket] = getattr(server, "sockets")  # noqa: B009
        return [cast(tuple[str, int], sock.getsockname()[:2]) for sock in sockets]

    def admit(self, peer: str) -> str:
        """Count a new unauthenticated session from `peer`; the reason to refuse it instead
        ("" to admit): `authlimit` in all, or `authlimitperaddress` from one address, so one
        host cannot lock everyone else out."""
        general = self.ctx.manager.general
        if self._waiting.total() >= general.authlimit:
            return f"authlimit {general.authlimit}"
        if self._waiting[peer] >= general.authlimitperaddress:
            return f"authlimitperaddress {general.authlimitperaddress}"
        self._waiting[peer] += 1
        return ""

    def authenticated(self, peer: str) -> None:
        """An unauthenticated session from `peer` logged in or went away."""
        self._waiting[peer] -= 1
        if self._waiting[peer] <= 0:
            del self._waiting[peer]

    def attach(self, connection: AmiConnection) -> None:
        self._audience.join(connection)

    def detach(self, connection: AmiConnection) -> None:
        self._audience.leave(connection)

    def follow(self, outcome: ActionResult, emit: Emit) -> asyncio.Future[None] | None:
        """Run an action's follow-up work; it may emit messages to its session later."""
        if outcome.followup is None:
            return None
        task = asyncio.ensure_future(outcome.followup(emit))
        self._followups.add(task)
        task.add_done_callback(self._followup_done)
        return task

    def _followup_done(self, task: asyncio.Future[None]) -> None:
        self._followups.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("AMI action follow-up failed", exc_info=task.exception())

    async def shutdown(self, grace: float) -> None:
        """Stop accepting, tell sessions, let queued work finish within `grace`, close."""
        self.ctx.shutting_down = True
        for server in self._servers:
            server.close()
        self._audience.publish(
            "Shutdown", permissions.SYSTEM, (("Shutdown", "Cleanly"), ("Restart", "False"))
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._busy() and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for task in list(self._followups):
            task.cancel()
        for connection in self._connections():
            connection.close()
        while self._audience and loop.time() < deadline + 1.0:
            await asyncio.sleep(0.05)
        for connection in self._connections():
            connection.abort()

    def _connections(self) -> list[AmiConnection]:
        return [c for c in self._audience if isinstance(c, AmiConnection)]

    def _busy(self) -> bool:
        return bool(self._followups) or any(c.busy for c in self._connections())


class AmiConnection(asyncio.Protocol):
    """One AMI session on one TCP connection."""

    def __init__(self, server: AmiServer) -> None:
        self._server = server
        self._ctx = server.ctx
        self._loop = asyncio.get_running_loop()
        self._decoder = AmiDecoder()
        self._unread = b""  # read, not yet decoded: from `_unread_at` on
        self._unread_at = 0
        self._pending: deque[Incoming] = deque()  # decoded from one slice, not yet handled
        self._transport: asyncio.Transport | None = None
        self.session = SessionState(peer="")
        self._counted = False
        self._auth_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._delayed: asyncio.TimerHandle | None = None
        self._write_paused = False
        self._read_paused = False
        self._eof = False
        self._closing = False
        self._following = 0
        self._exclusive: asyncio.Future[None] | None = None
        self._drained = asyncio.Event()
        self._drained.set()
        self._sink = _Sink(self)
        self._out: list[bytes] = []

    @property
    def busy(self) -> bool:
        return bool(self._pending or self._delayed or self._unread_at < len(self._unread))

    @property
    def _held(self) -> bool:
        """Whether requests must wait: a delayed reply, a list still streaming, a closed or
        unread session, or as many actions still reporting as a session may have."""
        return bool(
            self._delayed
            or self._exclusive
            or self._closing
            or self._write_paused
            or self._following >= MAX_FOLLOWUPS
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        general = self._ctx.manager.general
        peer = transport.get_extra_info("peername")
        self.session.peer = peer[0] if peer else ""
        refused = self._server.admit(self.session.peer)
        if refused:
            log.warning("AMI connection from %s refused: %s", peer, refused)
            self._closing = True
            self._transport.close()
            return
        self._counted = True
        self._server.attach(self)
        self._transport.set_write_buffer_limits(high=HIGH_WATER)
        self._transport.write(BANNER)
        self._auth_timer = self._loop.call_later(general.authtimeout, self._auth_timeout)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        if self._unread_at < len(self._unread):
            self._unread = self._unread[self._unread_at :] + data
        else:
            self._unread = data
        self._unread_at = 0
        self._run(answer_now=True)

    def eof_received(self) -> bool:
        self._eof = True
        self._run()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self._exclusive is not None:
            self._exclusive.cancel()
        if exc is not None:
            log.debug("AMI connection from %s lost: %s", self.session.peer, exc)
        self._closing = True
        for timer in (self._auth_timer, self._write_timer, self._delayed):
            if timer is not None:
                timer.cancel()
        self._delayed = None
        self._pending.clear()
        self._unread, self._unread_at = b"", 0
        if self._counted:
            self._server.authenticated(self.session.peer)
            self._counted = False
        if self.session.authenticated and self.session.displayconnects:
            log.info("Manager '%s' logged off from %s", self.session.username, self.session.peer)
        self._ctx.release(self.session)
        self._server.detach(self)

    def pause_writing(self) -> None:
        self._write_paused = True
        self._drained.clear()
        self._flow()
        timeout = self.session.writetimeout_ms / 1000
        self._write_timer = self._loop.call_later(timeout, self._not_reading)

    def resume_writing(self) -> None:
        self._write_paused = False
        self._drained.set()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        self._run()

    def send_event(self, data: bytes) -> None:
        if not self._closing:
            self._write(data)

    def close(self) -> None:
        if self._transport is not None and not self._closing:
            self._flush()
            self._closing = True
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._closing = True
            self._transport.abort()

    def _run(self, *, answer_now: bool = False) -> None:
        """Handle what is pending while the session may; with `answer_now` (new input) the
        replies leave at once, in one write, before any follow-up starts its work (else they
        go with everything else written in this turn of the loop)."""
        while not self._held and (self._pending or self._decode()):
            outcome = handle(self._ctx, self.session, self._pending.popleft())
            self._note_login()
            if outcome.delay:
                self._delayed = self._loop.call_later(outcome.delay, self._deliver_later, outcome)
            else:
                self._deliver(outcome)
        if answer_now:
            self._flush()
        self._flow()
        if self._eof and not self.busy:
            self.close()

    def _decode(self) -> bool:
        """Decode what was read, a slice at a time, until a request is pending."""
        unread, at = self._unread, self._unread_at
        while not self._pending and at < len(unread):
            self._pending.extend(self._decoder.feed(unread[at : at + DECODE_SLICE]))
            at += DECODE_SLICE
        if at >= len(unread):
            self._unread, at = b"", 0
        self._unread_at = at
        return bool(self._pending)

    def _deliver_later(self, outcome: ActionResult) -> None:
        self._delayed = None
        self._deliver(outcome)
        self._run()

    def _deliver(self, outcome: ActionResult) -> None:
        for fields in outcome.replies:
            self._write(encode(fields))
        self._ctx.audience.publish_all(outcome.broadcast)
        if outcome.close:
            self.close()
        if outcome.followup is None:
            return
        self._following += 1
        if outcome.exclusive:  # a list: nothing else is read until it has streamed
            self._start(outcome)
        else:  # once the replies to what was read have gone (`_run` flushes them)
            self._loop.call_soon(self._start, outcome)

    def _start(self, outcome: ActionResult) -> None:
        task = self._server.follow(outcome, self._sink)
        assert task is not None  # only outcomes with a follow-up come here
        task.add_done_callback(self._followed)
        if outcome.exclusive:
            self._exclusive = task

    def _followed(self, task: asyncio.Future[None]) -> None:
        self._following -= 1
        if task is self._exclusive:
            self._exclusive = None
            self._run()
        elif self._following == MAX_FOLLOWUPS - 1:
            self._run()

    async def drained(self) -> None:
        """Until the client has read enough; the follow-ups of a closed session wait here
        until they are cancelled. What is queued is written first (output otherwise waits for
        the end of the loop turn, and a list that never yields would queue whole), and the
        loop turns once, so a long list does not hold up other sessions."""
        self._flush()
        await asyncio.sleep(0)
        await self._drained.wait()

    def emit(self, fields: Fields) -> None:
        self._write(encode(fields))

    def _write(self, data: bytes) -> None:
        """Queue output; everything written in one turn of the loop goes out in one write."""
        if self._transport is None or self._closing:
            return
        self._out.append(data)
        if len(self._out) == 1:
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        transport = self._transport
        if not self._out or transport is None or transport.is_closing():
            self._out.clear()
            return
        transport.write(b"".join(self._out))
        self._out.clear()
        if transport.get_write_buffer_size() > HARD_CAP:
            log.warning("AMI session from %s is not reading; dropped", self.session.peer)
            self.abort()

    def _note_login(self) -> None:
        if not (self._counted and self.session.authenticated):
            return
        self._counted = False
        self._server.authenticated(self.session.peer)
        if self._auth_timer is not None:
            self._auth_timer.cancel()
            self._auth_timer = None
        if self.session.displayconnects:
            log.info("Manager '%s' logged on from %s", self.session.username, self.session.peer)

    def _flow(self) -> None:
        if self._transport is None or self._closing:
            return
        should_pause = self._write_paused or len(self._unread) - self._unread_at > MAX_UNREAD
        if should_pause != self._read_paused:
            self._read_paused = should_pause
            if should_pause:
                self._transport.pause_reading()
            else:
                self._transport.resume_reading()

    def _auth_timeout(self) -> None:
        self._auth_timer = None
        if not self.session.authenticated:
            log.info(
                "AMI client from %s failed to authenticate in %d seconds",
                self.session.peer,
                self._ctx.manager.general.authtimeout,
            )
            self.close()

    def _not_reading(self) -> None:
        self._write_timer = None
        log.warning(
            "AMI session from %s stopped reading for %d ms; dropped",
            self.session.peer,
            self.session.writetimeout_ms,
        )
        self.abort()


class _Sink:
    """A follow-up's way back to its session (ami.session.Emit)."""

    def __init__(self, connection: AmiConnection) -> None:
        self._connection = connection

    def __call__(self, fields: Fields) -> None:
        self._connection.emit(fields)

    async def drain(self) -> None:
        await self._connection.drained()

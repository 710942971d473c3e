"""The AMI adapter with a fake transport at its edge: the banner, replies written in one go
per loop turn, follow-ups, events through the audience, the per-address limit on sessions not
yet logged in, flow control and shutdown. No sockets."""

from __future__ import annotations

import asyncio
import gc
import re
from collections.abc import Awaitable, Callable

from sipnotify.ami.codec import AmiMessage
from sipnotify.ami.server import BANNER, MAX_FOLLOWUPS, AmiConnection, AmiServer
from sipnotify.ami.session import AmiContext
from sipnotify.config import permissions
from sipnotify.notify.requests import Factory
from sipnotify.sip.auth import Credentials
from sipnotify.sip.transactions.exchange import Final
from sipnotify.ua.addresses import Hop
from tests.ami.helpers import FakeSender, context

PJSIP = "[alice]\ntype=aor\ncontact=sip:alice@192.0.2.10:5060\n[alice]\ntype=endpoint\naors=alice\n"
LOGIN = b"Action: Login\r\nUsername: admin\r\nSecret: s3cret\r\nEvents: system\r\n\r\n"


class FakeTransport(asyncio.Transport):
    """What the connection writes, and what it asks of its socket."""

    def __init__(self, peer: str = "127.0.0.1") -> None:
        super().__init__()
        self.peer = peer
        self.written = b""
        self.closed = False
        self.aborted = False
        self.reading = True
        self.buffered = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: object = None) -> object:
        return (self.peer, 40000) if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        del high, low

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


def run(test: Callable[[AmiServer], Awaitable[None]], ctx: AmiContext | None = None) -> None:
    async def main() -> None:
        await test(AmiServer(ctx or context(pjsip_conf=PJSIP)))

    asyncio.run(main())


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def connect(server: AmiServer, peer: str = "127.0.0.1") -> tuple[AmiConnection, FakeTransport]:
    connection, transport = AmiConnection(server), FakeTransport(peer)
    connection.connection_made(transport)
    return connection, transport


def test_banner_login_and_a_reply_in_one_write() -> None:
    async def test(server: AmiServer) -> None:
        connection, transport = connect(server)
        assert transport.written == BANNER
        connection.data_received(LOGIN + b"Action: Ping\r\nActionID: p\r\n\r\n")
        await settle()
        text = transport.written.decode()
        assert "Message: Authentication accepted" in text
        assert "Event: FullyBooted" in text
        assert text.endswith("Response: Success\r\nActionID: p\r\nPing: Pong\r\n"
                             "Timestamp: 1042.500000\r\n\r\n")  # fmt: skip
        connection.connection_lost(None)

    run(test)


def test_a_follow_up_reports_each_contact_then_the_totals() -> None:
    sender = FakeSender()

    async def test(server: AmiServer) -> None:
        connection, transport = connect(server)
        connection.data_received(LOGIN)
        connection.data_received(
            b"Action: PJSIPNotify\r\nEndpoint: alice\r\nVariable: Event=check-sync\r\n\r\n"
        )
        await settle()
        text = transport.written.decode()
        assert text.index("NOTIFY sent") < text.index("Event: PJSIPNotifyResult")
        assert text.index("Event: PJSIPNotifyResult") < text.index("Event: PJSIPNotifyComplete")
        assert len(sender.sent) == 1

    run(test, context(pjsip_conf=PJSIP, sender=sender))


def test_events_reach_only_sessions_that_take_them() -> None:
    async def test(server: AmiServer) -> None:
        listening, heard = connect(server)
        listening.data_received(LOGIN)
        deaf, unheard = connect(server)
        deaf.data_received(LOGIN.replace(b"Events: system", b"Events: off"))
        await settle()
        before = len(unheard.written)
        server.ctx.audience.publish("ContactStatus", permissions.SYSTEM, (("URI", "sip:x"),))
        await settle()
        assert b"Event: ContactStatus\r\nPrivilege: system,all\r\nURI: sip:x\r\n\r\n" in (
            heard.written
        )
        assert len(unheard.written) == before

    run(test)


def test_sessions_not_logged_in_are_limited_per_address() -> None:
    manager = (
        "[general]\nenabled=yes\nauthlimit=10\nauthlimitperaddress=1\n[admin]\nsecret=s3cret\n"
    )

    async def test(server: AmiServer) -> None:
        first, _ = connect(server, "192.0.2.1")
        _, refused = connect(server, "192.0.2.1")
        assert refused.closed
        assert refused.written == b""
        _, other = connect(server, "192.0.2.2")  # another address is let in
        assert other.written == BANNER
        first.connection_lost(None)
        _, again = connect(server, "192.0.2.1")  # the slot was given back
        assert again.written == BANNER

    run(test, context(manager))


def test_a_client_that_does_not_read_is_paused_then_dropped() -> None:
    async def test(server: AmiServer) -> None:
        connection, transport = connect(server)
        connection.data_received(LOGIN)
        await settle()
        connection.pause_writing()
        connection.data_received(b"Action: Ping\r\n\r\n" * 3)
        await settle()
        assert not transport.reading  # no more requests are read meanwhile
        assert b"Ping: Pong" not in transport.written  # and none is answered
        connection.resume_writing()
        await settle()
        assert transport.written.count(b"Ping: Pong") == 3
        transport.buffered = 64 * 1024 * 1024
        connection.data_received(b"Action: Ping\r\n\r\n")
        await settle()
        assert transport.aborted

    run(test)


class HeldSender(FakeSender):
    """Keeps every request unanswered until `answer_all`."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[Callable[[Final], None]] = []

    def send(
        self, hop: Hop, factory: Factory, credentials: list[Credentials],
        done: Callable[[Final], None],
    ) -> None:  # fmt: skip
        super().send(hop, factory, credentials, lambda _answer: self.held.append(done))

    def answer_all(self) -> None:
        held, self.held = self.held, []
        for done in held:
            done(self.answer)


def test_reading_pauses_while_what_was_read_waits_and_resumes_in_order() -> None:
    sender = HeldSender()
    count = MAX_FOLLOWUPS + 1000  # about 100 KB of pipelined actions

    async def test(server: AmiServer) -> None:
        connection, transport = connect(server)
        connection.data_received(LOGIN)
        connection.data_received(b"".join(
            b"Action: PJSIPNotify\r\nActionID: %d\r\nEndpoint: alice\r\n"
            b"Variable: Event=check-sync\r\n\r\n" % n for n in range(count)
        ))  # fmt: skip
        await settle()
        assert len(sender.sent) == MAX_FOLLOWUPS  # as many as may be reporting at once
        assert not transport.reading  # the rest waits in the socket
        decoded = sum(isinstance(o, AmiMessage) for o in gc.get_objects())
        assert decoded < 200  # what was read waits as bytes, not as thousands of messages
        for _ in range(count):
            sender.answer_all()
            await settle()
            if len(sender.sent) == count and not sender.held:
                break
        assert transport.reading
        ids = re.findall(rb"Response: Success\r\nActionID: (\d+)", transport.written)
        assert [int(i) for i in ids] == list(range(count))
        connection.connection_lost(None)

    run(test, context(pjsip_conf=PJSIP, sender=sender))


def test_logoff_closes_and_eof_closes_once_answered() -> None:
    async def test(server: AmiServer) -> None:
        connection, transport = connect(server)
        connection.data_received(LOGIN + b"Action: Logoff\r\n\r\n")
        await settle()
        assert b"Thanks for all the fish." in transport.written
        assert transport.closed
        other, second = connect(server)
        other.data_received(b"Action: Ping\r\n\r\n")
        assert other.eof_received()  # half-close: the answer is still written
        await settle()
        assert second.closed

    run(test)


def test_shutdown_tells_every_session_and_closes_it() -> None:
    async def test(server: AmiServer) -> None:
        connection, transport = connect(server)
        connection.data_received(LOGIN)
        await settle()
        closing = asyncio.ensure_future(server.shutdown(0.2))
        await settle()
        connection.connection_lost(None)  # the client goes when told
        await closing
        assert b"Event: Shutdown\r\nPrivilege: system,all\r\nShutdown: Cleanly\r\n" in (
            transport.written
        )
        assert transport.closed

    run(test)

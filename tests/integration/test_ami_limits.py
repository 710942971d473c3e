"""authlimit, authtimeout, ACLs, multiple logins, and clients that misbehave: each gets
Asterisk's answer or a clean close, and every other session keeps being served."""

from __future__ import annotations

import signal
import socket
import time

from tests.integration.conftest import RawAmi, StartService, admin_conf, wait_for


def assert_served(port: int) -> None:
    """A fresh session still logs in and gets a Pong."""
    with RawAmi(port) as ami:
        ami.login()
        ami.send(b"Action: Ping\r\nActionID: alive\r\n\r\n")
        assert ami.message().startswith(b"Response: Success\r\nActionID: alive\r\nPing: Pong\r\n")


def test_authlimit_closes_the_extra_connection_before_the_banner(
    start_service: StartService,
) -> None:
    service = start_service(admin_conf("authlimit = 5"))
    waiting = [RawAmi(service.port) for _ in range(5)]
    try:
        for ami in waiting:
            assert ami.banner().startswith(b"Asterisk Call Manager/")
        with RawAmi(service.port) as sixth:
            assert sixth.closed()
            assert sixth.buffer == b""
        for ami in waiting:  # logging in frees the unauthenticated slots
            ami.send(b"Action: Login\r\nUsername: admin\r\nSecret: s3cret\r\nEvents: off\r\n\r\n")
            assert ami.message().endswith(b"Authentication accepted\r\n\r\n")
        assert_served(service.port)
    finally:
        for ami in waiting:
            ami.sock.close()


def test_authtimeout_closes_only_unauthenticated_sessions(start_service: StartService) -> None:
    service = start_service(admin_conf("authtimeout = 1"))
    with RawAmi(service.port) as idle, RawAmi(service.port) as member:
        idle.banner()
        member.login()
        idle.sock.settimeout(10)
        assert idle.closed()
        time.sleep(1.5)
        member.send(b"Action: Ping\r\n\r\n")
        assert member.message().startswith(b"Response: Success\r\nPing: Pong\r\n")
    assert "failed to authenticate in 1 seconds" in service.log()


def test_user_acl_is_checked_by_source_address(start_service: StartService) -> None:
    conf = admin_conf() + "[local]\nsecret = l\ndeny = 0.0.0.0/0.0.0.0\npermit = 127.0.0.1\n"
    service = start_service(conf)
    with RawAmi(service.port, source="127.0.0.1") as ami:
        ami.login("local", "l")
    with RawAmi(service.port, source="127.0.0.2") as ami:
        ami.banner()
        ami.send(b"Action: Login\r\nUsername: local\r\nSecret: l\r\n\r\n")
        assert ami.message() == b"Response: Error\r\nMessage: Authentication failed\r\n\r\n"
        assert ami.closed()
    assert "failed to pass IP ACL as 'local'" in service.log()


def test_named_acls_from_acl_conf(start_service: StartService) -> None:
    conf = admin_conf() + "[both]\nsecret = b\nacl = loop,not2\n[ghost]\nsecret = g\nacl = nope\n"
    acl_conf = "[loop]\ndeny = 0.0.0.0/0\npermit = 127.0.0.0/8\n[not2]\ndeny = 127.0.0.2\n"
    service = start_service(conf, files={"acl.conf": acl_conf})
    with RawAmi(service.port, source="127.0.0.1") as ami:
        ami.login("both", "b")
    for source, user, secret in (("127.0.0.2", "both", "b"), ("127.0.0.1", "ghost", "g")):
        with RawAmi(service.port, source=source) as ami:
            ami.banner()
            ami.send(f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\n\r\n".encode())
            assert ami.message().endswith(b"Message: Authentication failed\r\n\r\n")


def test_allowmultiplelogin_no(start_service: StartService) -> None:
    service = start_service(admin_conf("allowmultiplelogin = no"))
    with RawAmi(service.port) as first:
        first.login()
        with RawAmi(service.port) as second:
            second.banner()
            second.send(
                b"Action: Login\r\nUsername: admin\r\nSecret: s3cret\r\nActionID: 2\r\n\r\n"
            )
            assert second.message() == (
                b"Response: Error\r\nActionID: 2\r\nMessage: Login Already In Use\r\n\r\n"
            )
            assert second.closed()
    wait_for(lambda: "logged off" in service.log(), 5, "the first session to end")
    assert_served(service.port)


def test_half_closed_client_gets_every_answer_then_a_close(start_service: StartService) -> None:
    service = start_service()
    with RawAmi(service.port) as ami:
        ami.send(
            b"Action: Login\r\nUsername: admin\r\nSecret: s3cret\r\nEvents: off\r\n\r\n"
            b"Action: Ping\r\nActionID: 1\r\n\r\nAction: Login\r\n\r\n"
        )
        ami.sock.shutdown(socket.SHUT_WR)
        ami.banner()
        assert ami.message().endswith(b"Authentication accepted\r\n\r\n")
        assert ami.message().startswith(b"Response: Success\r\nActionID: 1\r\nPing: Pong")
        assert ami.message() == b"Response: Success\r\nMessage: Already authenticated\r\n\r\n"
        assert ami.closed()
    with RawAmi(service.port) as ami:  # a delayed failure is still delivered before closing
        ami.send(b"Action: Login\r\nUsername: admin\r\nSecret: no\r\n\r\n")
        ami.sock.shutdown(socket.SHUT_WR)
        ami.banner()
        assert ami.message() == b"Response: Error\r\nMessage: Authentication failed\r\n\r\n"
        assert ami.closed()


def test_client_that_stops_reading_is_dropped_and_others_are_served(
    start_service: StartService,
) -> None:
    service = start_service()
    with RawAmi(service.port) as slow:
        slow.login()
        slow.sock.settimeout(0.5)
        request = b"Action: Ping\r\nActionID: %d\r\n\r\n"
        sent = 0
        try:
            for sent in range(2_000_000):  # stops when the server stops reading us
                slow.sock.sendall(request % sent)
        except (TimeoutError, ConnectionError):
            pass
        assert sent < 2_000_000 - 1
        # dropped by its write timeout, or by the cap on unsent output, whichever comes first
        dropped = ("stopped reading", "is not reading; dropped")
        wait_for(
            lambda: any(d in service.log() for d in dropped), 10, "the slow client to be dropped"
        )
        assert_served(service.port)


def test_garbage_and_reset_connections_do_not_disturb_others(start_service: StartService) -> None:
    service = start_service()
    with RawAmi(service.port) as member:
        member.login()
        for payload in (b"\x00\xff" * 3000, b"\r\n" * 50, b"Action: Login\r\n" * 500, b"x"):
            with RawAmi(service.port) as rude:
                rude.sock.sendall(payload)
                rude.sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
        member.send(b"Action: Ping\r\nActionID: still\r\n\r\n")
        assert member.message().startswith(b"Response: Success\r\nActionID: still\r\n")
    assert service.process.poll() is None


def test_flood_of_unauthenticated_connections(start_service: StartService) -> None:
    service = start_service(admin_conf("authlimit = 20"))
    opened = [socket.create_connection(("127.0.0.1", service.port), timeout=5) for _ in range(300)]
    try:
        wait_for(lambda: service.log().count("refused: authlimit") >= 280, 20, "280 refusals")
        with RawAmi(service.port) as late:
            assert late.closed()  # the 20 slots are still taken
            assert late.buffer == b""
    finally:
        for sock in opened:
            sock.close()
    wait_for(lambda: _banner_again(service.port), 10, "a free slot after the flood")
    assert_served(service.port)


def test_one_address_cannot_lock_out_the_others(start_service: StartService) -> None:
    """`authlimit` alone lets one host hold every unauthenticated slot; the per-address cap
    (`authlimitperaddress`, 10 by default) keeps room for everyone else."""
    service = start_service(admin_conf())
    opened = [socket.create_connection(("127.0.0.1", service.port), timeout=5) for _ in range(60)]
    try:
        wait_for(lambda: service.log().count("refused: authlimitperaddress 10") >= 50, 20,
                 "50 refusals")  # fmt: skip
        with RawAmi(service.port, source="127.0.0.2") as other:
            other.login()
            other.send(b"Action: Ping\r\n\r\n")
            assert other.message().startswith(b"Response: Success\r\nPing: Pong\r\n")
    finally:
        for sock in opened:
            sock.close()


def _banner_again(port: int) -> bool:
    with RawAmi(port) as ami:
        try:
            return ami.banner().startswith(b"Asterisk Call Manager/")
        except AssertionError:  # closed without a banner: still over the limit
            return False


def test_sigterm_announces_shutdown_and_closes_sessions(start_service: StartService) -> None:
    service = start_service(admin_conf("timestampevents = yes"))
    with RawAmi(service.port) as ami:
        ami.banner()
        ami.send(b"Action: Login\r\nUsername: admin\r\nSecret: s3cret\r\nEvents: system\r\n\r\n")
        assert ami.message().endswith(b"Authentication accepted\r\n\r\n")
        assert ami.message().startswith(b"Event: FullyBooted\r\n")
        assert service.stop(signal.SIGTERM) == 0
        event = ami.message()
        assert event.startswith(b"Event: Shutdown\r\nPrivilege: system,all\r\nTimestamp: ")
        assert event.endswith(b"\r\nShutdown: Cleanly\r\nRestart: False\r\n\r\n")
        assert ami.closed()
    assert "shutting down" in service.log()


def test_sigint_stops_cleanly(start_service: StartService) -> None:
    service = start_service()
    with RawAmi(service.port) as ami:
        ami.login()
        assert service.stop(signal.SIGINT) == 0
        assert ami.closed()

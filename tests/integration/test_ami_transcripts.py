"""Exact AMI transcripts against a running sipnotify: every error text, byte for byte."""

from __future__ import annotations

import hashlib
import time

import pytest

from tests.integration.conftest import RawAmi, Service, StartService


@pytest.fixture
def service(start_service: StartService) -> Service:
    return start_service()


def test_banner(service: Service) -> None:
    with RawAmi(service.port) as ami:
        assert ami.banner() == b"Asterisk Call Manager/12.0.0\r\n"


# (request, exact reply) pairs of an unauthenticated session, then of a logged-in one.
BEFORE_LOGIN = [
    (
        b"ActionID: a1\r\n\r\n",
        b"Response: Error\r\nActionID: a1\r\nMessage: Missing action in request\r\n\r\n",
    ),
    (b"\r\n", b"Response: Error\r\nMessage: Missing action in request\r\n\r\n"),
    (
        b"Action: Ping\r\nActionID: a2\r\n\r\n",
        b"Response: Error\r\nActionID: a2\r\nMessage: Permission denied\r\n\r\n",
    ),
    (b"Action: Nope\r\n\r\n", b"Response: Error\r\nMessage: Permission denied\r\n\r\n"),
    (
        b"Action: Challenge\r\nActionID: a3\r\n\r\n",
        b"Response: Error\r\nActionID: a3\r\nMessage: Must specify AuthType\r\n\r\n",
    ),
]
AFTER_LOGIN = [
    (
        b"Action: Login\r\nUsername: admin\r\nSecret: s3cret\r\nActionID: b1\r\n\r\n",
        b"Response: Success\r\nActionID: b1\r\nMessage: Already authenticated\r\n\r\n",
    ),
    (
        b"Action: NoSuchAction\r\nActionID: b2\r\n\r\n",
        b"Response: Error\r\nActionID: b2\r\nMessage: Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show available commands.\r\n\r\n",
    ),
    (
        b"Action: Events\r\nEventMask:\r\nActionID: b3\r\n\r\n",
        b"Response: Error\r\nActionID: b3\r\nMessage: Invalid event mask\r\n\r\n",
    ),
    (b"Action: Events\r\nEventMask: off\r\n\r\n", b"Response: Success\r\nEvents: Off\r\n\r\n"),
    (
        b"action: events\r\neventmask: system,call\r\n\r\n",
        b"Response: Success\r\nEvents: On\r\n\r\n",
    ),
    (b"Action: Ping\r\nActionID: \r\n\r\n", b"Response: Success\r\nPing: Pong\r\nTimestamp: "),
]


def test_error_texts_before_and_after_login(service: Service) -> None:
    with RawAmi(service.port) as ami:
        ami.banner()
        for request, expected in BEFORE_LOGIN:
            ami.send(request)
            assert ami.message() == expected
        ami.send(b"Action: Login\r\nUsername: admin\r\nSecret: s3cret\r\nEvents: off\r\n\r\n")
        assert ami.message() == b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
        for request, expected in AFTER_LOGIN:
            ami.send(request)
            assert ami.message().startswith(expected)


def test_failed_login_waits_then_closes(service: Service) -> None:
    with RawAmi(service.port) as ami:
        ami.banner()
        started = time.monotonic()
        ami.send(
            b"Action: Login\r\nUsername: admin\r\nSecret: bad\r\nActionID: f\r\n\r\nAction: Ping\r\n\r\n"
        )
        assert (
            ami.message()
            == b"Response: Error\r\nActionID: f\r\nMessage: Authentication failed\r\n\r\n"
        )
        assert time.monotonic() - started >= 0.9  # Asterisk sleeps one second first
        assert ami.closed()
        assert ami.buffer == b""  # the pipelined Ping was not answered


def test_logoff_says_goodbye_and_closes(service: Service) -> None:
    with RawAmi(service.port) as ami:
        ami.login()
        ami.send(b"Action: Logoff\r\nActionID: BYE\r\n\r\n")
        assert (
            ami.message()
            == b"Response: Goodbye\r\nActionID: BYE\r\nMessage: Thanks for all the fish.\r\n\r\n"
        )
        assert ami.closed()


def test_actions_pipelined_before_the_login_reply_are_answered_in_order(service: Service) -> None:
    with RawAmi(service.port) as ami:
        ami.send(  # one write, before even the banner was read, as panoramisk does
            b"Action: Login\r\nActionID: 1\r\nEvents: on\r\nSecret: s3cret\r\nUsername: admin\r\n\r\n"
            b"Action: Ping\r\nActionID: 2\r\n\r\n"
            b"Action: Events\r\nActionID: 3\r\nEventMask: off\r\n\r\n"
            b"Action: Ping\r\nActionID: 4\r\n\r\n"
        )
        assert ami.banner().startswith(b"Asterisk Call Manager/")
        assert (
            ami.message()
            == b"Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n"
        )
        assert ami.message().startswith(b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: ")
        assert ami.message().startswith(b"Response: Success\r\nActionID: 2\r\nPing: Pong\r\n")
        assert ami.message() == b"Response: Success\r\nActionID: 3\r\nEvents: Off\r\n\r\n"
        assert ami.message().startswith(b"Response: Success\r\nActionID: 4\r\nPing: Pong\r\n")


def test_pipelined_after_a_failed_login_are_held_back_in_order(service: Service) -> None:
    with RawAmi(service.port) as ami:
        ami.banner()
        ami.send(
            b"Action: Ping\r\nActionID: p\r\n\r\nAction: Login\r\nUsername: x\r\nSecret: y\r\n\r\n"
        )
        assert (
            ami.message() == b"Response: Error\r\nActionID: p\r\nMessage: Permission denied\r\n\r\n"
        )
        assert ami.message() == b"Response: Error\r\nMessage: Authentication failed\r\n\r\n"


def test_bare_lf_input_gets_crlf_output(service: Service) -> None:
    with RawAmi(service.port) as ami:
        ami.banner()
        ami.send(b"Action: Login\nUsername: admin\nSecret: s3cret\nEvents: off\nActionID: lf\n\n")
        assert (
            ami.message()
            == b"Response: Success\r\nActionID: lf\r\nMessage: Authentication accepted\r\n\r\n"
        )


def test_line_too_long_and_too_many_lines(service: Service) -> None:
    with RawAmi(service.port) as ami:
        ami.login()
        ami.send(b"Action: Ping\r\nActionID: long\r\nX-Long: " + b"x" * 5000 + b"\r\n\r\n")
        assert (
            ami.message()
            == b"Response: Error\r\nActionID: long\r\nMessage: Failed to parse message: line too long\r\n\r\n"
        )
        many = b"".join(b"X-%d: v\r\n" % i for i in range(200))
        ami.send(b"Action: Ping\r\nActionID: many\r\n" + many + b"\r\n")
        assert (
            ami.message()
            == b"Response: Error\r\nActionID: many\r\nMessage: Too many lines in message or allocation failure\r\n\r\n"
        )
        ami.send(b"Action: Ping\r\nActionID: after\r\n\r\n")
        assert ami.message().startswith(b"Response: Success\r\nActionID: after\r\nPing: Pong\r\n")


def test_non_utf8_action_id_is_echoed_verbatim(service: Service) -> None:
    with RawAmi(service.port) as ami:
        ami.login()
        ami.send(b"Action: Ping\r\nActionID: \xff\xc3(\x00\r\n\r\n")
        assert ami.message().startswith(
            b"Response: Success\r\nActionID: \xff\xc3(\x00\r\nPing: Pong\r\n"
        )
        ami.send(b"Action: \xfe\xfe\r\n\r\n")
        assert ami.message() == (
            b"Response: Error\r\nMessage: Invalid/unknown command: \xfe\xfe. "
            b"Use Action: ListCommands to show available commands.\r\n\r\n"
        )


def test_list_commands_and_md5_login_on_the_wire(service: Service) -> None:
    with RawAmi(service.port) as ami:
        ami.banner()
        ami.send(b"Action: Challenge\r\nAuthType: MD5\r\nActionID: c\r\n\r\n")
        reply = ami.message()
        assert reply.startswith(b"Response: Success\r\nActionID: c\r\nChallenge: ")
        challenge = reply.split(b"Challenge: ")[1].split(b"\r\n")[0]
        assert challenge.isdigit()
        key = hashlib.md5(challenge + b"s3cret").hexdigest().encode()
        ami.send(
            b"Action: Login\r\nAuthType: MD5\r\nUsername: admin\r\nKey: "
            + key
            + b"\r\nEvents: off\r\n\r\n"
        )
        assert ami.message() == b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
        ami.send(b"Action: ListCommands\r\n\r\n")
        assert b"Ping: Keepalive command. (Priv: <none>)\r\n" in ami.message()

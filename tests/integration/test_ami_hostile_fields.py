"""Numbers and applications in AMI fields a client got wrong, or a user chose badly: each gets
Asterisk's error (or a clear one) and the session stays up for the next action."""

from __future__ import annotations

import pytest

from tests.integration.conftest import RawAmi, Service, StartService, admin_conf

USERS = """
[dialer]
secret = d
read = call
write = originate,call
"""
PJSIP = """[udp]
type=transport
protocol=udp
bind=127.0.0.1:0
"""
SUP = "\u00b2"  # a digit to str.isdigit(), not to SIP or AMI
HUGE = "9" * 900  # past int32, within the 1024-byte AMI line


@pytest.fixture
def service(start_service: StartService) -> Service:
    return start_service(admin_conf() + USERS, files={"pjsip.conf": PJSIP})


def ask(ami: RawAmi, action: str) -> bytes:
    """Send one action; return its answer after checking the session still answers Ping."""
    ami.send(action.encode("utf-8") + b"\r\n")
    answer = ami.message()
    ami.send(b"Action: Ping\r\nActionID: alive\r\n\r\n")
    assert ami.message().startswith(b"Response: Success\r\nActionID: alive\r\nPing: Pong\r\n")
    return answer


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (f"Action: Hangup\r\nChannel: PJSIP/x-1\r\nCause: {SUP}\r\n", "No such channel"),
        (f"Action: Hangup\r\nChannel: PJSIP/x-1\r\nCause: {HUGE}\r\n", "No such channel"),
        (f"Action: Originate\r\nChannel: PJSIP/a\r\nPriority: {SUP}\r\n", "Invalid priority"),
        ("Action: Originate\r\nChannel: PJSIP/a\r\nPriority: 0\r\n", "Invalid priority"),
        (f"Action: Originate\r\nChannel: PJSIP/a\r\nTimeout: {SUP}\r\n", "Invalid timeout"),
        ("Action: Originate\r\nChannel: PJSIP/a\r\nTimeout: soon\r\n", "Invalid timeout"),
        (f"Action: Originate\r\nChannel: PJSIP/a\r\nTimeout: {HUGE}\r\n", "Originate failed"),
    ],
    ids=["cause-superscript", "cause-huge", "priority-superscript", "priority-0",
         "timeout-superscript", "timeout-word", "timeout-huge"],
)  # fmt: skip
def test_bad_numbers_get_an_answer_and_the_session_stays(
    service: Service, action: str, expected: str
) -> None:
    with RawAmi(service.port) as ami:
        ami.login()
        answer = ask(ami, action)
    assert answer.startswith(b"Response: Error\r\nMessage: " + expected.encode() + b"\r\n")
    assert "Traceback" not in service.log()


@pytest.mark.parametrize(
    ("application", "data", "refused"),
    [("PJSIPNotify", "alice,Event=check-sync", "Application"),
     ("System", "true", "Application"),
     ("NoOp", "${SHELL(true)}", "Data")],
)  # fmt: skip
def test_originate_applications_that_need_system_are_refused_without_it(
    service: Service, application: str, data: str, refused: str
) -> None:
    """A `write=originate` user cannot reach PJSIPNotify (which needs `system`) or a shell
    through Originate's Application."""
    action = (
        f"Action: Originate\r\nChannel: PJSIP/alice\r\nApplication: {application}\r\n"
        f"Data: {data}\r\n"
    )
    with RawAmi(service.port) as ami:
        ami.login("dialer", "d")
        answer = ask(ami, action)
    assert (
        answer
        == f"Response: Error\r\nMessage: Originate Access Forbidden: {refused}\r\n\r\n".encode()
    )

"""PJSIPNotify's error texts, byte for byte (behaviour: notify checks, the captured errors E1-E11), and
the errors sipnotify adds where Asterisk would claim success for nothing (deliberate difference 1)."""

from __future__ import annotations

import pytest

from tests.integration.conftest import RawAmi, Service, StartService, admin_conf

PJSIP = """
[local]
type=transport
protocol=udp
bind=127.0.0.1:0
[alice]
type=aor
contact=sip:alice@127.0.0.1:9
[alice]
type=endpoint
aors=alice
[lonely]
type=endpoint
[empty]
type=aor
[hollow]
type=endpoint
aors=empty,missing
"""
NOTIFY = "[clear-mwi]\nEvent=>message-summary\n"
OPTION_OR_VARIABLE = (
    b"PJSIPNotify requires either an Option or Variable(s).You must use only one of them."
)
ONE_TARGET = b"PJSIPNotify requires either an endpoint name, a SIP URI, or a channel."


@pytest.fixture
def service(start_service: StartService) -> Service:
    return start_service(admin_conf(), files={"pjsip.conf": PJSIP, "pjsip_notify.conf": NOTIFY})


def error(action_id: bytes, message: bytes) -> bytes:
    return b"Response: Error\r\nActionID: " + action_id + b"\r\nMessage: " + message + b"\r\n\r\n"


CASES = [
    ("E1", "Variable: Event=check-sync", ONE_TARGET),
    ("E2", "Endpoint: alice\r\nURI: sip:alice@127.0.0.1:9\r\nVariable: Event=check-sync",
     ONE_TARGET + b"  You must use only one of them."),
    ("E3", "Endpoint: nosuch\r\nVariable: Event=check-sync", b"Unable to retrieve endpoint nosuch"),
    ("E4", "Endpoint: alice\r\nOption: nosuch-option", b"Unable to find notify type 'nosuch-option'\n"),
    ("E5", "Endpoint: alice\r\nOption: clear-mwi\r\nVariable: Event=check-sync", OPTION_OR_VARIABLE),
    ("E6", "Endpoint: alice", OPTION_OR_VARIABLE),
    ("E7", "Channel: PJSIP/nosuch-00000000\r\nVariable: Event=check-sync", b"Channel not found"),
    ("E8", "Endpoint: alice\r\nChannel: PJSIP/alice-00000000\r\nVariable: Event=check-sync",
     ONE_TARGET + b"  You must use only one of them."),
    ("E9", "", OPTION_OR_VARIABLE),
    ("E10", "URI: sip:alice@127.0.0.1:9\r\nOption: nosuch-option",
     b"Unable to find notify type 'nosuch-option'\n"),
    ("E11", "Endpoint: nosuch\r\nOption: clear-mwi", b"Unable to retrieve endpoint nosuch"),
    ("B1", "Endpoint:   \r\nURI: \r\nVariable: Event=x", ONE_TARGET),  # blanks are absent
    ("B2", "Endpoint: PJSIP/nosuch\r\nVariable: Event=x", b"Unable to retrieve endpoint nosuch"),
    ("B3", "Endpoint: SIP/PJSIP/nosuch\r\nVariable: Event=x", b"Unable to retrieve endpoint nosuch"),
    # deliberate difference 1: Asterisk says "NOTIFY sent" here and sends nothing.
    ("D1", "Endpoint: lonely\r\nVariable: Event=x",
     b"Unable to send NOTIFY: endpoint lonely has no AORs configured"),
    ("D2", "Endpoint: hollow\r\nVariable: Event=x",
     b"Unable to send NOTIFY: endpoint hollow has no contacts"),
    ("D3", "URI: sip:alice@127.0.0.1:9\r\nVariable: Event=x",
     b"Unable to send NOTIFY: no default outbound endpoint; set default_outbound_endpoint "
     b"in pjsip.conf [global] to an existing endpoint"),
    ("D4", "URI: garbage\r\nVariable: Event=x",
     b"Unable to send NOTIFY: 'garbage' is not a valid SIP URI"),
    # No AMI value may inject a header line.
    ("I1", "Endpoint: alice\r\nVariable: Event=x\rInjected: yes",
     b"Variable 'Event' must not contain CR, LF or NUL"),
    ("I2", "Endpoint: alice\r\nVariable: X-A=\x00", b"Variable 'X-A' must not contain CR, LF or NUL"),
    ("I3", "Endpoint: alice\r\nVariable: Event=a, X-Foo=b",
     b"Invalid header name ' X-Foo': use letters, digits and -.!%*_+`'~"),
]  # fmt: skip


@pytest.mark.parametrize(("action_id", "headers", "message"), CASES, ids=[c[0] for c in CASES])
def test_error_texts(service: Service, action_id: str, headers: str, message: bytes) -> None:
    with RawAmi(service.port) as ami:
        ami.login()
        request = f"Action: PJSIPNotify\r\nActionID: {action_id}\r\n"
        request += f"{headers}\r\n" if headers else ""
        ami.send(request.encode() + b"\r\n")
        assert ami.message() == error(action_id.encode(), message)


def test_lower_case_action_and_option_name(service: Service) -> None:
    with RawAmi(service.port) as ami:
        ami.login()
        ami.send(
            b"action: pjsipnotify\r\nactionid: X10\r\nendpoint: alice\r\noption: CLEAR-MWI\r\n\r\n"
        )
        assert (
            ami.message() == b"Response: Success\r\nActionID: X10\r\nMessage: NOTIFY sent\r\n\r\n"
        )


def test_success_without_action_id(service: Service) -> None:
    with RawAmi(service.port) as ami:
        ami.login()
        ami.send(b"Action: PJSIPNotify\r\nEndpoint: alice\r\nOption: clear-mwi\r\n\r\n")
        assert ami.message() == b"Response: Success\r\nMessage: NOTIFY sent\r\n\r\n"


def test_needs_the_system_write_class(start_service: StartService) -> None:
    conf = admin_conf() + "[caller]\nsecret = c\nread = all\nwrite = call,originate\n"
    service = start_service(conf, files={"pjsip.conf": PJSIP})
    with RawAmi(service.port) as ami:
        ami.login("caller", "c")
        ami.send(
            b"Action: PJSIPNotify\r\nActionID: p\r\nEndpoint: alice\r\nVariable: Event=x\r\n\r\n"
        )
        assert ami.message() == error(b"p", b"Permission denied")

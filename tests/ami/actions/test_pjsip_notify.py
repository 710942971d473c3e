"""PJSIPNotify as an action, in memory: the order its checks run in, the request each contact
gets, and how the results are counted and reported (the SIP endpoint is a fake at the edge)."""

from __future__ import annotations

import gc

import pytest

from sipnotify.sip.parser import parse_message
from sipnotify.sip.transactions.exchange import Final
from sipnotify.sip.transactions.machines import TIMEOUT, ErrorKind, Failure
from tests.ami.helpers import FakeSender, Session, context

PJSIP = """
[global]
type=global
default_outbound_endpoint=alice
[alice]
type=aor
contact=sip:alice@192.0.2.10:5060
contact=sip:alice@192.0.2.11:5060
[alice]
type=endpoint
aors=alice
[lonely]
type=endpoint
[hollow]
type=endpoint
aors=missing
"""
ADMIN = "Action: Login\r\nUsername: admin\r\nSecret: s3cret\r\nEvents: system\r\n\r\n"


def session(sender: FakeSender | None = None) -> Session:
    made = Session(context(pjsip_conf=PJSIP, sender=sender))
    made.send(ADMIN)
    return made


def notify(*lines: str) -> str:
    return "Action: PJSIPNotify\r\nActionID: n1\r\n" + "".join(f"{x}\r\n" for x in lines) + "\r\n"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (("Endpoint: alice",), "PJSIPNotify requires either an Option or Variable(s)."),
        (("Endpoint: alice", "Option: clear-mwi", "Variable: Event=x"), "You must use only one"),
        (("Option: clear-mwi",), "requires either an endpoint name, a SIP URI, or a channel."),
        (("Option: clear-mwi", "Endpoint: alice", "URI: sip:x@y"), "You must use only one"),
        (("Option: nope", "Endpoint: alice"), "Unable to find notify type 'nope'"),
        (("Option: clear-mwi", "Endpoint: bob"), "Unable to retrieve endpoint bob"),
        (("Option: clear-mwi", "Endpoint: lonely"), "endpoint lonely has no AORs configured"),
        (("Option: clear-mwi", "Endpoint: hollow"), "endpoint hollow has no contacts"),
        (("Variable: Event=x", "URI: not a uri"), "is not a valid SIP URI"),
        (("Option: clear-mwi", "Channel: PJSIP/none-1"), "Channel not found"),
    ],
)
def test_each_refusal_comes_with_its_message_and_sends_nothing(
    lines: tuple[str, ...], message: str
) -> None:
    sender = FakeSender()
    (reply,) = session(sender).run(notify(*lines))
    assert reply["Response"] == "Error"
    assert reply["ActionID"] == "n1"
    assert message in reply["Message"]
    assert sender.sent == []


def test_the_option_is_checked_before_the_target() -> None:
    (reply,) = session().run(notify("Endpoint: bob"))
    assert reply["Message"].startswith("PJSIPNotify requires either an Option or Variable(s).")


def test_every_contact_gets_the_preset_and_results_are_counted() -> None:
    sender = FakeSender()
    messages = session(sender).run(notify("Endpoint: alice", "Option: clear-mwi"))
    assert [m.get("Response") or m.get("Event") for m in messages] == [
        "Success",
        "PJSIPNotifyResult",
        "PJSIPNotifyResult",
        "PJSIPNotifyComplete",
    ]
    assert messages[0]["Message"] == "NOTIFY sent"
    first, second = messages[1:3]
    assert (first["URI"], second["URI"]) == (
        "sip:alice@192.0.2.10:5060",
        "sip:alice@192.0.2.11:5060",
    )
    assert first["Result"] == "Success"
    assert first["RoundtripUsec"] == "1500"
    assert messages[3] == {"Event": "PJSIPNotifyComplete", "Privilege": "system,all",
                           "ActionID": "n1", "Total": "2", "Succeeded": "2",
                           "Failed": "0"}  # fmt: skip
    (_, request), _ = sender.sent
    wire = parse_message(request.data)
    assert wire.header("Event") == "message-summary"
    assert wire.header("Subscription-State") == "terminated"


@pytest.mark.parametrize(
    ("final", "result", "error"),
    [
        (Final(486, "Busy Here", None, 0.01), "Failure", None),
        (Final(None, "", TIMEOUT, None), "Timeout", "timeout"),
        (
            Final(None, "", Failure(ErrorKind.TRANSPORT, "connection refused"), None),
            "TransportError",
            "transport error: connection refused",
        ),
    ],
)
def test_failures_are_reported_by_kind(final: Final, result: str, error: str | None) -> None:
    messages = session(FakeSender(final)).run(notify("URI: sip:x@192.0.2.20", "Variable: Event=x"))
    one = messages[1]
    assert one["Result"] == result
    assert one.get("Error") == error
    assert messages[-1]["Failed"] == "1"


def test_variables_build_the_request_and_a_url_target_uses_the_default_endpoint() -> None:
    sender = FakeSender()
    session(sender).run(
        notify("URI: sip:phone@192.0.2.30:5070", "Variable: Event=check-sync,X-Extra=1")
    )
    ((hop, request),) = sender.sent
    assert str(hop.uri) == "sip:phone@192.0.2.30:5070"
    wire = parse_message(request.data)
    assert wire.header("Event") == "check-sync"
    assert wire.header("X-Extra") == "1"
    assert "alice" in (wire.header("From") or "")  # the default outbound endpoint's identity


def test_a_session_without_system_events_gets_no_result_events() -> None:
    quiet = Session(context(pjsip_conf=PJSIP))
    quiet.send("Action: Login\r\nUsername: admin\r\nSecret: s3cret\r\nEvents: off\r\n\r\n")
    messages = quiet.run(notify("Endpoint: alice", "Option: clear-mwi"))
    assert [m.get("Response") for m in messages] == ["Success"]


def test_a_line_break_smuggled_into_a_variable_is_refused() -> None:
    sender = FakeSender()
    (reply,) = session(sender).run(notify("Endpoint: alice", "Variable: Event=a\rVia: x"))
    assert reply["Response"] == "Error"
    assert sender.sent == []


def test_an_action_and_its_results_leave_no_reference_cycles() -> None:
    """The follow-up that counts and reports the results is freed by reference counting once
    the last result is in (as each NOTIFY's builder is: tests/test_notify.py)."""
    made = session(FakeSender())
    gc.collect()
    gc.disable()
    try:
        messages = made.run(notify("Endpoint: alice", "Option: clear-mwi"))
        assert messages[-1]["Event"] == "PJSIPNotifyComplete"
        assert gc.collect() == 0
    finally:
        gc.enable()

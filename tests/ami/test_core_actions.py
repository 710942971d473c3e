"""Login, Challenge, Logoff, Ping, Events, ListCommands (behaviour: AMI wire), as exact bytes."""

from __future__ import annotations

import hashlib

import pytest

from sipnotify.config import permissions
from tests.ami.helpers import Session, context

FULLY_BOOTED = (
    b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 42\r\nLastReload: 42\r\n"
    b"Status: Fully Booted\r\n\r\n"
)


def test_plain_login_then_fully_booted() -> None:
    session = Session()
    assert session.send(
        "Action: Login\r\nActionID: L1\r\nUsername: Admin\r\nSecret: s3cret\r\n\r\n"
    ) == (
        b"Response: Success\r\nActionID: L1\r\nMessage: Authentication accepted\r\n\r\n"
        + FULLY_BOOTED
    )
    assert session.state.authenticated
    assert session.state.username == "Admin"


def test_no_fully_booted_without_system_events() -> None:
    session = Session()
    assert session.login(events="off") == (
        b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
    )
    assert Session().login("reader", "r") == (
        b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("user", "secret"),
    [("admin", "wrong"), ("nobody", "x"), ("", "s3cret"), ("admin", "")],
)
def test_failed_login_waits_a_second_then_closes(user: str, secret: str) -> None:
    outcome = Session().outcome(
        f"Action: Login\r\nActionID: F\r\nUsername: {user}\r\nSecret: {secret}\r\n\r\n"
    )
    assert outcome.delay == 1.0
    assert outcome.close
    assert outcome.replies == (
        (("Response", "Error"), ("ActionID", "F"), ("Message", "Authentication failed")),
    )


def test_acl_is_checked_at_login() -> None:
    assert b"accepted" in Session(peer="127.0.0.1").login("local", "l")
    assert (
        Session(peer="127.0.0.2")
        .outcome("Action: Login\r\nUsername: local\r\nSecret: l\r\n\r\n")
        .close
    )


def test_already_authenticated() -> None:
    session = Session()
    session.login()
    assert session.send("Action: Login\r\nUsername: x\r\nSecret: y\r\n\r\n") == (
        b"Response: Success\r\nMessage: Already authenticated\r\n\r\n"
    )


def test_md5_challenge_login() -> None:
    session = Session()
    assert session.send("Action: Challenge\r\nAuthType: md5\r\nActionID: c\r\n\r\n") == (
        b"Response: Success\r\nActionID: c\r\nChallenge: 840744101\r\n\r\n"
    )
    key = hashlib.md5(b"840744101s3cret").hexdigest()
    assert (
        session.send(
            "Action: Login\r\nAuthType: MD5\r\nUsername: admin\r\n"
            f"Key: {key}\r\nEvents: off\r\n\r\n"
        )
        == b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
    )


def test_md5_login_with_wrong_key_or_without_challenge_fails() -> None:
    key = hashlib.md5(b"840744101s3cret").hexdigest()
    request = f"Action: Login\r\nAuthType: MD5\r\nUsername: admin\r\nKey: {key}\r\n\r\n"
    assert Session().outcome(request).close  # no challenge was asked for
    session = Session()
    session.send("Action: Challenge\r\nAuthType: MD5\r\n\r\n")
    assert session.outcome(request.replace(key, "0" * 32)).close


def test_challenge_needs_md5_and_is_reused() -> None:
    session = Session()
    assert session.send("Action: Challenge\r\n\r\n") == (
        b"Response: Error\r\nMessage: Must specify AuthType\r\n\r\n"
    )
    first = session.send("Action: Challenge\r\nAuthType: MD5\r\n\r\n")
    session.ctx.new_challenge = lambda: "other"
    assert session.send("Action: Challenge\r\nAuthType: MD5\r\n\r\n") == first


def test_logoff_without_login() -> None:
    outcome = Session().outcome("Action: Logoff\r\nActionID: BYE\r\n\r\n")
    assert outcome.close
    assert Session().send("Action: Logoff\r\nActionID: BYE\r\n\r\n") == (
        b"Response: Goodbye\r\nActionID: BYE\r\nMessage: Thanks for all the fish.\r\n\r\n"
    )


def test_ping() -> None:
    session = Session()
    session.login()
    assert session.send("Action: Ping\r\nActionID: p\r\n\r\n") == (
        b"Response: Success\r\nActionID: p\r\nPing: Pong\r\nTimestamp: 1042.500000\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("mask", "answer"),
    [
        ("ON", b"On"),
        ("yes", b"On"),
        ("all", b"On"),
        ("all,user", b"On"),
        ("system,user,agent", b"On"),
        ("1", b"On"),
        ("off", b"Off"),
        ("none", b"Off"),
        ("yeah whatever", b"Off"),
    ],
)
def test_events_masks(mask: str, answer: bytes) -> None:
    session = Session()
    session.login()
    assert session.send(f"Action: Events\r\nActionID: e\r\nEventMask: {mask}\r\n\r\n") == (
        b"Response: Success\r\nActionID: e\r\nEvents: " + answer + b"\r\n\r\n"
    )


def test_events_empty_mask_is_invalid_and_keeps_the_mask() -> None:
    session = Session()
    session.login(events="call")
    assert session.send("Action: Events\r\nEventMask:\r\n\r\n") == (
        b"Response: Error\r\nMessage: Invalid event mask\r\n\r\n"
    )
    assert session.state.send_events == permissions.CALL


@pytest.mark.parametrize(
    ("mask", "replied"),
    [
        ("", False),
        ("ON", False),
        ("yes", False),
        ("all", False),
        ("all,user", False),
        ("system,user,agent", True),
        ("off", True),
        ("none", True),
        ("yeah whatever", True),
        ("1", True),
    ],
)
def test_broken_events_action(mask: str, replied: bool) -> None:
    session = Session(context("[general]\nbrokeneventsaction=yes\n[admin]\nsecret=s3cret\n"))
    session.login()
    assert bool(session.send(f"Action: Events\r\nEventMask: {mask}\r\n\r\n")) is replied


def test_event_mask_decides_delivery() -> None:
    session = Session()
    assert not session.state.wants(permissions.SYSTEM)  # not logged in yet
    session.login()
    assert session.state.wants(permissions.SYSTEM)
    assert not session.state.wants(permissions.LOG)  # not in read=
    session.send("Action: Events\r\nEventMask: call\r\n\r\n")
    assert not session.state.wants(permissions.SYSTEM)
    assert session.state.wants(permissions.CALL)


def test_list_commands() -> None:
    session = Session()
    session.login()
    assert session.send("Action: ListCommands\r\nActionID: lc\r\n\r\n") == (
        b"Response: Success\r\nActionID: lc\r\n"
        b"Challenge: Generate Challenge for MD5 Auth. (Priv: <none>)\r\n"
        b"CoreShowChannels: List currently active channels. (Priv: system,reporting,all)\r\n"
        b"Events: Control Event Flow. (Priv: <none>)\r\n"
        b"FleetCancel: Cancel a fleet job. (Priv: system,all)\r\n"
        b"FleetJob: Show a fleet job's phones. (Priv: system,all)\r\n"
        b"FleetJobs: List fleet jobs. (Priv: system,all)\r\n"
        b"FleetNotify: Send a NOTIFY to a fleet of phones. (Priv: system,all)\r\n"
        b"FleetPause: Pause a fleet job. (Priv: system,all)\r\n"
        b"FleetResume: Resume a paused fleet job. (Priv: system,all)\r\n"
        b"Hangup: Hangup channel. (Priv: system,call,all)\r\n"
        b"ListCommands: List available manager commands. (Priv: <none>)\r\n"
        b"Login: Login Manager. (Priv: <none>)\r\n"
        b"Logoff: Logoff Manager. (Priv: <none>)\r\n"
        b"MailboxCount: Check Mailbox Message Count. (Priv: call,reporting,all)\r\n"
        b"MailboxStatus: Check mailbox. (Priv: call,reporting,all)\r\n"
        b"ModuleCheck: Check if module is loaded. (Priv: system,all)\r\n"
        b"ModuleLoad: Module management. (Priv: system,all)\r\n"
        b"MWIDelete: Delete selected mailboxes. (Priv: call,all)\r\n"
        b"MWIGet: Get selected mailboxes with message counts. (Priv: call,reporting,all)\r\n"
        b"MWIUpdate: Update the mailbox message counts. (Priv: call,all)\r\n"
        b"Ping: Keepalive command. (Priv: <none>)\r\n"
        b"PJSIPNotify: Send NOTIFY to either an endpoint, an arbitrary URI, or inside a SIP "
        b"dialog. (Priv: system,all)\r\n"
        b"PJSIPQualify: Qualify a chan_pjsip endpoint. (Priv: system,reporting,all)\r\n"
        b"PJSIPShowAors: Lists PJSIP AORs. (Priv: system,all)\r\n"
        b"PJSIPShowAuths: Lists PJSIP Auths. (Priv: system,all)\r\n"
        b"PJSIPShowContacts: Lists PJSIP Contacts. (Priv: system,all)\r\n"
        b"PJSIPShowEndpoint: Detail listing of an endpoint and its objects. (Priv: system,all)\r\n"
        b"PJSIPShowEndpoints: Lists PJSIP endpoints. (Priv: system,all)\r\n"
        b"PJSIPShowRegistrationInboundContactStatuses: Lists ContactStatuses for PJSIP inbound "
        b"registrations. (Priv: system,all)\r\n"
        b"PJSIPShowRegistrationsInbound: Lists PJSIP inbound registrations. (Priv: system,all)\r\n"
        b"PJSIPShowSubscriptionsInbound: Lists subscriptions. (Priv: system,all)\r\n"
        b"PJSIPShowSubscriptionsOutbound: Lists subscriptions. (Priv: system,all)\r\n"
        b"Reload: Send a reload event. (Priv: system,config,all)\r\n"
        b"\r\n"
    )


def test_list_commands_shows_only_what_the_user_may_run() -> None:
    session = Session()
    session.login("reader", "r")
    listing = session.send("Action: ListCommands\r\n\r\n")
    assert b"Ping: Keepalive command." in listing
    assert b"PJSIPNotify" not in listing

"""The MWI actions byte for byte as Asterisk 23 answers them (its captures), and the events
each update or delete publishes."""

from __future__ import annotations

from sipnotify.ami.codec import encode
from sipnotify.ami.replies import event
from tests.ami.helpers import Session

ADMIN = "Action: Login\r\nUsername: admin\r\nSecret: s3cret\r\nEvents: off\r\n\r\n"


def session() -> Session:
    made = Session()
    made.send(ADMIN)
    return made


def action(name: str, *lines: str, action_id: str = "ev") -> str:
    return (
        f"Action: {name}\r\n"
        + "".join(f"{x}\r\n" for x in lines)
        + f"ActionID: {action_id}\r\n\r\n"
    )


def published(made: Session, raw: str) -> bytes:
    """The reply, then the events it broadcasts, as a session taking them reads them."""
    outcome = made.outcome(raw)
    out = b"".join(encode(fields) for fields in outcome.replies)
    return out + b"".join(encode(event(b.name, b.category, b.fields)) for b in outcome.broadcast)


def test_update_answers_success_without_a_message_and_publishes_the_lamp() -> None:
    made = session()
    assert published(
        made,
        action(
            "MWIUpdate",
            "Mailbox: 1000@default",
            "NewMessages: 2",
            "OldMessages: 1",
            action_id="ev-4",
        ),
    ) == (
        b"Response: Success\r\nActionID: ev-4\r\n\r\n"
        b"Event: MessageWaiting\r\nPrivilege: call,all\r\nMailbox: 1000@default\r\n"
        b"Waiting: 1\r\nNew: 2\r\nOld: 1\r\n\r\n"
        b"Event: DeviceStateChange\r\nPrivilege: call,all\r\nDevice: MWI:1000@default\r\n"
        b"State: INUSE\r\n\r\n"
    )
    again = published(
        made, action("MWIUpdate", "Mailbox: 1000@default", "NewMessages: 2", "OldMessages: 1")
    )
    assert b"Event: MessageWaiting" in again  # every update, even with the same counts
    assert b"DeviceStateChange" not in again  # the device did not move
    cleared = published(made, action("MWIUpdate", "Mailbox: 1000@default"))  # counts default 0
    assert b"Waiting: 0\r\nNew: 0\r\nOld: 0\r\n" in cleared
    assert b"Device: MWI:1000@default\r\nState: NOT_INUSE\r\n" in cleared


def test_update_errors_and_asterisks_signed_counts() -> None:
    made = session()
    assert made.send(
        action("MWIUpdate", "Mailbox: 1000@default", "NewMessages: abc", action_id="ev-15")
    ) == (b"Response: Error\r\nActionID: ev-15\r\nMessage: Invalid NewMessages: abc\r\n\r\n")
    assert made.send(action("MWIUpdate", "NewMessages: 1", action_id="ev-17")) == (
        b"Response: Error\r\nActionID: ev-17\r\nMessage: Missing mailbox parameter in request"
        b"\r\n\r\n"
    )
    minus = published(made, action("MWIUpdate", "Mailbox: 1000@default", "NewMessages: -1"))
    assert b"Waiting: 1\r\nNew: -1\r\nOld: 0\r\n" in minus
    assert b"DeviceStateChange" not in minus  # -1 is not above zero
    listed = made.wire(action("MWIGet", "Mailbox: 1000@default", action_id="ev-5"))
    assert b"NewMessages: 4294967295\r\n" in listed  # listed unsigned, as Asterisk keeps it


def test_get_lists_one_mailbox_or_a_regex_and_ends_with_its_complete_event() -> None:
    made = session()
    for mailbox, new in (("1000", 7), ("1000@default", 2), ("2000@default", 5)):
        made.send(
            action(
                "MWIUpdate",
                f"Mailbox: {mailbox}",
                f"NewMessages: {new}",
                "OldMessages: 1" if mailbox == "1000@default" else "OldMessages: 0",
            )
        )
    assert made.wire(action("MWIGet", "Mailbox: 1000@default", action_id="ev-5")) == (
        b"Response: Success\r\nActionID: ev-5\r\nEventList: start\r\n"
        b"Message: Mailboxes will follow\r\n\r\n"
        b"Event: MWIGet\r\nMailbox: 1000@default\r\nOldMessages: 1\r\nNewMessages: 2\r\n"
        b"ActionID: ev-5\r\n\r\n"
        b"Event: MWIGetComplete\r\nActionID: ev-5\r\nEventList: Complete\r\nListItems: 1\r\n\r\n"
    )
    everything = [m for m in made.run(action("MWIGet", "Mailbox: /.*/")) if m.get("Mailbox")]
    assert [m["Mailbox"] for m in everything] == ["1000", "1000@default", "2000@default"]
    assert made.run(action("MWIGet", "Mailbox: /[/"))[-1]["ListItems"] == "0"  # no error
    assert made.run(action("MWIGet", "Mailbox: 3000@default"))[-1]["ListItems"] == "0"
    assert made.run(action("MWIGet"))[0]["Message"] == "Missing mailbox parameter in request"


def test_delete_one_or_by_regex_publishes_zeros_and_device_changes() -> None:
    made = session()
    for mailbox in ("1000", "2000@default"):
        made.send(action("MWIUpdate", f"Mailbox: {mailbox}", "NewMessages: 3"))
    gone = published(made, action("MWIDelete", "Mailbox: /.*/", action_id="ev-24"))
    assert gone == (
        b"Response: Success\r\nActionID: ev-24\r\n\r\n"
        b"Event: MessageWaiting\r\nPrivilege: call,all\r\nMailbox: 1000\r\nWaiting: 0\r\n"
        b"New: 0\r\nOld: 0\r\n\r\n"
        b"Event: MessageWaiting\r\nPrivilege: call,all\r\nMailbox: 2000@default\r\n"
        b"Waiting: 0\r\nNew: 0\r\nOld: 0\r\n\r\n"
        b"Event: DeviceStateChange\r\nPrivilege: call,all\r\nDevice: MWI:1000\r\n"
        b"State: NOT_INUSE\r\n\r\n"
        b"Event: DeviceStateChange\r\nPrivilege: call,all\r\nDevice: MWI:2000@default\r\n"
        b"State: NOT_INUSE\r\n\r\n"
    )
    assert published(made, action("MWIDelete", "Mailbox: 1000", action_id="ev-23")) == (
        b"Response: Success\r\nActionID: ev-23\r\n\r\n"
    )  # already gone: nothing published
    assert made.run(action("MWIDelete"))[0]["Message"] == "Missing mailbox parameter in request"


def test_mailbox_count_and_status() -> None:
    made = session()
    made.send(action("MWIUpdate", "Mailbox: 1000@default", "NewMessages: 2", "OldMessages: 1"))
    assert made.send(action("MailboxCount", "Mailbox: 1000@default", action_id="ev-10")) == (
        b"Response: Success\r\nActionID: ev-10\r\nMessage: Mailbox Message Count\r\n"
        b"Mailbox: 1000@default\r\nUrgMessages: 0\r\nNewMessages: 2\r\nOldMessages: 1\r\n\r\n"
    )
    assert made.send(action("MailboxStatus", "Mailbox: 1000@default", action_id="ev-11")) == (
        b"Response: Success\r\nActionID: ev-11\r\nMessage: Mailbox Status\r\n"
        b"Mailbox: 1000@default\r\nWaiting: 1\r\n\r\n"
    )

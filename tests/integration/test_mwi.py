"""MWI against real phones: SIPp UASes stand for phones with static contacts on endpoints with
`mailboxes=`; panoramisk sets the counts with MWIUpdate and MWIDelete as a voicemail system
would. Each phone gets Asterisk's unsolicited message-summary NOTIFY at start and at every
change of its mailboxes (summed with aggregate_mwi); a mailbox nobody lists sends nothing;
the counts survive a restart; every NOTIFY's answer is reported."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from panoramisk import Manager as PanoramiskManager

from tests.integration.conftest import RawAmi, StartService, Uas, admin_conf
from tests.integration.sipp import body, header

MANAGER = admin_conf()  # admin may read and write call and reporting, as MWI needs


def pjsip(alice: int, carol: int) -> str:
    return (
        "[udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:0\n"
        f"[alice]\ntype=aor\ncontact=sip:alice@127.0.0.1:{alice}\n"
        "[alice]\ntype=endpoint\naors=alice\nmailboxes=1000@default\n"
        f"[carol]\ntype=aor\ncontact=sip:carol@127.0.0.1:{carol}\n"
        "[carol]\ntype=endpoint\naors=carol\nmailboxes=1000@default,1001@default\n"
        "mwi_from_user=voicemail\n"
    )


async def update(port: int, *actions: dict[str, str]) -> list[Any]:
    """Send each action with panoramisk and wait a moment for its NOTIFYs to go out."""
    manager = PanoramiskManager(host="127.0.0.1", port=port, username="admin", secret="s3cret",
                                ping_delay=60)  # fmt: skip
    await manager.connect()
    try:
        answers = []
        for action in actions:
            answers.append(await asyncio.wait_for(manager.send_action(action), 5))
            await asyncio.sleep(0.3)  # one change at a time, in order, at the phones
        return answers
    finally:
        manager.close()


def voice(message: bytes) -> str:
    found = re.search(rb"Voice-Message: (\S+)", body(message))
    assert found is not None, message
    return found.group(1).decode()


def test_phones_hear_their_mailboxes_at_start_and_at_every_change(
    start_service: StartService, uas: Uas
) -> None:
    alice, carol = uas("uas_notify.xml", calls=3), uas("uas_notify.xml", calls=4)
    service = start_service(MANAGER, files={"pjsip.conf": pjsip(alice.port, carol.port)})
    with RawAmi(service.port) as watcher:
        watcher.login(events="system,call")
        answers = asyncio.run(update(
            service.port,
            {"Action": "MWIUpdate", "Mailbox": "1000@default", "NewMessages": "2",
             "OldMessages": "1"},
            {"Action": "MWIUpdate", "Mailbox": "1001@default", "NewMessages": "1"},
            {"Action": "MWIUpdate", "Mailbox": "2000@default", "NewMessages": "5"},  # nobody's
            {"Action": "MWIDelete", "Mailbox": "1000@default"},
        ))  # fmt: skip
        seen = watcher.read_until(b"Mailbox: 1000@default\r\nWaiting: 0\r\n")
        seen += watcher.read_until(b"Event: MWINotifyResult\r\n") + watcher.message()
    assert [a.Response for a in answers] == ["Success"] * 4
    assert b"Event: MessageWaiting\r\nPrivilege: call,all\r\nMailbox: 1000@default\r\n" in seen
    assert (
        b"Event: DeviceStateChange\r\nPrivilege: call,all\r\nDevice: MWI:1000@default\r\n" in seen
    )
    assert alice.finish() == 0, alice.output
    assert carol.finish() == 0, carol.output
    heard_by_alice = alice.received()
    assert [voice(m) for m in heard_by_alice] == ["0/0", "2/1", "0/0"]  # start, update, delete
    assert [voice(m) for m in carol.received()] == ["0/0", "2/1", "3/1", "1/0"]  # the sums
    first = heard_by_alice[1]
    head = first.split(b"\r\n\r\n")[0].decode()
    names = [line.split(":")[0] for line in head.split("\r\n")[1:]]
    assert names[names.index("CSeq") + 1 :] == [
        "Subscription-State",
        "Event",
        "Allow-Events",
        "Max-Forwards",
        "User-Agent",
        "Content-Type",
        "Content-Length",
    ]  # Asterisk's order for an out-of-dialog NOTIFY
    assert header(first, "Subscription-State") == ["terminated"]
    assert header(first, "Event") == ["message-summary"]
    assert header(first, "Content-Type") == ["application/simple-message-summary"]
    assert body(first) == b"Messages-Waiting: yes\r\nVoice-Message: 2/1 (0/0)\r\n"
    assert header(carol.received()[0], "From")[0].startswith("<sip:voicemail@127.0.0.1>;tag=")


def test_counts_survive_a_restart_and_are_announced_at_start(
    start_service: StartService, uas: Uas
) -> None:
    first_life = uas("uas_notify.xml", calls=2)
    files = {"pjsip.conf": pjsip(first_life.port, 9)}
    first = start_service(MANAGER, files=files)
    asyncio.run(update(first.port, {"Action": "MWIUpdate", "Mailbox": "1000@default",
                                    "NewMessages": "4", "OldMessages": "2"}))  # fmt: skip
    assert first_life.finish() == 0, first_life.output
    assert first.stop() == 0
    second_life = uas("uas_notify.xml")
    files = {"pjsip.conf": pjsip(second_life.port, 9)}
    second = start_service(MANAGER, files=files, extra_args=("--data-dir", str(first.data_dir)))
    assert second_life.finish() == 0, second_life.output
    (booted,) = second_life.received()
    assert voice(booted) == "4/2"
    (listed,) = asyncio.run(update(second.port, {"Action": "MWIGet", "Mailbox": "1000@default"}))
    (item,) = [m for m in listed if m.Event == "MWIGet"]  # panoramisk gathers the list
    assert (item.NewMessages, item.OldMessages) == ("4", "2")

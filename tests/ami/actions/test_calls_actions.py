"""Originate, Hangup and CoreShowChannels in memory: their refusals, and the channel block
of a channel the calls layer holds (no SIP: a call that would go out fails at the edge)."""

from __future__ import annotations

import pytest

from sipnotify.ami.channel_events import event_fields
from sipnotify.calls.channels import ChannelState
from tests.ami.helpers import Session, context

ADMIN = "Action: Login\r\nUsername: single\r\nSecret: one\r\nEvents: off\r\n\r\n"
PJSIP = "[bob]\ntype=aor\ncontact=sip:bob@192.0.2.40:5060\n[bob]\ntype=endpoint\naors=bob\n"


def session() -> Session:
    made = Session(context(pjsip_conf=PJSIP))
    made.send(ADMIN)
    return made


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("", "Channel not specified"),
        ("Channel: PJSIP/bob\r\nPriority: 0\r\n", "Invalid priority"),
        ("Channel: PJSIP/bob\r\nPriority: x\r\n", "Invalid priority"),
        ("Channel: PJSIP/bob\r\nTimeout: soon\r\n", "Invalid timeout"),
        ("Channel: PJSIP/nobody\r\nApplication: Wait\r\n", "Originate failed"),
        ("Channel: SIP/bob\r\nApplication: Wait\r\n", "Originate failed"),
    ],
)
def test_originate_refusals(fields: str, message: str) -> None:
    messages = session().run(f"Action: Originate\r\nActionID: o\r\n{fields}\r\n")
    assert (messages[0]["Response"], messages[0]["Message"]) == ("Error", message)


def test_originate_of_a_shell_needs_the_system_class() -> None:
    manager = "[general]\nenabled=yes\n[op]\nsecret=o\nread=all\nwrite=originate,call\n"
    reader = Session(context(manager, pjsip_conf=PJSIP))
    reader.send("Action: Login\r\nUsername: op\r\nSecret: o\r\n\r\n")
    (answer,) = reader.run(
        "Action: Originate\r\nChannel: PJSIP/bob\r\nApplication: System\r\nData: true\r\n\r\n"
    )
    assert answer["Message"].startswith("Originate Access Forbidden")


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        ("", "No channel specified"),
        ("PJSIP/bob-00000001", "No such channel"),
        ("/x", "Regex format invalid, Channel param should be /regex/"),
        ("/(/", "Regex compile failed on: ("),
    ],
)
def test_hangup_refusals(channel: str, message: str) -> None:
    (answer,) = session().run(f"Action: Hangup\r\nChannel: {channel}\r\n\r\n")
    assert answer["Message"] == message


def test_hangup_and_list_a_channel_the_calls_layer_holds() -> None:
    made = session()
    calls = made.ctx.calls
    channel = calls.channels.create("bob", state=ChannelState.RINGING, caller_num="bob",
                                    caller_name="Bob", exten="100")  # fmt: skip
    listed = made.run("Action: CoreShowChannels\r\nActionID: c\r\n\r\n")
    (item,) = [m for m in listed if m.get("Event") == "CoreShowChannel"]
    assert (item["Channel"], item["ChannelStateDesc"], item["CallerIDName"]) == (
        channel.name,
        "Ringing",
        "Bob",
    )
    block = dict(event_fields("Newchannel", channel))
    assert block["Exten"] == "100"
    matched = made.run("Action: Hangup\r\nChannel: /^PJSIP/bob-/\r\n\r\n")
    assert [m.get("Channel") for m in matched if m.get("Event") == "ChannelHungup"] == [
        channel.name
    ]

"""The INVITE an outgoing call sends, built in memory: who it is from (the endpoint's
from_user, else the caller on the connected line, else pjsip.conf's default_from_user, as
chan_pjsip does), its Contact and offer."""

from __future__ import annotations

import pytest

from sipnotify.calls.channels import ChannelState
from sipnotify.calls.outbound import OutboundCall
from sipnotify.notify.targets import endpoint_targets
from sipnotify.sip.uri import parse_name_addr
from sipnotify.ua.addresses import Local
from tests.ami.helpers import context

PJSIP = """
[global]
type=global
default_from_user={default}
[phone]
type=aor
contact=sip:phone@192.0.2.50:5062
[phone]
type=endpoint
aors=phone
{from_user}
"""
HERE = Local("udp", "192.0.2.5", 5060)


def invite_from(*, default: str = "asterisk", from_user: str = "", connected: str = "") -> str:
    conf = PJSIP.format(default=default, from_user=f"from_user={from_user}" if from_user else "")
    calls = context(pjsip_conf=conf).calls
    endpoint = calls.config.endpoints["phone"]
    channel = calls.channels.create("phone", state=ChannelState.DOWN, linked=None,
                                    caller_num="phone", caller_name="<unknown>",
                                    connected_num=connected or "<unknown>",
                                    connected_name="Alice" if connected else "<unknown>",
                                    exten="phone")  # fmt: skip
    target = endpoint_targets(calls.config, "phone")[0]
    request = OutboundCall(calls, endpoint, target, channel).build_invite(HERE, 4000)
    return request.header("From") or ""


def user_of(from_header: str) -> str | None:
    return parse_name_addr(from_header).uri.user


@pytest.mark.parametrize(
    ("settings", "user"),
    [
        ({}, "asterisk"),
        ({"default": "pbx"}, "pbx"),
        ({"default": "pbx", "connected": "1001"}, "1001"),
        ({"default": "pbx", "connected": "1001", "from_user": "trunk"}, "trunk"),
    ],
)
def test_the_from_user_follows_chan_pjsip(settings: dict[str, str], user: str) -> None:
    assert user_of(invite_from(**settings)) == user


def test_the_caller_is_named_unless_the_endpoint_sets_its_own_from() -> None:
    assert invite_from(connected="1001").startswith('"Alice" <sip:1001@192.0.2.5>;tag=')
    assert invite_from(connected="1001", from_user="trunk").startswith("<sip:trunk@192.0.2.5>")

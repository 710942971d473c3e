"""The PJSIP show actions byte for byte as Asterisk 23.4.1 answers them, on the configuration
its captures were made with: every EndpointDetail and TransportDetail field in Asterisk's order
with its defaults, the sub-events in the order of Asterisk's formatters, static contacts in
PJSIPShowRegistrationsInbound, and PJSIPShowRegistrationInboundContactStatuses."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from tests.integration.conftest import RawAmi, Service, StartService, Uas, admin_conf
from tests.integration.ports import free_port
from tests.integration.sipp import SCENARIOS

DATA = Path(__file__).parent / "data"
PJSIP = """[global]
type = global
default_outbound_endpoint = carol

[transport-udp]
type = transport
protocol = udp
bind = 127.0.0.1:{sip_port}

[transport-tcp]
type = transport
protocol = tcp
bind = 127.0.0.1:{sip_port}

[alice]
type = aor
contact = sip:alice@127.0.0.1:{alice_port}

[alice]
type = endpoint
context = default
disallow = all
allow = ulaw
aors = alice
transport = transport-udp
mailboxes = 1000@default

[bob-auth]
type = auth
auth_type = userpass
username = bob
password = bobpass

[bob]
type = aor
max_contacts = 2
qualify_frequency = 0

[bob]
type = endpoint
context = default
disallow = all
allow = ulaw
aors = bob
auth = bob-auth

[carol]
type = aor
contact = sip:carol@127.0.0.3:{carol_port}

[carol]
type = endpoint
context = default
disallow = all
allow = ulaw
aors = carol

[carol-ip]
type = identify
endpoint = carol
match = 127.0.0.3
"""


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@pytest.fixture
def ports() -> dict[str, str]:
    alice, carol = str(free_port()), str(free_port())
    return {"sip_port": str(free_port()), "alice_port": alice, "carol_port": carol,
            "alice_md5": md5(f"sip:alice@127.0.0.1:{alice}"),
            "carol_md5": md5(f"sip:carol@127.0.0.3:{carol}"), "action_id": "q"}  # fmt: skip


@pytest.fixture
def service(start_service: StartService, ports: dict[str, str]) -> Service:
    return start_service(admin_conf(), files={"pjsip.conf": PJSIP.format(**ports)})


def expected(name: str, ports: dict[str, str]) -> bytes:
    text = (DATA / name).read_bytes().decode()
    for key, value in ports.items():
        text = text.replace("{" + key + "}", value)
    return text.encode()


def conversation(service: Service, action: bytes, last: bytes) -> bytes:
    with RawAmi(service.port) as ami:
        ami.login()
        ami.send(action)
        return ami.read_until(last)


@pytest.mark.parametrize("name", ["alice", "carol"])
def test_show_endpoint_as_asterisk_23(service: Service, ports: dict[str, str], name: str) -> None:
    got = conversation(
        service,
        f"Action: PJSIPShowEndpoint\r\nEndpoint: {name}\r\nActionID: q\r\n\r\n".encode(),
        b"ListItems: 4\r\n\r\n",
    )
    assert got == expected(f"pjsip_show_endpoint_{name}.txt", ports)
    assert len(got) > 4000


def test_show_registrations_inbound_lists_static_contacts_too(
    service: Service, ports: dict[str, str]
) -> None:
    got = conversation(
        service,
        b"Action: PJSIPShowRegistrationsInbound\r\nActionID: q\r\n\r\n",
        b"ListItems: 3\r\n\r\n",
    )
    assert got == expected("pjsip_show_registrations_inbound.txt", ports)


def test_inbound_contact_statuses_list_registered_contacts_only(service: Service, uas: Uas) -> None:
    empty = conversation(
        service,
        b"Action: PJSIPShowRegistrationInboundContactStatuses\r\nActionID: q\r\n\r\n",
        b"ListItems: 0\r\n\r\n",
    )
    assert empty == (
        b"Response: Success\r\nActionID: q\r\nEventList: start\r\n"
        b"Message: Following are ContactStatusEvents for each Inbound registration\r\n\r\n"
        b"Event: ContactStatusDetailComplete\r\nActionID: q\r\nEventList: Complete\r\n"
        b"ListItems: 0\r\n\r\n"
    )
    port = free_port()
    bob = uas(
        "uac_register.xml",
        port=port,
        extra=(
            f"127.0.0.1:{service.sip_port()}", "-set", "user", "bob", "-set", "contact",
            f"sip:bob@127.0.0.1:{port}", "-set", "expires", "600", "-au", "bob", "-ap",
            "bobpass", "-oocsf", str(SCENARIOS / "uas_notify.xml"),
        ),
    )  # fmt: skip
    assert bob.finish() == 0
    listed = conversation(
        service,
        b"Action: PJSIPShowRegistrationInboundContactStatuses\r\nActionID: q\r\n\r\n",
        b"ListItems: 1\r\n\r\n",
    )
    item = listed.split(b"\r\n\r\n")[1]
    names = [line.split(b":")[0] for line in item.split(b"\r\n")]
    assert names == [
        b"Event", b"ActionID", b"AOR", b"URI", b"UserAgent", b"RegExpire", b"ViaAddress",
        b"CallID", b"Status", b"RoundtripUsec", b"EndpointName", b"ID", b"AuthenticateQualify",
        b"OutboundProxy", b"Path", b"QualifyFrequency", b"QualifyTimeout", b"Qualify2xxOnly",
    ]  # fmt: skip
    assert f"\r\nViaAddress: 127.0.0.1:{port}\r\n".encode() in item
    assert re.search(rb"\r\nID: bob;@[0-9a-f]{32}\r\n", item)

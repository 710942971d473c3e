"""The PJSIP show actions in memory, byte for byte against Asterisk 23's captures (the same
data files the integration test reads), and their lists and errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sipnotify.registrar.registry import Registry
from sipnotify.sip.registrar import Binding, Decision
from sipnotify.storage.sqlite import SqliteContactStore
from tests.ami.helpers import Session, context
from tests.integration.test_pjsip_show_asterisk23 import PJSIP, expected

PORTS = {"sip_port": "5999", "alice_port": "6001", "carol_port": "6003", "action_id": "q"}
PORTS["alice_md5"] = hashlib.md5(b"sip:alice@127.0.0.1:6001").hexdigest()
PORTS["carol_md5"] = hashlib.md5(b"sip:carol@127.0.0.3:6003").hexdigest()
ADMIN = "Action: Login\r\nUsername: admin\r\nSecret: s3cret\r\nEvents: off\r\n\r\n"


def session(registry: Registry | None = None) -> Session:
    made = Session(context(pjsip_conf=PJSIP.format(**PORTS), registry=registry))
    made.send(ADMIN)
    return made


@pytest.mark.parametrize("name", ["alice", "carol"])
def test_show_endpoint_is_asterisk_23_byte_for_byte(name: str) -> None:
    got = session().wire(f"Action: PJSIPShowEndpoint\r\nEndpoint: {name}\r\nActionID: q\r\n\r\n")
    assert got == expected(f"pjsip_show_endpoint_{name}.txt", PORTS)


def test_show_registrations_inbound_is_asterisk_23_byte_for_byte() -> None:
    got = session().wire("Action: PJSIPShowRegistrationsInbound\r\nActionID: q\r\n\r\n")
    assert got == expected("pjsip_show_registrations_inbound.txt", PORTS)


@pytest.mark.parametrize(
    ("action", "event", "names"),
    [
        ("PJSIPShowEndpoints", "EndpointList", ["alice", "bob", "carol"]),
        ("PJSIPShowAors", "AorList", ["alice", "bob", "carol"]),
        ("PJSIPShowAuths", "AuthList", ["bob-auth"]),
    ],
)
def test_lists_name_every_object_in_order(action: str, event: str, names: list[str]) -> None:
    messages = session().run(f"Action: {action}\r\nActionID: l\r\n\r\n")
    assert messages[0]["EventList"] == "start"
    items = [m for m in messages if m.get("Event") == event]
    assert [m["ObjectName"] for m in items] == names
    assert messages[-1]["ListItems"] == str(len(names))


def test_contacts_list_registered_contacts_with_their_state() -> None:
    registry = Registry(SqliteContactStore(Path(":memory:")), 0.0)
    made = session(registry)
    assert made.run("Action: PJSIPShowContacts\r\n\r\n")[0]["Message"] == "No Contacts found\n"
    bob = Binding(aor="bob", uri="sip:bob@192.0.2.7:5060", expires_at=5000.0, endpoint="bob")
    registry.apply(Decision(200, "OK", store=(bob,)), lambda _b, _c: None)
    messages = made.run("Action: PJSIPShowContacts\r\n\r\n")
    (item,) = [m for m in messages if m.get("Event") == "ContactList"]
    assert (item["Uri"], item["Endpoint"], item["Status"]) == (bob.uri, "bob", "NonQualified")
    statuses = made.run("Action: PJSIPShowRegistrationInboundContactStatuses\r\n\r\n")
    assert [m["URI"] for m in statuses if m.get("Event") == "ContactStatusDetail"] == [bob.uri]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("Action: PJSIPShowEndpoint\r\n\r\n", "PJSIPShowEndpoint requires an endpoint name\n"),
        ("Action: PJSIPShowEndpoint\r\nEndpoint: zed\r\n\r\n", "Unable to retrieve endpoint zed\n"),
        ("Action: PJSIPQualify\r\n\r\n", "Endpoint parameter missing."),
        ("Action: PJSIPQualify\r\nEndpoint: zed\r\n\r\n", "Unable to retrieve endpoint\n"),
    ],
)
def test_show_and_qualify_refusals(raw: str, message: str) -> None:
    (answer,) = session().run(raw)
    assert (answer["Response"], answer["Message"]) == ("Error", message)


def test_qualify_answers_then_sends_options_to_every_contact() -> None:
    made = session()
    messages = made.run("Action: PJSIPQualify\r\nEndpoint: PJSIP/alice\r\n\r\n")
    assert messages[0]["Message"] == "Endpoint found, will qualify"

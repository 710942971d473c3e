"""Registration events: which ones a change produces, and when PeerStatus and
DeviceStateChange are left out (the endpoint still has, or already had, another contact)."""

from __future__ import annotations

from sipnotify.ami.contact_events import registration
from sipnotify.registrar.registry import Change
from sipnotify.registrar.service import ContactChange
from sipnotify.sip.registrar import Binding

BOB = Binding(aor="bob", uri="sip:bob@192.0.2.1:5060", expires_at=100.0, endpoint="bob")


def names(change: Change, remaining: int, *, qualified: bool = False) -> list[str]:
    return [e.name for e in registration(ContactChange(BOB, change, remaining, qualified))]


def test_first_and_last_contacts_change_the_peer_and_device() -> None:
    assert names(Change.CREATED, 1) == ["PeerStatus", "ContactStatus", "DeviceStateChange"]
    assert names(Change.REMOVED, 0) == ["PeerStatus", "DeviceStateChange", "ContactStatus"]


def test_other_contacts_keep_the_peer_and_device_as_they_were() -> None:
    assert names(Change.CREATED, 2) == ["ContactStatus"]
    assert names(Change.REMOVED, 1) == ["ContactStatus"]
    assert names(Change.UPDATED, 1) == []


def test_a_qualified_aor_starts_unknown() -> None:
    (event,) = registration(ContactChange(BOB, Change.CREATED, 3, qualified=True))
    assert ("ContactStatus", "Unknown") in event.fields

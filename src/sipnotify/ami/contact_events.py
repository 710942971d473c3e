"""The AMI events of registrations and qualify answers, as Asterisk 23 sends them.

A new contact: `PeerStatus` (Reachable, when the endpoint had no contact before, class
`system`), `ContactStatus` (NonQualified, or Unknown until its AOR's first qualify), and
`DeviceStateChange` (NOT_INUSE, class `call`). A refresh: nothing. A contact removed (un-REGISTER
or expiry): `PeerStatus` Unreachable and `DeviceStateChange` UNAVAILABLE when it was the
endpoint's last, and `ContactStatus` Removed. Qualify answers: `ContactStatus` Reachable or
Unreachable with the round-trip time.
"""

from __future__ import annotations

from sipnotify.ami.audience import Broadcast
from sipnotify.ami.codec import Fields
from sipnotify.config import permissions
from sipnotify.registrar.reachability import State
from sipnotify.registrar.registry import Change
from sipnotify.registrar.service import ContactChange
from sipnotify.sip.registrar import Binding


def registration(changed: ContactChange) -> list[Broadcast]:
    """The events of one change; `remaining` is how many contacts (static and registered)
    the endpoint has after it."""
    binding, change = changed.binding, changed.change
    remaining, qualified = changed.remaining, changed.qualified
    if change is Change.UPDATED:
        return []
    if change is Change.CREATED:
        status = "Unknown" if qualified else "NonQualified"
        first = remaining == 1
        peer = [_peer(binding.endpoint, "Reachable")] if first else []
        device = [_device(binding.endpoint, "NOT_INUSE")] if first else []
        return [*peer, _contact(binding, status), *device]
    last = remaining == 0
    peer = [_peer(binding.endpoint, "Unreachable")] if last else []
    device = [_device(binding.endpoint, "UNAVAILABLE")] if last else []
    return [*peer, *device, _contact(binding, "Removed")]


def _contact(binding: Binding, status: str) -> Broadcast:
    fields = (("URI", binding.uri), ("ContactStatus", status), ("AOR", binding.aor),
              ("EndpointName", binding.endpoint), ("RoundtripUsec", "0"))  # fmt: skip
    return Broadcast("ContactStatus", permissions.SYSTEM, fields)


def _peer(endpoint: str, status: str) -> Broadcast:
    fields = (("ChannelType", "PJSIP"), ("Peer", f"PJSIP/{endpoint}"), ("PeerStatus", status))
    return Broadcast("PeerStatus", permissions.SYSTEM, fields)


def _device(endpoint: str, state: str) -> Broadcast:
    fields = (("Device", f"PJSIP/{endpoint}"), ("State", state))
    return Broadcast("DeviceStateChange", permissions.CALL, fields)


def reachability(aor: str, endpoint: str, uri: str, state: State) -> Fields:
    rtt = str(round(state.rtt * 1_000_000)) if state.rtt is not None else "0"
    return (
        ("URI", uri),
        ("ContactStatus", state.status),
        ("AOR", aor),
        ("EndpointName", endpoint),
        ("RoundtripUsec", rtt),
    )

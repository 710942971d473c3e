"""The AMI `ContactStatus` event, from registrations and from qualify answers.

Fields: URI, ContactStatus (Created, Updated, Removed, Reachable, Unreachable), AOR,
EndpointName, RoundtripUsec; registration changes add UserAgent, RegExpire, ViaAddress and
CallID. Class `system`.
"""

from __future__ import annotations

from sipnotify.ami.codec import Fields
from sipnotify.reachability import State
from sipnotify.sip.registrar import Binding


def registration(binding: Binding, change: str) -> Fields:
    return (
        ("URI", binding.uri),
        ("ContactStatus", change),
        ("AOR", binding.aor),
        ("EndpointName", binding.endpoint),
        ("RoundtripUsec", "0"),
        ("UserAgent", binding.user_agent),
        ("RegExpire", str(int(binding.expires_at))),
        ("ViaAddress", f"{binding.via_addr}:{binding.via_port}"),
        ("CallID", binding.call_id),
    )


def reachability(aor: str, endpoint: str, uri: str, state: State) -> Fields:
    rtt = str(round(state.rtt * 1_000_000)) if state.rtt is not None else "0"
    return (
        ("URI", uri),
        ("ContactStatus", state.status),
        ("AOR", aor),
        ("EndpointName", endpoint),
        ("RoundtripUsec", rtt),
    )

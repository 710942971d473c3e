"""Where a request leaves from and goes to, as the user agent and its users name them.

Values only: `Hop` (a destination before routing), `Local` (the address a request leaves
from, for Via and Contact), `Destination` (a routed one), and the text forms RFC 3261 gives
them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sipnotify.sip.uri import SipUri

Address = tuple[str, int]
Flow = tuple[str, Address]  # (protocol, peer address) of a TCP/TLS connection


@dataclass(frozen=True, slots=True)
class Local:
    """The address a request leaves from, for its Via and Contact."""

    protocol: str
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a request is sent: the transport section, protocol and resolved address."""

    transport: str
    protocol: str
    address: Address
    server_name: str


@dataclass(frozen=True, slots=True)
class Hop:
    """Where a request is headed before routing: the target URI, the endpoint's transport
    section and outbound proxy, and the TCP/TLS flow the contact registered on, if any."""

    uri: SipUri
    transport: str = ""
    proxy: str = ""
    flow: Flow | None = None


def bracketed(host: str) -> str:
    """A host as it stands in a URI or a Via: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def via(local: Local, branch: str) -> str:
    """Our Via for a request leaving from `local` (RFC 3261 §18.1.1): `rport` asked for
    (RFC 3581) and, over TCP/TLS, `alias` (RFC 5923), as pjsip sends it."""
    alias = "" if local.protocol == "udp" else ";alias"
    sent_by = f"{bracketed(local.host)}:{local.port}"
    return f"SIP/2.0/{local.protocol.upper()} {sent_by};rport;branch={branch}{alias}"

"""Where a request leaves from and goes to, as the user agent and its users name them.

Values only: `Hop` (a destination before routing), `Local` (the address a request leaves
from, for Via and Contact), `Destination` (a routed one), and the text forms RFC 3261 gives
them. Compiled values (sip/value.py): a Hop is made for every NOTIFY and is the key of the
router's cache.
"""

from __future__ import annotations

from typing import Final as Fixed
from typing import final

from sipnotify.sip.uri import SipUri
from sipnotify.sip.value import Value

Address = tuple[str, int]
Flow = tuple[str, Address]  # (protocol, peer address) of a TCP/TLS connection


@final
class Local(Value):
    """The address a request leaves from, for its Via and Contact."""

    __match_args__ = ("protocol", "host", "port")

    def __init__(self, protocol: str, host: str, port: int) -> None:
        self.protocol: Fixed = protocol
        self.host: Fixed = host
        self.port: Fixed = port


@final
class Destination(Value):
    """Where a request is sent: the transport section, protocol and resolved address."""

    __match_args__ = ("transport", "protocol", "address", "server_name")

    def __init__(self, transport: str, protocol: str, address: Address, server_name: str) -> None:
        self.transport: Fixed = transport
        self.protocol: Fixed = protocol
        self.address: Fixed = address
        self.server_name: Fixed = server_name


@final
class Hop(Value):
    """Where a request is headed before routing: the target URI, the endpoint's transport
    section and outbound proxy, and the TCP/TLS flow the contact registered on, if any."""

    __match_args__ = ("uri", "transport", "proxy", "flow")

    def __init__(self, uri: SipUri, transport: str = "", proxy: str = "",
                 flow: Flow | None = None) -> None:  # fmt: skip
        self.uri: Fixed = uri
        self.transport: Fixed = transport
        self.proxy: Fixed = proxy
        self.flow: Fixed = flow


def bracketed(host: str) -> str:
    """A host as it stands in a URI or a Via: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def via(local: Local, branch: str) -> str:
    """Our Via for a request leaving from `local` (RFC 3261 §18.1.1): `rport` asked for
    (RFC 3581) and, over TCP/TLS, `alias` (RFC 5923), as pjsip sends it."""
    alias = "" if local.protocol == "udp" else ";alias"
    sent_by = f"{bracketed(local.host)}:{local.port}"
    return f"SIP/2.0/{local.protocol.upper()} {sent_by};rport;branch={branch}{alias}"

"""Choosing a transport and addresses for a request: RFC 3263 without DNS records.

The next hop is the outbound proxy, else the target URI; its host and port, over the
endpoint's transport, else the URI's `transport=` (UDP by default, TLS for sips:). A contact
that registered over TCP or TLS is reached over that connection while it is open (RFC
5626-style flow reuse), wherever its Contact URI points. Our own address in Via and Contact is
the transport's, or the one the kernel picks towards the peer for a wildcard bind.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from ipaddress import ip_address

from sipnotify.config.pjsip import PjsipConfig, Transport
from sipnotify.sip.transactions.exchange import Link
from sipnotify.sip.uri import SipUri, parse_uri
from sipnotify.transport.udp import UdpTransport
from sipnotify.ua.addresses import Address, Destination, Hop, Local, bracketed
from sipnotify.ua.transports import Transports

# Routes to IP addresses are remembered (they change only on reload, which forgets them);
# past this many the memory starts afresh, so arbitrary URIs cannot grow it without bound.
ROUTE_CACHE = 4096
Routed = tuple[Local, Destination]


class Router:
    def __init__(self, config: PjsipConfig, transports: Transports) -> None:
        self.config = config
        self._transports = transports
        self._routes: dict[Hop, Routed] = {}
        self._local_ips: dict[str, str] = {}

    def reconfigure(self, config: PjsipConfig) -> None:
        self.config = config
        self._routes.clear()

    def route_now(self, hop: Hop) -> Routed | None:
        """The route, or None when the host is a name that must be resolved first (`route`).
        Raises OSError when there is no transport for it."""
        if hop.flow is not None and self._transports.has_flow(*hop.flow):
            return self._over_flow(*hop.flow)
        known = self._routes.get(hop)
        if known is not None:
            return known
        chosen, host, port = self._next_hop(hop)
        address = _literal(host)
        if address is None:
            return None
        routed = self._routes[hop] = self._routed(chosen, host, address, port)
        if len(self._routes) > ROUTE_CACHE:
            self._routes.clear()
        return routed

    async def route(self, hop: Hop) -> Routed:
        routed = self.route_now(hop)
        if routed is not None:
            return routed
        chosen, host, port = self._next_hop(hop)
        address = await _resolve(host, port, chosen.protocol)
        return self._routed(chosen, host, address, port)

    def contact_for(self, link: Link, peer: str) -> str:
        """Our URI as `peer` reaches us over `link` (RFC 3261 §8.1.1.8), for Contact."""
        host, port = self.local_address(link, peer)
        suffix = "" if link.protocol == "udp" else f";transport={link.protocol.upper()}"
        return f"sip:{bracketed(host)}:{port}{suffix}"

    def local_address(self, link: Link, peer: str) -> tuple[str, int]:
        """Our address and port as `peer` reaches us over `link` (an IPv6 one unbracketed)."""
        if isinstance(link, UdpTransport):
            host, port = link.host, link.port
        else:
            chosen = self._first(link.protocol)
            host, port = chosen.host, self._transports.local_port(chosen)
        if host in ("0.0.0.0", "::"):
            host = self.source_ip(peer)
        return host, port

    def source_ip(self, destination: str) -> str:
        """The local address the kernel picks for `destination` (no packet is sent)."""
        known = self._local_ips.get(destination)
        if known is None:
            family = socket.AF_INET6 if ":" in destination else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect((destination, 9))
                known = str(probe.getsockname()[0])
            if len(self._local_ips) >= ROUTE_CACHE:  # one per peer that reached us: bounded
                self._local_ips.clear()
            self._local_ips[destination] = known
        return known

    def _next_hop(self, hop: Hop) -> tuple[Transport, str, int]:
        proxy = hop.proxy
        uri = parse_uri(proxy.strip().removeprefix("<").removesuffix(">")) if proxy else hop.uri
        chosen = self._transport_for(hop.transport, uri)
        port = uri.port or (5061 if chosen.protocol == "tls" else 5060)
        return chosen, uri.host.strip("[]"), port

    def _routed(self, chosen: Transport, host: str, address: str, port: int) -> Routed:
        local_host = chosen.host
        if local_host in ("0.0.0.0", "::"):
            local_host = self.source_ip(address)
        local = Local(chosen.protocol, local_host, self._transports.local_port(chosen))
        return local, Destination(chosen.name, chosen.protocol, (address, port), host)

    def _over_flow(self, protocol: str, address: Address) -> Routed:
        chosen = self._first(protocol)
        host = chosen.host
        if host in ("0.0.0.0", "::"):
            host = self.source_ip(address[0])
        local = Local(protocol, host, self._transports.local_port(chosen))
        return local, Destination(chosen.name, protocol, address, address[0])

    def _first(self, protocol: str) -> Transport:
        return next(t for t in self._transports.config.values() if t.protocol == protocol)

    def _transport_for(self, name: str, uri: SipUri) -> Transport:
        transports = self._transports.config
        if name:
            chosen = transports.get(name)
            if chosen is None:  # added by a reload: transports bind at start
                raise OSError(f"transport {name} is not running; it starts at the next start")
            return chosen
        wanted = "tls" if uri.secure else (uri.param("transport") or "udp").lower()
        for transport in transports.values():
            if transport.protocol == wanted:
                return transport
        raise OSError(f"no {wanted} transport in pjsip.conf")


@functools.lru_cache(maxsize=ROUTE_CACHE)
def _literal(host: str) -> str | None:
    """The host as an IP address, or None for a name (many contacts share one address)."""
    try:
        return str(ip_address(host))
    except ValueError:
        return None


async def _resolve(host: str, port: int, protocol: str) -> str:
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=kind)
    if not infos:
        raise OSError(f"cannot resolve {host}")
    return str(infos[0][4][0])

"""Choosing the transport and addresses of a request (RFC 3263 without DNS records), on
transports that are configured but not bound: no sockets."""

from __future__ import annotations

import pytest

from sipnotify.config.parser import parse_text
from sipnotify.config.pjsip import load_pjsip
from sipnotify.sip.uri import parse_uri
from sipnotify.transport.stream import Limits
from sipnotify.ua.addresses import Destination, Hop, Local
from sipnotify.ua.routing import ROUTE_CACHE, Router
from sipnotify.ua.transports import Transports

PJSIP = """
[tcp]
type=transport
protocol=tcp
bind=192.0.2.5:5070
[tls]
type=transport
protocol=tls
bind=192.0.2.5:5071
"""


def router(conf: str = PJSIP) -> Router:
    config, _ = load_pjsip(parse_text(conf, name="pjsip.conf"))
    transports = Transports(config.transports, limits=Limits(), connect_timeout=32.0)
    return Router(config, transports)


def test_an_address_is_routed_over_the_transport_its_uri_asks_for() -> None:
    routed = router().route_now(Hop(parse_uri("sip:bob@198.51.100.9:5080;transport=tcp")))
    assert routed == (
        Local("tcp", "192.0.2.5", 5070),
        Destination("tcp", "tcp", ("198.51.100.9", 5080), "198.51.100.9"),
    )


def test_sips_goes_over_tls_on_5061_by_default() -> None:
    routed = router().route_now(Hop(parse_uri("sips:bob@198.51.100.9")))
    assert routed is not None
    local, destination = routed
    assert local == Local("tls", "192.0.2.5", 5071)
    assert destination.address == ("198.51.100.9", 5061)


def test_the_outbound_proxy_is_the_next_hop() -> None:
    hop = Hop(parse_uri("sip:bob@example.com"), "tcp", "<sip:198.51.100.1:5090;lr>")
    routed = router().route_now(hop)
    assert routed is not None
    assert routed[1].address == ("198.51.100.1", 5090)


def test_a_name_must_be_resolved_first() -> None:
    assert router().route_now(Hop(parse_uri("sip:bob@phones.example.com;transport=tcp"))) is None


@pytest.mark.parametrize(
    ("hop", "message"),
    [
        (Hop(parse_uri("sip:bob@198.51.100.9"), "added-later"), "transport added-later is not"),
        (Hop(parse_uri("sip:bob@198.51.100.9")), "no udp transport in pjsip.conf"),
    ],
)
def test_no_transport_for_it_is_an_error(hop: Hop, message: str) -> None:
    with pytest.raises(OSError, match=message):
        router().route_now(hop)


def test_routes_are_remembered_until_a_reload() -> None:
    made = router()
    hop = Hop(parse_uri("sip:bob@198.51.100.9;transport=tcp"))
    first = made.route_now(hop)
    assert first is not None
    again = made.route_now(hop)  # compiled, the pair is a new tuple of the same two values
    assert again is not None
    assert again[0] is first[0]
    assert again[1] is first[1]
    made.reconfigure(made.config)
    after = made.route_now(hop)
    assert after is not None
    assert after[1] is not first[1]


def test_the_local_address_kept_for_each_peer_is_bounded() -> None:
    """Bound to 0.0.0.0, every peer that reaches us gets the local address the kernel picks
    for it: a scanner writing from ever new addresses must not grow that memory for good."""
    made = router()
    peers = [f"127.{n // 65536}.{n // 256 % 256}.{n % 256}" for n in range(1, ROUTE_CACHE + 50)]
    assert {made.source_ip(peer) for peer in peers} == {"127.0.0.1"}
    assert len(made._local_ips) <= ROUTE_CACHE

"""The PJSIPNotify rules of behaviour: notify content, notify request, without sockets."""

from __future__ import annotations

import asyncio
import gc
import itertools
import re
from dataclasses import replace

import pytest

from sipnotify.config.notify import load_notify
from sipnotify.config.parser import parse_text
from sipnotify.config.pjsip import Endpoint, PjsipConfig, load_pjsip
from sipnotify.notify.content import NotifyContent, NotifyError, build_content
from sipnotify.notify.notifier import SLICE, Notifier, NotifyResult
from sipnotify.notify.requests import credentials_for, request_factory
from sipnotify.notify.targets import (
    aor_targets,
    endpoint_targets,
    first_route,
    target_hop,
    uri_target,
)
from sipnotify.sip.ids import Ids
from sipnotify.sip.message import Outgoing, Request, serialize
from sipnotify.sip.parser import parse_message
from sipnotify.sip.registrar import Binding
from sipnotify.ua.addresses import Local
from tests.ami.helpers import FakeSender


def content(*items: tuple[str, str], from_ami: bool = True) -> NotifyContent:
    return build_content(items, from_ami=from_ami)


def test_content_lines_join_with_crlf_and_a_final_empty_line_adds_one() -> None:
    c = content(("Content-Type", "a/b"), ("Content", "x"), ("Content", "y"), ("Content", ""))
    assert (c.content_type, c.body) == ("a/b", "x\r\ny\r\n")
    assert content(("Content", ""), ("Content", "x")).body == "x"  # a leading empty adds nothing


def test_reserved_names_dropped_case_insensitively_compact_forms_too() -> None:
    names = ("call-id", "CONTACT", "Cseq", "to", "From", "record-route", "Route", "Request-Uri",
             "via", "i", "m", "T", "f", "v")  # fmt: skip
    items = [(n, "bad") for n in names]
    assert content(*items, ("X-Ok", "1")).headers == (("X-Ok", "1"),)


def test_compact_forms_are_the_headers_they_stand_for() -> None:
    c = content(("Event", "a"), ("o", "b"), ("l", "0"), ("c", "text/plain"), ("Content", "x"))
    assert c.headers == (("Event", "a"),)
    assert (c.content_type, c.body) == ("text/plain", "x")


def test_single_event_and_content_length_always_computed() -> None:
    c = content(("Event", "a"), ("event", "b"), ("Content-Length", "9"))
    assert c.headers == (("Event", "a"),)
    preset = content(("Content-Length", "9"), ("l", "7"), from_ami=False)
    assert preset.headers == ()


def test_later_content_type_wins_and_duplicates_are_kept_in_order() -> None:
    c = content(("Content-type", "a/b"), ("X-A", "1"), ("Content-Type", "c/d"), ("X-A", "2"))
    assert c.content_type == "c/d"
    assert c.headers == (("X-A", "1"), ("X-A", "2"))


def test_content_type_without_content_sends_an_empty_body() -> None:
    conf = config()
    target = endpoint_targets(conf, "alice")[0]
    c = content(("Content-Type", "application/x-empty"))
    request = wire(request_factory(target, c, HERE, conf, ids=Ids())(1, ()))
    assert request.header("Content-Type") == "application/x-empty"
    assert request.body == b""
    assert serialize(request).endswith(b"Content-Length:  0\r\n\r\n")
    odd = content(("Content-Type", "plain"), ("Content", "x"))
    built = wire(request_factory(target, odd, HERE, conf, ids=Ids())(1, ()))
    assert built.header("Content-Type") == "plain/"  # a missing subtype is empty


@pytest.mark.parametrize(
    "item", [("X-A", "a\rb"), ("X-A", "a\nb"), ("X-A", "\x00"), ("X\rA", "v"), (" X-A", "v")]
)
def test_injection_is_refused(item: tuple[str, str]) -> None:
    with pytest.raises(NotifyError):
        content(item)


CONF = """
[t]
type=transport
protocol=udp
[a1]
type=aor
contact=sip:alice@192.0.2.5:5070\\;transport=udp, sip:2001@192.0.2.6
[a2]
type=aor
contact=sip:alice@192.0.2.7
[creds]
type=auth
username=u
password=p
[alice]
type=endpoint
aors=a1, missing , a2
from_user=1000
from_domain=pbx.example.com
contact_user=desk
outbound_proxy=sip:proxy.example.com\\;lr
outbound_auth=creds
user_eq_phone=yes
[global]
type=global
user_agent=Test UA
max_forwards=42
default_outbound_endpoint=alice
"""


HERE = Local("udp", "192.0.2.1", 5060)


def config() -> PjsipConfig:
    loaded, warnings = load_pjsip(parse_text(CONF, name="pjsip.conf"))
    assert [w.message for w in warnings] == ["endpoint 'alice': AOR 'missing' does not exist"]
    return loaded


def test_endpoint_targets_cover_every_contact_of_every_existing_aor() -> None:
    targets = endpoint_targets(config(), "alice")
    assert [str(t.uri) for t in targets] == [
        "sip:alice@192.0.2.5:5070;transport=udp",
        "sip:2001@192.0.2.6",
        "sip:alice@192.0.2.7",
    ]
    with pytest.raises(NotifyError, match="Unable to retrieve endpoint nobody"):
        endpoint_targets(config(), "nobody")


def test_uri_target_checks() -> None:
    assert uri_target(config(), "<sip:x@192.0.2.9>").endpoint.name == "alice"
    with pytest.raises(NotifyError, match="not a valid SIP URI"):
        uri_target(config(), "http://example.com")


def wire(sent: Outgoing) -> Request:
    """The request as it goes on the wire, read back; it is what the Outgoing says it is."""
    request = parse_message(sent.data)
    assert isinstance(request, Request)
    assert (request.top_via.branch, request.method, request.uri) == (
        sent.branch,
        sent.method,
        sent.uri,
    )
    return request


def test_request_is_built_as_asterisk_builds_it() -> None:
    conf = config()
    target = endpoint_targets(conf, "alice")[1]
    c = content(("Event", "check-sync"), ("Content-Type", "text/plain"), ("Content", "hi"))
    build = request_factory(target, c, Local("tcp", "192.0.2.1", 5060), conf, ids=Ids())
    first = wire(build(100, ()))
    again = wire(build(101, (("Authorization", "Digest x"),)))
    assert first.uri == "sip:2001@192.0.2.6;user=phone"
    names = [n for n, _ in first.headers]
    assert names == [
        "Via", "From", "To", "Contact", "Call-ID", "CSeq", "Route", "Subscription-State",
        "Event", "Max-Forwards", "User-Agent", "Content-Type",
    ]  # fmt: skip
    assert re.fullmatch(
        r"SIP/2\.0/TCP 192\.0\.2\.1:5060;rport;branch=z9hG4bKPj[0-9a-f]{16}-[0-9a-f]+;alias",
        first.header("Via") or "",
    )
    assert (first.header("From") or "").startswith("<sip:1000@pbx.example.com>;tag=")
    assert first.header("To") == "<sip:2001@192.0.2.6>"
    assert first.header("Contact") == "<sip:desk@192.0.2.1:5060;transport=TCP>"
    assert first.header("Route") == "<sip:proxy.example.com;lr>"
    assert (first.header("Max-Forwards"), first.header("User-Agent")) == ("42", "Test UA")
    assert first.body == b"hi"
    assert b"\r\nContent-Length:     2\r\n" in serialize(first)
    assert again.call_id == first.call_id
    assert again.header("From") == first.header("From")
    assert again.top_via.branch != first.top_via.branch
    assert again.header("CSeq") == "101 NOTIFY"
    assert again.header("Authorization") == "Digest x"
    assert credentials_for(target.endpoint, conf)[0].username == "u"


def test_user_values_win_and_body_needs_a_content_type() -> None:
    conf = config()
    plain = Endpoint(name="p")
    target = uri_target(conf, "sip:5551234@192.0.2.9:5080")
    target = type(target)(endpoint=plain, uri=target.uri, label="")
    c = content(("User-Agent", "mine"), ("Content", "dropped"))
    request = wire(request_factory(target, c, HERE, conf, ids=Ids())(1, ()))
    assert request.header_values("User-Agent") == ["mine"]
    assert request.body == b""
    assert request.header("Content-Type") is None
    assert request.uri == "sip:5551234@192.0.2.9:5080"  # user_eq_phone is off for p
    assert (
        request.header(
            "From",
        )
        is not None
    )
    assert (request.header("From") or "").startswith("<sip:p@192.0.2.1>;tag=")
    assert request.header("Contact") == "<sip:p@192.0.2.1:5060>"


def test_a_registered_path_is_the_route_to_the_contact() -> None:
    """RFC 3327 §5.3: a contact registered through an edge is reached through it."""
    conf = config()
    path = "<sip:edge@198.51.100.1:5070;lr;received=sip:203.0.113.9:4321>, <sip:core;lr>"
    bob = Binding(aor="bob", uri="sip:bob@10.0.0.9:5060", expires_at=9e9, endpoint="bob",
                  path=path)  # fmt: skip
    alice = conf.endpoints["alice"]
    plain = replace(alice, outbound_proxy="")
    (target,) = aor_targets(plain, conf.aors["a2"], [bob])[-1:]
    assert target_hop(target).proxy == "sip:edge@198.51.100.1:5070;lr;received=sip:203.0.113.9:4321"
    request = wire(request_factory(target, content(("Event", "check-sync")), HERE, conf,
                                   ids=Ids())(1, ()))  # fmt: skip
    assert request.uri == "sip:bob@10.0.0.9:5060"
    assert request.header("Route") == path
    proxied = target.sent_as(alice)  # an outbound proxy of ours comes first
    assert target_hop(proxied).proxy == alice.outbound_proxy
    assert first_route("") == ""
    assert first_route("sip:a;lr, <sip:b>") == "sip:a;lr"


def _fan_out(count: int, step: float) -> tuple[list[str], list[int], list[NotifyResult]]:
    """A fan-out to `count` contacts, on a clock that moves `step` seconds each time it is
    read: the contact URIs, how many NOTIFYs were sent after each turn of the loop, and the
    results reported."""
    uris = [f"sip:u{n}@192.0.2.9:5060" for n in range(count)]
    config, _ = load_pjsip(parse_text(f"[m]\ntype=aor\ncontact={','.join(uris)}\n"
                                      "[m]\ntype=endpoint\naors=m\n"))  # fmt: skip
    presets, _ = load_notify(parse_text("", name="pjsip_notify.conf"))
    ticks = itertools.count(0.0, step)
    sent: list[int] = []
    results: list[NotifyResult] = []

    async def run() -> None:
        sender = FakeSender()
        notifier = Notifier(config=config, presets=presets, sender=sender,
                            ids=Ids("t", seed=1), clock=lambda: next(ticks))  # fmt: skip
        notifier.send(endpoint_targets(config, "m"), content(("Event", "x")), results.append)
        for _ in range(count + 1):  # one turn at least per contact
            sent.append(len(sender.sent))
            await asyncio.sleep(0)

    asyncio.run(run())
    return uris, sent, results


def test_a_large_fan_out_sends_a_slice_per_turn_and_reports_every_contact() -> None:
    step = SLICE / 2.5  # the clock is read before the first NOTIFY and after each
    uris, sent, results = _fan_out(17, step)
    assert sent[:7] == [3, 6, 9, 12, 15, 17, 17]  # the rest once the loop has turned
    assert [r.uri for r in results] == uris


def test_a_fan_out_slower_than_its_slice_still_sends_one_per_turn() -> None:
    uris, sent, results = _fan_out(4, 10 * SLICE)
    assert sent[:5] == [1, 2, 3, 4, 4]
    assert [r.uri for r in results] == uris


def test_a_fan_out_leaves_no_reference_cycles() -> None:
    """Each NOTIFY's builder and the fan-out's sending are freed as soon as they are done
    with, by reference counting. A cycle per NOTIFY (a closure compiled by mypyc is one) would
    wait for the collector's slower passes, a full pass of several milliseconds every few
    fan-outs of 1,000 contacts."""
    gc.collect()
    gc.disable()
    try:
        _, _, results = _fan_out(40, SLICE / 2.5)
        assert len(results) == 40
        assert gc.collect() == 0
    finally:
        gc.enable()


class _OnLoop(FakeSender):
    """A sender whose futures and callbacks run on a loop of the test's choosing."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._on = loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._on


def test_a_follow_up_future_is_made_on_the_senders_loop_without_a_running_one() -> None:
    config, _ = load_pjsip(parse_text(""))
    presets, _ = load_notify(parse_text("", name="pjsip_notify.conf"))
    loop = asyncio.new_event_loop()
    try:
        notifier = Notifier(config=config, presets=presets, sender=_OnLoop(loop),
                            ids=Ids("t", seed=1))  # fmt: skip
        with pytest.raises(RuntimeError):
            asyncio.get_running_loop()  # none runs here: the future cannot come from there
        assert notifier.future().get_loop() is loop
    finally:
        loop.close()

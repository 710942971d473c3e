"""Sending through the node that holds a contact's flow, between two relays joined by the
real item codec: the NOTIFY goes out from the holder over its flow, the answer comes back to
the request that asked; a stopped or silent holder is a clear failure."""

from __future__ import annotations

import asyncio

from sipnotify.cluster.outbox import batches
from sipnotify.cluster.relay import Relay
from sipnotify.config.notify import load_notify
from sipnotify.config.parser import parse_text
from sipnotify.config.pjsip import load_pjsip
from sipnotify.notify.content import NotifyContent
from sipnotify.notify.notifier import Notifier
from sipnotify.notify.targets import Target, endpoint_targets
from sipnotify.sip.ids import Ids
from sipnotify.sip.registrar import Binding
from sipnotify.sip.transactions.exchange import Final
from sipnotify.sip.transactions.machines import ErrorKind
from sipnotify.sip.uri import parse_uri
from tests.ami.helpers import FakeSender

PJSIP = "[bob]\ntype = aor\nmax_contacts = 1\n[bob]\ntype = endpoint\naors = bob\n"
CONTENT = NotifyContent((("Event", "check-sync"),))


class Wire:
    """The database between two relays: what one puts, the other is told, in payloads."""

    def __init__(self) -> None:
        self.items: list[object] = []

    def put(self, item: object) -> None:
        self.items.append(item)

    def deliver(self, to: Relay) -> None:
        waiting, self.items = self.items, []
        for text in batches(waiting):
            to.told(text)


def notifier(sender: FakeSender, config: str = PJSIP) -> Notifier:
    pjsip, _ = load_pjsip(parse_text(config, name="pjsip.conf"))
    presets, _ = load_notify(parse_text("", name="pjsip_notify.conf"))
    return Notifier(config=pjsip, presets=presets, sender=sender, ids=Ids("t", seed=1))


def tcp_target(owner: Notifier, node: str) -> Target:
    binding = Binding(aor="bob", uri="sip:bob@192.0.2.9:5070;transport=tcp", expires_at=1e12,
                      endpoint="bob", protocol="tcp", via_addr="198.51.100.7", via_port=40001,
                      reg_server=node)  # fmt: skip
    (target,) = endpoint_targets(owner.config, "bob", lambda _aor: [binding])
    return target


def test_the_holder_sends_over_its_flow_and_the_answer_comes_back() -> None:
    async def run() -> None:
        here, there = FakeSender(), FakeSender(Final(202, "Accepted", None, 0.004))
        a_out, b_out = Wire(), Wire()
        a_notifier, b_notifier = notifier(here), notifier(there)
        a = Relay(a_out, "a", notifier=a_notifier, alive=lambda _n: True)
        b = Relay(b_out, "b", notifier=b_notifier, alive=lambda _n: True)
        a_notifier.forward = a.forward
        results: list[Final] = []
        a_notifier.deliver(tcp_target(a_notifier, "b"), CONTENT, results.append)
        assert here.sent == []
        a_out.deliver(b)
        b_out.deliver(a)
        assert results == [Final(202, "Accepted", None, 0.004)]
        ((hop, request),) = there.sent
        assert hop.flow == ("tcp", ("198.51.100.7", 40001))
        assert request.data.startswith(b"NOTIFY sip:bob@192.0.2.9:5070;transport=tcp SIP/2.0")
        assert b"\r\nEvent: check-sync\r\n" in request.data

    asyncio.run(run())


def test_own_or_stopped_nodes_contacts_are_sent_from_here() -> None:
    async def run() -> None:
        here = FakeSender()
        owner = notifier(here)
        relay = Relay(Wire(), "a", notifier=owner, alive=lambda node: node != "dead")
        owner.forward = relay.forward
        done: list[Final] = []
        for node in ("a", "dead", ""):
            owner.deliver(tcp_target(owner, node), CONTENT, done.append)
        assert len(here.sent) == 3
        assert [f.status for f in done] == [200, 200, 200]

    asyncio.run(run())


def test_a_holder_that_stops_or_stays_silent_is_a_failure() -> None:
    async def run() -> None:
        owner = notifier(FakeSender())
        relay = Relay(Wire(), "a", notifier=owner, alive=lambda _n: True, wait=0.02)
        done: list[Final] = []
        assert relay.forward(tcp_target(owner, "b"), CONTENT, done.append)
        assert relay.forward(tcp_target(owner, "c"), CONTENT, done.append)
        relay.lost({"b"})
        assert [str(f.failure) for f in done] == [
            "transport error: node b, which holds its connection, stopped"
        ]
        for _ in range(100):
            if len(done) == 2:
                break
            await asyncio.sleep(0.01)
        assert done[1].failure is not None
        assert done[1].failure.kind is ErrorKind.TIMEOUT
        assert str(done[1].failure) == "timeout: no answer through node c"
        assert relay.forward(tcp_target(owner, "b"), CONTENT, done.append)
        relay.close()
        assert str(done[2].failure) == "shutting down"

    asyncio.run(run())


def test_a_request_for_an_endpoint_the_holder_lacks_is_answered_failed() -> None:
    async def run() -> None:
        a_out, b_out = Wire(), Wire()
        a_notifier = notifier(FakeSender())
        b_sender = FakeSender()
        a = Relay(a_out, "a", notifier=a_notifier, alive=lambda _n: True)
        b = Relay(b_out, "b", notifier=notifier(b_sender, ""), alive=lambda _n: True)
        done: list[Final] = []
        a.forward(tcp_target(a_notifier, "b"), CONTENT, done.append)
        a_out.deliver(b)
        b_out.deliver(a)
        assert b_sender.sent == []
        assert [str(f.failure) for f in done] == [
            "transport error: endpoint bob is not configured on b"
        ]

    asyncio.run(run())


def test_items_for_other_nodes_and_malformed_ones_are_left_alone() -> None:
    async def run() -> None:
        sender = FakeSender()
        relay = Relay(Wire(), "b", notifier=notifier(sender), alive=lambda _n: True)
        relay.told('[["send","c","a",1,"bob","sip:bob@h","bob",null,[],null,""]]')
        relay.told('[["send","b","a","x"]]')  # too short: logged, skipped
        relay.told('[["result","b",99,200,"OK",null,"",0.1]]')  # nothing asked: ignored
        assert sender.sent == []
        target = Target(notifier(sender).config.endpoints["bob"], parse_uri("sip:b@h"), "bob")
        assert target.node == ""

    asyncio.run(run())


def test_registered_contacts_carry_their_node_unless_they_have_a_path() -> None:
    owner = notifier(FakeSender())
    assert tcp_target(owner, "b").node == "b"
    pathed = Binding(aor="bob", uri="sip:bob@192.0.2.9", expires_at=1e12, endpoint="bob",
                     path="<sip:edge;lr>", reg_server="b")  # fmt: skip
    (target,) = endpoint_targets(owner.config, "bob", lambda _aor: [pathed])
    assert target.node == ""

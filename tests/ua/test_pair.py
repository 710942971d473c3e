"""A UAC and a UAS in memory, talking through the transaction layer on a clock stepped by
hand: requests with and without digest challenges, lost datagrams and retransmissions, and an
INVITE answered, acknowledged, hung up and cancelled. No sockets, no sleeping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sipnotify.config.parser import parse_text
from sipnotify.config.pjsip import load_pjsip
from sipnotify.registrar.registry import Registry
from sipnotify.registrar.service import ContactChange, Registrar
from sipnotify.sip.auth import Credentials
from sipnotify.sip.ids import Ids
from sipnotify.sip.message import Outgoing, Request, Response, outgoing
from sipnotify.sip.parser import parse_message
from sipnotify.sip.responses import Reply
from sipnotify.sip.transactions.exchange import Exchange, Final
from sipnotify.sip.transactions.layer import InviteTransaction
from sipnotify.sip.transactions.machines import (
    TIMEOUT,
    Outcome,
    Passed,
    State,
    Timers,
    cancel_for,
)
from sipnotify.storage.sqlite import SqliteContactStore
from sipnotify.ua.client import OutgoingInvite
from sipnotify.ua.server import IncomingInvite, Uas
from tests.ua.memory import MemoryHost, MemoryLink

PJSIP = """
[alice]
type=endpoint
aors=alice
auth=alice-auth
[alice-auth]
type=auth
username=alice
password=wonderland
[alice]
type=aor
max_contacts=1
"""
UAC = ("192.0.2.1", 5060)
UAS = ("192.0.2.5", 5060)
TIMERS = Timers(t1=0.5, t2=4.0, t4=5.0, timeout=32.0)
Drop = Callable[[bytes], bool]


@dataclass
class Calls:
    """The calls layer at the UAS's edge: keeps what it is handed; the test answers."""

    invites: list[IncomingInvite] = field(default_factory=list)
    acks: list[Request] = field(default_factory=list)
    cancelled: list[IncomingInvite] = field(default_factory=list)
    in_dialog_requests: list[Request] = field(default_factory=list)

    def invite(self, invite: IncomingInvite) -> None:
        self.invites.append(invite)

    def ack(self, request: Request) -> None:
        self.acks.append(request)

    def cancel(self, invite: IncomingInvite) -> None:
        self.cancelled.append(invite)
        invite.respond(487, "Request Terminated")

    def in_dialog(self, request: Request) -> Reply:
        self.in_dialog_requests.append(request)
        return Reply(200, "OK")


class Pair:
    """The UAC's transaction layer and the UAS whole; `carry` moves what each side sent to
    the other, dropping what `drop` says."""

    def __init__(self, tmp_path: Path) -> None:
        self.client = MemoryHost(TIMERS)
        self.server = MemoryHost(TIMERS, contact="sip:192.0.2.5:5060")
        self.to_server = MemoryLink()  # the UAC's transport
        self.to_client = MemoryLink()  # the UAS's transport
        config, _ = load_pjsip(parse_text(PJSIP, name="pjsip.conf"))
        self.registry = Registry(SqliteContactStore(tmp_path / "contacts.sqlite3"), 0.0)
        self.changes: list[ContactChange] = []
        registrar = Registrar(config, self.registry, security=lambda _e: None,
                              contacts=self.changes.append, soon=lambda call: call())  # fmt: skip
        self.calls = Calls()
        self.uas = Uas(self.server, registrar=registrar, calls=self.calls, user_agent="uas",
                       ids=Ids("uas", 0), soon=lambda call: call(),
                       wall_clock=lambda: 1000.0 + self.server.clock)  # fmt: skip
        self.ids = Ids("uac", 0)
        self.received: list[bytes] = []  # requests the UAS got, in order

    def carry(self, drop: Drop = lambda _data: False) -> None:
        """Deliver everything in flight, both ways, until nothing moves."""
        for _ in range(20):
            upstream, self.to_server.sent = self.to_server.sent, []
            downstream, self.to_client.sent = self.to_client.sent, []
            if not upstream and not downstream:
                return
            for data, _ in upstream:
                if not drop(data):
                    self.received.append(data)
                    request = parse_message(data)
                    assert isinstance(request, Request)
                    self.uas.receive(request, UAC, self.to_client)
            for data, _ in downstream:
                if not drop(data):
                    self.client.receive_response(data)

    def advance(self, to: float, drop: Drop = lambda _data: False) -> None:
        """Step both clocks to `to`, carrying messages at every timer on the way."""
        while True:
            due = [t for t in (self.client.layer.get_timer(), self.server.layer.get_timer()) if t]
            if not due or min(due) > to:
                break
            self.client.advance(min(due))
            self.server.advance(min(due))
            self.carry(drop)
        self.client.advance(to)
        self.server.advance(to)

    def send(self, build: Callable[[int, tuple[tuple[str, str], ...]], Outgoing],
             credentials: list[Credentials] | None = None) -> Exchange:  # fmt: skip
        exchange = Exchange(build, self.to_server, UAS, credentials=credentials or [],
                            cseq=self.ids.cseq(), cnonce=self.ids)  # fmt: skip
        self.client.send(exchange)
        return exchange

    def invite(self) -> InviteTransaction:
        request = invite_request(self.ids)
        txn = self.client.layer.invite(request, self.to_server, UAS, self.client.clock)
        self.client.drain()
        return txn


def request_builder(
    method: str, ids: Ids, *, user: str = "alice", extra: tuple[tuple[str, str], ...] = ()
) -> Callable[[int, tuple[tuple[str, str], ...]], Outgoing]:
    """A request out of any dialog, as the notify layer builds one: the Call-ID and From tag
    kept across attempts, a new branch each time."""
    call_id, tag = ids(), ids()

    def build(cseq: int, authorization: tuple[tuple[str, str], ...]) -> Outgoing:
        headers = (
            ("Via", f"SIP/2.0/UDP 192.0.2.1:5060;rport;branch={ids.branch()}"),
            ("From", f"<sip:{user}@192.0.2.5>;tag={tag}"),
            ("To", f"<sip:{user}@192.0.2.5>"),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} {method}"),
            ("Contact", "<sip:alice@192.0.2.1:5060>"),
            *authorization,
            *extra,
            ("Max-Forwards", "70"),
        )
        return outgoing(Request(method=method, uri="sip:192.0.2.5", headers=headers))

    return build


def invite_request(ids: Ids) -> Request:
    headers = (
        ("Via", f"SIP/2.0/UDP 192.0.2.1:5060;rport;branch={ids.branch()}"),
        ("From", f"<sip:alice@192.0.2.1>;tag={ids()}"),
        ("To", "<sip:bob@192.0.2.5>"),
        ("Call-ID", ids()),
        ("CSeq", "1 INVITE"),
        ("Contact", "<sip:alice@192.0.2.1:5060>"),
        ("Max-Forwards", "70"),
    )
    return Request(method="INVITE", uri="sip:bob@192.0.2.5", headers=headers)


def final_of(pair: Pair, exchange: Exchange) -> Final:
    assert exchange in pair.client.finals, "the exchange has not ended"
    return pair.client.finals[exchange]


def first_line(data: bytes) -> str:
    return data.split(b"\r\n", 1)[0].decode()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    made = Pair(tmp_path)
    yield made
    made.registry.close()


# -- non-INVITE ----------------------------------------------------------------------------


def test_options_is_answered_at_once_with_the_round_trip_on_the_clock(pair: Pair) -> None:
    exchange = pair.send(request_builder("OPTIONS", pair.ids))
    pair.client.advance(0.04)  # the answer takes 40 ms to come back
    pair.carry()
    assert final_of(pair, exchange) == Final(200, "OK", None, 0.04)


def test_a_lost_request_is_sent_again_by_timer_e_and_answered_once(pair: Pair) -> None:
    exchange = pair.send(request_builder("OPTIONS", pair.ids))
    pair.carry(drop=lambda _data: True)  # the first OPTIONS is lost
    assert pair.received == []
    pair.advance(0.5)  # Timer E
    assert len(pair.received) == 1
    assert final_of(pair, exchange).status == 200


def test_a_lost_answer_is_repeated_from_the_server_transaction(pair: Pair) -> None:
    exchange = pair.send(request_builder("OPTIONS", pair.ids))
    pair.carry(drop=lambda data: data.startswith(b"SIP/2.0"))  # the 200 is lost
    assert exchange not in pair.client.finals
    pair.advance(0.5)  # the retransmitted OPTIONS meets the stored 200
    assert final_of(pair, exchange).status == 200
    assert len(pair.received) == 2
    assert pair.server.layer.open_servers == 1  # Timer J keeps absorbing copies
    pair.advance(0.5 + TIMERS.timeout)
    assert pair.server.layer.open_servers == 0


def test_a_challenge_keeps_nothing_and_a_lost_one_is_sent_afresh(pair: Pair) -> None:
    """RFC 3261 §8.2.7: the 401 is sent statelessly, its To tag the request's branch (the
    same for every copy, as Asterisk's); the REGISTER sent again by Timer E is challenged
    again, and the registration goes on."""
    build = request_builder("REGISTER", pair.ids, extra=(("Expires", "600"),))
    exchange = pair.send(build, [Credentials(username="alice", password="wonderland")])
    challenges: list[bytes] = []

    def lose_the_first_challenge(data: bytes) -> bool:
        if data.startswith(b"SIP/2.0 401 "):
            challenges.append(data)
            return len(challenges) == 1
        return False

    pair.carry(drop=lose_the_first_challenge)
    assert len(challenges) == 1
    assert pair.server.layer.open_servers == 0  # nothing kept for the challenge
    pair.advance(0.5, drop=lose_the_first_challenge)  # Timer E: the same REGISTER again
    assert final_of(pair, exchange).status == 200
    first, again = challenges
    branch = parse_message(pair.received[0])
    assert isinstance(branch, Request)
    tag = f";tag={branch.top_via.branch}"
    assert first == again  # the same nonce within the second, the same tag
    assert parse_message(first).header("To") == f"<sip:alice@192.0.2.5>{tag}"


def test_a_peer_that_never_answers_times_out_with_timer_f(pair: Pair) -> None:
    exchange = pair.send(request_builder("OPTIONS", pair.ids))
    lost: list[bytes] = []

    def drop(data: bytes) -> bool:
        lost.append(data)
        return True

    pair.advance(100.0, drop=drop)
    assert final_of(pair, exchange) == Final(None, "", TIMEOUT, None)
    assert len(lost) == 11  # the request and its 10 retransmissions before Timer F


def test_register_answers_the_digest_challenge_and_binds(pair: Pair) -> None:
    build = request_builder("REGISTER", pair.ids, extra=(("Expires", "600"),))
    exchange = pair.send(build, [Credentials(username="alice", password="wonderland")])
    pair.carry()
    final = final_of(pair, exchange)
    assert (final.status, final.reason) == (200, "OK")
    first, second = pair.received
    assert first_line(first) == first_line(second) == "REGISTER sip:192.0.2.5 SIP/2.0"
    assert b"Authorization: Digest" in second
    assert b"Authorization" not in first
    before, after = parse_message(first), parse_message(second)
    assert after.cseq.number == before.cseq.number + 1  # §8.1.3.5: same Call-ID, next CSeq
    assert after.call_id == before.call_id
    assert isinstance(after, Request)
    assert after.top_via.branch != before.top_via.branch
    (binding,) = pair.registry.bindings("alice", 1000.0)
    assert binding.uri == "sip:alice@192.0.2.1:5060"
    assert [c.change.value for c in pair.changes] == ["Created"]


def test_register_with_a_wrong_password_ends_with_the_refusal(pair: Pair) -> None:
    build = request_builder("REGISTER", pair.ids)
    exchange = pair.send(build, [Credentials(username="alice", password="looking-glass")])
    pair.carry()
    assert final_of(pair, exchange).status == 401
    assert len(pair.received) == 2  # the nonce answered once is not answered again
    assert pair.registry.bindings("alice", 1000.0) == []


def test_the_window_holds_requests_until_a_slot_frees(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    pair.client.layer = type(pair.client.layer)(TIMERS, window=2)
    exchanges = [pair.send(request_builder("OPTIONS", pair.ids)) for _ in range(3)]
    assert len(pair.to_server.sent) == 2  # the third waits for a slot
    pair.carry()
    assert [final_of(pair, e).status for e in exchanges] == [200, 200, 200]
    pair.registry.close()


# -- INVITE --------------------------------------------------------------------------------


def invite_events(pair: Pair) -> list[Passed | Outcome]:
    return [event.effect for event in pair.client.invite_events]


def test_an_invite_rings_is_answered_and_acknowledged(pair: Pair) -> None:
    txn = pair.invite()
    pair.carry()
    (invite,) = pair.calls.invites
    invite.respond(180, "Ringing")
    pair.carry()
    invite.respond(200, "OK")
    pair.carry()
    trying_and_ringing, ok = invite_events(pair)[:2], invite_events(pair)[2]
    assert [e.response.status for e in trying_and_ringing if isinstance(e, Passed)] == [100, 180]
    assert isinstance(ok, Outcome)
    assert ok.response is not None
    assert ok.response.status == 200
    assert txn.state is State.ACCEPTED
    tag = ok.response.header("To") or ""
    ack = Request(method="ACK", uri="sip:bob@192.0.2.5", headers=(
        ("Via", "SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKack"),
        ("From", txn.request.header("From") or ""), ("To", tag),
        ("Call-ID", txn.request.call_id), ("CSeq", "1 ACK"),
    ))  # fmt: skip
    pair.to_server.send(outgoing(ack).data, UAS)
    pair.carry()
    assert [a.method for a in pair.calls.acks] == ["ACK"]  # the 2xx's ACK goes to the call
    assert pair.server.layer.open_servers == 0  # the 2xx ended the INVITE transaction


def test_a_refused_invite_is_acknowledged_by_the_transaction(pair: Pair) -> None:
    pair.invite()
    pair.carry()
    (invite,) = pair.calls.invites
    invite.respond(486, "Busy Here")
    pair.carry()
    assert first_line(pair.received[-1]) == "ACK sip:bob@192.0.2.5 SIP/2.0"
    assert pair.calls.acks == []  # the ACK of a 300-699 stays in the transaction
    assert pair.server.layer.open_servers == 1  # Confirmed, until Timer I
    pair.advance(TIMERS.t4 + 1)
    assert pair.server.layer.open_servers == 0


def test_a_bye_in_the_call_reaches_the_calls_layer(pair: Pair) -> None:
    bye = request_builder("BYE", pair.ids)

    def in_dialog(cseq: int, authorization: tuple[tuple[str, str], ...]) -> Outgoing:
        request = bye(cseq, authorization)
        data = request.data.replace(
            b"To: <sip:alice@192.0.2.5>", b"To: <sip:alice@192.0.2.5>;tag=x"
        )
        return Outgoing(request.method, request.uri, request.branch, data)

    exchange = pair.send(in_dialog)
    pair.carry()
    assert final_of(pair, exchange).status == 200
    assert [r.method for r in pair.calls.in_dialog_requests] == ["BYE"]


def test_cancel_ends_a_pending_invite_with_487(pair: Pair) -> None:
    txn = pair.invite()
    pair.carry()
    cancel = outgoing(cancel_for(txn.request))
    exchange = pair.send(lambda _cseq, _auth: cancel)
    pair.carry()
    assert final_of(pair, exchange).status == 200
    assert len(pair.calls.cancelled) == 1
    last = invite_events(pair)[-1]
    assert isinstance(last, Outcome)
    assert last.response is not None
    assert last.response.status == 487
    assert first_line(pair.received[-1]) == "ACK sip:bob@192.0.2.5 SIP/2.0"


def test_an_invite_nobody_answers_times_out_with_timer_b(pair: Pair) -> None:
    txn = pair.invite()
    pair.advance(100.0, drop=lambda _data: True)
    assert invite_events(pair) == [Outcome(failure=TIMEOUT)]
    assert txn.state is State.TERMINATED


def test_a_response_to_nothing_is_dropped(pair: Pair) -> None:
    stray = Response(status=200, reason="OK", headers=(
        ("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnothing"), ("CSeq", "1 OPTIONS"),
        ("From", "<sip:a@b>;tag=1"), ("To", "<sip:a@b>"), ("Call-ID", "x"),
    ))  # fmt: skip
    pair.client.layer.receive_response(stray, 0.0)
    assert pair.client.layer.next_event() is None


class CancelThroughPair:
    """The endpoint as an outgoing INVITE sees it: a CANCEL goes out through the UAC's layer."""

    def __init__(self, pair: Pair) -> None:
        self._pair = pair

    def send_on(self, request: Outgoing, link: object, address: tuple[str, int]) -> None:
        del link, address
        self._pair.send(lambda _cseq, _auth: request)


@dataclass
class Heard:
    """What an outgoing call is told."""

    provisional: list[int] = field(default_factory=list)
    finals: list[Outcome] = field(default_factory=list)
    repeated: int = 0


class CallHears:
    def __init__(self) -> None:
        self.heard = Heard()

    def provisional(self, response: Response) -> None:
        self.heard.provisional.append(response.status)

    def final(self, outcome: Outcome) -> None:
        self.heard.finals.append(outcome)

    def repeated(self, response: Response) -> None:
        del response
        self.heard.repeated += 1


def outgoing_invite(pair: Pair, events: CallHears) -> OutgoingInvite:
    txn = pair.invite()
    invite = txn.user = OutgoingInvite(CancelThroughPair(pair), txn, events)
    return invite


def deliver_invite_events(pair: Pair, invite: OutgoingInvite) -> None:
    for event in pair.client.invite_events:
        invite.on_event(event.effect)
    pair.client.invite_events.clear()


def test_an_outgoing_call_cancelled_before_any_answer_cancels_once_it_rings(pair: Pair) -> None:
    events = CallHears()
    invite = outgoing_invite(pair, events)
    invite.cancel()  # §9.1: nothing may be cancelled before a provisional response
    assert pair.to_server.sent[-1][0].startswith(b"INVITE ")
    pair.carry()
    deliver_invite_events(pair, invite)  # the 100 Trying: now the CANCEL goes
    assert events.heard.provisional == [100]
    pair.carry()
    assert any(first_line(r) == "CANCEL sip:bob@192.0.2.5 SIP/2.0" for r in pair.received)
    deliver_invite_events(pair, invite)
    (final,) = events.heard.finals
    assert final.response is not None
    assert final.response.status == 487


def test_an_outgoing_call_hears_the_answer_and_its_copies(pair: Pair) -> None:
    events = CallHears()
    invite = outgoing_invite(pair, events)
    pair.carry()
    (incoming,) = pair.calls.invites
    data = incoming.respond(200, "OK")
    pair.carry()
    deliver_invite_events(pair, invite)
    incoming.send_again(data)  # the 2xx again, as the call repeats it until the ACK
    pair.carry()
    deliver_invite_events(pair, invite)
    assert [o.response.status for o in events.heard.finals if o.response] == [200]
    assert events.heard.repeated == 1
    invite.send(b"ACK sip:bob@192.0.2.5 SIP/2.0\r\n\r\n")
    assert pair.to_server.sent[-1][0].startswith(b"ACK ")
    assert invite.request.method == "INVITE"

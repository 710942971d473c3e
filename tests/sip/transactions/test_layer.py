"""The transaction layer on its own: the window, a connection that closes, shutting down, a
user's mistake turned into a `Broken` event, and server transactions found and forgotten."""

from __future__ import annotations

import gc

from sipnotify.sip.message import Outgoing, Request, outgoing
from sipnotify.sip.transactions.exchange import Exchange, Final
from sipnotify.sip.transactions.layer import (
    Broken,
    Ended,
    Event,
    InviteEvent,
    Send,
    TransactionLayer,
)
from sipnotify.sip.transactions.machines import ErrorKind, Failure, Outcome, State, Timers
from sipnotify.sip.transactions.matching import server_key
from tests.ua.memory import MemoryLink

T = Timers(t1=0.5, t2=4.0, t4=5.0, timeout=32.0)
PEER = ("192.0.2.9", 5060)
REFUSED = b"SIP/2.0 403 Forbidden\r\n\r\n"  # an answer sent statelessly


def request(method: str, branch: str) -> Request:
    return Request(method=method, uri="sip:x@192.0.2.9", headers=(
        ("Via", f"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{branch}"), ("From", "<sip:a@h>;tag=1"),
        ("To", "<sip:x@h>"), ("Call-ID", f"c-{branch}"), ("CSeq", f"1 {method}"),
    ))  # fmt: skip


def wire(method: str, branch: str, *, first: bytes = b"") -> bytes:
    """`request(method, branch)` as its bytes arrive, with `first` (lines) before its Via."""
    head = f"{method} sip:x@192.0.2.9 SIP/2.0\r\n".encode()
    rest = (f"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{branch}\r\n"
            f"From: <sip:a@h>;tag=1\r\nTo: <sip:x@h>\r\nCall-ID: c-{branch}\r\n"
            f"CSeq: 1 {method}\r\n\r\n")  # fmt: skip
    return head + first + rest.encode()


def exchange(branch: str, link: MemoryLink) -> Exchange:
    sent = outgoing(request("OPTIONS", branch))

    def build(_cseq: int, _auth: tuple[tuple[str, str], ...]) -> Outgoing:
        return sent

    return Exchange(build, link, PEER, credentials=[], cseq=1, cnonce=lambda: "c")


def drain(layer: TransactionLayer) -> list[Event]:
    events = []
    while (event := layer.next_event()) is not None:
        events.append(event)
    return events


def test_a_slot_frees_after_t1_when_a_peer_is_silent() -> None:
    layer, link = TransactionLayer(T, window=1), MemoryLink(protocol="tcp")
    layer.send(exchange("a", link), 0.0)
    layer.send(exchange("b", link), 0.0)
    assert [type(e) for e in drain(layer)] == [Send]  # b waits for the only slot
    layer.handle_timer(0.5)  # T1: a holds its slot no longer
    sent = [e for e in drain(layer) if isinstance(e, Send)]
    assert len(sent) == 1
    assert b"z9hG4bKb" in sent[0].data


def test_a_closed_connection_fails_its_transactions() -> None:
    layer, link = TransactionLayer(T), MemoryLink(protocol="tls")
    waiting = exchange("a", link)
    layer.send(waiting, 0.0)
    drain(layer)
    layer.connection_lost(link, 1.0)
    (ended,) = drain(layer)
    closed = Failure(ErrorKind.TRANSPORT, "connection closed")
    assert ended == Ended(waiting, Final(None, "", closed, None))
    assert str(closed) == "transport error: connection closed"


def test_shutting_down_ends_what_waits_and_what_is_under_way() -> None:
    layer, link = TransactionLayer(T, window=1), MemoryLink()
    first, second = exchange("a", link), exchange("b", link)
    layer.send(first, 0.0)
    layer.send(second, 0.0)
    invite = layer.invite(request("INVITE", "i"), link, PEER, 0.0)
    drain(layer)
    layer.close(1.0)
    events = drain(layer)
    stopped = Failure(ErrorKind.SHUTDOWN)
    assert Ended(second, Final(None, "", stopped, None)) in events
    assert Ended(first, Final(None, "", stopped, None)) in events
    assert InviteEvent(invite, Outcome(failure=stopped)) in events
    assert layer.get_timer() is None


def test_a_users_mistake_ends_the_transaction_with_a_broken_event() -> None:
    layer, link = TransactionLayer(T), MemoryLink()
    server = layer.receive_request(request("INVITE", "s"), link, PEER, 0.0)
    assert server is not None
    layer.respond(server, 486, b"SIP/2.0 486 Busy Here\r\n\r\n", 0.0)
    layer.respond(server, 180, b"SIP/2.0 180 Ringing\r\n\r\n", 0.1)  # after a final: a bug
    events = drain(layer)
    assert isinstance(events[-1], Broken)
    assert events[-1].error.state is State.COMPLETED
    assert layer.open_servers == 0


def test_server_transactions_are_found_absorb_copies_and_answer_statelessly() -> None:
    layer, link = TransactionLayer(T), MemoryLink()
    invite = request("INVITE", "s")
    server = layer.receive_request(invite, link, PEER, 0.0)
    assert server is not None
    assert layer.receive_request(invite, link, PEER, 0.1) is None  # a copy: absorbed
    assert layer.server_for(request("CANCEL", "s"), "INVITE") is server
    ack = request("ACK", "s")
    assert layer.receive_ack(ack, 0.2) is False  # no failure answered yet: the call's ACK
    layer.respond_statelessly(server, REFUSED)
    assert drain(layer) == [Send(link, PEER, REFUSED)]  # sent once
    assert layer.open_servers == 0
    assert layer.get_timer() is None  # and nothing armed to send it again
    assert layer.server_for(request("CANCEL", "s"), "INVITE") is None


def test_a_retransmission_is_matched_on_its_bytes_without_a_parse() -> None:
    layer, link = TransactionLayer(T), MemoryLink()
    data = wire("OPTIONS", "o")
    assert layer.receive_retransmission(data, 0.0) is False  # new: parse it
    server = layer.receive_request(request("OPTIONS", "o"), link, PEER, 0.0)
    assert server is not None
    layer.respond(server, 200, b"SIP/2.0 200 OK ...", 0.0)
    drain(layer)
    assert layer.receive_retransmission(data, 0.1) is True  # answered again from its key
    assert [type(e) for e in drain(layer)] == [Send]
    assert layer.open_servers == 1


def test_a_copy_whose_bytes_name_another_branch_first_is_still_answered_once_parsed() -> None:
    layer, link = TransactionLayer(T), MemoryLink()
    data = wire("OPTIONS", "p", first=b"Subject: ;branch=z9hG4bKo\r\n")
    server = layer.receive_request(request("OPTIONS", "p"), link, PEER, 0.0)
    assert server is not None
    layer.respond(server, 200, b"SIP/2.0 200 OK ...", 0.0)
    drain(layer)
    assert layer.receive_retransmission(data, 0.1) is False  # the first branch is no live one
    assert layer.receive_request(request("OPTIONS", "p"), link, PEER, 0.1) is None
    assert [type(e) for e in drain(layer)] == [Send]  # answered all the same


def test_a_branch_two_transactions_share_stays_matched_while_one_is_left() -> None:
    layer, link = TransactionLayer(T), MemoryLink()
    data = wire("INVITE", "i")
    invite = layer.receive_request(request("INVITE", "i"), link, PEER, 0.0)
    cancel = layer.receive_request(request("CANCEL", "i"), link, PEER, 0.0)  # the same branch
    assert invite is not None
    assert cancel is not None
    layer.respond_statelessly(cancel, REFUSED)
    assert layer.receive_retransmission(data, 0.1) is True  # the INVITE's is still live
    layer.respond_statelessly(invite, REFUSED)
    assert layer.receive_retransmission(data, 0.2) is False


def test_a_request_without_the_magic_cookie_is_matched_the_rfc_2543_way() -> None:
    old = Request(method="OPTIONS", uri="sip:x@192.0.2.9", headers=(
        ("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=1234"), ("From", "<sip:a@h>;tag=9"),
        ("To", "<sip:x@h>"), ("Call-ID", "old-1"), ("CSeq", "7 OPTIONS"),
    ))  # fmt: skip
    key = server_key(old)
    assert key[1:] == ("192.0.2.1:5060", "OPTIONS")
    assert "old-1" in key[0]
    assert "\n9\n" in key[0]
    assert server_key(old, "INVITE")[2] == "INVITE"


def test_retransmissions_and_open_transactions_are_counted() -> None:
    layer, link = TransactionLayer(T, window=1), MemoryLink(protocol="udp")
    layer.send(exchange("a", link), 0.0)
    layer.send(exchange("b", link), 0.0)
    assert (layer.open_clients, layer.retransmissions) == (2, 0)  # one sent, one waiting
    layer.handle_timer(0.5)  # Timer E: a is sent again (and b takes the slot a held)
    layer.handle_timer(1.5)
    drain(layer)
    assert layer.retransmissions == 3  # a at 0.5 and 1.5, b at 1.0
    assert layer.open_clients == 2


def test_a_limited_timer_pass_leaves_the_rest_due() -> None:
    layer, link = TransactionLayer(T), MemoryLink(protocol="udp")
    for n in range(5):
        layer.send(exchange(f"t{n}", link), 0.0)
    drain(layer)
    layer.handle_timer(0.5, limit=2)  # Timer E of all five is due: two are sent again now
    assert len([e for e in drain(layer) if isinstance(e, Send)]) == 2
    due = layer.get_timer()
    assert due is not None
    assert due <= 0.5  # the other three are still due
    layer.handle_timer(0.5)
    assert len([e for e in drain(layer) if isinstance(e, Send)]) == 3


def answer(branch: str) -> bytes:
    return (f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{branch}\r\n"
            f"From: <sip:a@h>;tag=1\r\nTo: <sip:x@h>;tag=2\r\nCall-ID: c-{branch}\r\n"
            f"CSeq: 1 OPTIONS\r\n\r\n").encode()  # fmt: skip


def test_first_retransmissions_fall_due_in_start_order_whatever_is_answered_first() -> None:
    layer, link = TransactionLayer(T), MemoryLink(protocol="udp")
    for n, now in enumerate((0.0, 0.1, 0.2)):
        layer.send(exchange(f"o{n}", link), now)
    drain(layer)
    assert layer.get_timer() == 0.5  # o0's Timer E
    assert layer.receive_head(answer("o1"), 0.3)  # answered out of order
    assert layer.get_timer() == 0.5
    assert layer.receive_head(answer("o0"), 0.4)  # o1, ended behind it, goes with it
    assert layer.get_timer() == 0.7  # o2's
    layer.handle_timer(0.7)
    assert [b"z9hG4bKo2" in e.data for e in drain(layer) if isinstance(e, Send)] == [True]
    assert layer.get_timer() == 1.7  # o2's next, 2 x T1 later
    assert layer.receive_head(answer("o2"), 0.8)
    assert [type(e) for e in drain(layer)] == [Ended]
    layer.handle_timer(2.0)
    assert drain(layer) == []  # nothing sent again
    assert layer.get_timer() is None


def test_a_request_started_earlier_than_the_last_still_falls_due_in_time() -> None:
    layer, link = TransactionLayer(T), MemoryLink(protocol="udp")
    layer.send(exchange("late", link), 1.0)
    layer.send(exchange("early", link), 0.2)  # a clock that went back: timed apart
    drain(layer)
    assert layer.get_timer() == 0.7
    layer.handle_timer(0.7)
    assert [b"z9hG4bKearly" in e.data for e in drain(layer) if isinstance(e, Send)] == [True]
    layer.handle_timer(1.5)
    assert [b"z9hG4bKlate" in e.data for e in drain(layer) if isinstance(e, Send)] == [True]


def test_an_answered_request_is_let_go_and_its_copies_still_get_the_answer() -> None:
    """§17.2.2: Completed only repeats the final response until Timer J (32 s over UDP), so
    the layer keeps that, not the request or the user's handle."""
    layer, link = TransactionLayer(T), MemoryLink(protocol="udp")
    register = request("REGISTER", "r")
    server = layer.receive_request(register, link, PEER, 0.0)
    assert server is not None
    layer.respond(server, 200, b"SIP/2.0 200 OK ...", 0.0)
    assert [e.data for e in drain(layer) if isinstance(e, Send)] == [b"SIP/2.0 200 OK ..."]
    assert server.alive is False  # the user's handle: a second answer is not sent
    layer.respond(server, 500, b"SIP/2.0 500 Oops", 0.1)
    assert drain(layer) == []
    del server
    held = [type(r).__name__ for r in gc.get_referrers(register)
            if type(r).__module__.startswith("sipnotify")]  # fmt: skip
    assert held == []
    assert layer.server_for(register, "REGISTER") is None
    assert layer.receive_request(register, link, PEER, 1.0) is None  # a copy: the 200 again
    assert [e.data for e in drain(layer) if isinstance(e, Send)] == [b"SIP/2.0 200 OK ..."]
    assert layer.open_servers == 1
    layer.handle_timer(32.0)  # Timer J
    assert layer.open_servers == 0


def test_an_ended_server_transaction_lets_its_user_go() -> None:
    """The user's object (a call's view of an INVITE) and its transaction refer to each other;
    once the transaction ends the layer drops its side, so a flood of INVITEs leaves no
    reference cycles for the collector."""
    layer, link = TransactionLayer(T), MemoryLink()
    gc.collect()
    gc.disable()
    try:
        server = layer.receive_request(request("INVITE", "u"), link, PEER, 0.0)
        assert server is not None
        server.user = [server]  # the user refers back, as IncomingInvite does
        layer.respond_statelessly(server, REFUSED)
        assert server.user is None
        del server
        assert gc.collect() == 0
    finally:
        gc.enable()

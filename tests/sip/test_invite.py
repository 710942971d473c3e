"""RFC 3261 §17.2.1 INVITE server transaction, driven by a clock stepped by hand."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sipnotify.sip.invite import InviteClient, InviteServer, ack_for, cancel_for
from sipnotify.sip.message import Request, Response
from sipnotify.sip.transaction import Outcome, Provisional, State, Timers, Transmit

T = Timers(t1=0.5, t2=4.0, t4=5.0)
RINGING = b"SIP/2.0 180 Ringing\r\n\r\n"
OK = b"SIP/2.0 200 OK\r\n\r\n"
BUSY = b"SIP/2.0 486 Busy Here\r\n\r\n"


def state_of(txn: InviteServer) -> State:
    return txn.state


def test_provisional_is_repeated_to_invite_retransmissions() -> None:
    txn = InviteServer(reliable=False, timers=T)
    assert txn.request_again() == []  # nothing sent yet
    assert txn.respond(180, RINGING, 0.2) == [Transmit(RINGING)]
    assert txn.request_again() == [Transmit(RINGING)]
    assert state_of(txn) is State.PROCEEDING


def test_2xx_ends_the_transaction_and_leaves_retransmission_to_the_call() -> None:
    txn = InviteServer(reliable=False, timers=T)
    assert txn.respond(200, OK, 1.0) == [Transmit(OK)]
    assert state_of(txn) is State.TERMINATED
    assert txn.next_deadline() is None


def test_non_2xx_final_is_repeated_by_timer_g_until_ack() -> None:
    txn = InviteServer(reliable=False, timers=T)
    txn.respond(486, BUSY, 0.0)
    assert state_of(txn) is State.COMPLETED
    assert txn.on_timer(0.5) == [Transmit(BUSY)]  # Timer G: T1
    assert txn.next_deadline() == 1.5  # then 2*T1
    assert txn.request_again() == [Transmit(BUSY)]
    assert txn.ack(1.2) == []
    assert state_of(txn) is State.CONFIRMED
    assert txn.next_deadline() == 1.2 + T.t4  # Timer I
    assert txn.ack(1.3) == []  # copies absorbed
    txn.on_timer(6.2)
    assert state_of(txn) is State.TERMINATED


def test_timer_h_gives_up_without_ack() -> None:
    txn = InviteServer(reliable=False, timers=T)
    txn.respond(486, BUSY, 0.0)
    effects = []
    while (deadline := txn.next_deadline()) is not None:
        effects += txn.on_timer(deadline)
    sends = [e for e in effects if isinstance(e, Transmit)]
    assert effects[-1] == Outcome(error="timeout")
    assert len(sends) == 10  # 0.5, 1.5, 3.5, 7.5, then every 4 s until 32 s
    assert state_of(txn) is State.TERMINATED


def test_reliable_transport_neither_repeats_nor_waits() -> None:
    txn = InviteServer(reliable=True, timers=T)
    txn.respond(486, BUSY, 0.0)
    assert txn.next_deadline() == 32.0  # Timer H only
    txn.ack(0.1)
    assert txn.next_deadline() == 0.1  # Timer I is zero


@given(
    st.lists(st.sampled_from(["invite", "100", "180", "200", "486", "ack", "timer"]), max_size=30)
)
def test_any_input_sequence_reports_at_most_once(inputs: list[str]) -> None:
    txn = InviteServer(reliable=False, timers=T)
    now = 0.0
    outcomes = 0
    for step in inputs:
        now += 0.3
        if step == "invite":
            effects = txn.request_again()
        elif step == "ack":
            effects = txn.ack(now)
        elif step == "timer":
            deadline = txn.next_deadline()
            now = max(now, deadline or now)
            effects = txn.on_timer(now)
        else:
            effects = txn.respond(int(step), step.encode(), now)
        outcomes += sum(isinstance(e, Outcome) for e in effects)
    assert outcomes <= 1


INVITE = Request(
    method="INVITE",
    uri="sip:bob@192.0.2.9:5070",
    headers=(
        ("Via", "SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKPj1"),
        ("From", "<sip:svc@192.0.2.1>;tag=L"),
        ("To", "<sip:bob@192.0.2.9>"),
        ("Call-ID", "c1"),
        ("CSeq", "7 INVITE"),
        ("Route", "<sip:proxy;lr>"),
    ),
)


def answer(status: int) -> Response:
    return Response(status=status, reason="x", headers=(("To", "<sip:bob@192.0.2.9>;tag=R"),))


def client_state(txn: InviteClient) -> State:
    return txn.state


def test_client_repeats_the_invite_with_timer_a_until_timer_b() -> None:
    txn = InviteClient(b"INVITE", reliable=False, now=0.0, timers=T)
    assert txn.start() == [Transmit(b"INVITE")]
    sends = []
    while (deadline := txn.next_deadline()) is not None:
        effects = txn.on_timer(deadline)
        sends += [deadline for e in effects if isinstance(e, Transmit)]
        if Outcome(error="timeout") in effects:
            break
    assert sends == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]  # Timer A doubles without a cap
    assert client_state(txn) is State.TERMINATED


def test_client_passes_provisionals_and_the_2xx_and_its_copies_up() -> None:
    txn = InviteClient(b"INVITE", reliable=False, now=0.0, timers=T)
    ringing, ok = answer(180), answer(200)
    assert txn.receive(ringing, 0.1) == [Provisional(ringing)]
    assert client_state(txn) is State.PROCEEDING
    assert txn.next_deadline() is None  # no repeats, no Timer B once a 1xx came
    assert txn.receive(ok, 2.0) == [Outcome(response=ok)]
    assert client_state(txn) is State.ACCEPTED
    assert txn.receive(ok, 2.5) == [Provisional(ok)]  # a copy: the TU sends its ACK again
    txn.on_timer(2.0 + 64 * T.t1)  # Timer M
    assert client_state(txn) is State.TERMINATED


def test_client_acknowledges_a_failure_itself_and_again_for_copies() -> None:
    txn = InviteClient(b"INVITE", reliable=False, now=0.0, timers=T)
    busy = answer(486)
    assert txn.receive(busy, 0.2, ack=b"ACK") == [Transmit(b"ACK"), Outcome(response=busy)]
    assert txn.receive(busy, 0.3, ack=b"ACK") == [Transmit(b"ACK")]
    assert txn.next_deadline() == 32.2  # Timer D
    txn.on_timer(32.2)
    assert client_state(txn) is State.TERMINATED


def test_ack_for_a_failure_and_cancel_follow_the_invite() -> None:
    ack = ack_for(INVITE, answer(486)).decode()
    assert ack.startswith("ACK sip:bob@192.0.2.9:5070 SIP/2.0\r\n")
    assert "Via: SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKPj1\r\n" in ack
    assert "To: <sip:bob@192.0.2.9>;tag=R\r\n" in ack
    assert "CSeq: 7 ACK\r\n" in ack
    assert "Route: <sip:proxy;lr>\r\n" in ack
    cancel = cancel_for(INVITE)
    assert cancel.method == "CANCEL"
    assert cancel.uri == INVITE.uri
    assert cancel.top_via.branch == "z9hG4bKPj1"
    assert cancel.header("CSeq") == "7 CANCEL"
    assert cancel.header("To") == "<sip:bob@192.0.2.9>"


@given(
    st.lists(
        st.sampled_from(["100", "180", "200", "486", "timer", "error"]),
        max_size=30,
    )
)
def test_client_reports_its_end_at_most_once(inputs: list[str]) -> None:
    txn = InviteClient(b"INVITE", reliable=False, now=0.0, timers=T)
    txn.start()
    now, outcomes = 0.0, 0
    for step in inputs:
        now += 0.3
        if step == "timer":
            now = max(now, txn.next_deadline() or now)
            effects = txn.on_timer(now)
        elif step == "error":
            effects = txn.transport_error("closed")
        else:
            effects = txn.receive(answer(int(step)), now, ack=b"ACK")
        outcomes += sum(isinstance(e, Outcome) for e in effects)
    assert outcomes <= 1

"""The four RFC 3261 §17 state machines, driven by a clock stepped by hand, and every
(state, input) pair of their tables tried."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipnotify.sip.message import Request, Response, serialize
from sipnotify.sip.transactions.machines import (
    TIMEOUT,
    TRANSITIONS,
    ErrorKind,
    Failure,
    Input,
    InviteClient,
    InviteServer,
    Machine,
    NonInviteClient,
    NonInviteServer,
    Outcome,
    Passed,
    State,
    Timers,
    TransactionError,
    Transmit,
    ack_for,
    cancel_for,
)

T = Timers(t1=0.5, t2=4.0, t4=5.0, timeout=32.0)
DATA = b"NOTIFY sip:a@b SIP/2.0\r\n\r\n"
RINGING = b"SIP/2.0 180 Ringing\r\n\r\n"
OK = b"SIP/2.0 200 OK\r\n\r\n"
BUSY = b"SIP/2.0 486 Busy Here\r\n\r\n"
CLOSED = Failure(ErrorKind.TRANSPORT, "connection closed")
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


def state_of(txn: Machine) -> State:
    """Read the state through a call, so the type checker does not pin an earlier value."""
    return txn.state


def answer(status: int) -> Response:
    return Response(status=status, reason="x", headers=(("To", "<sip:bob@192.0.2.9>;tag=R"),))


def receive(txn: Machine, response: Response, now: float) -> list[Any]:
    return txn.step(Input.of(response.status), now, response)


def respond(txn: Machine, status: int, data: bytes, now: float) -> list[Any]:
    return txn.step(Input.of(status), now, data)


def run_timers(txn: Machine, until: float) -> list[tuple[float, object]]:
    """Fire every deadline up to `until`, as the transaction layer would."""
    fired: list[tuple[float, object]] = []
    while (deadline := txn.next_deadline()) is not None and deadline <= until:
        fired += [(deadline, effect) for effect in txn.handle_timer(deadline)]
    return fired


# -- non-INVITE client (Figure 6) ----------------------------------------------------------


def test_retransmits_with_backoff_capped_at_t2_then_times_out() -> None:
    txn = NonInviteClient(DATA, reliable=False, now=0.0, timers=T)
    assert txn.start() == [Transmit(DATA)]
    fired = run_timers(txn, until=100.0)
    sends = [at for at, effect in fired if isinstance(effect, Transmit)]
    # Timer E: 0.5, then doubling (1, 2, 4) and capped at T2 = 4 s, until Timer F at 32 s.
    assert sends == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert fired[-1] == (32.0, Outcome(failure=TIMEOUT))
    assert state_of(txn) is State.TERMINATED
    assert txn.next_deadline() is None


def test_timer_f_is_the_configured_timeout_not_a_literal() -> None:
    txn = NonInviteClient(DATA, reliable=True, now=0.0, timers=Timers(t1=0.1, timeout=6.4))
    assert txn.next_deadline() == 6.4
    assert txn.handle_timer(6.4) == [Outcome(failure=TIMEOUT)]


def test_first_request_lost_then_answered_once() -> None:
    txn = NonInviteClient(DATA, reliable=False, now=0.0, timers=T)
    txn.start()
    assert txn.handle_timer(0.5) == [Transmit(DATA)]  # the lost request goes again
    ok = answer(200)
    assert receive(txn, ok, 0.6) == [Outcome(response=ok)]
    assert state_of(txn) is State.COMPLETED
    assert receive(txn, ok, 0.7) == []  # a retransmitted 200 is absorbed
    assert txn.next_deadline() == 0.6 + T.t4  # Timer K
    assert txn.handle_timer(5.6) == []
    assert state_of(txn) is State.TERMINATED


def test_provisional_moves_to_proceeding_and_retransmits_every_t2() -> None:
    txn = NonInviteClient(DATA, reliable=False, now=0.0, timers=T)
    txn.start()
    assert receive(txn, answer(100), 0.1) == []
    assert state_of(txn) is State.PROCEEDING
    assert txn.next_deadline() == 0.1 + T.t2
    assert txn.handle_timer(4.1) == [Transmit(DATA)]
    assert txn.next_deadline() == 8.1
    assert receive(txn, answer(489), 5.0) == [Outcome(response=answer(489))]


def test_reliable_transport_never_retransmits_and_k_is_zero() -> None:
    txn = NonInviteClient(DATA, reliable=True, now=0.0, timers=T)
    txn.start()
    assert txn.next_deadline() == 32.0  # only Timer F
    assert receive(txn, answer(200), 1.0) == [Outcome(response=answer(200))]
    assert txn.next_deadline() == 1.0
    txn.handle_timer(1.0)
    assert state_of(txn) is State.TERMINATED


def test_transport_error_terminates_with_its_failure() -> None:
    txn = NonInviteClient(DATA, reliable=True, now=0.0, timers=T)
    txn.start()
    assert txn.step(Input.TRANSPORT_ERROR, 0.2, CLOSED) == [Outcome(failure=CLOSED)]
    assert state_of(txn) is State.TERMINATED
    with pytest.raises(TransactionError, match="no transition from Terminated on 2xx"):
        receive(txn, answer(200), 0.3)


# -- non-INVITE server (Figure 8) ----------------------------------------------------------


def test_server_absorbs_then_repeats_its_final_until_timer_j() -> None:
    server = NonInviteServer(reliable=False, timers=T)
    assert server.step(Input.REQUEST, 0.5) == []  # Trying: absorbed
    assert respond(server, 200, OK, 1.0) == [Transmit(OK)]
    assert state_of(server) is State.COMPLETED
    assert server.step(Input.REQUEST, 1.2) == [Transmit(OK)]
    assert respond(server, 500, b"again", 1.5) == []  # only one final
    assert server.next_deadline() == 1.0 + T.timeout
    server.handle_timer(33.0)
    assert state_of(server) is State.TERMINATED


def test_server_over_a_reliable_transport_terminates_at_once() -> None:
    server = NonInviteServer(reliable=True, timers=T)
    respond(server, 200, b"ok", 3.0)
    assert server.next_deadline() == 3.0


# -- INVITE server (Figure 7) --------------------------------------------------------------


def test_provisional_is_repeated_to_invite_retransmissions() -> None:
    txn = InviteServer(reliable=False, timers=T)
    assert txn.step(Input.REQUEST, 0.1) == []  # nothing sent yet
    assert respond(txn, 180, RINGING, 0.2) == [Transmit(RINGING)]
    assert txn.step(Input.REQUEST, 0.3) == [Transmit(RINGING)]
    assert state_of(txn) is State.PROCEEDING


def test_2xx_ends_the_transaction_and_leaves_retransmission_to_the_call() -> None:
    txn = InviteServer(reliable=False, timers=T)
    assert respond(txn, 200, OK, 1.0) == [Transmit(OK)]
    assert state_of(txn) is State.TERMINATED
    assert txn.next_deadline() is None


def test_non_2xx_final_is_repeated_by_timer_g_until_ack() -> None:
    txn = InviteServer(reliable=False, timers=T)
    respond(txn, 486, BUSY, 0.0)
    assert state_of(txn) is State.COMPLETED
    assert txn.handle_timer(0.5) == [Transmit(BUSY)]  # Timer G: T1
    assert txn.next_deadline() == 1.5  # then 2*T1
    assert txn.step(Input.REQUEST, 1.0) == [Transmit(BUSY)]
    assert txn.step(Input.ACK, 1.2) == []
    assert state_of(txn) is State.CONFIRMED
    assert txn.next_deadline() == 1.2 + T.t4  # Timer I
    assert txn.step(Input.ACK, 1.3) == []  # copies absorbed
    txn.handle_timer(6.2)
    assert state_of(txn) is State.TERMINATED


def test_timer_h_gives_up_without_ack() -> None:
    txn = InviteServer(reliable=False, timers=T)
    respond(txn, 486, BUSY, 0.0)
    effects = [effect for _, effect in run_timers(txn, until=100.0)]
    sends = [e for e in effects if isinstance(e, Transmit)]
    assert effects[-1] == Outcome(failure=TIMEOUT)
    assert len(sends) == 10  # 0.5, 1.5, 3.5, 7.5, then every 4 s until 32 s
    assert state_of(txn) is State.TERMINATED


def test_reliable_transport_neither_repeats_nor_waits() -> None:
    txn = InviteServer(reliable=True, timers=T)
    respond(txn, 486, BUSY, 0.0)
    assert txn.next_deadline() == 32.0  # Timer H only
    txn.step(Input.ACK, 0.1)
    assert txn.next_deadline() == 0.1  # Timer I is zero


# -- INVITE client (Figure 5) --------------------------------------------------------------


def test_client_repeats_the_invite_with_timer_a_until_timer_b() -> None:
    txn = InviteClient(INVITE, reliable=False, now=0.0, timers=T)
    assert txn.start() == [Transmit(serialize(INVITE))]
    fired = run_timers(txn, until=100.0)
    sends = [at for at, effect in fired if isinstance(effect, Transmit)]
    assert sends == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]  # Timer A doubles without a cap
    assert fired[-1] == (32.0, Outcome(failure=TIMEOUT))  # Timer B
    assert state_of(txn) is State.TERMINATED


def test_client_passes_provisionals_and_the_2xx_and_its_copies_up() -> None:
    txn = InviteClient(INVITE, reliable=False, now=0.0, timers=T)
    ringing, ok = answer(180), answer(200)
    assert receive(txn, ringing, 0.1) == [Passed(ringing)]
    assert state_of(txn) is State.PROCEEDING
    assert txn.next_deadline() is None  # no repeats, no Timer B once a 1xx came
    assert receive(txn, ok, 2.0) == [Outcome(response=ok)]
    assert state_of(txn) is State.ACCEPTED
    assert receive(txn, ok, 2.5) == [Passed(ok)]  # a copy: the call sends its ACK again
    txn.handle_timer(2.0 + T.timeout)  # Timer M
    assert state_of(txn) is State.TERMINATED


def test_client_acknowledges_a_failure_itself_and_again_for_copies() -> None:
    txn = InviteClient(INVITE, reliable=False, now=0.0, timers=T)
    busy = answer(486)
    ack = ack_for(INVITE, busy)
    assert receive(txn, busy, 0.2) == [Transmit(ack), Outcome(response=busy)]
    assert receive(txn, busy, 0.3) == [Transmit(ack)]
    assert txn.next_deadline() == 0.2 + T.timeout  # Timer D: pjsip.conf timer_b, as pjsip
    txn.handle_timer(32.2)
    assert state_of(txn) is State.TERMINATED


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


# -- every machine, every pair -------------------------------------------------------------


def fresh(kind: type[Machine], reliable: bool) -> Machine:
    if kind is NonInviteClient:
        return NonInviteClient(DATA, reliable=reliable, now=0.0, timers=T)
    if kind is InviteClient:
        return InviteClient(INVITE, reliable=reliable, now=0.0, timers=T)
    if kind is InviteServer:
        return InviteServer(reliable=reliable, timers=T)
    return NonInviteServer(reliable=reliable, timers=T)


def argument(kind: type[Machine], event: Input) -> object:
    """What the input carries: a response for a client, bytes for a server's user."""
    status = {Input.PROVISIONAL: 180, Input.SUCCESS: 200, Input.FAILURE: 486}.get(event)
    if event is Input.TRANSPORT_ERROR:
        return CLOSED
    if status is None:
        return None
    return answer(status) if kind in (NonInviteClient, InviteClient) else b"SIP/2.0 x\r\n\r\n"


MACHINES = (NonInviteClient, NonInviteServer, InviteClient, InviteServer)


@pytest.mark.parametrize("kind", MACHINES)
@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("event", list(Input))
def test_every_pair_is_a_transition_or_a_typed_error_that_terminates(
    kind: type[Machine], state: State, event: Input
) -> None:
    txn = fresh(kind, reliable=False)
    txn.state = state
    if (state, event) in TRANSITIONS[kind]:
        effects = txn.step(event, 1.0, argument(kind, event))
        assert all(isinstance(e, Transmit | Outcome | Passed) for e in effects)
    else:
        with pytest.raises(TransactionError):
            txn.step(event, 1.0, argument(kind, event))
        assert state_of(txn) is State.TERMINATED
        assert txn.next_deadline() is None


@pytest.mark.parametrize("kind", MACHINES)
def test_a_table_names_only_its_own_timers_and_live_states(kind: type[Machine]) -> None:
    timers = {e for _, e in TRANSITIONS[kind] if e.name.startswith("TIMER_")}
    assert timers == set(kind.TIMERS)
    assert all(state is not State.TERMINATED for state, _ in TRANSITIONS[kind])


@given(
    st.sampled_from(MACHINES),
    st.booleans(),
    st.lists(st.tuples(st.sampled_from(list(Input)), st.floats(0.0, 2.0)), max_size=40),
)
def test_any_input_sequence_reports_at_most_one_outcome(
    kind: type[Machine], reliable: bool, inputs: list[tuple[Input, float]]
) -> None:
    txn = fresh(kind, reliable)
    now, outcomes = 0.0, 0
    for event, wait in inputs:
        now += wait
        effects = txn.handle_timer(now)  # as the layer does: what fell due comes first
        if state_of(txn) is State.TERMINATED:
            outcomes += sum(isinstance(e, Outcome) for e in effects)
            break
        try:
            if not event.name.startswith("TIMER_"):
                effects += txn.step(event, now, argument(kind, event))
        except TransactionError:
            assert state_of(txn) is State.TERMINATED
            break
        outcomes += sum(isinstance(e, Outcome) for e in effects)
    assert outcomes <= 1
    if state_of(txn) is State.TERMINATED:
        assert txn.next_deadline() is None

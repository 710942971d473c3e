"""RFC 3261 §17.1.2 / §17.2.2 transactions driven by a clock stepped by hand."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sipnotify.sip.message import Response
from sipnotify.sip.transaction import (
    NonInviteClient,
    NonInviteServer,
    Outcome,
    State,
    Timers,
    Transmit,
)

T = Timers(t1=0.5, t2=4.0, t4=5.0)
DATA = b"NOTIFY sip:a@b SIP/2.0\r\n\r\n"


def state_of(txn: NonInviteClient | NonInviteServer) -> State:
    """Read the state through a call, so the type checker does not pin an earlier value."""
    return txn.state


def response(status: int) -> Response:
    return Response(status=status, reason="x", headers=())


def run_timers(txn: NonInviteClient, until: float) -> list[tuple[float, object]]:
    """Fire every deadline up to `until`, as the endpoint's timer would."""
    fired: list[tuple[float, object]] = []
    while (deadline := txn.next_deadline()) is not None and deadline <= until:
        fired += [(deadline, effect) for effect in txn.on_timer(deadline)]
    return fired


def test_retransmits_with_backoff_capped_at_t2_then_times_out() -> None:
    txn = NonInviteClient(DATA, reliable=False, now=0.0, timers=T)
    assert txn.start() == [Transmit(DATA)]
    fired = run_timers(txn, until=100.0)
    sends = [at for at, effect in fired if isinstance(effect, Transmit)]
    # Timer E: 0.5, then doubling (1, 2, 4) and capped at T2 = 4 s, until Timer F at 64*T1 = 32 s.
    assert sends == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert fired[-1] == (32.0, Outcome(error="timeout"))
    assert state_of(txn) is State.TERMINATED
    assert txn.next_deadline() is None


def test_first_request_lost_then_answered_once() -> None:
    txn = NonInviteClient(DATA, reliable=False, now=0.0, timers=T)
    txn.start()
    assert txn.on_timer(0.5) == [Transmit(DATA)]  # the lost request goes again
    ok = response(200)
    assert txn.receive(ok, 0.6) == [Outcome(response=ok)]
    assert state_of(txn) is State.COMPLETED
    assert txn.receive(ok, 0.7) == []  # a retransmitted 200 is absorbed
    assert txn.next_deadline() == 0.6 + T.t4  # Timer K
    assert txn.on_timer(5.6) == []
    assert state_of(txn) is State.TERMINATED


def test_provisional_moves_to_proceeding_and_retransmits_every_t2() -> None:
    txn = NonInviteClient(DATA, reliable=False, now=0.0, timers=T)
    txn.start()
    assert txn.receive(response(100), 0.1) == []
    assert state_of(txn) is State.PROCEEDING
    assert txn.next_deadline() == 0.1 + T.t2
    assert txn.on_timer(4.1) == [Transmit(DATA)]
    assert txn.next_deadline() == 8.1
    assert txn.receive(response(489), 5.0) == [Outcome(response=response(489))]


def test_reliable_transport_never_retransmits_and_k_is_zero() -> None:
    txn = NonInviteClient(DATA, reliable=True, now=0.0, timers=T)
    txn.start()
    assert txn.next_deadline() == 32.0  # only Timer F
    assert txn.receive(response(200), 1.0) == [Outcome(response=response(200))]
    assert txn.next_deadline() == 1.0
    txn.on_timer(1.0)
    assert state_of(txn) is State.TERMINATED


def test_transport_error_terminates_with_its_reason() -> None:
    txn = NonInviteClient(DATA, reliable=True, now=0.0, timers=T)
    txn.start()
    assert txn.transport_error("connection closed", 0.2) == [Outcome(error="connection closed")]
    assert state_of(txn) is State.TERMINATED
    assert txn.receive(response(200), 0.3) == []  # a missing (state, input) pair: nothing


def test_server_absorbs_then_repeats_its_final_until_timer_j() -> None:
    server = NonInviteServer(reliable=False, timers=T)
    assert server.request_again() == []  # Trying: absorbed
    final = b"SIP/2.0 200 OK\r\n\r\n"
    assert server.respond(200, final, now=1.0) == [Transmit(final)]
    assert state_of(server) is State.COMPLETED
    assert server.request_again() == [Transmit(final)]
    assert server.respond(500, b"again", now=1.5) == []  # only one final
    assert server.next_deadline() == 1.0 + 64 * T.t1
    server.on_timer(33.0)
    assert state_of(server) is State.TERMINATED


def test_server_over_a_reliable_transport_terminates_at_once() -> None:
    server = NonInviteServer(reliable=True, timers=T)
    server.respond(200, b"ok", now=3.0)
    assert server.next_deadline() == 3.0


INPUTS = st.lists(
    st.one_of(
        st.tuples(st.just("response"), st.sampled_from([100, 180, 200, 401, 489, 503])),
        st.tuples(st.just("timer"), st.floats(min_value=0, max_value=40)),
        st.tuples(st.just("error"), st.just(0)),
    ),
    max_size=30,
)


@given(INPUTS, st.booleans())
def test_any_input_sequence_reports_at_most_one_outcome(
    inputs: list[tuple[str, float]], reliable: bool
) -> None:
    txn = NonInviteClient(DATA, reliable=reliable, now=0.0, timers=T)
    txn.start()
    now = 0.0
    outcomes = []
    for kind, value in inputs:
        now += 0.25
        if kind == "response":
            effects = txn.receive(response(int(value)), now)
        elif kind == "timer":
            now = max(now, value)
            effects = txn.on_timer(now)
        else:
            effects = txn.transport_error("boom", now)
        outcomes += [e for e in effects if isinstance(e, Outcome)]
    assert len(outcomes) <= 1
    if state_of(txn) is State.TERMINATED:
        assert txn.next_deadline() is None

"""HTTP manager sessions on a hand-stepped clock: ids, lifetimes, ending, the cap, and the
events kept for WaitEvent."""

from __future__ import annotations

import itertools

from sipnotify.web.sessions import (
    MAX_EVENTS,
    MAX_SESSIONS,
    UNAUTHENTICATED_LIFETIME,
    HttpSession,
    SessionTable,
)


def table(ended: list[HttpSession] | None = None) -> SessionTable:
    ids = (f"{n:08x}" for n in itertools.count(1))
    sink = ended if ended is not None else []
    return SessionTable(httptimeout=lambda: 60, new_id=lambda: next(ids), on_end=sink.append)


def test_a_request_without_a_live_cookie_gets_a_new_session() -> None:
    sessions = table()
    first = sessions.find(None, "127.0.0.1", 0.0)
    assert first.id == "00000001"
    assert sessions.find('"00000001"', "127.0.0.1", 1.0) is first  # quoted, as Asterisk sets it
    assert sessions.find("nope", "127.0.0.1", 1.0).id == "00000002"


def test_unauthenticated_sessions_live_5_seconds_logged_in_ones_httptimeout() -> None:
    ended: list[HttpSession] = []
    sessions = table(ended)
    anonymous = sessions.find(None, "p", 0.0)
    assert anonymous.expires_at == UNAUTHENTICATED_LIFETIME
    user = sessions.find(None, "p", 0.0)
    user.state.authenticated = True
    sessions.touch(user, 0.0)
    assert user.expires_at == 60.0
    assert sessions.find(user.id, "p", 30.0) is user
    assert ended == [anonymous]  # purged when 5 s had passed
    sessions.touch(user, 30.0)
    assert sessions.find(user.id, "p", 89.0) is user
    assert sessions.find(user.id, "p", 91.0) is not user


def test_an_ended_session_id_is_never_valid_again() -> None:
    ended: list[HttpSession] = []
    sessions = table(ended)
    session = sessions.find(None, "p", 0.0)
    sessions.end(session)
    assert session.ended
    assert ended == [session]
    assert sessions.find(session.id, "p", 0.1).id != session.id


def test_a_flood_of_new_sessions_is_capped() -> None:
    sessions = table()
    for n in range(MAX_SESSIONS + 50):
        sessions.find(None, "p", n * 0.0001)
    assert len(sessions) == MAX_SESSIONS


def test_events_wait_bounded_and_wake_a_waiter() -> None:
    session = HttpSession("1", "p")
    woken: list[int] = []
    session.wake = lambda: woken.append(1)
    for n in range(MAX_EVENTS + 5):
        session.send_event(b"Event: E%d\r\n\r\n" % n)
    assert len(woken) == MAX_EVENTS + 5
    taken = session.take_events()
    assert len(taken) == MAX_EVENTS
    assert taken[0] == b"Event: E5\r\n\r\n"  # the oldest went first
    assert session.take_events() == []

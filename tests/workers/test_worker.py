"""A worker's identity: names, the marks its identifiers carry, and recognising a datagram
meant for a sibling."""

from __future__ import annotations

import re

import pytest

from sipnotify.sip.ids import Ids
from sipnotify.workers.worker import WORKER_ENV, Worker

SECOND = Worker(index=1, count=3, base="a1b2c3d4", systemname="pbx")


def test_names_and_siblings() -> None:
    assert SECOND.name == "pbx-2"
    assert SECOND.name_of(0) == "pbx-1"
    assert SECOND.siblings == {"pbx-1", "pbx-3"}


def test_the_environment_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKER_ENV, SECOND.environment())
    assert Worker.from_environment() == SECOND
    monkeypatch.delenv(WORKER_ENV)
    assert Worker.from_environment() is None


def test_identifiers_carry_the_workers_mark_and_differ_at_each_start() -> None:
    first, again = Ids(prefix=SECOND.ids_prefix()), Ids(prefix=SECOND.ids_prefix())
    assert re.fullmatch(r"z9hG4bKPja1b2c3d4\.1\.[0-9a-f]{6}-1", first.branch())
    assert first() != again()


def response(branch: str) -> bytes:
    return (f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;rport=5060;branch={branch}\r\n"
            "CSeq: 1 NOTIFY\r\n\r\n").encode()  # fmt: skip


def test_a_datagram_is_meant_for_the_worker_its_identifiers_name() -> None:
    made_by = {i: Ids(prefix=Worker(i, 3, "a1b2c3d4", "pbx").ids_prefix()) for i in range(3)}
    assert SECOND.meant_for(response(made_by[0].branch())) == 0
    assert SECOND.meant_for(response(made_by[2].branch())) == 2
    assert SECOND.meant_for(response(made_by[1].branch())) is None  # its own
    assert SECOND.meant_for(b"REGISTER sip:pbx SIP/2.0\r\nTo: <sip:bob@pbx>\r\n\r\n") is None
    in_dialog = f"BYE sip:x SIP/2.0\r\nTo: <sip:bob@x>;tag={made_by[2]()}\r\n\r\n".encode()
    assert SECOND.meant_for(in_dialog) == 2
    other_supervisor = Ids(prefix=Worker(0, 3, "ffffffff", "pbx").ids_prefix())
    assert SECOND.meant_for(response(other_supervisor.branch())) is None
    assert SECOND.meant_for(response("z9hG4bKPja1b2c3d4.7.abc-1")) is None  # no such worker
    assert SECOND.meant_for(response("z9hG4bKPja1b2c3d4.x.abc-1")) is None

"""The hand-off between two workers over real local datagram sockets."""

from __future__ import annotations

import asyncio

import pytest

from sipnotify.sip.ids import Ids
from sipnotify.workers.handoff import Handoff, decode, encode
from sipnotify.workers.worker import Worker

Received = list[tuple[str, bytes, tuple[str, int]]]


def test_a_handoff_round_trips_and_refuses_what_no_sibling_sends() -> None:
    packet = encode("transport-udp", b"SIP/2.0 200 OK\r\n\r\n", ("::1", 5062))
    assert decode(packet) == ("transport-udp", b"SIP/2.0 200 OK\r\n\r\n", ("::1", 5062))
    with pytest.raises(ValueError, match="not enough values"):
        decode(b"udp\n127.0.0.1\n")
    with pytest.raises(ValueError, match="invalid literal"):
        decode(b"udp\n127.0.0.1\nport\nSIP")


def test_a_sibling_s_answer_is_passed_on_and_one_for_a_stopped_worker_lost() -> None:
    asyncio.run(passed_on())


async def passed_on() -> None:
    base = Ids()().replace("-", "")
    workers = [Worker(i, 3, base, "pbx") for i in range(3)]
    received: dict[int, Received] = {0: [], 1: []}
    ends = [Handoff(w, lambda *d, i=w.index: received[i].append(d)) for w in workers[:2]]
    for end in ends:
        end.start()
    try:
        branch = Ids(prefix=workers[1].ids_prefix()).branch()
        answer = f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch={branch}\r\n\r\n".encode()
        assert ends[0].divert("udp", answer, ("127.0.0.1", 7000))
        assert not ends[0].divert("udp", b"OPTIONS sip:x SIP/2.0\r\n\r\n", ("127.0.0.1", 7000))
        for _ in range(100):
            if received[1]:
                break
            await asyncio.sleep(0.01)
        assert received == {0: [], 1: [("udp", answer, ("127.0.0.1", 7000))]}
        third = Ids(prefix=workers[2].ids_prefix()).branch()
        assert ends[0].divert("udp", f"SIP/2.0 200 OK\r\nVia: x;branch={third}".encode(), ("h", 1))
        assert (ends[0].passed, ends[0].lost) == (1, 1)
    finally:
        for end in ends:
            end.close()

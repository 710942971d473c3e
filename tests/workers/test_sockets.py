"""A worker takes each socket the supervisor bound for it once, by the address configured."""

from __future__ import annotations

import json
import os
import socket

import pytest

from sipnotify.workers.sockets import SOCKETS_ENV, Inherited, Kind, Listen, bind_group, environment


def test_each_worker_takes_its_own_socket_of_each_group(monkeypatch: pytest.MonkeyPatch) -> None:
    udp, ami = Listen(Kind.UDP, "127.0.0.1", 0), Listen(Kind.AMI, "127.0.0.1", 0)
    groups = {udp: bind_group(udp, 2), ami: bind_group(ami, 2)}
    try:
        monkeypatch.setenv(SOCKETS_ENV, environment(groups, 1))
        assert json.loads(os.environ[SOCKETS_ENV]) == {
            "udp 127.0.0.1 0": groups[udp][1].fileno(), "ami 127.0.0.1 0": groups[ami][1].fileno()
        }  # fmt: skip
        inherited = Inherited.from_environment()
        assert inherited is not None
        taken = inherited.take(Kind.UDP, "127.0.0.1", 0)
        assert taken is not None
        assert taken.fileno() == groups[udp][1].fileno()
        assert (taken.type, taken.getblocking()) == (socket.SOCK_DGRAM, False)
        assert inherited.take(Kind.UDP, "127.0.0.1", 0) is None  # once
        assert inherited.take(Kind.HTTP, "127.0.0.1", 0) is None  # not bound by the supervisor
        inherited.close_rest()  # the AMI socket this worker did not use
        with pytest.raises(OSError, match="Bad file descriptor"):
            os.fstat(groups[ami][1].fileno())
        groups[ami][1].detach()  # closed already
        taken.detach()  # the group below closes the descriptor
    finally:
        for group in groups.values():
            for sock in group:
                sock.close()


def test_outside_a_worker_nothing_is_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SOCKETS_ENV, raising=False)
    assert Inherited.from_environment() is None

"""The steering program, checked against the kernel: every datagram reaches the socket of
the group that `owner` names."""

from __future__ import annotations

import select
import socket

import pytest

from sipnotify.workers.sockets import Kind, Listen, bind_group
from sipnotify.workers.steering import owner


def test_owner_adds_the_address_and_port_modulo_the_count() -> None:
    assert owner("0.0.0.1", 2, 4) == 3
    assert owner("127.0.0.1", 5061, 2) == (0x7F000001 + 5061) % 2
    assert owner("255.255.255.255", 1, 3) == 0  # the sum wraps at 32 bits, as in the kernel
    assert owner("2001:db8::1:2", 7, 5) == (0x00010002 + 7) % 5  # an IPv6 address's low bits
    assert owner("::ffff:10.0.0.1", 9, 7) == owner("10.0.0.1", 9, 7)  # IPv4 on an IPv6 socket


def read_from(sock: socket.socket) -> list[int]:
    """Source ports of the datagrams waiting on `sock`."""
    ports = []
    while select.select([sock], [], [], 0)[0]:
        ports.append(sock.recvfrom(64)[1][1])
    return ports


def ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    ("host", "count"),
    [
        ("127.0.0.1", 2),
        ("127.0.0.1", 3),
        pytest.param("::1", 3, marks=pytest.mark.skipif(not ipv6(), reason="no IPv6 loopback")),
    ],
)
def test_the_kernel_delivers_each_datagram_to_the_socket_owner_names(host: str, count: int) -> None:
    group = bind_group(Listen(Kind.UDP, host, 0), count)
    family = group[0].family
    try:
        target = group[0].getsockname()
        assert {sock.getsockname() for sock in group} == {target}
        senders = [socket.socket(family, socket.SOCK_DGRAM) for _ in range(4 * count)]
        for sender in senders:
            sender.bind((host, 0))
            sender.sendto(b"x", target)
        select.select(group, [], [], 1.0)
        received = {index: read_from(sock) for index, sock in enumerate(group)}
        for sender in senders:
            port = sender.getsockname()[1]
            assert port in received[owner(host, port, count)]
            sender.close()
        assert sum(map(len, received.values())) == len(senders)
    finally:
        for sock in group:
            sock.close()


def test_stream_groups_share_one_port_and_listen() -> None:
    group = bind_group(Listen(Kind.AMI, "127.0.0.1", 0), 2)
    try:
        port = group[0].getsockname()[1]
        assert group[1].getsockname()[1] == port
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            assert select.select(group, [], [], 2.0)[0]
    finally:
        for sock in group:
            sock.close()

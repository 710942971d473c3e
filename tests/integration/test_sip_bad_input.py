"""What the SIP side does with bad bytes: answer 400 (or 505) where a response is possible,
drop otherwise, close a stream that cannot be framed; other traffic is never disturbed."""

from __future__ import annotations

import contextlib
import socket

import pytest

from tests.integration.conftest import RawAmi, Service, StartService, Uas, admin_conf

PJSIP = """[udp]
type=transport
protocol=udp
bind=127.0.0.1:0
[tcp]
type=transport
protocol=tcp
bind=127.0.0.1:0
[alice]
type=aor
contact=sip:alice@127.0.0.1:{port}
[alice]
type=endpoint
aors=alice
"""
HEADERS = (
    "Via: SIP/2.0/{t} 127.0.0.1:5999;branch=z9hG4bK{b};rport\r\nFrom: <sip:t@x>;tag=1\r\n"
    "To: <sip:s@x>\r\nCall-ID: {b}\r\nCSeq: 1 {m}\r\n"
)


@pytest.fixture
def service(start_service: StartService) -> Service:
    return start_service(admin_conf(), files={"pjsip.conf": PJSIP.format(port=9)})


def udp_exchange(port: int, data: bytes, *, expect_reply: bool) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2 if expect_reply else 0.5)
        sock.sendto(data, ("127.0.0.1", port))
        try:
            return sock.recv(65536)
        except TimeoutError:
            return b""


def test_udp_garbage_is_dropped_and_malformed_requests_get_400(service: Service) -> None:
    port = service.sip_port("udp")
    for junk in (b"\x00\xff" * 100, b"hello world", b"SIP/2.0 200 OK\r\n\r\n", b"\r\n\r\n"):
        assert udp_exchange(port, junk, expect_reply=False) == b""
    bad = "OPTIONS sip:s@x SIP/2.0\r\n" + HEADERS.format(t="UDP", b="bad1", m="NOTIFY")
    reply = udp_exchange(port, (bad + "Content-Length: 0\r\n\r\n").encode(), expect_reply=True)
    assert reply.startswith(b"SIP/2.0 400 Bad Request\r\n")
    assert b"Via: SIP/2.0/UDP 127.0.0.1:5999;received=127.0.0.1;rport=" in reply
    assert b"Warning: 399 sipnotify" in reply
    version = "OPTIONS sip:s@x SIP/3.0\r\n" + HEADERS.format(t="UDP", b="v3", m="OPTIONS")
    reply = udp_exchange(port, (version + "\r\n").encode(), expect_reply=True)
    assert reply.startswith(b"SIP/2.0 505 Version Not Supported\r\n")


def test_options_is_answered_and_unknown_methods_get_501(service: Service) -> None:
    port = service.sip_port("udp")
    for method, status in (("OPTIONS", b"200 OK"), ("MESSAGE", b"501 Not Implemented")):
        request = f"{method} sip:s@x SIP/2.0\r\n" + HEADERS.format(t="UDP", b=method, m=method)
        reply = udp_exchange(
            port, (request + "Max-Forwards: 70\r\n\r\n").encode(), expect_reply=True
        )
        assert reply.startswith(b"SIP/2.0 " + status + b"\r\n")
        # the To tag is the request's branch, as in Asterisk's answers outside a dialog
        assert f"\r\nTo: <sip:s@x>;tag=z9hG4bK{method}\r\n".encode() in reply
        assert b"\r\nCSeq: 1 " + method.encode() + b"\r\n" in reply


def test_tcp_endless_header_is_closed_and_tcp_options_answered(service: Service) -> None:
    port = service.sip_port("tcp")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as flood:
        flood.sendall(b"OPTIONS sip:s@x SIP/2.0\r\nX-Endless: ")
        closed = False
        try:
            for _ in range(200):
                flood.sendall(b"y" * 4096)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        if not closed:  # closed with our bytes unread: EOF, or a reset
            flood.settimeout(5)
            with contextlib.suppress(ConnectionResetError):
                assert flood.recv(65536) == b""
    request = "OPTIONS sip:s@x SIP/2.0\r\n" + HEADERS.format(t="TCP", b="tcpok", m="OPTIONS")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall((request + "Content-Length: 0\r\n\r\n").encode())
        assert client.recv(65536).startswith(b"SIP/2.0 200 OK\r\n")
        client.sendall(b"\r\n\r\n")  # RFC 5626 keep-alive ping gets a CRLF pong
        assert client.recv(16) == b"\r\n"


def test_notifies_flow_while_garbage_arrives(start_service: StartService, uas: Uas) -> None:
    sipp = uas("uas_notify.xml", calls=3)
    service = start_service(admin_conf(), files={"pjsip.conf": PJSIP.format(port=sipp.port)})
    port = service.sip_port("udp")
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        for i in range(3):
            udp_exchange(port, b"\xde\xad" * (i + 1) * 300, expect_reply=False)
            _, events = ami.notify("Endpoint: alice\r\nVariable: Event=check-sync\r\n")
            assert b"Result: Success\r\n" in events[0]
    assert sipp.finish() == 0

"""Hostile SIP input against a running server: every request gets a final answer and its
transaction ends, nothing a stranger sends reaches the wire or the store, a stream cannot be
made to carry a second request, and the server keeps serving everyone else."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from tests.integration.conftest import RawAmi, Service, StartService, admin_conf

CORPUS = Path(__file__).parent.parent / "sip" / "torture" / "invalid"
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
max_contacts=2
[alice]
type=endpoint
aors=alice
"""
# The invalid torture messages that hold no Via to answer to, or are responses: dropped, as
# RFC 3261 §18.2.1 and §18.1.2 leave no other choice.
UNANSWERABLE = {"emptyvia", "blankvia", "viaport", "viasentby", "nocallid", "empty", "badstatus"}


@pytest.fixture
def service(start_service: StartService) -> Service:
    return start_service(admin_conf(), files={"pjsip.conf": PJSIP})


class Phone:
    """A UDP socket that sends raw requests and reads the answers."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(3)
        self.port = self.sock.getsockname()[1]

    def ask(self, server: int, data: bytes) -> bytes:
        self.sock.sendto(data, ("127.0.0.1", server))
        return self.sock.recv(65536)

    def silent(self, server: int, data: bytes) -> bool:
        """True when `data` draws no answer within half a second."""
        self.sock.sendto(data, ("127.0.0.1", server))
        self.sock.settimeout(0.5)
        try:
            self.sock.recv(65536)
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(3)
        return False

    def close(self) -> None:
        self.sock.close()


def register(phone: Phone, branch: str, *, contact: str, expires: str = "60") -> bytes:
    return (
        f"REGISTER sip:127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{phone.port};rport;branch=z9hG4bK{branch}\r\n"
        f"From: <sip:alice@127.0.0.1>;tag={branch}\r\nTo: <sip:alice@127.0.0.1>\r\n"
        f"Call-ID: {branch}@h\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n"
        f"Contact: {contact}\r\nExpires: {expires}\r\nContent-Length: 0\r\n\r\n"
    ).encode("utf-8", "surrogateescape")


def status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def contacts(service: Service) -> bytes:
    """PJSIPShowContacts' reply: `No Contacts found` or the start of the list."""
    with RawAmi(service.port) as ami:
        ami.login()
        ami.send(b"Action: PJSIPShowContacts\r\n\r\n")
        return ami.message()


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.sip")), ids=lambda p: p.stem)
def test_every_invalid_torture_message_is_answered_or_dropped(service: Service, path: Path) -> None:
    case, expected = path.stem.rsplit(".", 1)
    phone = Phone()
    try:
        port = service.sip_port()
        data = path.read_bytes()
        if case in UNANSWERABLE:
            assert phone.silent(port, data)
        else:
            assert status(phone.ask(port, data)) == int(expected)
        options = register(phone, "after" + case, contact=f"<sip:alice@127.0.0.1:{phone.port}>")
        assert status(phone.ask(port, options.replace(b"Expires: 60", b"Expires: 0"))) == 200
    finally:
        phone.close()
    assert "Traceback" not in service.log()


@pytest.mark.parametrize(
    ("contact", "expires"),
    [
        ("<sip:alice@127.0.0.1:5999>", "\u00b2"),  # a digit outside ASCII
        ("<sip:ali\udcffce@127.0.0.1:5999>", "60"),  # a byte that is not UTF-8
        ("<sip:alice@127.0.0.1:5999;x=1\rX-Injected: evil>", "60"),  # a bare CR
        ("<sip:alice@127.0.0.1:" + "9" * 5000 + ">", "60"),
    ],
    ids=["superscript-expires", "byte-ff", "bare-cr", "huge-port"],
)
def test_hostile_register_gets_400_its_retransmission_too_and_stores_nothing(
    service: Service, contact: str, expires: str
) -> None:
    phone = Phone()
    try:
        request = register(phone, "hostile", contact=contact, expires=expires)
        assert status(phone.ask(service.sip_port(), request)) == 400
        assert status(phone.ask(service.sip_port(), request)) == 400  # the transaction answers
    finally:
        phone.close()
    assert b"Message: No Contacts found" in contacts(service)
    assert "Traceback" not in service.log()


def test_a_huge_expires_parameter_is_taken_as_the_maximum(service: Service) -> None:
    phone = Phone()
    try:
        contact = f"<sip:alice@127.0.0.1:{phone.port}>;expires={'9' * 5000}"
        reply = phone.ask(service.sip_port(), register(phone, "huge", contact=contact))
    finally:
        phone.close()
    assert status(reply) == 200
    assert re.search(rb"Contact: <sip:alice@127\.0\.0\.1:\d+>;expires=7200\r\n", reply)


def test_unknown_require_gets_420_naming_it(service: Service) -> None:
    phone = Phone()
    try:
        request = register(phone, "req", contact=f"<sip:alice@127.0.0.1:{phone.port}>")
        request = request.replace(b"Expires:", b"Require: path, x-frob\r\nExpires:")
        reply = phone.ask(service.sip_port(), request)
    finally:
        phone.close()
    assert reply.startswith(b"SIP/2.0 420 Bad Extension\r\n")
    assert b"\r\nUnsupported: x-frob\r\n" in reply


def test_two_branchless_requests_are_two_transactions(service: Service) -> None:
    """RFC 2543 peers send no magic-cookie branch: RFC 3261 §17.2.3 tells their requests
    apart by Request-URI, From tag, Call-ID, CSeq and Via, so each gets its own answer."""
    phone = Phone()
    try:
        for call_id in ("first@h", "second@h"):
            request = (
                f"OPTIONS sip:s@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{phone.port}\r\n"
                f"From: <sip:t@h>;tag=1\r\nTo: <sip:s@h>\r\nCall-ID: {call_id}\r\n"
                "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            ).encode()
            reply = phone.ask(service.sip_port(), request)
            assert reply.startswith(b"SIP/2.0 200 OK\r\n")
            assert f"\r\nCall-ID: {call_id}\r\n".encode() in reply
    finally:
        phone.close()


def test_conflicting_content_lengths_close_the_stream_and_smuggle_nothing(
    service: Service,
) -> None:
    smuggled = (
        "OPTIONS sip:s@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKin\r\n"
        "From: <sip:t@h>;tag=2\r\nTo: <sip:s@h>\r\nCall-ID: smuggled\r\nCSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    outer = (
        "OPTIONS sip:s@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKout\r\n"
        "From: <sip:t@h>;tag=1\r\nTo: <sip:s@h>\r\nCall-ID: outer\r\nCSeq: 1 OPTIONS\r\n"
        f"Content-Length: 0\r\nl: {len(smuggled)}\r\n\r\n{smuggled}"
    )
    received = b""
    with socket.create_connection(("127.0.0.1", service.sip_port("tcp")), timeout=5) as stream:
        stream.sendall(outer.encode())
        for _ in range(20):
            try:
                chunk = stream.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    assert b"smuggled" not in received
    assert b"200 OK" not in received


def test_uri_target_with_cr_is_refused_at_the_edge(service: Service) -> None:
    with RawAmi(service.port) as ami:
        ami.login()
        ami.send(
            b"Action: PJSIPNotify\r\nActionID: inj\r\n"
            b"URI: sip:a@127.0.0.1;x=1\rX-Injected: evil\r\nVariable: Event=check-sync\r\n\r\n"
        )
        reply = ami.message()
    assert reply.startswith(b"Response: Error\r\nActionID: inj\r\nMessage: Unable to send NOTIFY: ")
    assert b"\\rX-Injected" in reply
    assert b"\r" not in reply.split(b"Message: ", 1)[1][:-4]


def test_compact_content_length_cannot_add_a_second_one(start_service: StartService) -> None:
    """`l` is Content-Length: a user's `l=0` beside a body must not reach the wire, where a
    TCP phone could read the body as a second request."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind(("127.0.0.1", 0))
        phone.settimeout(5)
        static = f"max_contacts=2\ncontact=sip:alice@127.0.0.1:{phone.getsockname()[1]}\n"
        service = start_service(
            admin_conf(), files={"pjsip.conf": PJSIP.replace("max_contacts=2\n", static)}
        )
        with RawAmi(service.port) as ami:
            ami.login()
            ami.send(
                b"Action: PJSIPNotify\r\nEndpoint: alice\r\nVariable: Event=check-sync,l=0,"
                b"Content-Type=text/plain,Content=hello\r\n\r\n"
            )
            assert ami.message().startswith(b"Response: Success")
            notify = phone.recv(65536)
    lengths = re.findall(rb"\r\n(?:Content-Length|l)[ \t]*:[ \t]*(\d+)", notify, re.IGNORECASE)
    assert lengths == [b"5"]
    assert notify.endswith(b"\r\n\r\nhello")


def test_a_hostile_request_over_tcp_is_answered_and_the_connection_stays(
    service: Service,
) -> None:
    """Before, a digit outside ASCII raised inside the transport and dropped the connection."""
    request = (
        "OPTIONS sip:s@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK{b}\r\n"
        "From: <sip:t@h>;tag=1\r\nTo: <sip:s@h>\r\nCall-ID: {b}\r\nCSeq: 1 OPTIONS\r\n"
        "Max-Forwards: {m}\r\nContent-Length: 0\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", service.sip_port("tcp")), timeout=5) as stream:
        stream.sendall(request.format(b="sup", m="\u00b2").encode())
        assert stream.recv(65536).startswith(b"SIP/2.0 400 Bad Request\r\n")
        stream.sendall(request.format(b="fine", m="70").encode())
        assert stream.recv(65536).startswith(b"SIP/2.0 200 OK\r\n")
    assert "Traceback" not in service.log()

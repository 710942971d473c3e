"""Phones register with digest auth; PJSIPNotify then reaches them where they registered,
over UDP or over the TCP connection they opened, across restarts and `kill -9`."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import uuid

import pytest

from tests.integration.conftest import RawAmi, Service, StartService, Uas, admin_conf, wait_for
from tests.integration.ports import free_port
from tests.integration.sipp import SCENARIOS, Sipp, header
from tests.integration.test_pjsip_notify import result

PJSIP = """[udp]
type=transport
protocol=udp
bind=127.0.0.1:0
[tcp]
type=transport
protocol=tcp
bind=127.0.0.1:0
[bob]
type=auth
username=bob
password=secret
[bob]
type=aor
max_contacts=2
[bob]
type=endpoint
aors=bob
auth=bob
[alice]
type=aor
max_contacts=1
[alice]
type=endpoint
aors=alice
"""


def start(start_service: StartService, data: str | None = None) -> Service:
    extra = ("--data-dir", data) if data else ()
    return start_service(admin_conf(), files={"pjsip.conf": PJSIP}, extra_args=extra)


def register(
    uas: Uas,
    service: Service,
    *,
    user: str = "bob",
    password: str = "secret",
    contact: str | None = None,
    protocol: str = "udp",
    hold_ms: int = 0,
    port: int | None = None,
    ooc: str = "uas_notify.xml",
    expires: str = "600",
) -> Sipp:
    """Run SIPp's REGISTER scenario against the service; returns it (finished unless held)."""
    port = port or free_port()
    contact = contact or f"sip:{user}@127.0.0.1:{port}"
    return uas(
        "uac_register.xml",
        transport="u1" if protocol == "udp" else "t1",
        port=port,
        extra=(
            f"127.0.0.1:{service.sip_port(protocol)}",
            "-set", "user", user, "-set", "contact", contact, "-set", "expires", expires,
            "-au", user, "-ap", password, "-d", str(hold_ms), "-oocsf",
            str(SCENARIOS / ooc),
        ),
    )  # fmt: skip


def notify(service: Service, endpoint: str) -> list[bytes]:
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        answer, events = ami.notify(f"Endpoint: {endpoint}\r\nVariable: Event=check-sync\r\n")
    assert answer.endswith(b"NOTIFY sent\r\n\r\n"), answer
    return events


def test_register_with_digest_then_notify_reaches_the_contact(
    start_service: StartService, uas: Uas
) -> None:
    service = start(start_service)
    reg = register(uas, service)
    assert reg.finish() == 0, reg.output
    first, second = reg.received()
    assert first.startswith(b"SIP/2.0 401 Unauthorized\r\n")
    challenge = header(first, "WWW-Authenticate")[0]
    assert re.fullmatch(
        r'Digest realm="asterisk",nonce="\d+/[0-9a-f]{32}",opaque="[0-9a-f]{16}",'
        r'algorithm=MD5,qop="auth"',
        challenge,
    )
    assert second.startswith(b"SIP/2.0 200 OK\r\n")
    assert header(second, "Contact") == [f"<sip:bob@127.0.0.1:{reg.port}>;expires=600"]
    assert header(second, "Expires") == ["600"]
    assert header(second, "Date")[0].endswith(" GMT")
    phone = uas("uas_notify.xml", port=reg.port)
    (event, complete) = notify(service, "bob")
    assert result(event, "URI") == f"sip:bob@127.0.0.1:{reg.port}"
    assert result(event, "StatusCode") == "200"
    assert b"Total: 1\r\n" in complete
    assert phone.finish() == 0


def test_wrong_password_is_challenged_again_and_nothing_is_stored(
    start_service: StartService, uas: Uas
) -> None:
    service = start(start_service)
    reg = register(uas, service, password="wrong")
    assert reg.finish() != 0
    assert [m.split(b"\r\n")[0] for m in reg.received()] == [
        b"SIP/2.0 401 Unauthorized",
        b"SIP/2.0 401 Unauthorized",
    ]
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        ami.send(b"Action: PJSIPNotify\r\nEndpoint: bob\r\nVariable: Event=x\r\n\r\n")
        assert ami.message().endswith(
            b"Message: Unable to send NOTIFY: endpoint bob has no contacts\r\n\r\n"
        )


def raw_register(
    port: int, from_user: str, to_user: str, contact: str = "sip:x@127.0.0.1:9"
) -> bytes:
    request = (
        f"REGISTER sip:127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{uuid.uuid4().hex};rport\r\n"
        f"From: <sip:{from_user}@127.0.0.1>;tag=1\r\nTo: <sip:{to_user}@127.0.0.1>\r\n"
        f"Call-ID: {uuid.uuid4()}\r\nCSeq: 1 REGISTER\r\nContact: <{contact}>\r\n"
        "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(request.encode(), ("127.0.0.1", port))
        return sock.recv(65536)


def test_another_users_aor_is_refused_and_unknown_users_are_challenged(
    start_service: StartService,
) -> None:
    service = start(start_service)
    port = service.sip_port()
    assert raw_register(port, "alice", "bob").startswith(b"SIP/2.0 404 Not Found\r\n")
    assert raw_register(port, "alice", "alice").startswith(b"SIP/2.0 200 OK\r\n")
    unknown = raw_register(port, "mallory", "mallory")  # challenged like anyone: no enumeration
    assert unknown.startswith(b"SIP/2.0 401 Unauthorized\r\n")
    assert b'WWW-Authenticate: Digest realm="asterisk"' in unknown
    assert raw_register(port, "alice", "alice", "garbage").startswith(
        b"SIP/2.0 400 Bad Request\r\n"
    )


def test_tcp_registration_is_reached_over_its_own_connection(
    start_service: StartService, uas: Uas
) -> None:
    service = start(start_service)
    # The Contact points nowhere useful: only the open connection can carry the NOTIFY.
    reg = register(
        uas, service, protocol="tcp", contact="sip:bob@127.0.0.1:9;transport=tcp", hold_ms=4000
    )
    wait_for(lambda: len(reg.received()) >= 2, 10, "the TCP registration")
    (event, _complete) = notify(service, "bob")
    assert result(event, "StatusCode") == "200", event
    assert result(event, "URI") == "sip:bob@127.0.0.1:9;transport=tcp"
    assert reg.finish() == 0, reg.output
    notifies = [m for m in reg.received() if m.startswith(b"NOTIFY ")]
    assert len(notifies) == 1
    assert header(notifies[0], "Via")[0].startswith("SIP/2.0/TCP ")


def test_registrations_survive_restart_and_kill_9(
    start_service: StartService, uas: Uas, tmp_path: object
) -> None:
    data = str(tmp_path) + "/shared-data"
    first = start(start_service, data)
    reg = register(uas, first)
    assert reg.finish() == 0
    first.stop(signal.SIGKILL)
    second = start(start_service, data)
    phone = uas("uas_notify.xml", port=reg.port)
    (event, _) = notify(second, "bob")
    assert result(event, "StatusCode") == "200"
    assert phone.finish() == 0
    assert second.stop() == 0
    third = start(start_service, data)
    phone = uas("uas_notify.xml", port=reg.port)
    (event, _) = notify(third, "bob")
    assert result(event, "StatusCode") == "200"
    assert phone.finish() == 0


def test_a_flood_of_wrong_credentials_disturbs_nothing(
    start_service: StartService, uas: Uas
) -> None:
    service = start(start_service)
    port = service.sip_port()
    forged = (
        'Authorization: Digest username="bob",realm="asterisk",nonce="{n}/{h}",'
        'uri="sip:127.0.0.1",response="00000000000000000000000000000000",algorithm=MD5\r\n'
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flood:
        flood.settimeout(5)
        for i in range(3000):
            request = (
                f"REGISTER sip:127.0.0.1:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKflood{i};rport\r\n"
                f"From: <sip:bob@127.0.0.1>;tag={i}\r\nTo: <sip:bob@127.0.0.1>\r\n"
                f"Call-ID: flood-{i}\r\nCSeq: 1 REGISTER\r\nContact: <sip:bob@10.9.9.9>\r\n"
                + forged.format(n=1_000_000 + i, h=uuid.uuid4().hex)
                + "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            )
            flood.sendto(request.encode(), ("127.0.0.1", port))
        answers = 0
        flood.settimeout(1)
        try:
            for _ in range(3000):
                answers += flood.recv(65536).startswith(b"SIP/2.0 401 Unauthorized\r\n")
        except TimeoutError:
            pass
    assert answers > 0  # every forged answer is re-challenged, none accepted
    reg = register(uas, service)
    assert reg.finish() == 0
    phone = uas("uas_notify.xml", port=reg.port)
    (event, complete) = notify(service, "bob")
    assert result(event, "StatusCode") == "200"
    assert b"Total: 1\r\n" in complete  # the forged contact was never stored
    assert phone.finish() == 0


def test_show_command_lists_endpoints_and_registered_contacts(
    start_service: StartService, uas: Uas
) -> None:
    service = start(start_service)
    reg = register(uas, service)
    assert reg.finish() == 0

    def show(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sipnotify", "show", *args, "--port", str(service.port),
             "--secret", "s3cret"],
            capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    endpoints = show("endpoints")
    assert endpoints.returncode == 0, endpoints.stderr
    lines = endpoints.stdout.splitlines()
    assert lines[0].split() == ["Endpoint", "Transport", "AORs", "Contacts", "State"]
    assert lines[1].split() == ["alice", "-", "alice", "0", "Unavailable"]
    assert lines[2].split() == ["bob", "-", "bob", "1", "Not", "in", "use"]
    contacts = show("contacts")
    row = contacts.stdout.splitlines()[1].split()
    assert row[:3] == ["bob", f"sip:bob@127.0.0.1:{reg.port}", "NonQualified"]
    assert row[-1] == f"127.0.0.1:{reg.port}"
    one = show("endpoint", "bob")
    assert f"Contact: bob/sip:bob@127.0.0.1:{reg.port}" in one.stdout
    missing = show("endpoint", "nobody")
    assert missing.returncode == 1
    assert missing.stdout.strip() == "Unable to retrieve endpoint nobody"


@pytest.mark.parametrize(
    ("force_rport", "rport", "answered_at_source"),
    [("no", False, False), ("no", True, True), ("yes", False, True)],
)
def test_force_rport_decides_where_responses_go(
    start_service: StartService, force_rport: str, rport: bool, answered_at_source: bool
) -> None:
    alice = "[alice]\ntype=endpoint\naors=alice\n"
    conf = PJSIP.replace(alice, f"{alice}force_rport={force_rport}\n")
    service = start_service(admin_conf(), files={"pjsip.conf": conf})
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sent_by,
    ):
        sender.bind(("127.0.0.1", 0))
        sent_by.bind(("127.0.0.1", 0))
        for sock in (sender, sent_by):
            sock.settimeout(1)
        via_port = sent_by.getsockname()[1]
        request = (
            f"REGISTER sip:127.0.0.1:{service.sip_port()} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{via_port};branch=z9hG4bK{uuid.uuid4().hex}"
            + (";rport" if rport else "")
            + "\r\nFrom: <sip:alice@127.0.0.1>;tag=1\r\nTo: <sip:alice@127.0.0.1>\r\n"
            f"Call-ID: {uuid.uuid4()}\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@127.0.0.1:9>\r\n"
            "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        sender.sendto(request.encode(), ("127.0.0.1", service.sip_port()))
        listener = sender if answered_at_source else sent_by
        assert listener.recv(65536).startswith(b"SIP/2.0 200 OK\r\n")

"""SIP TCP/TLS connections are bounded: in total and per source address (from the open-file
limit), a peer that sends nothing (or stalls its TLS handshake) is closed, and AMI logins and
other peers are served throughout."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path

from tests.integration.conftest import RawAmi, StartService, admin_conf

# With 300 open files: (300 - 256) // 2 = 22 connections in all, 22 // 4 = 5 from one address.
OPEN_FILES = 300
PER_ADDRESS = 5


def pjsip(tmp_path: Path) -> str:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return (
        "[tcp]\ntype=transport\nprotocol=tcp\nbind=127.0.0.1:0\n"
        f"[tls]\ntype=transport\nprotocol=tls\nbind=127.0.0.1:0\ncert_file={cert}\n"
        f"priv_key_file={key}\n"
    )


def options(call_id: str) -> bytes:
    return (
        "OPTIONS sip:s@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK"
        f"{call_id}\r\nFrom: <sip:t@h>;tag=1\r\nTo: <sip:s@h>\r\nCall-ID: {call_id}\r\n"
        "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def is_closed(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_one_address_gets_a_share_and_everyone_else_is_served(
    start_service: StartService, tmp_path: Path
) -> None:
    service = start_service(admin_conf(), files={"pjsip.conf": pjsip(tmp_path)},
                            open_files=OPEN_FILES)  # fmt: skip
    port = service.sip_port("tcp")
    flood = []
    try:
        for _ in range(200):  # far more than the process could hold open
            with contextlib.suppress(OSError):
                flood.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        kept = [s for s in flood if not is_closed(s, 0.05)]
        assert len(kept) == PER_ADDRESS
        with socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0),
                                      timeout=5) as other:  # fmt: skip
            other.sendall(options("other"))
            assert other.recv(65536).startswith(b"SIP/2.0 200 OK\r\n")
        with RawAmi(service.port) as ami:
            ami.login()
    finally:
        for sock in flood:
            sock.close()
    assert "connections from 127.0.0.1 open" in service.log()


def test_silent_peers_and_stalled_tls_handshakes_are_closed(
    start_service: StartService, tmp_path: Path
) -> None:
    service = start_service(admin_conf(), files={"pjsip.conf": pjsip(tmp_path)})
    silent = socket.create_connection(("127.0.0.1", service.sip_port("tcp")), timeout=5)
    stalled = socket.create_connection(("127.0.0.1", service.sip_port("tls")), timeout=5)
    talking = socket.create_connection(("127.0.0.1", service.sip_port("tcp")), timeout=5)
    try:
        talking.sendall(options("talk"))
        assert talking.recv(65536).startswith(b"SIP/2.0 200 OK\r\n")
        started = time.monotonic()
        assert is_closed(silent, 30)  # 10 s to the first message, swept every 5 s
        assert is_closed(stalled, 30)
        assert time.monotonic() - started < 30
        talking.sendall(options("still"))  # a peer that spoke is kept
        assert talking.recv(65536).startswith(b"SIP/2.0 200 OK\r\n")
    finally:
        for sock in (silent, stalled, talking):
            sock.close()


def test_a_stalled_tls_handshake_to_a_phone_ends_with_timer_f(
    start_service: StartService, tmp_path: Path
) -> None:
    """The phone accepts the TCP connection and never answers the TLS handshake: the NOTIFY
    fails when Timer F (64 times T1, with T1 = 100 ms here) would end its transaction."""
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen()
        contact = f"sip:alice@127.0.0.1:{mute.getsockname()[1]}\\;transport=tls"  # \; in .conf
        conf = pjsip(tmp_path) + (
            "[system]\ntype=system\ntimer_t1=100\ntimer_b=6400\n"
            f"[alice]\ntype=aor\ncontact={contact}\n[alice]\ntype=endpoint\naors=alice\n"
        )
        service = start_service(admin_conf(), files={"pjsip.conf": conf})
        with RawAmi(service.port, timeout=30) as ami:
            ami.login(events="system")
            started = time.monotonic()
            _, events = ami.notify("Endpoint: alice\r\nVariable: Event=check-sync\r\n")
            waited = time.monotonic() - started
    assert b"\r\nResult: TransportError\r\n" in events[0]
    assert b"no connection within 6.4 s" in events[0]
    assert waited < 20

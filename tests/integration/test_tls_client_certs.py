"""`require_client_cert` and `verify_client` on a TLS transport: clients without a
certificate, with a self-signed one, and with one the configured CA signed."""

from __future__ import annotations

import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import StartService, admin_conf


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def key_and_request(folder: Path, name: str) -> None:
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / f"{name}.key"),
            "-out", str(folder / f"{name}.csr"), "-subj", f"/CN={name}")  # fmt: skip


def signed(folder: Path, name: str) -> None:
    key_and_request(folder, name)
    openssl("x509", "-req", "-in", str(folder / f"{name}.csr"), "-CA", str(folder / "ca.pem"),
            "-CAkey", str(folder / "ca.key"), "-CAcreateserial", "-days", "2",
            "-out", str(folder / f"{name}.pem"))  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server and a client certificate it signed, and a self-signed client."""
    folder = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / "ca.key"),
            "-out", str(folder / "ca.pem"), "-days", "2", "-subj", "/CN=test CA")  # fmt: skip
    signed(folder, "server")
    signed(folder, "client")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / "self.key"),
            "-out", str(folder / "self.pem"), "-days", "2", "-subj", "/CN=self")  # fmt: skip
    return folder


def options_over_tls(port: int, pki: Path, client: str | None) -> bytes:
    """An OPTIONS over a new TLS connection; its answer, or b"" when the server refused."""
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    context.check_hostname = False
    if client is not None:
        context.load_cert_chain(str(pki / f"{client}.pem"), str(pki / f"{client}.key"))
    request = (
        b"OPTIONS sip:s@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKtls\r\n"
        b"From: <sip:t@h>;tag=1\r\nTo: <sip:s@h>\r\nCall-ID: tls\r\nCSeq: 1 OPTIONS\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            context.wrap_socket(raw) as tls,
        ):
            tls.sendall(request)  # TLS 1.3: a refused certificate shows at the first read
            return tls.recv(65536)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return b""


@pytest.mark.parametrize(
    ("option", "accepted"),
    [("require_client_cert", {"client"}), ("verify_client", {None, "client"})],
)
def test_client_certificates(
    start_service: StartService, pki: Path, option: str, accepted: set[str | None]
) -> None:
    pjsip = (
        f"[tls]\ntype=transport\nprotocol=tls\nbind=127.0.0.1:0\ncert_file={pki}/server.pem\n"
        f"priv_key_file={pki}/server.key\nca_list_file={pki}/ca.pem\n{option}=yes\n"
    )
    service = start_service(admin_conf(), files={"pjsip.conf": pjsip})
    port = service.sip_port("tls")
    for client in (None, "self", "client"):
        answer = options_over_tls(port, pki, client)
        assert answer.startswith(b"SIP/2.0 200 OK\r\n") == (client in accepted), client

"""Real user agents registering with digest: baresip (qop=auth, a random Contact user; it
answers any out-of-dialog NOTIFY with 481, which must be reported as a failure) and sipsak
(whose To header and digest uri lose the port's last digit, so the digest must be checked over
the uri as sent)."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import RawAmi, Service, StartService, admin_conf, wait_for
from tests.integration.ports import free_port
from tests.integration.test_pjsip_notify import result
from tests.integration.test_registrar import PJSIP

BARESIP_CONFIG = """poll_method\t\tepoll
sip_listen\t\t127.0.0.1:{sip}
audio_player\t\taufile,/dev/null
audio_source\t\tausine,440
audio_alert\t\taufile,/dev/null
module_path\t\t/usr/lib/baresip/modules
module\t\t\tg711.so
module\t\t\tausine.so
module\t\t\taufile.so
module_tmp\t\taccount.so
module_app\t\tmenu.so
module\t\t\tctrl_tcp.so
ctrl_tcp_listen\t\t127.0.0.1:{ctrl}
"""


def registered_contacts(service: Service) -> list[str]:
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        ami.send(b"Action: PJSIPShowContacts\r\n\r\n")
        first = ami.message()
        if not first.startswith(b"Response: Success"):
            return []
        uris = []
        while not (item := ami.message()).startswith(b"Event: ContactListComplete"):
            found = re.search(rb"\r\nUri: ([^\r]+)\r\n", item)
            assert found is not None
            uris.append(found.group(1).decode())
        return uris


@pytest.fixture
def baresip(tmp_path: Path) -> Iterator[tuple[Path, list[subprocess.Popen[bytes]]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield tmp_path / "baresip", processes
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # it un-REGISTERs first, as phones do
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def test_baresip_registers_and_its_481_is_reported(
    start_service: StartService, baresip: tuple[Path, list[subprocess.Popen[bytes]]]
) -> None:
    folder, processes = baresip
    service = start_service(admin_conf(), files={"pjsip.conf": PJSIP})
    folder.mkdir()
    (folder / "config").write_text(BARESIP_CONFIG.format(sip=free_port(), ctrl=free_port()))
    account = f"<sip:bob@127.0.0.1:{service.sip_port()}>;auth_pass=secret;regint=60;mwi=no\n"
    (folder / "accounts").write_text(account)
    (folder / "contacts").write_text("")
    with (folder / "baresip.log").open("wb") as log:  # the child keeps its own copy
        processes.append(
            subprocess.Popen(
                ["baresip", "-f", str(folder)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        )
    wait_for(lambda: bool(registered_contacts(service)), 15, "baresip to register")
    (contact,) = registered_contacts(service)
    assert contact.startswith("sip:bob-")  # baresip's own Contact user, stored as given
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        answer, (event, complete) = ami.notify("Endpoint: bob\r\nVariable: Event=check-sync\r\n")
    assert answer.endswith(b"NOTIFY sent\r\n\r\n")
    assert result(event, "URI") == contact
    assert (result(event, "Result"), result(event, "StatusCode")) == ("Failure", "481")
    assert result(event, "ReasonPhrase") == "Subscription Does Not Exist"
    assert b"Succeeded: 0\r\nFailed: 1\r\n" in complete


def test_sipsak_registers_with_its_truncated_digest_uri(start_service: StartService) -> None:
    service = start_service(admin_conf(), files={"pjsip.conf": PJSIP})
    port, local = service.sip_port(), free_port()
    done = subprocess.run(
        ["sipsak", "-U", "-C", f"sip:bob@127.0.0.1:{local}", "-s", f"sip:bob@127.0.0.1:{port}",
         "-k", "127.0.0.1", "-l", str(local), "-u", "bob", "-a", "secret", "-x", "60", "-vv"],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert registered_contacts(service) == [f"sip:bob@127.0.0.1:{local}"]
    wrong = subprocess.run(
        ["sipsak", "-U", "-C", f"sip:bob@127.0.0.1:{local}", "-s", f"sip:bob@127.0.0.1:{port}",
         "-k", "127.0.0.1", "-l", str(free_port()), "-u", "bob", "-a", "nope", "-x", "60"],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert wrong.returncode != 0


def baresip_uanew(ctrl: int, account: str) -> None:
    """Adds `account` to a running baresip through ctrl_tcp (a netstring of JSON), which
    registers it. baresip 1.0's mwi module re-subscribes every known subscription from a
    one-shot timer set 1 ms after it loads, and that loop never ends if a subscription already
    exists (each pass appends to the list it walks). An account read at start-up registers
    in the same moment, so a fast registrar won that race about once in ten runs; an account
    added once baresip runs registers long after the timer has fired."""
    deadline = time.monotonic() + 10
    while True:
        try:
            connection = socket.create_connection(("127.0.0.1", ctrl), timeout=5)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    command = json.dumps({"command": "uanew", "params": account, "token": "t"}).encode()
    with connection:
        connection.sendall(b"%d:%s," % (len(command), command))
        received = b""
        while b'"response":true' not in received:  # events may come first
            assert time.monotonic() < deadline + 5, f"no answer from baresip: {received!r}"
            chunk = connection.recv(4096)
            assert chunk, f"baresip closed its control socket: {received!r}"
            received += chunk
    assert b'"ok":true' in received, received


def test_baresip_subscribes_to_its_mailbox_and_takes_the_lamp(
    start_service: StartService, baresip: tuple[Path, list[subprocess.Popen[bytes]]]
) -> None:
    """baresip's mwi module subscribes (challenged, as REGISTER) once registered; an
    MWIUpdate then reaches it inside the subscription and it answers 200."""
    folder, processes = baresip
    pjsip = PJSIP.replace("[bob]\ntype=aor\nmax_contacts=2\n",
                          "[bob]\ntype=aor\nmax_contacts=2\nmailboxes=1000@default\n")  # fmt: skip
    service = start_service(admin_conf(), files={"pjsip.conf": pjsip})
    folder.mkdir()
    ctrl = free_port()
    config = BARESIP_CONFIG.format(sip=free_port(), ctrl=ctrl) + "module\t\t\tmwi.so\n"
    (folder / "config").write_text(config)
    (folder / "accounts").write_text("")  # added once running: see baresip_uanew
    (folder / "contacts").write_text("")
    with (folder / "baresip.log").open("wb") as log:
        command = ["baresip", "-f", str(folder)]
        processes.append(subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=log))  # fmt: skip
    baresip_uanew(
        ctrl, f"<sip:bob@127.0.0.1:{service.sip_port()}>;auth_pass=secret;regint=60;mwi=yes"
    )
    with RawAmi(service.port) as ami:
        ami.login(events="system,call")

        def subscribed() -> bool:
            ami.send(b"Action: PJSIPShowSubscriptionsInbound\r\nActionID: s\r\n\r\n")
            listed = ami.read_until(b"Event: InboundSubscriptionDetailComplete\r\n")
            ami.message()
            return b"Endpoint: bob\r\n" in listed

        wait_for(subscribed, 15, "baresip to subscribe to its mailbox")
        ami.send(b"Action: MWIUpdate\r\nActionID: u\r\nMailbox: 1000@default\r\n"
                 b"NewMessages: 3\r\nOldMessages: 1\r\n\r\n")  # fmt: skip
        ami.read_until(b"Event: MessageWaiting\r\n")  # the update's; its NOTIFY's answer next
        told = ami.read_until(b"Event: MWINotifyResult\r\n") + ami.message()
    assert b"\r\nMailboxes: 1000@default\r\n" in told
    assert b"\r\nEndpoint: bob\r\n" in told
    assert b"\r\nResult: Success\r\nStatusCode: 200\r\n" in told

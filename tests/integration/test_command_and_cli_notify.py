"""`Action: Command` with `pjsip send notify` (behaviour: notify CLI) and `sipnotify notify`."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import RawAmi, Service, StartService, Uas, admin_conf
from tests.integration.ports import free_port
from tests.integration.sipp import body, header
from tests.integration.test_pjsip_notify import result

LETTUCE = """[test]
Event=>message-summary
Content-Type=lettuce/varieties
Content=Bibb
Content=Boston
Content=Iceberg
Content=Romaine
Content=>
"""


def pjsip(port: int, extra: str = "") -> str:
    return (
        "[local]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:0\n"
        f"[alice]\ntype=aor\ncontact=sip:alice@127.0.0.1:{port}\n"
        "[alice]\ntype=endpoint\naors=alice\n" + extra
    )


def serve(start_service: StartService, port: int, extra: str = "") -> Service:
    files = {"pjsip.conf": pjsip(port, extra), "pjsip_notify.conf": LETTUCE}
    return start_service(admin_conf(), files=files)


def test_cli_send_notify_testsuite_scenario(start_service: StartService, uas: Uas) -> None:
    sipp = uas("uas_notify.xml")
    service = serve(start_service, sipp.port)
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        ami.send(
            b"Action: Command\r\nActionID: cli\r\nCommand: pjsip send notify test endpoint alice\r\n\r\n"
        )
        assert ami.message() == (
            b"Response: Success\r\nActionID: cli\r\nMessage: Command output follows\r\n"
            b"Output: Sending NOTIFY of type 'test' to 'alice'\r\n\r\n"
        )
        event = ami.message()
        assert result(event, "StatusCode") == "200"
    assert sipp.finish() == 0
    (notify,) = sipp.received()
    assert header(notify, "Content-Type") == ["lettuce/varieties"]
    assert header(notify, "Event") == ["message-summary"]
    assert body(notify) == b"Bibb\r\nBoston\r\nIceberg\r\nRomaine\r\n"
    assert header(notify, "Content-Length") == ["32"]


def test_cli_errors_and_usage(start_service: StartService) -> None:
    service = serve(start_service, free_port())
    cases = [
        ("pjsip send notify", None),
        ("pjsip send notify test endpoint", None),
        ("pjsip send notify test phone alice", None),
        ("pjsip send notify nosuch endpoint alice", [b"Unable to find notify type 'nosuch'"]),
        ("pjsip send notify TEST endpoint PJSIP/alice bob", [
            b"Sending NOTIFY of type 'TEST' to 'PJSIP/alice'",
            b"Unable to retrieve endpoint PJSIP/alice",
            b"Sending NOTIFY of type 'TEST' to 'bob'",
            b"Unable to retrieve endpoint bob",
        ]),
        ("pjsip send notify test channel PJSIP/alice-00000001", [
            b"Sending NOTIFY of type 'test' to 'PJSIP/alice-00000001'",
            b"Unable to find channel PJSIP/alice-00000001",
        ]),
        ("core show uptime", [
            b"No such command 'core show uptime' (type 'core show help core show uptime' "
            b"for other possible commands)",
        ]),
    ]  # fmt: skip
    usage = [
        b"Usage: pjsip send notify <type> {endpoint|uri|channel} <peer> [<peer>...]",
        b"       Send a NOTIFY request to an endpoint",
        b"       Message types are defined in pjsip_notify.conf",
    ]
    with RawAmi(service.port) as ami:
        ami.login()
        for command, lines in cases:
            ami.send(f"Action: Command\r\nCommand: {command}\r\n\r\n".encode())
            reply = ami.message()
            status = b"Success" if lines is not None and b"Sending" in lines[0] else b"Error"
            expected = b"".join(b"Output: " + line + b"\r\n" for line in (lines or usage))
            assert reply == (
                b"Response: "
                + status
                + b"\r\nMessage: Command output follows\r\n"
                + expected
                + b"\r\n"
            ), command


def test_command_needs_the_command_class(start_service: StartService) -> None:
    conf = admin_conf() + "[sys]\nsecret = s\nread = all\nwrite = system\n"
    service = start_service(conf, files={"pjsip.conf": pjsip(free_port())})
    with RawAmi(service.port) as ami:
        ami.login("sys", "s")
        ami.send(b"Action: Command\r\nCommand: pjsip send notify test endpoint alice\r\n\r\n")
        assert ami.message() == b"Response: Error\r\nMessage: Permission denied\r\n\r\n"


def sipnotify_notify(service: Service, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sipnotify", "notify", "--port", str(service.port),
         "--secret", "s3cret", *args],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_notify_command_prints_each_answer(start_service: StartService, uas: Uas) -> None:
    ok = uas("uas_notify.xml")
    refused = uas("uas_489.xml")
    extra = f"[bob]\ntype=aor\ncontact=sip:bob@127.0.0.1:{refused.port}\n"
    extra += "[bob]\ntype=endpoint\naors=bob\n"
    service = serve(start_service, ok.port, extra)
    done = sipnotify_notify(
        service, "--var", "Event=check-sync", "--var", "Content-Type=text/plain",
        "--var", "Content=a,b \"quoted\"", "--endpoint", "alice", "--endpoint", "bob",
        "--endpoint", "nobody",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = sorted(done.stdout.splitlines())  # printed as they arrive
    assert lines[0].startswith(f"alice sip:alice@127.0.0.1:{ok.port} -> 200 OK (")
    assert lines[1].startswith(f"bob sip:bob@127.0.0.1:{refused.port} -> 489 Bad Event (")
    assert lines[2] == "nobody: error: Unable to retrieve endpoint nobody"
    assert ok.finish() == 0
    (notify,) = ok.received()
    assert body(notify) == b'a,b "quoted"'  # escaped for Asterisk's comma splitting


def test_notify_command_succeeds_with_a_preset(start_service: StartService, uas: Uas) -> None:
    sipp = uas("uas_notify.xml")
    service = serve(start_service, sipp.port)
    done = sipnotify_notify(service, "--option", "test", "--endpoint", "alice")
    assert done.returncode == 0, done.stderr
    assert " -> 200 OK (" in done.stdout


def test_notify_command_reports_a_bad_secret(start_service: StartService, tmp_path: Path) -> None:
    service = serve(start_service, free_port())
    done = subprocess.run(
        [sys.executable, "-m", "sipnotify", "notify", "--port", str(service.port),
         "--secret", "wrong", "--option", "test", "--endpoint", "alice",
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip() == "sipnotify notify: login failed: Authentication failed"


def test_notify_command_names_a_uri_target_once(start_service: StartService, uas: Uas) -> None:
    sipp = uas("uas_notify.xml")
    outbound = "[global]\ntype=global\ndefault_outbound_endpoint=alice\n"
    service = serve(start_service, sipp.port, outbound)
    uri = f"sip:carol@127.0.0.1:{sipp.port}"
    done = sipnotify_notify(service, "--option", "test", "--uri", uri)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{uri} -> 200 OK (")
    assert done.stdout.count(uri) == 1


def test_notify_timeout_keeps_the_answers_received(start_service: StartService, uas: Uas) -> None:
    """One phone answers, one never does: the answer is printed as it arrives, and the
    timeout names the silent target instead of an empty message."""
    ok = uas("uas_notify.xml")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        extra = f"[bob]\ntype=aor\ncontact=sip:bob@127.0.0.1:{silent.getsockname()[1]}\n"
        service = serve(start_service, ok.port, extra + "[bob]\ntype=endpoint\naors=bob\n")
        done = sipnotify_notify(service, "--option", "test", "--endpoint", "alice",
                                "--endpoint", "bob", "--timeout", "2")  # fmt: skip
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"alice sip:alice@127.0.0.1:{ok.port} -> 200 OK (")
    assert lines[1].startswith("bob: NOTIFY sent; no further result within 2 s")
    assert done.stderr.strip() == "sipnotify notify: timed out after 2 s"


def test_show_timeout_says_what_it_waited_for() -> None:
    with socket.socket() as mute:  # accepts, never speaks
        mute.bind(("127.0.0.1", 0))
        mute.listen()
        port = mute.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "sipnotify", "show", "contacts", "--port", str(port),
             "--secret", "x", "--timeout", "1"],
            capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == f"sipnotify show: no complete answer from 127.0.0.1:{port} within 1 s"
    )

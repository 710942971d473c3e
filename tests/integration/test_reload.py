"""Reload without restart, as Asterisk answers it: the Reload action with and without Module,
`module reload`, `core reload`, `manager reload`, SIGHUP, ModuleCheck and ModuleLoad. Presets,
endpoints and users are read again; registrations stay; a file with an error keeps the
running configuration and the reply names the file and line."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from tests.integration.conftest import RawAmi, Service, StartService, admin_conf, wait_for

PJSIP = """[udp]
type=transport
protocol=udp
bind=127.0.0.1:0
[alice]
type=aor
max_contacts=1
[alice]
type=endpoint
aors=alice
"""
NOTIFY = "[first]\nEvent=>check-sync\n"
NEW_PRESET = NOTIFY + "[newsection]\nEvent=>check-sync\nX-Custom=>hello world\n"


@pytest.fixture
def service(start_service: StartService) -> Service:
    return start_service(admin_conf(), files={"pjsip.conf": PJSIP, "pjsip_notify.conf": NOTIFY})


def config_dir(service: Service) -> Path:
    return service.log_path.parent / f"config{service.log_path.stem.removeprefix('service')}"


def ask(ami: RawAmi, action: str) -> bytes:
    ami.send(action.encode() + b"\r\n")
    return ami.message()


def notify_option(ami: RawAmi, option: str) -> bytes:
    return ask(ami, f"Action: PJSIPNotify\r\nURI: sip:x@127.0.0.1:9\r\nOption: {option}\r\n")


def register(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind(("127.0.0.1", 0))
        phone.settimeout(5)
        mine = phone.getsockname()[1]
        phone.sendto(
            (
                f"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{mine};rport;"
                "branch=z9hG4bKreg\r\nFrom: <sip:alice@127.0.0.1>;tag=1\r\n"
                "To: <sip:alice@127.0.0.1>\r\nCall-ID: reg@h\r\nCSeq: 1 REGISTER\r\n"
                f"Contact: <sip:alice@127.0.0.1:{mine}>\r\nExpires: 600\r\n"
                "Content-Length: 0\r\n\r\n"
            ).encode(),
            ("127.0.0.1", port),
        )
        assert phone.recv(65536).startswith(b"SIP/2.0 200 OK\r\n")


def test_reload_notify_presets_and_a_broken_file_keeps_the_old_ones(service: Service) -> None:
    folder = config_dir(service)
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        assert notify_option(ami, "newsection").startswith(b"Response: Error\r\n")
        (folder / "pjsip_notify.conf").write_text(NEW_PRESET)
        assert ask(ami, "Action: Reload\r\nModule: res_pjsip_notify.so\r\nActionID: r1\r\n") == (
            b"Response: Success\r\nActionID: r1\r\nMessage: Module Reloaded\r\n\r\n"
        )
        assert ami.message() == (
            b"Event: Reload\r\nPrivilege: system,all\r\nModule: res_pjsip_notify.so\r\n"
            b"Status: 0\r\n\r\n"
        )
        # (the URI target has no default outbound endpoint: the preset was found first)
        assert b"Unable to find notify type" not in notify_option(ami, "newsection")
        (folder / "pjsip_notify.conf").write_text(NEW_PRESET + "[brokensection\n")
        broken = ask(ami, "Action: Reload\r\nModule: res_pjsip_notify\r\n")
        assert broken == (
            b"Response: Error\r\nMessage: An unknown error occurred: "
            + f"{folder}/pjsip_notify.conf:6: parse error: no closing ']'".encode()
            + b"\r\n\r\n"
        )
        assert ami.message() == (
            b"Event: Reload\r\nPrivilege: system,all\r\nModule: res_pjsip_notify\r\n"
            b"Status: 3\r\n\r\n"
        )
        assert b"Unable to find notify type" not in notify_option(ami, "newsection")
    assert "reload of pjsip_notify.conf failed, the running configuration stays" in service.log()


def test_module_reload_res_pjsip_keeps_registrations(service: Service) -> None:
    register(service.sip_port())
    folder = config_dir(service)
    (folder / "pjsip.conf").write_text(
        PJSIP + "[dave]\ntype=aor\n[dave]\ntype=endpoint\naors=dave\n"
    )
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        assert ask(ami, "Action: Command\r\nCommand: module reload res_pjsip.so\r\n") == (
            b"Response: Success\r\nMessage: Command output follows\r\n"
            b"Output: Module 'res_pjsip.so' reloaded successfully.\r\n\r\n"
        )
        assert ami.message().startswith(b"Event: Reload\r\nPrivilege: system,all\r\n"
                                        b"Module: res_pjsip.so\r\nStatus: 0\r\n")  # fmt: skip
        ami.send(b"Action: PJSIPShowEndpoints\r\n\r\n")
        listing = ami.read_until(b"EventList: Complete\r\n")
        assert b"ObjectName: dave\r\n" in listing
        ami.send(b"Action: PJSIPShowContacts\r\n\r\n")
        assert b"Endpoint: alice\r\n" in ami.read_until(b"EventList: Complete\r\n")


@pytest.mark.parametrize(
    ("action", "reply", "event"),
    [
        ("Action: Reload\r\n", b"Response: Success\r\nMessage: Module Reloaded\r\n\r\n",
         b"Module: All\r\nStatus: 0"),
        ("Action: Reload\r\nModule: nosuch.so\r\n",
         b"Response: Error\r\nMessage: No such module\r\n\r\n", b"Module: nosuch.so\r\nStatus: 2"),
        ("Action: Reload\r\nModule: res_pjsip_pubsub.so\r\n",
         b"Response: Error\r\nMessage: Module does not support reload\r\n\r\n",
         b"Module: res_pjsip_pubsub.so\r\nStatus: 6"),
        ("Action: Command\r\nCommand: core reload\r\n",
         b"Response: Success\r\nMessage: Command output follows\r\nOutput: \r\n\r\n",
         b"Module: All\r\nStatus: 0"),
        ("Action: Command\r\nCommand: module reload\r\n",
         b"Response: Success\r\nMessage: Command output follows\r\nOutput: \r\n\r\n",
         b"Module: All\r\nStatus: 0"),
        ("Action: ModuleLoad\r\nModule: res_pjsip_notify.so\r\nLoadType: reload\r\n",
         b"Response: Success\r\nMessage: Module reloaded.\r\n\r\n",
         b"Module: res_pjsip_notify.so\r\nStatus: 0"),
        ("Action: ModuleLoad\r\nLoadType: reload\r\n",
         b"Response: Success\r\nMessage: All modules reloaded\r\n\r\n",
         b"Module: All\r\nStatus: 0"),
    ],
    ids=["all", "nosuch", "not-reloadable", "core-reload", "module-reload", "moduleload",
         "moduleload-all"],
)  # fmt: skip
def test_reload_variants(service: Service, action: str, reply: bytes, event: bytes) -> None:
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        assert ask(ami, action) == reply
        assert ami.message() == b"Event: Reload\r\nPrivilege: system,all\r\n" + event + b"\r\n\r\n"


@pytest.mark.parametrize(
    ("action", "replies"),
    [
        ("Action: ModuleCheck\r\nModule: res_pjsip_notify\r\n",
         [b"Response: Success\r\nVersion: \r\n\r\n"]),
        ("Action: ModuleCheck\r\nModule: nosuch.so\r\n",
         [b"Response: Error\r\nMessage: Module not loaded\r\n\r\n"]),
        ("Action: ModuleLoad\r\nModule: res_pjsip_notify.so\r\nLoadType: load\r\n",
         [b"Response: Error\r\nMessage: Could not load module.\r\n\r\n"]),
        ("Action: ModuleLoad\r\nModule: nosuch.so\r\nLoadType: load\r\n",
         [b"Response: Error\r\nMessage: Module not found.\r\n\r\n"]),
        ("Action: ModuleLoad\r\nModule: res_pjsip_notify.so\r\nLoadType: bogus\r\n",
         [b"Response: Error\r\nMessage: Incomplete ModuleLoad action.\r\n\r\n"]),
        ("Action: ModuleLoad\r\nModule: res_pjsip_notify.so\r\n",
         [b"Response: Error\r\nMessage: Incomplete ModuleLoad action.\r\n\r\n"] * 2),
        ("Action: ModuleLoad\r\nLoadType: load\r\n",
         [b"Response: Error\r\nMessage: Need module name\r\n\r\n",
          b"Response: Error\r\nMessage: Could not load module.\r\n\r\n"]),
        ("Action: Command\r\nCommand: reload\r\n",
         [b"Response: Error\r\nMessage: Command output follows\r\nOutput: No such command "
          b"'reload' (type 'core show help reload' for other possible commands)\r\n\r\n"]),
    ],
    ids=["check", "check-missing", "load-loaded", "load-missing", "bogus-type", "no-type",
         "no-module", "bare-reload"],
)  # fmt: skip
def test_module_check_and_load(service: Service, action: str, replies: list[bytes]) -> None:
    with RawAmi(service.port) as ami:
        ami.login()
        ami.send(action.encode() + b"\r\n")
        assert [ami.message() for _ in replies] == replies


def test_manager_reload_and_sighup(service: Service) -> None:
    folder = config_dir(service)
    manager = (folder / "manager.conf").read_text()
    (folder / "manager.conf").write_text(manager + "[newuser]\nsecret = n\nread = system\n")
    with RawAmi(service.port) as ami:
        ami.login()
        assert ask(ami, "Action: Command\r\nCommand: manager reload\r\n") == (
            b"Response: Success\r\nMessage: Command output follows\r\nOutput: \r\n\r\n"
        )
    with RawAmi(service.port) as newcomer:
        newcomer.login("newuser", "n")
    (folder / "pjsip_notify.conf").write_text(NEW_PRESET)
    service.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "reloaded " in service.log(), 10, "the SIGHUP reload")
    with RawAmi(service.port) as ami:
        ami.login()
        assert b"Unable to find notify type" not in notify_option(ami, "newsection")


def test_a_transport_added_by_reload_waits_for_the_next_start(service: Service) -> None:
    """Transports bind at start: an endpoint moved to a new one by a reload gets a clear
    transport error, and everything else goes on."""
    folder = config_dir(service)
    (folder / "pjsip.conf").write_text(
        PJSIP.replace("aors=alice\n", "aors=alice\ntransport=later\n")
        + "[later]\ntype=transport\nprotocol=tcp\nbind=127.0.0.1:0\n"
        + "[alice]\ntype=aor\ncontact=sip:alice@127.0.0.1:9\n"
    )
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        assert ask(ami, "Action: Reload\r\nModule: res_pjsip.so\r\n").startswith(
            b"Response: Success\r\n"
        )
        ami.message()  # the Reload event
        _, events = ami.notify("Endpoint: alice\r\nVariable: Event=check-sync\r\n")
    assert b"\r\nResult: TransportError\r\n" in events[0]
    assert b"transport later is not running" in events[0]
    assert "Traceback" not in service.log()


def mapped(service: Service, fragment: str) -> bool:
    """Whether the server's memory maps a file whose path holds `fragment`."""
    return fragment in Path(f"/proc/{service.process.pid}/maps").read_text()


def test_http_off_loads_no_web_stack_until_a_reload_turns_it_on(service: Service) -> None:
    """Asterisk's default (no http.conf) serves AMI alone; aiohttp's parser, some 15 MB with
    the rest of the web stack, is loaded only once http.conf asks for a listener."""
    assert "HTTP: off (http.conf needs enabled = yes and a bindaddr)" in service.log()
    assert not mapped(service, "/aiohttp/")
    (config_dir(service) / "http.conf").write_text(
        "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = 0\n"
    )
    with RawAmi(service.port) as ami:
        ami.login()
        assert ask(ami, "Action: Reload\r\nModule: http\r\n").startswith(b"Response: Success\r\n")
    port = service.http_port()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as web:
        web.sendall(b"GET /console/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert web.recv(100).startswith(b"HTTP/1.1 200 OK\r\n")
    assert mapped(service, "/aiohttp/")


def test_http_turned_on_at_a_port_in_use_says_so_and_a_later_reload_serves(
    service: Service,
) -> None:
    http_conf = config_dir(service) / "http.conf"
    with socket.socket() as taken, RawAmi(service.port) as ami:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        http_conf.write_text("[general]\nenabled = yes\nbindaddr = 127.0.0.1\n"
                             f"bindport = {taken.getsockname()[1]}\n")  # fmt: skip
        ami.login()
        assert ask(ami, "Action: Reload\r\nModule: http\r\n").startswith(b"Response: Success\r\n")
        wait_for(lambda: "HTTP: cannot listen as http.conf now says: Address already in use"
                 in service.log(), 10, "the error")  # fmt: skip
        assert ask(ami, "Action: Ping\r\n").startswith(b"Response: Success\r\nPing: Pong\r\n")
        http_conf.write_text("[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = 0\n")
        assert ask(ami, "Action: Reload\r\nModule: http\r\n").startswith(b"Response: Success\r\n")
    with socket.create_connection(("127.0.0.1", service.http_port()), timeout=5) as web:
        web.sendall(b"GET /console/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert web.recv(100).startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_sighup_while_shutting_down_does_not_end_the_process(
    start_service: StartService,
) -> None:
    """SIGTERM waits up to 5 s for a PJSIPNotify's results; a SIGHUP meanwhile is no reload
    and no end by signal: the process still exits 0."""
    outbound = "[global]\ntype=global\ndefault_outbound_endpoint=alice\n"
    service = start_service(admin_conf(), files={"pjsip.conf": PJSIP + outbound,
                                                 "pjsip_notify.conf": NOTIFY})  # fmt: skip
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent, RawAmi(service.port) as ami:
        silent.bind(("127.0.0.1", 0))  # takes the NOTIFY and never answers
        ami.login()
        uri = f"sip:x@127.0.0.1:{silent.getsockname()[1]}"
        sent = ask(ami, f"Action: PJSIPNotify\r\nURI: {uri}\r\nOption: first\r\n")
        assert sent.startswith(b"Response: Success\r\n"), sent
        service.process.send_signal(signal.SIGTERM)
        wait_for(lambda: "shutting down" in service.log(), 10, "the shutdown")
        service.process.send_signal(signal.SIGHUP)
        assert service.process.wait(timeout=15) == 0

"""PJSIPNotify end to end: AMI in, real NOTIFYs out to SIPp, each phone's answer reported.

Asterisk's testsuite scenarios (behaviour: notify content, notify request) over UDP, TCP and
TLS (TLS through socat in front of SIPp, whose Debian build has no TLS), every sample preset on
the wire, digest auth, a 489, a phone that never answers, and the error texts (behaviour:
notify checks) with deliberate difference 1.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import RawAmi, Service, StartService, Uas, admin_conf
from tests.integration.ports import free_port
from tests.integration.sipp import Sipp, TlsFront, body, header

LETTUCE = "Variable: Content-Type=lettuce/varieties,Content=Bibb,Content=Boston,"
LETTUCE += "Content=Iceberg,Content=Romaine\r\n"
SAMPLE_NOTIFY = Path(__file__).resolve().parents[2] / "src/sipnotify/defaults/pjsip_notify.conf"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def pjsip_conf(contact: str, tls: tuple[Path, Path] | None = None, extra: str = "") -> str:
    text = "[local]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:0\n"
    text += "[tcp]\ntype=transport\nprotocol=tcp\nbind=127.0.0.1:0\n"
    if tls is not None:
        text += f"[tls]\ntype=transport\nprotocol=tls\nbind=127.0.0.1:0\ncert_file={tls[0]}\n"
        text += f"priv_key_file={tls[1]}\n"
    escaped = contact.replace(";", "\\;")  # a bare ';' starts a comment in Asterisk's syntax
    text += f"[user1]\ntype=aor\nmax_contacts=1\ncontact={escaped}\n"
    text += "[user1]\ntype=endpoint\naors=user1\ncontext=default\nallow=ulaw\n"
    text += "[default_endpoint]\ntype=endpoint\n"
    text += "[global]\ntype=global\ndefault_outbound_endpoint=default_endpoint\n"
    return text + extra


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def start(start_service: StartService, pjsip: str, **files: str) -> Service:
    files = {"pjsip.conf": pjsip, "pjsip_notify.conf": SAMPLE_NOTIFY.read_text(), **files}
    return start_service(admin_conf(), files=files)


class Peer:
    """A SIPp UAS reachable over udp, tcp or tls (socat in front of a TCP SIPp)."""

    def __init__(self, protocol: str, workdir: Path, tls: tuple[Path, Path], **kw: object):
        transport = "u1" if protocol == "udp" else "t1"
        self.sipp = Sipp(workdir=workdir, transport=transport, **kw)  # type: ignore[arg-type]
        self.front: TlsFront | None = None
        self.protocol = protocol
        self.tls = tls

    def __enter__(self) -> Peer:
        self.sipp.start()
        if self.protocol == "tls":
            self.front = TlsFront(self.sipp.port, *self.tls).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.sipp.stop()
        if self.front is not None:
            self.front.stop()

    @property
    def contact(self) -> str:
        if self.protocol == "udp":
            return f"sip:user1@127.0.0.1:{self.sipp.port}"
        port = self.front.port if self.front is not None else self.sipp.port
        return f"sip:user1@127.0.0.1:{port};transport={self.protocol}"


def result(event: bytes, name: str) -> str:
    found = re.search(rb"\r\n" + name.encode() + rb": ([^\r]*)\r\n", event)
    assert found is not None, event
    return found.group(1).decode()


def one_notify(sipp: Sipp) -> bytes:
    assert sipp.finish() == 0, sipp.output
    (notify,) = sipp.received()
    return notify


def exchange(
    start_service: StartService,
    workdir: Path,
    tls: tuple[Path, Path],
    protocol: str,
    headers: Callable[[str], str],
    *,
    configured: bool = True,
) -> tuple[bytes, list[bytes], bytes, str]:
    """One PJSIPNotify to a SIPp UAS over `protocol`; `headers` gets the UAS's contact URI,
    which is also user1's contact unless `configured` is false. Returns the AMI reply, the
    result events, the NOTIFY as received, and the contact."""
    with Peer(protocol, workdir, tls, scenario="uas_notify.xml") as peer:
        contact = peer.contact if configured else "sip:nobody@127.0.0.1:9"
        service = start(start_service, pjsip_conf(contact, tls))
        with RawAmi(service.port) as ami:
            ami.login(events="system")
            answer, events = ami.notify(headers(peer.contact))
        return answer, events, one_notify(peer.sipp), peer.contact


PROTOCOLS = ["udp", "tcp", "tls"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_content_one_variable_header(
    start_service: StartService, workdir: Path, tls_files: tuple[Path, Path], protocol: str
) -> None:
    answer, events, notify, contact = exchange(
        start_service, workdir, tls_files, protocol,
        lambda _: f"ActionID: c1\r\nEndpoint: user1\r\n{LETTUCE}",
    )  # fmt: skip
    assert answer == b"Response: Success\r\nActionID: c1\r\nMessage: NOTIFY sent\r\n\r\n"
    assert notify.startswith(f"NOTIFY {contact} SIP/2.0\r\n".encode())
    assert header(notify, "Content-Type") == ["lettuce/varieties"]
    assert body(notify) == b"Bibb\r\nBoston\r\nIceberg\r\nRomaine"
    assert header(notify, "Content-Length") == ["30"]
    assert header(notify, "Subscription-State") == ["terminated"]
    assert header(notify, "Event") == []
    via = header(notify, "Via")[0]
    assert via.startswith(f"SIP/2.0/{protocol.upper()} 127.0.0.1:")
    assert ";rport;branch=z9hG4bKPj" in via
    assert via.endswith(";alias") == (protocol != "udp")
    assert header(notify, "To") == ["<sip:user1@127.0.0.1>"]
    tag = r"[0-9a-f]{16}-[0-9a-f]+"
    assert re.fullmatch(rf"<sip:user1@127\.0\.0\.1>;tag={tag}", header(notify, "From")[0])
    transport = "" if protocol == "udp" else f";transport={protocol.upper()}"
    assert re.fullmatch(rf"<sip:user1@127\.0\.0\.1:\d+{transport}>", header(notify, "Contact")[0])
    first, complete = events
    assert first.startswith(
        b"Event: PJSIPNotifyResult\r\nActionID: c1\r\nPrivilege: system,all\r\n"
    )
    assert result(first, "Endpoint") == "user1"
    assert result(first, "URI") == contact
    assert (result(first, "Result"), result(first, "StatusCode")) == ("Success", "200")
    assert result(first, "ReasonPhrase") == "OK"
    assert int(result(first, "RoundtripUsec")) > 0
    assert complete == (
        b"Event: PJSIPNotifyComplete\r\nActionID: c1\r\nPrivilege: system,all\r\n"
        b"Total: 1\r\nSucceeded: 1\r\nFailed: 0\r\n\r\n"
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_custom_headers_in_order(
    start_service: StartService, workdir: Path, tls_files: tuple[Path, Path], protocol: str
) -> None:
    answer, _, notify, _ = exchange(
        start_service, workdir, tls_files, protocol,
        lambda _: "Endpoint: user1\r\nVariable: chead1=val1,chead2=val2,chead3=val3\r\n",
    )  # fmt: skip
    assert answer.endswith(b"Message: NOTIFY sent\r\n\r\n")
    assert b"\r\nchead1: val1\r\nchead2: val2\r\nchead3: val3\r\n" in notify


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_reserved_headers_are_dropped(
    start_service: StartService, workdir: Path, tls_files: tuple[Path, Path], protocol: str
) -> None:
    reserved = (
        "Endpoint: user1\r\nVariable: controlheader=valid,From=failure,To=failure,"
        "Cseq=failure,Contact=failure,Call-Id=failure,Record-Route=failure,Route=failure,"
        "Request-Uri=failure,via=failure\r\n"
    )
    answer, _, notify, _ = exchange(start_service, workdir, tls_files, protocol, lambda _: reserved)
    assert answer.endswith(b"Message: NOTIFY sent\r\n\r\n")
    assert header(notify, "controlheader") == ["valid"]
    assert b"failure" not in notify
    assert header(notify, "Route") == []
    assert header(notify, "Record-Route") == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_to_uri_uses_the_default_outbound_endpoint(
    start_service: StartService, workdir: Path, tls_files: tuple[Path, Path], protocol: str
) -> None:
    answer, events, notify, contact = exchange(
        start_service, workdir, tls_files, protocol,
        lambda uri: f"URI: {uri}\r\n{LETTUCE}", configured=False,
    )  # fmt: skip
    assert answer == b"Response: Success\r\nMessage: NOTIFY sent\r\n\r\n"
    assert notify.startswith(f"NOTIFY {contact} SIP/2.0\r\n".encode())
    assert body(notify) == b"Bibb\r\nBoston\r\nIceberg\r\nRomaine"
    assert header(notify, "From")[0].startswith("<sip:default_endpoint@127.0.0.1>;tag=")
    assert result(events[0], "Endpoint") == ""
    assert result(events[0], "URI") == contact


def test_every_sample_preset_on_the_wire(start_service: StartService, uas: Uas) -> None:
    presets = re.findall(r"^\[([^\]]+)\]", SAMPLE_NOTIFY.read_text(), re.M)
    sipp = uas("uas_notify.xml", calls=len(presets))
    service = start(start_service, pjsip_conf(f"sip:user1@127.0.0.1:{sipp.port}"))
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        for name in presets:
            answer, events = ami.notify(f"Endpoint: user1\r\nOption: {name}\r\n")
            assert answer.endswith(b"NOTIFY sent\r\n\r\n"), name
            assert result(events[0], "Result") == "Success"
    assert sipp.finish() == 0, sipp.output
    received = {header(m, "Event")[0]: m for m in sipp.received()}
    assert len(sipp.received()) == len(presets) == 14
    assert set(received) >= {
        "message-summary", "check-sync", "aastra-xml", "reboot_now", "restart_now",
        "resync", "report", "check-sync;reboot=false", "check-sync;reboot=true", "custom",
    }  # fmt: skip
    mwi = received["message-summary"]
    assert header(mwi, "Content-Type") == ["application/simple-message-summary"]
    assert body(mwi) == (
        b"Messages-Waiting: no\r\nMessage-Account: sip:asterisk@127.0.0.1\r\n"
        b"Voice-Message: 0/0 (0/0)\r\n"
    )
    assert header(mwi, "Content-Length") == ["89"]
    customs = [m for m in sipp.received() if header(m, "Event") == ["custom"]]
    assert {body(m) for m in customs} == {b"check-messages\r\n", b""}
    assert [header(m, "X-Data") for m in customs if not body(m)] == [["force-hangup"]]


@pytest.mark.parametrize("scenario", ["uas_notify_auth.xml", "uas_notify_auth_qop.xml"])
@pytest.mark.parametrize(("password", "expected"), [("secret", 200), ("wrong", 403)])
def test_outbound_auth(
    start_service: StartService, uas: Uas, scenario: str, password: str, expected: int
) -> None:
    sipp = uas(scenario)
    extra = f"[phone-auth]\ntype=auth\nusername=alice\npassword={password}\n"
    conf = pjsip_conf(f"sip:user1@127.0.0.1:{sipp.port}", extra=extra)
    conf = conf.replace("aors=user1\n", "aors=user1\noutbound_auth=phone-auth\n")
    service = start(start_service, conf)
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        _, events = ami.notify("Endpoint: user1\r\nVariable: Event=check-sync\r\n")
    assert sipp.finish() == (0 if expected == 200 else 97), sipp.output
    challenged, retried = sipp.received()
    assert header(retried, "Call-ID") == header(challenged, "Call-ID")
    assert (
        int(header(retried, "CSeq")[0].split()[0])
        == int(header(challenged, "CSeq")[0].split()[0]) + 1
    )
    authorization = header(retried, "Authorization")[0]
    assert authorization.startswith('Digest username="alice", realm="sipp.test"')
    assert ("qop=auth" in authorization) == scenario.endswith("_qop.xml")
    assert result(events[0], "StatusCode") == str(expected)
    assert result(events[0], "Result") == ("Success" if expected == 200 else "Failure")


def test_a_phone_answering_489_is_reported(start_service: StartService, uas: Uas) -> None:
    sipp = uas("uas_489.xml")
    service = start(start_service, pjsip_conf(f"sip:user1@127.0.0.1:{sipp.port}"))
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        answer, (event, complete) = ami.notify("Endpoint: user1\r\nOption: snom-reboot\r\n")
    assert sipp.finish() == 0
    assert answer.endswith(b"Message: NOTIFY sent\r\n\r\n")
    assert (result(event, "Result"), result(event, "StatusCode")) == ("Failure", "489")
    assert result(event, "ReasonPhrase") == "Bad Event"
    assert b"Succeeded: 0\r\nFailed: 1\r\n" in complete


def test_a_phone_that_never_answers_times_out(start_service: StartService) -> None:
    silent = free_port()  # nothing listens there
    conf = pjsip_conf(
        f"sip:user1@127.0.0.1:{silent}", extra="[system]\ntype=system\ntimer_t1=100\ntimer_b=6400\n"
    )
    service = start(start_service, conf)
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        answer, (event, complete) = ami.notify(
            "ActionID: t\r\nEndpoint: user1\r\nOption: clear-mwi\r\n"
        )
        assert answer.endswith(b"NOTIFY sent\r\n\r\n")
        ami.send(b"Action: Ping\r\nActionID: alive\r\n\r\n")  # the session was never stuck
        assert b"Ping: Pong" in ami.message()
    assert result(event, "Result") == "Timeout"
    assert result(event, "StatusCode") == ""
    assert result(event, "RoundtripUsec") == "N/A"
    assert result(event, "Error") == "timeout"
    assert b"Failed: 1\r\n" in complete


def test_unreachable_tcp_contact_is_a_transport_error(start_service: StartService) -> None:
    service = start(start_service, pjsip_conf(f"sip:user1@127.0.0.1:{free_port()};transport=tcp"))
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        _, (event, _complete) = ami.notify("Endpoint: user1\r\nVariable: Event=check-sync\r\n")
    assert result(event, "Result") == "TransportError"
    assert "refused" in result(event, "Error").lower()


def test_every_contact_of_every_aor_is_notified(start_service: StartService, uas: Uas) -> None:
    first = uas("uas_notify.xml")
    second = uas("uas_489.xml")
    extra = f"[second]\ntype=aor\ncontact=sip:two@127.0.0.1:{second.port}\n"
    conf = pjsip_conf(f"sip:one@127.0.0.1:{first.port}", extra=extra)
    conf = conf.replace("aors=user1\n", "aors=user1, second\n")
    service = start(start_service, conf)
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        _, events = ami.notify(
            "ActionID: fan\r\nEndpoint: PJSIP/user1\r\nVariable: Event=check-sync\r\n"
        )
    assert first.finish() == 0
    assert second.finish() == 0
    outcomes = {result(e, "URI"): result(e, "StatusCode") for e in events[:-1]}
    assert outcomes == {
        f"sip:one@127.0.0.1:{first.port}": "200",
        f"sip:two@127.0.0.1:{second.port}": "489",
    }
    assert b"Total: 2\r\nSucceeded: 1\r\nFailed: 1\r\n" in events[-1]


def test_a_pipelined_burst_loses_nothing(start_service: StartService, uas: Uas) -> None:
    """5,000 actions in one write: every NOTIFY answered once and reported (flow control in
    the endpoint and the AMI session keeps responses from overflowing the socket)."""
    count = 5000
    sipp = uas("uas_notify_hold.xml", calls=count, timeout=120, extra=("-buff_size", "4194304"))
    service = start(start_service, pjsip_conf(f"sip:user1@127.0.0.1:{sipp.port}"))
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        action = b"Action: PJSIPNotify\r\nActionID: %d\r\nEndpoint: user1\r\n"
        action += b"Option: aastra-check-cfg\r\n\r\n"
        ami.send(b"".join(action % i for i in range(count)))
        ami.sock.settimeout(120)
        seen = b""
        while seen.count(b"Event: PJSIPNotifyComplete") < count:
            seen += ami.read_until(b"\r\n\r\n")
    assert seen.count(b"Response: Success\r\n") == count
    assert seen.count(b"Result: Success\r\n") == count
    assert sipp.finish(timeout=120) == 0, sipp.output
    # UDP retransmissions may arrive too (SIPp tracing every message is slow); each NOTIFY
    # is one Call-ID.
    assert len({header(m, "Call-ID")[0] for m in sipp.received()}) == count

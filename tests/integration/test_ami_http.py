"""AMI over HTTP driven by curl, with a cookie jar as scripts use it, compared with Asterisk
23's captured responses: status line, header names in order, and bodies byte for byte where
they do not carry times or ids."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sipnotify.config.load import DEFAULTS_DIR
from tests.integration.conftest import StartService, Uas, admin_conf
from tests.integration.sipp import header

ASTERISK_HEADERS = ["Server", "Date", "Cache-Control", "Content-type", "Set-Cookie", "Pragma",
                    "Content-Length"]  # fmt: skip
DIGEST_HEADERS = ["Server", "Date", "Cache-Control", "Content-type", "Content-Length"]


@dataclass
class Reply:
    status: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str:
        return next(v for k, v in self.headers if k.lower() == name.lower())

    @property
    def names(self) -> list[str]:
        return [k for k, _ in self.headers]

    @property
    def cookie(self) -> str:
        found = re.match(r'mansession_id="([0-9a-f]{8})"; Version=1; Max-Age=60$',
                         self.header("Set-Cookie"))  # fmt: skip
        assert found is not None, self.headers
        return found.group(1)


class Curl:
    """curl with a cookie jar, as the captures were made."""

    def __init__(self, port: int, jar: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.jar = jar

    def get(self, path: str, *extra: str, jar: bool = True) -> Reply:
        cookies = ["-b", str(self.jar), "-c", str(self.jar)] if jar else []
        done = subprocess.run(["curl", "-s", "-i", *cookies, *extra, self.base + path],
                              capture_output=True, timeout=30, check=True)  # fmt: skip
        return parse(done.stdout)


def parse(raw: bytes) -> Reply:
    """The last response curl printed (after a digest exchange there are two)."""
    heads = [m.start() for m in re.finditer(rb"HTTP/1\.1 \d{3} ", raw)]
    head, _, body = raw[heads[-1] :].partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    return Reply(status, [tuple(line.split(": ", 1)) for line in lines], body)  # type: ignore[misc]


def http_conf(extra: str = "") -> str:
    return f"[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = 0\n{extra}"


PRESETS = (DEFAULTS_DIR / "pjsip_notify.conf").read_text()
PJSIP = "[udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:0\n"


def alice(port: int) -> str:
    return (
        PJSIP
        + f"[alice]\ntype=aor\ncontact=sip:alice@127.0.0.1:{port}\n"
        + ("[alice]\ntype=endpoint\naors=alice\n")
    )


def test_a_session_from_login_to_logoff_as_asterisk_answers(
    start_service: StartService, uas: Uas, tmp_path: Path
) -> None:
    phone = uas("uas_notify.xml", calls=2)
    files = {
        "http.conf": http_conf(),
        "pjsip.conf": alice(phone.port),
        "pjsip_notify.conf": PRESETS,
    }
    service = start_service(admin_conf("webenabled = yes"), files=files)
    curl = Curl(service.http_port(), tmp_path / "jar")
    denied = curl.get("/rawman?action=ping", jar=False)
    assert denied.status == "HTTP/1.1 200 OK"
    assert denied.names == ASTERISK_HEADERS
    assert denied.header("Server") == "sipnotify/0.1.0"
    assert denied.header("Content-type") == "text/plain"
    assert denied.body == b"Response: Error\r\nMessage: Permission denied\r\n\r\n"
    started = time.monotonic()
    wrong = curl.get("/rawman?action=login&username=admin&secret=wrong")
    assert time.monotonic() - started >= 0.9  # Asterisk's delay after a failed login
    assert wrong.body == b"Response: Error\r\nMessage: Authentication failed\r\n\r\n"
    login = curl.get("/rawman?action=login&username=admin&secret=s3cret")
    assert login.body == b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
    assert login.cookie != wrong.cookie  # the failed login ended that session
    ping = curl.get("/rawman?action=ping")
    assert ping.cookie == login.cookie
    assert re.fullmatch(rb"Response: Success\r\nPing: Pong\r\nTimestamp: \d+\.\d{6}\r\n\r\n",
                        ping.body)  # fmt: skip
    sent = curl.get("/rawman?action=PJSIPNotify&endpoint=alice&variable=Event=check-sync")
    assert sent.body == b"Response: Success\r\nMessage: NOTIFY sent\r\n\r\n"
    encoded = curl.get("/rawman?action=PJSIPNotify&endpoint=alice&variable=Event%3Dcheck-sync"
                       "&variable=X-Note=two%20words&actionid=n2")  # fmt: skip
    assert encoded.body == b"Response: Success\r\nActionID: n2\r\nMessage: NOTIFY sent\r\n\r\n"
    unknown = curl.get("/rawman?action=PJSIPNotify&endpoint=nosuch&option=polycom-check-cfg")
    assert unknown.body == b"Response: Error\r\nMessage: Unable to retrieve endpoint nosuch\r\n\r\n"
    assert len(unknown.body) == 64  # as captured
    assert phone.finish() == 0, phone.output
    first, second = phone.received()
    assert header(first, "Event") == ["check-sync"]
    assert header(second, "X-Note") == ["two words"]
    results = curl.get("/rawman?action=waitevent&timeout=2")
    assert results.body.startswith(b"Response: Success\r\nMessage: Waiting for Event completed."
                                   b"\r\n\r\nEvent: PJSIPNotifyResult\r\n")  # fmt: skip
    assert results.body.count(b"Event: PJSIPNotifyComplete\r\n") == 2
    assert results.body.endswith(b"Event: WaitEventComplete\r\n\r\n")
    started = time.monotonic()
    idle = curl.get("/rawman?action=waitevent&timeout=2")
    assert time.monotonic() - started >= 1.9
    assert idle.body == (b"Response: Success\r\nMessage: Waiting for Event completed.\r\n\r\n"
                         b"Event: WaitEventComplete\r\n\r\n")  # fmt: skip
    assert len(idle.body) == 88  # as captured
    goodbye = curl.get("/rawman?action=logoff")
    assert goodbye.body == b"Response: Goodbye\r\nMessage: Thanks for all the fish.\r\n\r\n"
    assert goodbye.cookie == login.cookie
    after = curl.get("/rawman?action=ping")
    assert after.cookie != login.cookie  # the old id is never valid again
    assert after.body == b"Response: Error\r\nMessage: Permission denied\r\n\r\n"


def test_lists_errors_forms_and_the_xml_and_html_pages(
    start_service: StartService, tmp_path: Path
) -> None:
    service = start_service(admin_conf("webenabled = yes"),
                            files={"http.conf": http_conf(), "pjsip.conf": alice(9)})  # fmt: skip
    curl = Curl(service.http_port(), tmp_path / "jar")
    xml_login = curl.get("/mxml?action=login&username=admin&secret=s3cret")
    assert xml_login.header("Content-type") == "text/xml"
    assert xml_login.body == (
        b"<ajax-response>\n<response type='object' id='unknown'><generic response='Success' "
        b"message='Authentication accepted' /></response>\n</ajax-response>\n"
    )
    listed = curl.get("/rawman?action=PJSIPShowEndpoints")
    assert listed.body == (
        b"Response: Success\r\nEventList: start\r\n"
        b"Message: A listing of Endpoints follows, presented as EndpointList events\r\n\r\n"
        b"Event: EndpointList\r\nObjectType: endpoint\r\nObjectName: alice\r\nTransport: \r\n"
        b"Aor: alice\r\nAuths: \r\nOutboundAuths: \r\nContacts: alice/sip:alice@127.0.0.1:9,\r\n"
        b"DeviceState: Not in use\r\nActiveChannels: 0\r\n\r\n"
        b"Event: EndpointListComplete\r\nEventList: Complete\r\nListItems: 1\r\n\r\n"
    )
    html = curl.get("/manager?action=PJSIPShowEndpoints")
    assert html.header("Content-type") == "text/html"
    assert b"<tr><td>ObjectName</td><td>alice</td></tr>\n" in html.body
    assert html.body.endswith(b'<tr><td colspan="2"><hr></td></tr>\r\n</table></body>\r\n')
    assert curl.get("/rawman?action=nosuchaction").body == (
        b"Response: Error\r\nMessage: Invalid/unknown command: nosuchaction. "
        b"Use Action: ListCommands to show available commands.\r\n\r\n"
    )
    assert (
        curl.get("/rawman").body == b"Response: Error\r\nMessage: Missing action in request\r\n\r\n"
    )
    posted = curl.get("/rawman", "--data", "action=ping")
    assert posted.body.startswith(b"Response: Success\r\nPing: Pong\r\n")
    injected = curl.get("/rawman?action=ping&actionid=a%0d%0aEvent:%20Forged")
    assert injected.status == "HTTP/1.1 400 Bad Request"
    assert b"control character in parameter &#x27;actionid&#x27;" in injected.body
    too_big = curl.get("/rawman", "--data-binary", "action=ping&x=" + "y" * 70_000)
    assert too_big.status == "HTTP/1.1 413 Request Entity Too Large"
    missing = curl.get("/nosuchuri", jar=False)
    assert missing.status == "HTTP/1.1 404 Not Found"
    assert missing.names == ["Server", "Date", "Cache-Control", "Content-type", "Content-Length"]
    assert b"<address>sipnotify/0.1.0</address>" in missing.body
    assert curl.get("/httpstatus", jar=False).status == "HTTP/1.1 404 Not Found"  # off by default


def test_digest_uris_take_credentials_instead_of_a_cookie(
    start_service: StartService, tmp_path: Path
) -> None:
    service = start_service(admin_conf("webenabled = yes"), files={"http.conf": http_conf()})
    curl = Curl(service.http_port(), tmp_path / "jar")
    bare = curl.get("/arawman?action=ping", jar=False)
    assert bare.status == "HTTP/1.1 401 Unauthorized"
    assert bare.names == ["Server", "Date", "Cache-Control", "WWW-authenticate", "Content-type",
                          "Content-Length"]  # fmt: skip
    assert re.fullmatch(r'Digest algorithm=MD5, realm="asterisk", nonce="([0-9a-f]{8})", '
                        r'qop="auth", opaque="\1"', bare.header("WWW-authenticate"))  # fmt: skip
    good = curl.get("/arawman?action=ping", "--digest", "-u", "admin:s3cret", jar=False)
    assert good.status == "HTTP/1.1 200 OK"
    assert good.names == DIGEST_HEADERS  # no cookie, no Pragma
    assert good.body.startswith(b"Response: Success\r\nPing: Pong\r\n")
    xml = curl.get("/amxml?action=ping", "--digest", "-u", "admin:s3cret", jar=False)
    assert xml.body.startswith(b"<ajax-response>\n<response type='object' id='unknown'>")
    page = curl.get("/amanager?action=ping", "--digest", "-u", "admin:s3cret", jar=False)
    assert page.body.startswith(b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\r\n')
    wrong = curl.get("/arawman?action=ping", "--digest", "-u", "admin:bad", jar=False)
    assert wrong.status == "HTTP/1.1 401 Unauthorized"
    basic = curl.get("/arawman?action=ping", "--basic", "-u", "admin:s3cret", jar=False)
    assert basic.status == "HTTP/1.1 401 Unauthorized"


def test_the_prefix_the_status_page_and_webenabled(
    start_service: StartService, tmp_path: Path
) -> None:
    service = start_service(admin_conf("webenabled = yes"), files={
        "http.conf": http_conf("prefix = asterisk\nenable_status = yes\nservername = Test/1\n"),
    })  # fmt: skip
    curl = Curl(service.http_port(), tmp_path / "jar")
    assert curl.get("/rawman?action=ping").status == "HTTP/1.1 404 Not Found"
    login = curl.get("/asterisk/rawman?action=login&username=admin&secret=s3cret")
    assert login.body == b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
    assert login.header("Server") == "Test/1"
    status = curl.get("/asterisk/httpstatus", jar=False)
    # Asterisk sends this page without a Content-type; sipnotify says what it is
    assert status.names == ["Server", "Date", "Cache-Control", "Content-type", "Content-Length"]
    assert b"<tr><td><i>Prefix</i></td><td><b>/asterisk</b></td></tr>" in status.body
    closed = start_service(admin_conf(), files={"http.conf": http_conf()})  # webenabled = no
    other = Curl(closed.http_port(), tmp_path / "jar2")
    assert other.get("/rawman?action=ping").status == "HTTP/1.1 404 Not Found"


def test_https_serves_the_same_with_the_certificate_of_http_conf(
    start_service: StartService, tmp_path: Path
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    tls = (
        f"tlsenable = yes\ntlsbindaddr = 127.0.0.1:0\ntlscertfile = {cert}\ntlsprivatekey = {key}\n"
    )
    service = start_service(admin_conf("webenabled = yes"), files={"http.conf": http_conf(tls)})
    secure = f"https://127.0.0.1:{service.http_port('HTTPS')}"
    done = subprocess.run(
        ["curl", "-s", "-i", "--cacert", str(cert), f"{secure}/rawman?action=ping"],
        capture_output=True, timeout=30, check=True,
    )  # fmt: skip
    reply = parse(done.stdout)
    assert reply.status == "HTTP/1.1 200 OK"
    assert reply.body == b"Response: Error\r\nMessage: Permission denied\r\n\r\n"
    refused = subprocess.run(["curl", "-s", f"{secure}/rawman?action=ping"],  # no CA: unverified
                             capture_output=True, timeout=30, check=False)  # fmt: skip
    assert refused.returncode != 0

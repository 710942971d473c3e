"""PJSIPNotify's result events obey the event filter like every other event: the session's
event mask, the user's read classes, `disabledevents`, and `notifyresults = no`. A client that
takes the next message as its answer (Debian's Perl Asterisk::Manager) stays in step."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import RawAmi, StartService, Uas, admin_conf

PERL_CLIENT = Path(__file__).parent / "clients" / "perl_in_step.pl"
PJSIP = """[udp]
type=transport
protocol=udp
bind=127.0.0.1:0
[alice]
type=aor
contact=sip:alice@127.0.0.1:{port}
[alice]
type=endpoint
aors=alice
"""
USERS = """
[callonly]
secret = c
read = call
write = system
[sys]
secret = s
read = system
write = system
"""
SECRETS = {"admin": "s3cret", "callonly": "c", "sys": "s"}
PING = b"Action: Ping\r\nActionID: p1\r\n\r\n"
NOTIFY = b"Action: PJSIPNotify\r\nActionID: n1\r\nEndpoint: alice\r\nVariable: Event=x\r\n\r\n"


def next_after_notify(port: int, user: str, events: str) -> bytes:
    """Send PJSIPNotify then Ping; return the message that follows `NOTIFY sent`."""
    with RawAmi(port) as ami:
        ami.login(user, SECRETS[user], events=events, booted=events != "off" and user != "callonly")
        ami.send(NOTIFY)
        assert ami.message() == b"Response: Success\r\nActionID: n1\r\nMessage: NOTIFY sent\r\n\r\n"
        ami.send(PING)  # sent at once: a result event, if any, comes before its answer
        return ami.message()


@pytest.mark.parametrize(
    ("general", "user", "events"),
    [
        ("", "admin", "off"),  # the session's event mask
        ("", "callonly", "on"),  # the user's read classes lack system
        ("disabledevents = PJSIPNotifyResult,PJSIPNotifyComplete", "sys", "system"),
        ("notifyresults = no", "sys", "on"),
    ],
    ids=["events-off", "read-lacks-system", "disabledevents", "notifyresults-no"],
)
def test_result_events_obey_the_event_filter(
    start_service: StartService, uas: Uas, general: str, user: str, events: str
) -> None:
    sipp = uas("uas_notify.xml")
    service = start_service(
        admin_conf(general) + USERS, files={"pjsip.conf": PJSIP.format(port=sipp.port)}
    )
    follows = next_after_notify(service.port, user, events)
    assert follows.startswith(b"Response: Success\r\nActionID: p1\r\nPing: Pong\r\n")
    assert sipp.finish() == 0


def test_result_events_reach_a_session_that_takes_them(
    start_service: StartService, uas: Uas
) -> None:
    sipp = uas("uas_notify.xml")
    service = start_service(
        admin_conf() + USERS, files={"pjsip.conf": PJSIP.format(port=sipp.port)}
    )
    with RawAmi(service.port) as ami:
        ami.login("sys", "s", events="system")
        _, events = ami.notify("ActionID: n1\r\nEndpoint: alice\r\nVariable: Event=x\r\n")
    assert events[0].startswith(b"Event: PJSIPNotifyResult\r\nActionID: n1\r\n")
    assert events[-1].startswith(b"Event: PJSIPNotifyComplete\r\nActionID: n1\r\n")
    assert sipp.finish() == 0


@pytest.mark.parametrize(
    ("general", "user", "secret"),
    [("disabledevents = FullyBooted", "callonly", "c"),
     ("notifyresults = no\ndisabledevents = FullyBooted", "sys", "s")],
    ids=["read-lacks-system", "notifyresults-no"],
)  # fmt: skip
def test_perl_asterisk_manager_stays_in_step(
    start_service: StartService, uas: Uas, general: str, user: str, secret: str
) -> None:
    """Asterisk::Manager logs in without `Events:` (every class), so FullyBooted, which
    Asterisk sends too, is disabled as its users do."""
    if shutil.which("perl") is None:
        pytest.fail("perl is missing: `make peers` installs libasterisk-agi-perl")
    sipp = uas("uas_notify.xml")
    service = start_service(
        admin_conf(general) + USERS, files={"pjsip.conf": PJSIP.format(port=sipp.port)}
    )
    done = subprocess.run(
        ["perl", str(PERL_CLIENT), str(service.port), user, secret, "alice"],
        capture_output=True, text=True, timeout=30, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "notify: Success NOTIFY sent",
        "ping: Success Pong",
        "logoff: Goodbye",
    ]
    assert sipp.finish() == 0

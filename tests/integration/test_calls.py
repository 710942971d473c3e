"""Calls with SIPp: the dialplan application PJSIPNotify (behaviour: notify app), in-dialog NOTIFY to a
channel (behaviour: notify request, capture C1-C3), channel events, CoreShowChannels and Hangup."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.integration.conftest import RawAmi, Service, StartService, Uas, admin_conf
from tests.integration.ports import free_port
from tests.integration.sipp import Sipp, body, header

PJSIP = """[system]
type=system
timer_t1=100
timer_b=6400
[global]
type=global
default_outbound_endpoint=default_outbound_endpoint
[udp]
type=transport
protocol=udp
bind=127.0.0.1:0
[default_outbound_endpoint]
type=endpoint
context=test-invalid
[alice]
type=aor
contact=sip:alice@127.0.0.1:5161
[alice]
type=endpoint
context=default
aors=alice
"""

NOTIFY_CONF = """[test-notify]
Event=>Test
X-Data=>Fun
Content-type=>application/potato-summary
Content=>Num-Potatoes: 23
Content=>Potato-Quality: fair
Content=>
"""

EXTENSIONS = """[default]
exten => 1212,1,Answer()
 same => n,PJSIPNotify(,&Event=Test&X-Data=Fun)
 same => n,Wait(3)
 same => n,Hangup()
exten => 2323,1,Answer()
 same => n,PJSIPNotify(,test-notify)
 same => n,Wait(3)
 same => n,Hangup()
exten => 3434,1,Answer()
 same => n,Wait(1)
 same => n,PJSIPNotify(<sip:bob@127.0.0.1:{bob}>,&Event=Test&X-Data=Fun)
 same => n,Wait(3)
 same => n,Hangup()
exten => 4545,1,Answer()
 same => n,Wait(1)
 same => n,PJSIPNotify(,&Event=PotatoReport&Content-type=application/potato-summary&Content=Num-Potatoes: 23&Content=Potato-Quality: fair&Content=)
 same => n,Wait(3)
 same => n,Hangup()
exten => 100,1,Answer()
 same => n,Wait(20)
 same => n,Hangup()
exten => _9X.,1,Ringing()
 same => n,Wait(20)
exten => echo,1,Answer()
 same => n,Echo()
exten => early,1,Progress()
 same => n,Wait(1)
 same => n,Hangup(17)
"""


def start(start_service: StartService, bob: int = 9) -> Service:
    return start_service(
        admin_conf(),
        files={
            "pjsip.conf": PJSIP,
            "pjsip_notify.conf": NOTIFY_CONF,
            "extensions.conf": EXTENSIONS.replace("{bob}", str(bob)),
        },
    )


def caller(uas: Uas, service: Service, scenario: str, exten: str, *extra: str) -> Sipp:
    return uas(
        scenario,
        remote=service.sip_port(),
        extra=("-s", exten, *extra),
        timeout=25,
    )


def notifies(sipp: Sipp) -> list[bytes]:
    return [m for m in sipp.received() if m.startswith(b"NOTIFY ")]


def test_dialplan_app_in_dialog_with_variables(start_service: StartService, uas: Uas) -> None:
    """behaviour: notify app iteration 1212: Answer, then PJSIPNotify(,&Event=Test&X-Data=Fun)."""
    service = start(start_service)
    alice = caller(uas, service, "uac_call_notify.xml", "1212")
    assert alice.finish() == 0, alice.output + service.log()
    (notify,) = notifies(alice)
    invite_ok = next(m for m in alice.received() if m.startswith(b"SIP/2.0 200"))
    assert header(notify, "Call-ID") == header(invite_ok, "Call-ID")
    assert header(notify, "Event") == ["Test"]
    assert header(notify, "X-Data") == ["Fun"]
    assert header(notify, "Subscription-State") == ["terminated"]
    ours = header(invite_ok, "To")[0].split(";tag=")[1]
    assert header(notify, "From")[0].endswith(f";tag={ours}")
    assert notify.startswith(b"NOTIFY sip:alice@127.0.0.1:")


def test_dialplan_app_in_dialog_with_a_preset(start_service: StartService, uas: Uas) -> None:
    """behaviour: notify app iteration 2323: PJSIPNotify(,test-notify)."""
    service = start(start_service)
    alice = caller(uas, service, "uac_call_notify.xml", "2323")
    assert alice.finish() == 0, alice.output + service.log()
    (notify,) = notifies(alice)
    assert header(notify, "X-Data") == ["Fun"]
    assert header(notify, "Event") == ["Test"]
    assert body(notify) == b"Num-Potatoes: 23\r\nPotato-Quality: fair\r\n"


def test_dialplan_app_to_a_uri(start_service: StartService, uas: Uas) -> None:
    """behaviour: notify app iteration 3434: an out-of-dialog NOTIFY to another UA during the call."""
    bob = uas("uas_notify.xml")
    service = start(start_service, bob=bob.port)
    alice = caller(uas, service, "uac_call_hangup.xml", "3434", "-d", "3000")
    assert alice.finish() == 0, alice.output + service.log()
    assert bob.finish() == 0, bob.output + service.log()
    (notify,) = notifies(bob)
    assert header(notify, "X-Data") == ["Fun"]
    assert header(notify, "Event") == ["Test"]
    assert notifies(alice) == []


def test_dialplan_app_keeps_the_order_written(start_service: StartService, uas: Uas) -> None:
    """behaviour: notify app iteration 4545, with deliberate difference 6: the `&` list is not reversed."""
    service = start(start_service)
    alice = caller(uas, service, "uac_call_notify.xml", "4545")
    assert alice.finish() == 0, alice.output + service.log()
    (notify,) = notifies(alice)
    assert header(notify, "Event") == ["PotatoReport"]
    assert header(notify, "Content-Type") == ["application/potato-summary"]
    assert body(notify) == b"Num-Potatoes: 23\r\nPotato-Quality: fair\r\n"


@contextmanager
def answered(service: Service, uas: Uas) -> Iterator[tuple[RawAmi, RawAmi, Sipp, str]]:
    """alice calls 100 (Answer, Wait(20)) and waits for a BYE: an events session, a control
    session, alice's SIPp and the channel's name, once it is Up."""
    with events_session(service) as ami:
        alice = caller(uas, service, "uac_call_wait_bye.xml", "100")
        name = channel_of(wait_event(ami, lambda m: m.startswith(b"Event: Newstate\r\n")))
        with RawAmi(service.port) as control:
            control.login(events="system")
            yield ami, control, alice, name


def events_session(service: Service) -> RawAmi:
    ami = RawAmi(service.port, timeout=20)
    ami.login()
    ami.send(b"Action: Events\r\nEventMask: call,system\r\n\r\n")
    assert ami.message() == b"Response: Success\r\nEvents: On\r\n\r\n"
    return ami


def wait_event(ami: RawAmi, wanted: Callable[[bytes], bool]) -> bytes:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        message = ami.message()
        if wanted(message):
            return message
    raise AssertionError("event not seen")


def channel_of(message: bytes) -> str:
    found = re.search(rb"\r\nChannel: (\S+)\r\n", message)
    assert found is not None, message
    return found.group(1).decode()


def test_pjsip_notify_to_a_channel(start_service: StartService, uas: Uas) -> None:
    """Capture C1-C3: Channel=PJSIP/alice-… sends inside the call's dialog (Option honoured,
    deliberate difference 5); after the caller's BYE the channel is gone."""
    service = start(start_service)
    with events_session(service) as ami:
        alice = caller(uas, service, "uac_call_two_notifies.xml", "100")
        new = wait_event(ami, lambda m: m.startswith(b"Event: Newchannel\r\n"))
        name = channel_of(new)
        assert re.fullmatch(r"PJSIP/alice-[0-9a-f]{8}", name)
        assert b"\r\nChannelStateDesc: Ring\r\n" in new
        assert b"\r\nCallerIDNum: alice\r\nCallerIDName: alice\r\n" in new
        assert b"\r\nContext: default\r\nExten: 100\r\nPriority: 1\r\n" in new
        up = wait_event(ami, lambda m: m.startswith(b"Event: Newstate\r\n"))
        assert b"\r\nChannelState: 6\r\nChannelStateDesc: Up\r\n" in up
        with RawAmi(service.port) as control:
            control.login(events="system")
            answer, events = control.notify(
                f"ActionID: C1\r\nChannel: {name}\r\nVariable: Event=check-sync\r\n"
                "Variable: Content-Type=text/plain\r\nVariable: Content=in-dialog\r\n"
            )
            assert answer == b"Response: Success\r\nActionID: C1\r\nMessage: NOTIFY sent\r\n\r\n"
            assert b"\r\nResult: Success\r\nStatusCode: 200\r\n" in events[0]
            option, _ = control.notify(
                f"ActionID: C2\r\nChannel: {name}\r\nOption: test-notify\r\n"
            )
            assert option == b"Response: Success\r\nActionID: C2\r\nMessage: NOTIFY sent\r\n\r\n"
            hung = wait_event(ami, lambda m: m.startswith(b"Event: Hangup\r\n"))
            assert channel_of(hung) == name
            assert b"\r\nCause: 16\r\nCause-txt: Normal Clearing\r\n" in hung
            after, _ = control.notify(
                f"ActionID: C3\r\nChannel: {name}\r\nVariable: Event=check-sync\r\n"
            )
            assert after == b"Response: Error\r\nActionID: C3\r\nMessage: Channel not found\r\n\r\n"
    assert alice.finish() == 0, alice.output + service.log()
    first, second = notifies(alice)
    assert body(first) == b"in-dialog"
    assert header(first, "Content-Type") == ["text/plain"]
    assert int(header(second, "CSeq")[0].split()[0]) == int(header(first, "CSeq")[0].split()[0]) + 1
    assert header(second, "X-Data") == ["Fun"]  # the Option's preset (deliberate difference 5)
    assert body(second) == b"Num-Potatoes: 23\r\nPotato-Quality: fair\r\n"


def test_cli_command_and_sipnotify_notify_reach_a_channel(
    start_service: StartService, uas: Uas
) -> None:
    """`pjsip send notify <type> channel <name>` (behaviour: notify CLI) and `sipnotify notify
    --channel`, each inside the call's dialog."""
    service = start(start_service)
    with events_session(service) as ami:
        alice = caller(uas, service, "uac_call_two_notifies.xml", "100")
        name = channel_of(wait_event(ami, lambda m: m.startswith(b"Event: Newstate\r\n")))
        with RawAmi(service.port) as control:
            control.login(events="system")
            control.send(
                f"Action: Command\r\nActionID: K\r\nCommand: pjsip send notify test-notify "
                f"channel {name} PJSIP/nobody-00000099\r\n\r\n".encode()
            )
            assert control.message() == (
                b"Response: Success\r\nActionID: K\r\nMessage: Command output follows\r\n"
                + f"Output: Sending NOTIFY of type 'test-notify' to '{name}'\r\n".encode()
                + b"Output: Sending NOTIFY of type 'test-notify' to 'PJSIP/nobody-00000099'\r\n"
                b"Output: Unable to find channel PJSIP/nobody-00000099\r\n\r\n"
            )
        done = subprocess.run(
            [sys.executable, "-m", "sipnotify", "notify", "--var", "Event=talk", "--channel",
             name, "--port", str(service.port), "--username", "admin", "--secret", "s3cret"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert re.fullmatch(
            rf"{re.escape(name)} sip:alice@\S+ -> 200 OK \(\d+\.\d ms\)\n", done.stdout
        )
    assert alice.finish() == 0, alice.output + service.log()
    first, second = notifies(alice)
    assert header(first, "Event") == ["Test"]
    assert header(second, "Event") == ["talk"]


def test_core_show_channels_and_hangup_action(start_service: StartService, uas: Uas) -> None:
    """A call shows in CoreShowChannels; Hangup sends the BYE and the channel goes."""
    service = start(start_service)
    with answered(service, uas) as (ami, control, alice, name):
        item = b""
        deadline = time.monotonic() + 5  # Answer() waits half a second for media first
        while b"\r\nApplication: Answer\r\n" in item or not item:
            assert time.monotonic() < deadline, item
            control.send(b"Action: CoreShowChannels\r\nActionID: CSC\r\n\r\n")
            assert control.message() == (
                b"Response: Success\r\nActionID: CSC\r\nEventList: start\r\n"
                b"Message: Channels will follow\r\n\r\n"
            )
            item = control.message()
            assert item.startswith(b"Event: CoreShowChannel\r\nActionID: CSC\r\nChannel: ")
            assert control.message() == (
                b"Event: CoreShowChannelsComplete\r\nActionID: CSC\r\nEventList: Complete\r\n"
                b"ListItems: 1\r\n\r\n"
            )
            time.sleep(0.05)
        assert b"\r\nApplication: Wait\r\nApplicationData: 20\r\nDuration: 00:00:0" in item
        control.send(b"Action: PJSIPShowEndpoint\r\nEndpoint: alice\r\n\r\n")
        control.message()
        detail = control.message()
        assert detail.startswith(b"Event: EndpointDetail\r\n")
        assert detail.endswith(b"\r\nDeviceState: In use\r\nActiveChannels: 1\r\n\r\n")
        while not control.message().startswith(b"Event: EndpointDetailComplete"):
            pass
        control.send(f"Action: Hangup\r\nActionID: H\r\nChannel: {name}\r\n\r\n".encode())
        assert (
            control.message()
            == b"Response: Success\r\nActionID: H\r\nMessage: Channel Hungup\r\n\r\n"
        )
        control.send(f"Action: Hangup\r\nActionID: H2\r\nChannel: {name}\r\n\r\n".encode())
        assert (
            control.message()
            == b"Response: Error\r\nActionID: H2\r\nMessage: No such channel\r\n\r\n"
        )
        hung = wait_event(ami, lambda m: m.startswith(b"Event: Hangup\r\n"))
        assert channel_of(hung) == name
    assert alice.finish() == 0, alice.output + service.log()


@pytest.mark.parametrize(
    ("exten", "sdp", "status"),
    [
        ("7777", "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n", b"404 Not Found"),
        ("100", "garbage", b"488 Not Acceptable Here"),
        (
            "100",
            "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 18\r\n",
            b"488 Not Acceptable Here",
        ),
    ],
)
def test_calls_that_cannot_start_are_refused(
    start_service: StartService, exten: str, sdp: str, status: bytes
) -> None:
    service = start(start_service)
    with RawUac(service.sip_port()) as phone:
        phone.invite(exten, sdp)
        assert phone.response().startswith(b"SIP/2.0 100 Trying\r\n")
        final = phone.response()
        assert final.startswith(b"SIP/2.0 " + status + b"\r\n")
        phone.ack(final)
    with RawAmi(service.port) as control:
        control.login(events="system")
        control.send(b"Action: CoreShowChannels\r\n\r\n")
        control.message()
        assert control.message().endswith(b"ListItems: 0\r\n\r\n")


def test_cancel_while_ringing(start_service: StartService) -> None:
    """CANCEL while the dialplan rings: 200 to the CANCEL, 487 to the INVITE, Hangup."""
    service = start(start_service)
    with events_session(service) as ami, RawUac(service.sip_port()) as phone:
        phone.invite("9123", "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n")
        assert phone.response().startswith(b"SIP/2.0 100 Trying\r\n")
        assert phone.response().startswith(b"SIP/2.0 180 Ringing\r\n")
        new = wait_event(ami, lambda m: m.startswith(b"Event: Newchannel\r\n"))
        phone.cancel()
        replies = [phone.response(), phone.response()]
        assert [r.split(b"\r\n", 1)[0] for r in replies] == [
            b"SIP/2.0 200 OK",
            b"SIP/2.0 487 Request Terminated",
        ]
        phone.ack(replies[1])
        hung = wait_event(ami, lambda m: m.startswith(b"Event: Hangup\r\n"))
        assert channel_of(hung) == channel_of(new)


def test_unidentified_caller_is_challenged_then_refused(start_service: StartService) -> None:
    service = start(start_service)
    with RawUac(service.sip_port(), user="mallory") as phone:
        phone.invite("100", "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n")
        phone.response()  # 100 Trying
        challenge = phone.response()
        assert challenge.startswith(b"SIP/2.0 401 Unauthorized\r\n")
        assert b"\r\nWWW-Authenticate: Digest " in challenge


def test_refusals_are_stateless_and_a_flood_disturbs_no_one(
    start_service: StartService, uas: Uas
) -> None:
    """A refused INVITE keeps no transaction (its retransmission is answered afresh, 100 Trying
    included), so 3,000 of them hold nothing; a real call goes through afterwards."""
    service = start(start_service)
    sdp = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n"
    with RawUac(service.sip_port(), user="mallory") as phone:
        phone.invite("100", sdp)
        first = [phone.response(), phone.response()]
        phone.invite("100", sdp)  # the very same INVITE again
        again = [phone.response(), phone.response()]
        assert [m.split(b"\r\n", 1)[0] for m in first + again] == [
            b"SIP/2.0 100 Trying", b"SIP/2.0 401 Unauthorized",
        ] * 2  # fmt: skip
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flood.bind(("127.0.0.1", 0))
    port = flood.getsockname()[1]
    with flood:
        for n in range(3000):
            flood.sendto(
                (f"INVITE sip:100@127.0.0.1 SIP/2.0\r\n"
                 f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-flood-{n};rport\r\n"
                 f"From: <sip:mallory@127.0.0.1:{port}>;tag=f{n}\r\nTo: <sip:100@127.0.0.1>\r\n"
                 f"Call-ID: flood-{n}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
                 f"Content-Length: 0\r\n\r\n").encode(),
                ("127.0.0.1", service.sip_port()),
            )  # fmt: skip
    alice = caller(uas, service, "uac_call_notify.xml", "1212")
    assert alice.finish() == 0, alice.output + service.log()


class RawUac:
    """A plain UDP phone for the refusals SIPp cannot easily provoke."""

    def __init__(self, port: int, *, user: str = "alice") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.target = ("127.0.0.1", port)
        self.user = user
        self.local = self.sock.getsockname()[1]
        self.uri = ""
        self.to = ""
        self.request_line = ""

    def __enter__(self) -> RawUac:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def _send(self, method: str, cseq: str, to: str, payload: str = "", extra: str = "") -> None:
        """`method` names the branch: requests of one transaction share it."""
        head = (
            f"{self.request_line}\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.local};branch=z9hG4bK-raw-{method.lower()}1;rport\r\n"
            f'From: "{self.user}" <sip:{self.user}@127.0.0.1:{self.local}>;tag=raw1\r\n'
            f"To: {to}\r\nCall-ID: raw-call-{self.local}\r\nCSeq: {cseq}\r\n"
            f"Contact: <sip:{self.user}@127.0.0.1:{self.local}>\r\nMax-Forwards: 70\r\n{extra}"
            f"Content-Length: {len(payload)}\r\n\r\n{payload}"
        )
        self.sock.sendto(head.encode(), self.target)

    def invite(self, exten: str, sdp: str) -> None:
        self.uri = f"sip:{exten}@127.0.0.1:{self.target[1]}"
        self.to = f"<{self.uri}>"
        self.request_line = f"INVITE {self.uri} SIP/2.0"
        self._send("INVITE", "1 INVITE", self.to, sdp, "Content-Type: application/sdp\r\n")

    def cancel(self) -> None:
        self.request_line = f"CANCEL {self.uri} SIP/2.0"
        self._send("INVITE", "1 CANCEL", self.to)  # the INVITE's branch (RFC 3261 §9.1)

    def ack(self, final: bytes) -> None:
        self.request_line = f"ACK {self.uri} SIP/2.0"
        self._send("INVITE", "1 ACK", header(final, "To")[0])  # non-2xx ACK: INVITE's branch

    def in_dialog(self, method: str, cseq: int, ok: bytes, payload: str = "") -> None:
        """A request inside the call the 2xx `ok` set up (its To tag, to its Contact)."""
        target = header(ok, "Contact")[0].strip("<>")
        self.request_line = f"{method} {target} SIP/2.0"
        extra = "Content-Type: application/sdp\r\n" if payload else ""
        self._send(f"{method}{cseq}", f"{cseq} {method}", header(ok, "To")[0], payload, extra)

    def response(self) -> bytes:
        data, _ = self.sock.recvfrom(65536)
        return data

    def final(self) -> bytes:
        """The next response that is not 100 Trying."""
        while (message := self.response()).startswith(b"SIP/2.0 100 "):
            pass
        return message


CALLEE = """[callee]
type=aor
contact=sip:callee@127.0.0.1:{callee}
[callee]
type=endpoint
context=default
aors=callee
"""


def start_with_callee(start_service: StartService, callee: int) -> Service:
    return start_service(
        admin_conf(),
        files={
            "pjsip.conf": PJSIP + CALLEE.replace("{callee}", str(callee)),
            "extensions.conf": "[default]\nexten => callee,1,Dial(PJSIP/callee,20)\n"
            " same => n,Hangup()\n",
        },
    )


def notify_when_ringing(service: Service, ami: RawAmi, pattern: str) -> tuple[bytes, list[bytes]]:
    """Wait for the channel matching `pattern` to ring, then send it `Event: talk`; returns
    the Newstate (Ringing) event and the NOTIFY's result events."""
    ringing = wait_event(
        ami,
        lambda m: (
            m.startswith(b"Event: Newstate\r\n")
            and b"\r\nChannelStateDesc: Ringing\r\n" in m
            and re.search(pattern.encode(), m) is not None
        ),
    )
    name = channel_of(ringing)
    with RawAmi(service.port) as control:
        control.login(events="system")
        answer, events = control.notify(
            f"ActionID: T\r\nChannel: {name}\r\nVariable: Event=talk\r\n"
        )
    assert answer == b"Response: Success\r\nActionID: T\r\nMessage: NOTIFY sent\r\n\r\n"
    return ringing, events


def test_originate_rings_then_talk_in_the_early_dialog(
    start_service: StartService, uas: Uas
) -> None:
    """Originate to a phone that rings; `Event: talk` reaches it inside the early dialog
    (the To tag of its 180); it answers, the application runs, then sipnotify sends BYE."""
    callee = uas("uas_call_ring_notify.xml", timeout=25)
    service = start_with_callee(start_service, callee.port)
    with events_session(service) as ami:
        ami.send(
            b"Action: Originate\r\nActionID: O1\r\nChannel: PJSIP/callee\r\nApplication: Wait\r\n"
            b"Data: 1\r\nAsync: true\r\n\r\n"
        )
        assert (
            ami.message()
            == b"Response: Success\r\nActionID: O1\r\nMessage: Originate successfully queued\r\n\r\n"
        )
        ringing, events = notify_when_ringing(service, ami, r"Channel: PJSIP/callee-")
        name = channel_of(ringing)
        assert b"\r\nResult: Success\r\nStatusCode: 200\r\n" in events[0]
        response = wait_event(ami, lambda m: m.startswith(b"Event: OriginateResponse\r\n"))
        assert response.startswith(
            b"Event: OriginateResponse\r\nActionID: O1\r\nPrivilege: call,all\r\nResponse: Success\r\n"
        )
        assert b"\r\nReason: 4\r\n" in response
        assert channel_of(response) == name
        hung = wait_event(ami, lambda m: m.startswith(b"Event: Hangup\r\n"))
        assert channel_of(hung) == name
    assert callee.finish() == 0, callee.output + service.log()
    received = callee.received()
    invite = next(m for m in received if m.startswith(b"INVITE "))
    (notify,) = notifies(callee)
    assert header(notify, "Call-ID") == header(invite, "Call-ID")
    assert header(notify, "To")[0].endswith("SIPpTag011")  # the tag of the 180
    assert notify.startswith(b"NOTIFY sip:callee@127.0.0.1:")  # the 180's Contact


def test_originate_to_nobody_fails(start_service: StartService, uas: Uas) -> None:
    callee = uas("uas_call_ring_notify.xml")
    service = start_with_callee(start_service, callee.port)
    with RawAmi(service.port) as control:
        control.login(events="system")
        control.send(
            b"Action: Originate\r\nActionID: O2\r\nChannel: PJSIP/nobody\r\nApplication: Wait\r\n\r\n"
        )
        assert (
            control.message()
            == b"Response: Error\r\nActionID: O2\r\nMessage: Originate failed\r\n\r\n"
        )
        control.send(b"Action: Originate\r\nActionID: O3\r\n\r\n")
        assert (
            control.message()
            == b"Response: Error\r\nActionID: O3\r\nMessage: Channel not specified\r\n\r\n"
        )


def test_dial_then_talk_in_the_callee_early_dialog(start_service: StartService, uas: Uas) -> None:
    """behaviour: notify request: caller -> Dial(PJSIP/callee) -> callee rings -> PJSIPNotify Channel=
    <callee channel> Event: talk inside the early dialog -> callee answers -> caller BYE."""
    callee = uas("uas_call_ring_notify.xml", timeout=25)
    service = start_with_callee(start_service, callee.port)
    with events_session(service) as ami:
        alice = caller(uas, service, "uac_call_hangup.xml", "callee", "-d", "1500")
        first = wait_event(ami, lambda m: m.startswith(b"Event: Newchannel\r\n"))
        ringing, events = notify_when_ringing(service, ami, r"Channel: PJSIP/callee-")
        name = channel_of(ringing)
        assert b"\r\nResult: Success\r\n" in events[0]
        # the callee's channel: its own number, and the caller on the connected line
        assert (
            b"\r\nCallerIDNum: callee\r\nCallerIDName: <unknown>\r\n"
            b"ConnectedLineNum: alice\r\nConnectedLineName: alice\r\n"
        ) in ringing
        hangups = [wait_event(ami, lambda m: m.startswith(b"Event: Hangup\r\n")) for _ in "ab"]
        assert {channel_of(h) for h in hangups} == {channel_of(first), name}
        uniqueid = re.search(rb"\r\nUniqueid: (\S+)\r\n", first)
        assert uniqueid is not None
        assert all(b"\r\nLinkedid: " + uniqueid.group(1) + b"\r\n" in h for h in hangups)
    assert alice.finish() == 0, alice.output + service.log()
    assert callee.finish() == 0, callee.output + service.log()
    (notify,) = notifies(callee)
    assert header(notify, "Event") == ["talk"]
    # the caller's identity in From, as on the INVITE (not a name of our own)
    assert header(notify, "From")[0].startswith('"alice" <sip:alice@127.0.0.1>;tag=')
    alice_ok = next(m for m in alice.received() if m.startswith(b"SIP/2.0 200"))
    assert b"m=audio " in body(alice_ok)


OFFER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 8 0\r\n"


def test_echo_returns_rtp_and_a_reinvite_keeps_the_call(start_service: StartService) -> None:
    """Echo() sends each RTP packet back; a re-INVITE is answered 200 with the same media;
    the caller's BYE ends the call."""
    service = start(start_service)
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    rtp.settimeout(5)
    with rtp, RawUac(service.sip_port()) as phone:
        phone.invite("echo", OFFER.format(port=rtp.getsockname()[1]))
        ok = phone.final()
        assert ok.startswith(b"SIP/2.0 200 OK\r\n"), ok
        media = re.search(rb"\r\nm=audio (\d+) RTP/AVP 8\r\n", body(ok))  # PCMA, offered first
        assert media is not None, ok
        phone.in_dialog("ACK", 1, ok)
        packet = b"\x80\x08\x00\x01" + b"\x00" * 8 + b"voice"
        deadline = time.monotonic() + 5
        echoed = b""
        while not echoed and time.monotonic() < deadline:  # Echo() starts right after Answer
            rtp.sendto(packet, ("127.0.0.1", int(media.group(1))))
            rtp.settimeout(0.2)
            try:
                echoed = rtp.recv(2048)
            except TimeoutError:
                continue
        assert echoed == packet
        phone.in_dialog("INVITE", 2, ok, OFFER.format(port=rtp.getsockname()[1]))
        again = phone.final()
        assert again.startswith(b"SIP/2.0 200 OK\r\n")
        assert media.group(0) in body(again)
        phone.in_dialog("ACK", 2, again)
        phone.in_dialog("BYE", 3, ok)
        assert phone.final().startswith(b"SIP/2.0 200 OK\r\n")
        phone.in_dialog("BYE", 4, ok)
        assert phone.final().startswith(b"SIP/2.0 481 Call/Transaction Does Not Exist\r\n")


def test_answer_waits_for_media_before_the_dialplan_goes_on(start_service: StartService) -> None:
    """As Asterisk's Answer(): without RTP from the caller the next application (here an
    in-dialog NOTIFY) runs half a second after the 200 OK, so it never overtakes the ACK."""
    service = start(start_service)
    with RawUac(service.sip_port()) as phone:
        phone.invite("1212", OFFER.format(port=4000))
        ok = phone.final()
        answered = time.monotonic()
        assert ok.startswith(b"SIP/2.0 200 OK\r\n"), ok
        phone.in_dialog("ACK", 1, ok)
        notify = phone.response()
        assert notify.startswith(b"NOTIFY sip:alice@127.0.0.1:"), notify
        assert time.monotonic() - answered >= 0.45


def test_an_invite_without_sdp_gets_our_offer(start_service: StartService) -> None:
    """RFC 3264 late offer: the 200 carries our offer (PCMU and PCMA), the ACK the answer."""
    service = start(start_service)
    with RawUac(service.sip_port()) as phone:
        phone.invite("100", "")
        ok = phone.final()
        assert ok.startswith(b"SIP/2.0 200 OK\r\n")
        assert re.search(rb"\r\nm=audio \d+ RTP/AVP 0 8\r\n", body(ok))
        phone.in_dialog("ACK", 1, ok, OFFER.format(port=4000))
        phone.in_dialog("BYE", 2, ok)
        assert phone.final().startswith(b"SIP/2.0 200 OK\r\n")


def test_maxcalls_refuses_the_call_beyond_the_limit(start_service: StartService) -> None:
    service = start_service(
        admin_conf(),
        files={
            "pjsip.conf": PJSIP,
            "extensions.conf": EXTENSIONS.replace("{bob}", "9"),
            "asterisk.conf": "[options]\nmaxcalls = 1\n",
        },
    )
    with RawUac(service.sip_port()) as first, RawUac(service.sip_port()) as second:
        first.invite("9111", OFFER.format(port=4000))
        assert first.final().startswith(b"SIP/2.0 180 Ringing\r\n")
        second.invite("9222", OFFER.format(port=4002))
        refused = second.final()
        assert refused.startswith(b"SIP/2.0 503 Service Unavailable\r\n")
        second.ack(refused)
        first.cancel()
        assert first.final().startswith(b"SIP/2.0 200 OK\r\n")


def test_hangup_by_regex(start_service: StartService, uas: Uas) -> None:
    service = start(start_service)
    with answered(service, uas) as (ami, control, alice, name):
        control.send(b"Action: Hangup\r\nActionID: R\r\nChannel: /^PJSIP/alice-/\r\n\r\n")
        assert control.message() == (
            b"Response: Success\r\nActionID: R\r\nEventList: start\r\n"
            b"Message: Channels hung up will follow\r\n\r\n"
        )
        assert (
            control.message()
            == f"Event: ChannelHungup\r\nChannel: {name}\r\nActionID: R\r\n\r\n".encode()
        )
        assert control.message().endswith(b"EventList: Complete\r\nListItems: 1\r\n\r\n")
        assert channel_of(wait_event(ami, lambda m: m.startswith(b"Event: Hangup\r\n"))) == name
        control.send(b"Action: Hangup\r\nActionID: R2\r\nChannel: /(/\r\n\r\n")
        assert (
            control.message()
            == b"Response: Error\r\nActionID: R2\r\nMessage: Regex compile failed on: (\r\n\r\n"
        )
    assert alice.finish() == 0, alice.output + service.log()


def test_originate_runs_an_extension_once_answered(start_service: StartService, uas: Uas) -> None:
    """A synchronous Originate with Context/Exten: the reply comes once the phone answered;
    the channel then runs the extension (PJSIPNotify in its dialog, then Hangup)."""
    callee = uas("uas_call_notify_after_answer.xml", timeout=25)
    service = start_service(
        admin_conf(),
        files={
            "pjsip.conf": PJSIP + CALLEE.replace("{callee}", str(callee.port)),
            "extensions.conf": "[calls]\nexten => talk,1,PJSIPNotify(,&Event=talk)\n"
            " same => n,Wait(1)\n same => n,Hangup()\n",
        },
    )
    with RawAmi(service.port, timeout=20) as control:
        control.login(events="system")
        control.send(
            b"Action: Originate\r\nActionID: S\r\nChannel: PJSIP/callee\r\nContext: calls\r\n"
            b'Exten: talk\r\nPriority: 1\r\nCallerID: "Desk" <200>\r\n\r\n'
        )
        assert (
            control.message()
            == b"Response: Success\r\nActionID: S\r\nMessage: Originate successfully queued\r\n\r\n"
        )
    assert callee.finish() == 0, callee.output + service.log()
    invite = next(m for m in callee.received() if m.startswith(b"INVITE "))
    assert header(invite, "From")[0].startswith('"Desk" <sip:')
    (notify,) = notifies(callee)
    assert header(notify, "Event") == ["talk"]


def test_rtp_timeout_ends_a_silent_call(start_service: StartService, uas: Uas) -> None:
    """pjsip.conf `rtp_timeout`: an answered call with no RTP for that long gets a BYE."""
    service = start_service(
        admin_conf(),
        files={
            "pjsip.conf": PJSIP.replace("context=default\n", "context=default\nrtp_timeout=1\n"),
            "extensions.conf": EXTENSIONS.replace("{bob}", "9"),
        },
    )
    alice = caller(uas, service, "uac_call_wait_bye.xml", "100")
    assert alice.finish() == 0, alice.output + service.log()
    assert "no RTP for 1 s; hanging up" in service.log()


def test_progress_sends_183_with_sdp_then_a_cause_becomes_a_status(
    start_service: StartService,
) -> None:
    """Progress(): 183 with the SDP answer; Hangup(17) before answering: 486 Busy Here."""
    service = start(start_service)
    with RawUac(service.sip_port()) as phone:
        phone.invite("early", OFFER.format(port=4000))
        progress = phone.final()
        assert progress.startswith(b"SIP/2.0 183 Session Progress\r\n")
        assert b"m=audio " in body(progress)
        busy = phone.final()
        assert busy.startswith(b"SIP/2.0 486 Busy Here\r\n")
        assert header(busy, "To") == header(progress, "To")  # one To tag for the INVITE
        phone.ack(busy)


def test_dial_relays_rtp_both_ways(start_service: StartService, uas: Uas) -> None:
    """Dial bridges the legs: RTP from the caller reaches the callee (SIPp -rtp_echo sends
    it back) and comes back to the caller."""
    media_port = free_port()
    callee = uas("uas_call_answer.xml", extra=("-mp", str(media_port), "-rtp_echo"))
    service = start_with_callee(start_service, callee.port)
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    with rtp, RawUac(service.sip_port()) as phone:
        phone.invite("callee", OFFER.format(port=rtp.getsockname()[1]))
        ok = phone.final()
        while not ok.startswith(b"SIP/2.0 200 "):
            ok = phone.final()  # 180 Ringing from the callee's ringing first
        phone.in_dialog("ACK", 1, ok)
        ours = re.search(rb"\r\nm=audio (\d+) ", body(ok))
        assert ours is not None
        packet = b"\x80\x00\x00\x07" + b"\x00" * 8 + b"hello"
        echoed = b""
        for _ in range(25):  # until the callee's ACK has gone and the bridge stands
            rtp.sendto(packet, ("127.0.0.1", int(ours.group(1))))
            rtp.settimeout(0.2)
            try:
                echoed = rtp.recv(2048)
                break
            except TimeoutError:
                continue
        assert echoed == packet
        phone.in_dialog("BYE", 2, ok)
        assert phone.final().startswith(b"SIP/2.0 200 OK\r\n")
    assert callee.finish() == 0, callee.output + service.log()


def test_a_call_over_tcp(start_service: StartService, uas: Uas) -> None:
    """The same call over TCP: responses, the in-dialog NOTIFY and the BYE's answer travel on
    the caller's connection."""
    service = start_service(
        admin_conf(),
        files={
            "pjsip.conf": PJSIP + "[tcp]\ntype=transport\nprotocol=tcp\nbind=127.0.0.1:0\n",
            "pjsip_notify.conf": NOTIFY_CONF,
            "extensions.conf": EXTENSIONS.replace("{bob}", "9"),
        },
    )
    alice = uas(
        "uac_call_notify.xml",
        remote=service.sip_port("tcp"),
        transport="t1",
        extra=("-s", "1212"),
        timeout=25,
    )
    assert alice.finish() == 0, alice.output + service.log()
    (notify,) = notifies(alice)
    assert header(notify, "Via")[0].startswith("SIP/2.0/TCP ")
    assert header(notify, "Event") == ["Test"]


def test_click_to_call_originate_then_dial(start_service: StartService, uas: Uas) -> None:
    """Click-to-call: Originate rings the desk phone; once it answers, its channel runs
    Dial(PJSIP/bob); bob answers and the two are bridged; hanging up the desk ends both."""
    desk = uas("uas_call_answer.xml", timeout=25)
    bob = uas("uas_call_answer.xml", timeout=25)
    bob_conf = CALLEE.replace("callee", "bob").replace("{bob}", "{callee}")
    service = start_service(
        admin_conf(),
        files={
            "pjsip.conf": PJSIP
            + CALLEE.replace("{callee}", str(desk.port))
            + bob_conf.replace("{callee}", str(bob.port)),
            "extensions.conf": "[calls]\nexten => bob,1,Dial(PJSIP/bob,10)\n same => n,Hangup()\n",
        },
    )
    with events_session(service) as ami:
        ami.send(
            b"Action: Originate\r\nActionID: C\r\nChannel: PJSIP/callee\r\nContext: calls\r\n"
            b'Exten: bob\r\nCallerID: "Desk" <200>\r\nAsync: yes\r\n\r\n'
        )
        desk_up = wait_event(ami, lambda m: m.startswith(b"Event: OriginateResponse\r\n"))
        assert b"\r\nResponse: Success\r\n" in desk_up
        up = wait_event(
            ami,
            lambda m: (
                m.startswith(b"Event: Newstate\r\n")
                and b"Channel: PJSIP/bob-" in m
                and b"ChannelStateDesc: Up" in m
            ),
        )
        assert (
            b"\r\nCallerIDNum: bob\r\nCallerIDName: <unknown>\r\n"
            b"ConnectedLineNum: 200\r\nConnectedLineName: Desk\r\n"
        ) in up
        with RawAmi(service.port) as control:
            control.login(events="system")
            control.send(f"Action: Hangup\r\nChannel: {channel_of(desk_up)}\r\n\r\n".encode())
            assert control.message() == b"Response: Success\r\nMessage: Channel Hungup\r\n\r\n"
        hangups = {channel_of(wait_event(ami, lambda m: m.startswith(b"Event: Hangup\r\n")))
                   for _ in "ab"}  # fmt: skip
        assert hangups == {channel_of(desk_up), channel_of(up)}
    assert desk.finish() == 0, desk.output + service.log()
    assert bob.finish() == 0, bob.output + service.log()
    for phone in (desk, bob):  # the Originate's CallerID calls both
        invite = next(m for m in phone.received() if m.startswith(b"INVITE "))
        assert header(invite, "From")[0].startswith('"Desk" <sip:200@127.0.0.1>;tag=')

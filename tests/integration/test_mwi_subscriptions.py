"""MWI subscriptions against SIPp subscribers: subscribe, a NOTIFY at each change, refresh and
unsubscribe; a 481 to a NOTIFY ending the subscription; a subscription running out; one
outliving a restart; and PJSIPShowSubscriptionsInbound listing what lives."""

from __future__ import annotations

import time

from tests.integration.conftest import RawAmi, Service, StartService, Uas, admin_conf
from tests.integration.ports import free_port
from tests.integration.sipp import Sipp, body, header

PJSIP = (
    "[udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:0\n"
    "[bob]\ntype=aor\nmax_contacts=2\nmailboxes=1000@default\n"
    "[bob]\ntype=endpoint\naors=bob\nsub_min_expiry=2\n"
)


def subscriptions(ami: RawAmi) -> list[bytes]:
    ami.send(b"Action: PJSIPShowSubscriptionsInbound\r\nActionID: s\r\n\r\n")
    listed = ami.read_until(b"Event: InboundSubscriptionDetailComplete\r\n") + ami.message()
    return [m for m in listed.split(b"\r\n\r\n") if b"Event: InboundSubscriptionDetail\r\n" in m]


def wait_subscribed(ami: RawAmi, count: int) -> list[bytes]:
    for _ in range(100):
        found = subscriptions(ami)
        if len(found) == count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"never {count} subscriptions")


def update(ami: RawAmi, new: int, old: int) -> None:
    ami.send(f"Action: MWIUpdate\r\nActionID: u\r\nMailbox: 1000@default\r\n"
             f"NewMessages: {new}\r\nOldMessages: {old}\r\n\r\n".encode())  # fmt: skip
    assert b"Response: Success" in ami.read_until(b"ActionID: u\r\n\r\n")


def subscriber(uas: Uas, service: Service, scenario: str, expires: int) -> Sipp:
    return uas(scenario, remote=service.sip_port(), timeout=30, extra=(
        "-set", "user", "bob", "-set", "aor", "bob", "-set", "expires", str(expires)))  # fmt: skip


def test_subscribe_notify_on_change_refresh_and_unsubscribe(
    start_service: StartService, uas: Uas
) -> None:
    service = start_service(admin_conf(), files={"pjsip.conf": PJSIP})
    phone = subscriber(uas, service, "uac_subscribe_mwi.xml", 600)
    with RawAmi(service.port) as ami:
        ami.login(events="off")
        (listed,) = wait_subscribed(ami, 1)
        assert b"Role: Notifier\r\nEndpoint: bob\r\n" in listed
        assert b"State: ACTIVE\r\nCallerid: Unknown\r\nSubscriptionType: mwi\r\n" in listed
        assert b"Mailboxes: 1000@default" in listed
        update(ami, 2, 1)
        assert phone.finish() == 0, phone.output
        assert subscriptions(ami) == []  # unsubscribed
    notifies = [m for m in phone.received() if m.startswith(b"NOTIFY ")]
    states = [header(n, "Subscription-State")[0] for n in notifies]
    assert states[0] in ("active;expires=600", "active;expires=599")
    assert states[1].startswith("active;expires=")
    assert states[2] in ("active;expires=600", "active;expires=599")  # the refresh
    assert states[3] == "terminated"  # the unsubscribe
    assert [body(n).split(b"\r\n")[1] for n in notifies] == [
        b"Voice-Message: 0/0 (0/0)", b"Voice-Message: 2/1 (0/0)",
        b"Voice-Message: 2/1 (0/0)", b"Voice-Message: 2/1 (0/0)"]  # fmt: skip
    first = notifies[0]
    head = first.split(b"\r\n\r\n")[0].decode()
    names = [line.split(":")[0] for line in head.split("\r\n")[1:]]
    assert names[names.index("CSeq") + 1 : names.index("CSeq") + 3] == [
        "Event",
        "Subscription-State",
    ]
    cseqs = [int(header(n, "CSeq")[0].split()[0]) for n in notifies]
    assert cseqs == list(range(cseqs[0], cseqs[0] + 4))  # one dialog, counting up
    assert header(first, "From")[0].startswith("<sip:bob@127.0.0.1>;tag=")  # the SUBSCRIBE's To


def test_a_481_to_a_notify_ends_the_subscription(start_service: StartService, uas: Uas) -> None:
    service = start_service(admin_conf(), files={"pjsip.conf": PJSIP})
    phone = subscriber(uas, service, "uac_subscribe_mwi_481.xml", 600)
    with RawAmi(service.port) as ami:
        ami.login(events="off")
        wait_subscribed(ami, 1)
        update(ami, 1, 0)
        assert phone.finish() == 0, phone.output
        wait_subscribed(ami, 0)


def test_a_subscription_that_is_not_refreshed_runs_out(
    start_service: StartService, uas: Uas
) -> None:
    service = start_service(admin_conf(), files={"pjsip.conf": PJSIP})
    phone = subscriber(uas, service, "uac_subscribe_mwi_expire.xml", 2)
    assert phone.finish() == 0, phone.output
    notifies = [m for m in phone.received() if m.startswith(b"NOTIFY ")]
    assert [header(n, "Subscription-State")[0] for n in notifies] == [
        "active;expires=2", "terminated;reason=timeout"]  # fmt: skip
    with RawAmi(service.port) as ami:
        ami.login(events="off")
        assert subscriptions(ami) == []


def cseq(message: bytes) -> int:
    return int(header(message, "CSeq")[0].split()[0])


def test_a_subscription_outlives_a_restart(start_service: StartService, uas: Uas) -> None:
    """Subscriptions are stored as Asterisk persists them: after a restart the subscription
    is made again, tells the phone the state (a NOTIFY, its CSeq above those before), and
    its refresh and unsubscribe are answered as before."""
    port = free_port()
    files = {"pjsip.conf": PJSIP.replace("bind=127.0.0.1:0", f"bind=127.0.0.1:{port}")}
    first = start_service(admin_conf(), files=files)
    phone = subscriber(uas, first, "uac_subscribe_mwi.xml", 600)
    with RawAmi(first.port) as ami:
        ami.login(events="off")
        wait_subscribed(ami, 1)
    assert first.stop() == 0
    second = start_service(admin_conf(), files=files,
                           extra_args=("--data-dir", str(first.data_dir)))  # fmt: skip
    assert phone.finish() == 0, phone.output  # the restored NOTIFY, refresh, unsubscribe
    notifies = [m for m in phone.received() if m.startswith(b"NOTIFY ")]
    states = [header(n, "Subscription-State")[0] for n in notifies]
    assert [states[0], states[2], states[3]] == ["active;expires=600"] * 2 + ["terminated"]
    left = int(states[1].removeprefix("active;expires="))  # what is left of the 600 s
    assert 580 <= left <= 600
    assert cseq(notifies[1]) > cseq(notifies[0])
    assert "MWI: 1 stored subscriptions made again" in second.log()
    with RawAmi(second.port) as ami:
        ami.login(events="off")
        assert subscriptions(ami) == []  # unsubscribed, and forgotten

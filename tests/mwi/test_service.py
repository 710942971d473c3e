"""The MWI service with the SIP endpoint a fake at the edge: who is told of a change
(aggregate or per mailbox, never a mailbox nobody lists), and a fleet job's lamp reaching the
other watchers of its endpoints' mailboxes."""

from __future__ import annotations

from sipnotify.mwi.mailboxes import Counts
from sipnotify.mwi.subscriptions import Subscription
from sipnotify.sip.dialog import uas_dialog
from tests.ami.helpers import FakeSender, context
from tests.mwi.test_subscriptions import subscribe

PJSIP = (
    "[alice]\ntype=aor\ncontact=sip:alice@192.0.2.1:5060\n"
    "[alice]\ntype=endpoint\naors=alice\nmailboxes=1000@default\n"
    "[carol]\ntype=aor\ncontact=sip:carol@192.0.2.3:5060\n"
    "[carol]\ntype=endpoint\naors=carol\nmailboxes=1000@default,1001@default\n"
    "aggregate_mwi=no\n"
    "[desk]\ntype=aor\ncontact=sip:desk@192.0.2.9:5060\nmailboxes=1000@default\n"
    "[desk]\ntype=endpoint\naors=desk\n"
)


def told(sender: FakeSender) -> list[tuple[str, bytes]]:
    """(Request-URI user, Voice-Message line) of each NOTIFY sent."""
    out = []
    for _hop, sent in sender.sent:
        text = sent.data
        user = text.split(b" ", 2)[1].split(b"@")[0].removeprefix(b"sip:").decode()
        voice = next(line for line in text.split(b"\r\n") if line.startswith(b"Voice-Message"))
        out.append((user, voice))
    return out


def test_each_change_reaches_the_endpoints_that_list_the_mailbox() -> None:
    sender = FakeSender()
    mwi = context(pjsip_conf=PJSIP, sender=sender).mwi
    mwi.changed([mwi.mailboxes.update("1000@default", Counts(2, 1))])
    mwi.changed([mwi.mailboxes.update("1001@default", Counts(1, 0))])
    mwi.changed([mwi.mailboxes.update("2000@default", Counts(9, 0))])  # nobody's
    assert told(sender) == [
        ("alice", b"Voice-Message: 2/1 (0/0)"),
        ("carol", b"Voice-Message: 2/1 (0/0)"),  # per mailbox: aggregate_mwi = no
        ("carol", b"Voice-Message: 1/0 (0/0)"),
    ]


def test_a_fleet_lamp_sets_the_mailboxes_and_tells_the_others() -> None:
    sender = FakeSender()
    mwi = context(pjsip_conf=PJSIP, sender=sender).mwi
    changes = mwi.lamp(3, 0, ["desk"])  # desk's AOR lists 1000@default
    assert [(c.mailbox, c.counts) for c in changes] == [("1000@default", Counts(3, 0))]
    assert mwi.mailboxes.counts("1000@default") == Counts(3, 0)
    assert [user for user, _ in told(sender)] == ["alice", "carol"]  # not desk: the job tells it


def test_a_subscription_replaces_unsolicited_mwi_while_it_lives() -> None:
    sender = FakeSender()
    conf = PJSIP.replace("aggregate_mwi=no\n",
                         "aggregate_mwi=no\nmwi_subscribe_replaces_unsolicited=yes\n")  # fmt: skip
    mwi = context(pjsip_conf=conf, sender=sender).mwi
    live = Subscription(uas_dialog(subscribe("carol"), "ours", confirmed=True), "carol", "carol",
                        ("1001@default",), "", "sip:192.0.2.5:5060", None, 1e12)  # fmt: skip
    mwi.subscriptions.add(live)
    mwi.changed([mwi.mailboxes.update("1001@default", Counts(1, 0))])
    mwi.changed([mwi.mailboxes.update("1000@default", Counts(1, 0))])
    # 1001: the subscriber hears it (the dialog goes to its Contact, bob@), carol waits
    assert [user for user, _ in told(sender)] == ["bob", "alice", "carol"]

"""The SUBSCRIBE rules on their own (Asterisk's res_pjsip_mwi): which SUBSCRIBE is taken, for
which mailboxes, and the answers to the others; and the table of live subscriptions."""

from __future__ import annotations

from sipnotify.config.parser import parse_text
from sipnotify.config.pjsip import PjsipConfig, load_pjsip
from sipnotify.mwi.subscriptions import Subscription, Subscriptions, Wanted, dialog_key, wanted
from sipnotify.sip.dialog import uas_dialog
from sipnotify.sip.message import Request
from sipnotify.sip.responses import Reply

PJSIP = (
    "[bob]\ntype=aor\nmailboxes=1000@default\nvoicemail_extension=1000\n"
    "[bob]\ntype=endpoint\naors=bob\n"
    "[alice]\ntype=aor\nmailboxes=1000@default\n"
    "[alice]\ntype=endpoint\naors=alice\nmailboxes=1000@default\n"
    "[carol]\ntype=aor\n[carol]\ntype=endpoint\naors=carol\nmailboxes=1000@default\n"
    "mwi_subscribe_replaces_unsolicited=yes\nsub_min_expiry=120\n"
)
CONFIG: PjsipConfig = load_pjsip(parse_text(PJSIP))[0]


def subscribe(user: str, *, event: str = "message-summary", expires: str = "600",
              to_tag: str = "") -> Request:  # fmt: skip
    return Request(method="SUBSCRIBE", uri=f"sip:{user}@192.0.2.1:5060", headers=(
        ("Via", "SIP/2.0/UDP 192.0.2.9:5062;branch=z9hG4bKa"), ("From", "<sip:bob@h>;tag=ft"),
        ("To", f"<sip:{user}@h>" + (f";tag={to_tag}" if to_tag else "")),
        ("Call-ID", "c1"), ("CSeq", "1 SUBSCRIBE"), ("Contact", "<sip:bob@192.0.2.9:5062>"),
        ("Event", event), ("Expires", expires),
    ))  # fmt: skip


def answer(user: str, endpoint: str, **kw: str) -> Wanted | Reply:
    return wanted(subscribe(user, **kw), CONFIG.endpoints[endpoint], CONFIG)


def test_an_aor_with_mailboxes_or_its_voicemail_extension_is_subscribed_to() -> None:
    assert answer("bob", "bob") == Wanted("bob", ("1000@default",), "sip:1000@192.0.2.1:5060", 600)
    by_extension = answer("1000", "bob")
    assert isinstance(by_extension, Wanted)
    assert (by_extension.aor, by_extension.account) == ("bob", "sip:1000@192.0.2.1:5060")
    assert answer("bob", "bob", expires="0") == Wanted(
        "bob", ("1000@default",), "sip:1000@192.0.2.1:5060", 0
    )  # a one-off fetch


def test_the_other_answers() -> None:
    assert answer("bob", "bob", event="presence") == Reply(
        489, "Bad Event", (("Allow-Events", "message-summary"),)
    )
    assert answer("carol", "bob") == Reply(404, "Not Found")  # no mailboxes on that AOR
    assert answer("1001", "bob") == Reply(404, "Not Found")  # not an extension of bob's
    assert answer("alice", "alice") == Reply(500, "Server Internal Error")  # gets it unsolicited
    assert answer("bob", "bob", expires="30") == Reply(
        423, "Interval Too Brief", (("Min-Expires", "60"),)
    )
    assert answer("bob", "carol", expires="90") == Reply(
        423, "Interval Too Brief", (("Min-Expires", "120"),)
    )  # carol's sub_min_expiry
    assert isinstance(answer("bob", "carol", expires="600"), Wanted)  # replaces unsolicited
    assert answer("bob", "bob", expires="soon") == Reply(400, "Bad Request")


def test_the_table_caps_finds_and_expires() -> None:
    table = Subscriptions(total=2, per_endpoint=1)
    request = subscribe("bob")
    live = Subscription(uas_dialog(request, "ours", confirmed=True), "bob", "bob",
                        ("1000@default",), "", "sip:192.0.2.1:5060", None, 600.0)  # fmt: skip
    assert table.room("bob")
    table.add(live)
    assert not table.room("bob")  # one per endpoint
    assert table.room("carol")
    assert table.find(dialog_key(subscribe("bob", to_tag="ours")) or live.key) is live
    assert dialog_key(subscribe("bob")) is None  # no To tag: not in a dialog
    assert table.of_mailbox("1000@default") == [live]
    assert table.covers("bob", "1000@default")
    assert table.next_expiry() == 600.0
    assert table.expired(599.0) == []
    assert table.expired(600.0) == [live]
    assert live.remaining(300.4) == 300
    assert table.remove(live)
    assert len(table) == 0

"""Subscriptions made again from their records: the same dialog (Call-ID, tags, route, remote
target), mailboxes and expiry, the NOTIFYs' CSeq beyond any sent before; a record whose
endpoint or mailbox is gone, or whose packet is not a SUBSCRIBE, is not made again."""

from __future__ import annotations

from dataclasses import replace

from sipnotify.config.parser import parse_text
from sipnotify.config.pjsip import load_pjsip
from sipnotify.mwi.persistence import CSEQ_JUMP, record_of, restored
from sipnotify.mwi.subscriptions import Subscription, Wanted, wanted
from sipnotify.sip.dialog import uas_dialog
from sipnotify.sip.registrar import Source
from sipnotify.storage.subscriptions import SubscriptionRecord
from tests.mwi.test_subscriptions import CONFIG, subscribe

SOURCE = Source("192.0.2.9", 5062, "tcp", "192.0.2.1", 5060)


def made() -> tuple[Subscription, SubscriptionRecord]:
    request = subscribe("bob")
    asked = wanted(request, CONFIG.endpoints["bob"], CONFIG)
    assert isinstance(asked, Wanted)
    dialog = uas_dialog(request, "our-tag", confirmed=True)
    dialog.local_cseq = 4242
    subscription = Subscription(dialog, "bob", "bob", ("1000@default",), "", "sip:192.0.2.1:5060",
                                ("tcp", ("192.0.2.9", 5062)), 1_000_600.0)  # fmt: skip
    return subscription, record_of(subscription, request, SOURCE)


def test_a_subscription_is_made_again_from_its_record() -> None:
    subscription, record = made()
    again = restored(record, CONFIG)
    assert again is not None
    assert again.key == subscription.key
    assert again.dialog.remote_target == subscription.dialog.remote_target
    assert again.dialog.local_cseq == 4242 + CSEQ_JUMP
    assert (again.endpoint, again.aor, again.mailboxes, again.flow, again.expires_at) == (
        "bob", "bob", ("1000@default",), ("tcp", ("192.0.2.9", 5062)), 1_000_600.0)  # fmt: skip
    assert again.contact == "sip:192.0.2.1:5060"


def test_what_cannot_be_made_again_is_not() -> None:
    _, record = made()
    gone = load_pjsip(parse_text("[bob]\ntype=aor\n[bob]\ntype=endpoint\naors=bob\n"))[0]
    assert restored(record, gone) is None  # no mailboxes any more
    nobody = load_pjsip(parse_text(""))[0]
    assert restored(record, nobody) is None
    options = record.packet.replace("SUBSCRIBE", "OPTIONS")
    assert restored(replace(record, packet=options), CONFIG) is None
    assert restored(replace(record, packet="garbage"), CONFIG) is None

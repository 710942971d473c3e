"""Subscriptions kept across restarts, sans I/O, as Asterisk persists them: the record of a
subscription is the SUBSCRIBE that made it, where it came from, our tag, the NOTIFYs' CSeq and
the expiry; a subscription is made again from its record by taking that SUBSCRIBE once more
with the configuration of the day (an endpoint or mailbox gone since ends it).

The NOTIFYs' CSeq is stored when the subscription is made and at each refresh, not at every
NOTIFY (a mailbox change to 1,000 subscribers would cost 1,000 writes); a subscription made
again continues CSEQ_JUMP above the stored number, beyond any NOTIFY sent meanwhile, which
RFC 3261 §12.2.1.1 allows: a dialog's CSeq must grow, by any step.
"""

from __future__ import annotations

from sipnotify.config.pjsip import PjsipConfig
from sipnotify.mwi.subscriptions import Subscription, wanted
from sipnotify.sip.dialog import uas_dialog
from sipnotify.sip.errors import ParseError
from sipnotify.sip.message import Request, serialize
from sipnotify.sip.parser import parse_message
from sipnotify.sip.registrar import Source
from sipnotify.sip.responses import Reply
from sipnotify.storage.subscriptions import SubscriptionRecord

CSEQ_JUMP = 10_000


def record_of(subscription: Subscription, request: Request, source: Source) -> SubscriptionRecord:
    """The record of a subscription `request` made, arriving from `source`; its id is our
    tag (unique: the tags of every run differ)."""
    return SubscriptionRecord(
        id=subscription.key.local_tag, packet=serialize(request).decode("utf-8", "replace"),
        src_name=source.address, src_port=source.port, transport=source.protocol,
        local_name=source.local_host, local_port=source.local_port,
        cseq=subscription.dialog.local_cseq, tag=subscription.key.local_tag,
        endpoint=subscription.endpoint, expires=round(subscription.expires_at),
        contact_uri=subscription.contact,
    )  # fmt: skip


def restored(record: SubscriptionRecord, config: PjsipConfig) -> Subscription | None:
    """The subscription the record keeps, or None when it cannot be made again (a packet
    that is not a SUBSCRIBE, an endpoint or mailbox no longer configured)."""
    try:
        request = parse_message(record.packet.encode("utf-8"))
        if not isinstance(request, Request) or request.method != "SUBSCRIBE":
            return None
        endpoint = config.endpoints.get(record.endpoint)
        if endpoint is None:
            return None
        asked = wanted(request, endpoint, config)
        if isinstance(asked, Reply) or not asked.expires:
            return None
        dialog = uas_dialog(request, record.tag, confirmed=True)
    except (ParseError, ValueError):
        return None
    dialog.local_cseq = record.cseq + CSEQ_JUMP
    flow = None if record.transport == "udp" else (record.transport,
                                                   (record.src_name, record.src_port))  # fmt: skip
    return Subscription(dialog, endpoint.name, asked.aor, asked.mailboxes, asked.account,
                        record.contact_uri, flow, float(record.expires))  # fmt: skip

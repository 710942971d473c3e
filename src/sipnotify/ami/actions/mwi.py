"""The MWI actions of Asterisk's res_mwi_external_ami and manager.c (behaviour: MWI):
MWIUpdate, MWIDelete (class `call`), MWIGet, MailboxCount and MailboxStatus (`call,
reporting`), byte for byte as Asterisk 23 answers them; the events they publish
(`MessageWaiting` at every update or delete, `DeviceStateChange` for `MWI:<mailbox>` when
INUSE/NOT_INUSE changes; class `call`); and sipnotify's `MWINotifyResult` for each
unsolicited MWI NOTIFY's answer (class `system`, like PJSIPNotify's results).
"""

from __future__ import annotations

import re

from sipnotify.ami import replies
from sipnotify.ami.actions.pjsip import result_fields
from sipnotify.ami.actions.pjsip_show import event_list
from sipnotify.ami.audience import Broadcast
from sipnotify.ami.codec import AmiMessage
from sipnotify.ami.session import Action, ActionResult, AmiContext, SessionState, reply
from sipnotify.config import permissions
from sipnotify.mwi.mailboxes import Change, Counts, unsigned
from sipnotify.notify.notifier import NotifyResult
from sipnotify.storage.base import StorageError

MISSING = "Missing mailbox parameter in request"
_NUMBER = re.compile(r"\s*([+-]?\d+)")  # sscanf("%d"): a number at the start, the rest ignored


def mwi_update(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    mailbox = request.get("Mailbox").strip()
    if not mailbox:
        return reply(replies.error(request, MISSING))
    counts = []
    for name in ("NewMessages", "OldMessages"):
        text = request.get(name)
        value = _count(text)
        if value is None:
            return reply(replies.error(request, f"Invalid {name}: {text}"))
        counts.append(value)
    try:
        change = ctx.mwi.mailboxes.update(mailbox, Counts(*counts))
    except StorageError as exc:
        return reply(replies.error(request, f"Cannot store mailbox {mailbox}: {exc}"))
    ctx.mwi.changed([change])
    return ActionResult(replies=(replies.success(request),), broadcast=events([change]))


def mwi_delete(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    mailbox = request.get("Mailbox").strip()
    if not mailbox:
        return reply(replies.error(request, MISSING))
    try:
        changes = ctx.mwi.mailboxes.delete(mailbox)
    except StorageError as exc:
        return reply(replies.error(request, f"Cannot store mailbox {mailbox}: {exc}"))
    ctx.mwi.changed(changes)
    return ActionResult(replies=(replies.success(request),), broadcast=events(changes))


def mwi_get(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    mailbox = request.get("Mailbox").strip()
    if not mailbox:
        return reply(replies.error(request, MISSING))
    items = [
        ("MWIGet", (("Mailbox", name), ("OldMessages", str(unsigned(counts.old))),
                    ("NewMessages", str(unsigned(counts.new)))))
        for name, counts in ctx.mwi.mailboxes.find(mailbox)
    ]  # fmt: skip
    return event_list(request, "Mailboxes will follow", items, "MWIGetComplete", id_after=3)


def mailbox_count(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    mailbox = request.get("Mailbox").strip()
    if not mailbox:
        return reply(replies.error(request, "Mailbox not specified"))
    counts = ctx.mwi.mailboxes.counts(mailbox)
    extra = (("Mailbox", mailbox), ("UrgMessages", "0"), ("NewMessages", str(counts.new)),
             ("OldMessages", str(counts.old)))  # fmt: skip
    return reply(replies.success(request, "Mailbox Message Count", extra=extra))


def mailbox_status(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    mailbox = request.get("Mailbox").strip()
    if not mailbox:
        return reply(replies.error(request, "Mailbox not specified"))
    waiting = ctx.mwi.mailboxes.counts(mailbox).waiting
    extra = (("Mailbox", mailbox), ("Waiting", "1" if waiting else "0"))
    return reply(replies.success(request, "Mailbox Status", extra=extra))


def show_subscriptions_inbound(ctx: AmiContext, _s: SessionState,
                               request: AmiMessage) -> ActionResult:  # fmt: skip
    """The live MWI subscriptions, as res_pjsip_pubsub lists them."""
    items = [
        ("InboundSubscriptionDetail", (
            ("Role", "Notifier"), ("Endpoint", s.endpoint), ("Callid", s.dialog.id.call_id),
            ("State", "ACTIVE"), ("Callerid", "Unknown"), ("SubscriptionType", "mwi"),
            ("Mailboxes", ",".join(s.mailboxes))))
        for s in ctx.mwi.subscriptions.all()
    ]  # fmt: skip
    return event_list(request, "Following are Events for each inbound Subscription", items,
                      "InboundSubscriptionDetailComplete")  # fmt: skip


def show_subscriptions_outbound(_ctx: AmiContext, _s: SessionState,
                                request: AmiMessage) -> ActionResult:  # fmt: skip
    """sipnotify subscribes to nothing: always an empty list, as Asterisk's here."""
    return event_list(request, "Following are Events for each outbound Subscription", [],
                      "OutboundSubscriptionDetailComplete")  # fmt: skip


def _count(text: str) -> int | None:
    """A count as Asterisk's sscanf reads it (missing: 0), as a 32-bit signed number."""
    if not text.strip():
        return 0
    found = _NUMBER.match(text)
    if found is None:
        return None
    value = int(found.group(1)) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def events(changes: list[Change]) -> tuple[Broadcast, ...]:
    """MessageWaiting for each change, then DeviceStateChange for each device that moved."""
    waiting = [
        Broadcast("MessageWaiting", permissions.CALL, (
            ("Mailbox", c.mailbox), ("Waiting", "1" if c.counts.waiting else "0"),
            ("New", str(c.counts.new)), ("Old", str(c.counts.old))))
        for c in changes
    ]  # fmt: skip
    devices = [
        Broadcast("DeviceStateChange", permissions.CALL, (
            ("Device", f"MWI:{c.mailbox}"),
            ("State", "INUSE" if c.counts.in_use else "NOT_INUSE")))
        for c in changes if c.device_changed
    ]  # fmt: skip
    return (*waiting, *devices)


def result_event(endpoint: str, mailboxes: tuple[str, ...], result: NotifyResult) -> Broadcast:
    """sipnotify's report of one unsolicited MWI NOTIFY's answer."""
    fields = dict(result_fields(result))
    fields["Endpoint"] = endpoint
    return Broadcast("MWINotifyResult", permissions.SYSTEM,
                     (("Mailboxes", ",".join(mailboxes)), *fields.items()))  # fmt: skip


ACTIONS = (
    Action("MWIUpdate", "Update the mailbox message counts.", permissions.CALL, mwi_update),
    Action("MWIDelete", "Delete selected mailboxes.", permissions.CALL, mwi_delete),
    Action("MWIGet", "Get selected mailboxes with message counts.",
           permissions.CALL | permissions.REPORTING, mwi_get),
    Action("MailboxCount", "Check Mailbox Message Count.",
           permissions.CALL | permissions.REPORTING, mailbox_count),
    Action("MailboxStatus", "Check mailbox.", permissions.CALL | permissions.REPORTING,
           mailbox_status),
    Action("PJSIPShowSubscriptionsInbound", "Lists subscriptions.", permissions.SYSTEM,
           show_subscriptions_inbound),
    Action("PJSIPShowSubscriptionsOutbound", "Lists subscriptions.", permissions.SYSTEM,
           show_subscriptions_outbound),
)  # fmt: skip

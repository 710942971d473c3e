"""MWI on the event loop (behaviour: MWI).

Unsolicited: every endpoint that lists a mailbox in its `mailboxes` gets a message-summary
NOTIFY at each of its contacts (static and registered) when the mailbox is updated or deleted,
even with the same counts; at start; and when one of its contacts registers. With
`aggregate_mwi` (the default) one NOTIFY carries the sum of all the endpoint's mailboxes, else
one is sent per mailbox. `mwi_from_user` is the From user. While a subscription of the
endpoint carries the mailbox and `mwi_subscribe_replaces_unsolicited` is on, the unsolicited
ones wait. Changes to a mailbox nobody lists or watches send nothing.

Subscriptions (mwi/subscriptions.py has the rules): the answer to SUBSCRIBE, then an
immediate NOTIFY in the dialog (`active;expires=N`), one at each change, one at each refresh,
a final `terminated` one at an unsubscribe and `terminated;reason=timeout` at the expiry. A
NOTIFY answered 481, or not answered, ends the subscription (RFC 6665 §4.2.2).
Subscriptions are stored as Asterisk persists them (mwi/persistence.py) when made, refreshed
and ended: after a restart they are made again, each told the current state, and their
refreshes are answered as before. A subscription that cannot be stored still lives, in
memory only (logged).

Every NOTIFY's answer is told, as a PJSIPNotify's is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial

from sipnotify.config.pjsip import Endpoint
from sipnotify.mwi import summary
from sipnotify.mwi.mailboxes import Change, Counts, Mailboxes
from sipnotify.mwi.persistence import record_of, restored
from sipnotify.mwi.subscriptions import (
    DEFAULT_EXPIRES,
    MAX_EXPIRES,
    MIN_EXPIRES,
    Subscription,
    Subscriptions,
    dialog_key,
    min_expires,
    wanted,
)
from sipnotify.notify.content import NotifyError
from sipnotify.notify.notifier import Notifier, NotifyResult, Observation, Observer, ignore
from sipnotify.notify.requests import credentials_for, subscription_factory
from sipnotify.notify.targets import InDialog, dialog_hop, endpoint_targets
from sipnotify.sip.dialog import DialogId, uas_dialog
from sipnotify.sip.ids import Ids
from sipnotify.sip.message import Request
from sipnotify.sip.registrar import Binding, Source
from sipnotify.sip.responses import Reply
from sipnotify.sip.transactions.exchange import Build, Final
from sipnotify.storage.base import StorageError
from sipnotify.storage.subscriptions import SubscriptionRecord, SubscriptionStore
from sipnotify.ua.addresses import Local

log = logging.getLogger("sipnotify.mwi")

# (endpoint, the mailboxes the NOTIFY reported, the contact's answer)
Tell = Callable[[str, tuple[str, ...], NotifyResult], None]
# who sent a request, proven as for REGISTER: the endpoint, or the challenge to answer
Admit = Callable[[Request, str, float, Source], Endpoint | Reply]


class MwiService:
    def __init__(self, mailboxes: Mailboxes, notifier: Notifier, *, tell: Tell,
                 admit: Admit, subscriptions: Subscriptions, ids: Ids,
                 wall: Callable[[], float], observe: Observer = ignore,
                 store: SubscriptionStore | None = None) -> None:  # fmt: skip
        self.mailboxes = mailboxes
        self.subscriptions = subscriptions
        self._store = store
        self._notifier = notifier
        self._tell = tell
        self._admit = admit
        self._ids = ids
        self._wall = wall
        self._observe = observe
        self._timer: asyncio.TimerHandle | None = None

    def lamp(self, new: int, old: int, endpoints: Sequence[str]) -> list[Change]:
        """A fleet `mwi` job set these endpoints' lamps: their mailboxes (the endpoint's and
        its AORs') take the counts, and everyone else who watches them is told; the job
        tells the endpoints themselves. Raises StorageError."""
        config = self._notifier.config
        mailboxes: list[str] = []
        for name in endpoints:
            endpoint = config.endpoints.get(name)
            if endpoint is None:
                continue
            aors = [config.aors[a] for a in endpoint.aors if a in config.aors]
            for mailbox in (*endpoint.mailboxes, *(m for a in aors for m in a.mailboxes)):
                if mailbox not in mailboxes:
                    mailboxes.append(mailbox)
        changes = [self.mailboxes.update(m, Counts(new, old)) for m in mailboxes]
        self.changed(changes, skip=frozenset(endpoints))
        return changes

    def heard(self, changes: Sequence[Change]) -> None:
        """Another node changed these mailboxes (and told the endpoints' contacts, which every
        node sees): tell only this node's own subscriptions."""
        self.changed(changes, subscribers_only=True)

    def changed(self, changes: Sequence[Change], *, skip: frozenset[str] = frozenset(),
                subscribers_only: bool = False) -> None:  # fmt: skip
        """Mailboxes were updated or deleted: tell the endpoints that list them (but those in
        `skip`), and the subscriptions that carry them."""
        for change in changes:
            for endpoint in () if subscribers_only else self._listing(change.mailbox):
                if endpoint.name in skip:
                    continue
                if endpoint.mwi_subscribe_replaces_unsolicited and self.subscriptions.covers(
                    endpoint.name, change.mailbox
                ):
                    continue
                if endpoint.aggregate_mwi:
                    self._notify(endpoint, endpoint.mailboxes)
                else:
                    self._notify(endpoint, (change.mailbox,))
            now = self._wall()
            for subscription in self.subscriptions.of_mailbox(change.mailbox):
                self._notify_subscription(
                    subscription, f"active;expires={subscription.remaining(now)}"
                )

    # -- SUBSCRIBE -------------------------------------------------------------------------

    def subscribe(self, request: Request, source: Source, contact: str,
                  flow: tuple[str, tuple[str, int]] | None, now: float) -> Reply:  # fmt: skip
        """The answer to a SUBSCRIBE; its NOTIFY follows once the answer has gone."""
        key = dialog_key(request)
        if key is not None:
            return self._in_dialog(request, key, now)
        admitted = self._admit(request, source.address, now, source)
        if isinstance(admitted, Reply):
            return admitted
        asked = wanted(request, admitted, self._notifier.config)
        if isinstance(asked, Reply):
            return asked
        if asked.expires and not self.subscriptions.room(admitted.name):
            log.warning("MWI: subscription of %s refused: the cap is reached", admitted.name)
            return Reply(503, "Service Unavailable", (("Retry-After", "60"),))
        tag = self._ids()
        dialog = uas_dialog(request, tag, confirmed=True)
        dialog.local_cseq = self._ids.cseq()  # the NOTIFYs' CSeq starts at random, as pjsip's
        subscription = Subscription(dialog, admitted.name, asked.aor, asked.mailboxes,
                                    asked.account, contact, flow, now + asked.expires)  # fmt: skip
        if asked.expires:
            self.subscriptions.add(subscription)
            self._keep(record_of(subscription, request, source))
            self._arm()
            state = f"active;expires={asked.expires}"
        else:  # a one-off fetch: the state, and done
            state = "terminated"
        self._soon(lambda: self._notify_subscription(subscription, state))
        return Reply(200, "OK", (("Expires", str(asked.expires)), ("Contact", f"<{contact}>")),
                     to_tag=tag)  # fmt: skip

    def _in_dialog(self, request: Request, key: DialogId, now: float) -> Reply:
        subscription = self.subscriptions.find(key)
        if subscription is None:
            return Reply(481, "Call/Transaction Does Not Exist")
        text = (request.header("Expires") or "").strip()
        expires = int(text) if text.isdigit() and len(text) <= 10 else DEFAULT_EXPIRES
        endpoint = self._notifier.config.endpoints.get(subscription.endpoint)
        shortest = min_expires(endpoint) if endpoint is not None else MIN_EXPIRES
        if 0 < expires < shortest:
            return Reply(423, "Interval Too Brief", (("Min-Expires", str(shortest)),))
        contact = (("Contact", f"<{subscription.contact}>"),)
        if expires == 0:
            self._end(subscription)
            self._soon(lambda: self._notify_subscription(subscription, "terminated"))
            return Reply(200, "OK", (("Expires", "0"), *contact))
        expires = min(expires, MAX_EXPIRES)
        self.subscriptions.renew(subscription, now + expires)
        self._stored(subscription, "refreshed", lambda store, tag: store.refresh(
            tag, subscription.dialog.local_cseq, round(subscription.expires_at)))  # fmt: skip
        self._arm()
        self._soon(lambda: self._notify_subscription(subscription, f"active;expires={expires}"))
        return Reply(200, "OK", (("Expires", str(expires)), *contact))

    def _notify_subscription(self, subscription: Subscription, state: str) -> None:
        config = self._notifier.config
        endpoint = config.endpoints.get(subscription.endpoint)
        if endpoint is None:  # gone in a reload
            self._end(subscription)
            return
        counts = sum((self.mailboxes.counts(m) for m in subscription.mailboxes), Counts())
        content = summary.in_dialog(counts, subscription.account)
        target = InDialog(subscription.dialog, endpoint, subscription.contact, endpoint.name,
                          subscription.flow)  # fmt: skip
        ids = self._ids

        def factory(local: Local) -> Build:
            return subscription_factory(target, content, local, config, state=state, ids=ids)

        def done(final: Final) -> None:
            result = NotifyResult.of(endpoint.name, subscription.dialog.remote_target, final)
            self._observe(Observation("mwi", "mwi", "", result))
            self._tell(endpoint.name, subscription.mailboxes, result)
            if final.status == 481 or final.failure is not None:
                self._end(subscription)  # RFC 6665 §4.2.2: it is over

        hop = dialog_hop(subscription.dialog, endpoint, subscription.flow)
        self._notifier.sender.send(hop, factory, credentials_for(endpoint, config), done)

    def _arm(self) -> None:
        """One timer, at the next expiry."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        when = self.subscriptions.next_expiry()
        if when is not None:
            delay = max(0.0, when - self._wall())
            self._timer = asyncio.get_running_loop().call_later(delay, self._expire)

    def _expire(self) -> None:
        self._timer = None
        for subscription in self.subscriptions.expired(self._wall()):
            self._end(subscription)
            self._notify_subscription(subscription, "terminated;reason=timeout")
        self._arm()

    def restore(self) -> int:
        """Make again the stored subscriptions not live here (at start, or taken over from
        a node that died); each is told the current state. Returns how many. Raises
        StorageError."""
        if self._store is None:
            return 0
        now, config, made = self._wall(), self._notifier.config, 0
        for record in self._store.load():
            subscription = restored(record, config)
            if subscription is not None and self.subscriptions.find(subscription.key):
                continue  # live already
            if (
                subscription is None
                or subscription.expires_at <= now
                or not (self.subscriptions.room(subscription.endpoint))
            ):
                self._store.drop(record.id)
                continue
            self.subscriptions.add(subscription)
            state = f"active;expires={subscription.remaining(now)}"
            self._soon(partial(self._notify_subscription, subscription, state))
            made += 1
        self._arm()
        return made

    def _keep(self, record: SubscriptionRecord) -> None:
        """Store a new subscription's record; one that cannot be stored lives on in memory
        (its refresh and end then change nothing stored)."""
        if self._store is None:
            return
        try:
            self._store.save(record)
        except StorageError as exc:
            log.error("MWI: the subscription of %s is not stored (a restart ends it): %s",
                      record.endpoint, exc)  # fmt: skip

    def _end(self, subscription: Subscription) -> None:
        if self.subscriptions.remove(subscription):
            self._stored(subscription, "ended", lambda store, tag: store.drop(tag))

    def _stored(self, subscription: Subscription, what: str,
                change: Callable[[SubscriptionStore, str], None]) -> None:  # fmt: skip
        """Change a subscription's record (its id is our tag); a failure is logged."""
        if self._store is None:
            return
        try:
            change(self._store, subscription.key.local_tag)
        except StorageError as exc:
            log.error("MWI: a subscription of %s %s, not stored: %s", subscription.endpoint,
                      what, exc)  # fmt: skip

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _soon(self, work: Callable[[], None]) -> None:
        asyncio.get_running_loop().call_soon(work)

    def boot(self) -> int:
        """At start: every endpoint with mailboxes hears their state; returns how many."""
        endpoints = [e for e in self._notifier.config.endpoints.values() if e.mailboxes]
        for endpoint in endpoints:
            for mailboxes in _reports(endpoint):
                self._notify(endpoint, mailboxes)
        return len(endpoints)

    def registered(self, binding: Binding) -> None:
        """A new contact registered: it hears its endpoint's mailboxes."""
        endpoint = self._notifier.config.endpoints.get(binding.endpoint)
        if endpoint is None or not endpoint.mailboxes:
            return
        for mailboxes in _reports(endpoint):
            self._notify(endpoint, mailboxes, only=binding.uri)

    def _listing(self, mailbox: str) -> list[Endpoint]:
        config = self._notifier.config
        return [config.endpoints[n] for n in sorted(config.endpoints)
                if mailbox in config.endpoints[n].mailboxes]  # fmt: skip

    def _notify(self, endpoint: Endpoint, mailboxes: tuple[str, ...], *,
                only: str | None = None) -> None:  # fmt: skip
        counts = sum((self.mailboxes.counts(m) for m in mailboxes), Counts())
        notifier = self._notifier
        try:
            targets = endpoint_targets(notifier.config, endpoint.name, notifier.registered)
        except NotifyError:
            return  # no contact to tell
        sender = replace(endpoint, from_user=endpoint.mwi_from_user or endpoint.from_user)
        targets = [t.sent_as(sender) for t in targets
                   if only is None or str(t.uri) == only]  # fmt: skip
        content = summary.unsolicited(counts)

        def report(result: NotifyResult) -> None:
            self._observe(Observation("mwi", "mwi", "", result))
            self._tell(endpoint.name, mailboxes, result)
            if not result.ok:
                log.warning("MWI NOTIFY to %s (%s) of %s: %s", result.uri, endpoint.name,
                            ",".join(mailboxes), result.error or result.status)  # fmt: skip

        notifier.send(targets, content, report)


def _reports(endpoint: Endpoint) -> list[tuple[str, ...]]:
    """The NOTIFYs an endpoint gets for its whole state: one summing every mailbox, or one
    per mailbox without `aggregate_mwi`."""
    if endpoint.aggregate_mwi:
        return [endpoint.mailboxes]
    return [(mailbox,) for mailbox in endpoint.mailboxes]

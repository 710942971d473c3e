"""Unsolicited MWI on the event loop (behaviour: MWI): every endpoint that lists a mailbox in
its `mailboxes` gets a message-summary NOTIFY at each of its contacts (static and registered)
when the mailbox is updated or deleted, even with the same counts; at start; and when one of
its contacts registers. With `aggregate_mwi` (the default) one NOTIFY carries the sum of all
the endpoint's mailboxes, else one is sent per mailbox. `mwi_from_user` is the From user.
Changes to a mailbox no endpoint lists send nothing. Every NOTIFY's answer is told, as a
PJSIPNotify's is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from sipnotify.config.pjsip import Endpoint
from sipnotify.mwi import summary
from sipnotify.mwi.mailboxes import Change, Counts, Mailboxes
from sipnotify.notify.content import NotifyError
from sipnotify.notify.notifier import Notifier, NotifyResult, Observation, Observer, ignore
from sipnotify.notify.targets import Target, endpoint_targets
from sipnotify.sip.registrar import Binding

log = logging.getLogger("sipnotify.mwi")

# (endpoint, the mailboxes the NOTIFY reported, the contact's answer)
Tell = Callable[[str, tuple[str, ...], NotifyResult], None]


class MwiService:
    def __init__(self, mailboxes: Mailboxes, notifier: Notifier, *, tell: Tell,
                 observe: Observer = ignore) -> None:  # fmt: skip
        self.mailboxes = mailboxes
        self._notifier = notifier
        self._tell = tell
        self._observe = observe

    def changed(self, changes: Sequence[Change]) -> None:
        """Mailboxes were updated or deleted: tell the endpoints that list them."""
        for change in changes:
            for endpoint in self._listing(change.mailbox):
                if endpoint.aggregate_mwi:
                    self._notify(endpoint, endpoint.mailboxes)
                else:
                    self._notify(endpoint, (change.mailbox,))

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
        targets = [Target(sender, t.uri, t.label, t.flow) for t in targets
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

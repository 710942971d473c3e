"""This node's part in a cluster, when PostgreSQL keeps contacts, mailboxes or jobs: its name
held for as long as it runs (identity.py), the shared stores, the feed of the other nodes'
changes (feed.py) and the watch for dead nodes (watch.py). Imported only when the
realtime files put something in PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable

from sipnotify.cluster import events, relay
from sipnotify.cluster.contacts import ContactFollower
from sipnotify.cluster.events import EventFollower, EventRelay
from sipnotify.cluster.events import Publish as EventPublish
from sipnotify.cluster.feed import Feed, Follower
from sipnotify.cluster.identity import NodeName
from sipnotify.cluster.mailboxes import MailboxFollower, Publish
from sipnotify.cluster.outbox import Outbox
from sipnotify.cluster.relay import Relay
from sipnotify.cluster.watch import NodeWatch
from sipnotify.config.realtime import ObjectType, OwnTable, Realtime
from sipnotify.mwi.service import MwiService
from sipnotify.notify.notifier import Notifier
from sipnotify.registrar.service import Registrar
from sipnotify.sip.registrar import Binding
from sipnotify.storage import pg_mailboxes, postgres
from sipnotify.storage.pg_jobs import PgJobStore
from sipnotify.storage.pg_mailboxes import PgMailboxStore
from sipnotify.storage.pg_subscriptions import PgSubscriptionStore
from sipnotify.storage.postgres import PgContactStore


class Node:
    def __init__(self, realtime: Realtime, systemname: str) -> None:
        """Raises StorageError: no name, a name in use, or an unusable database."""
        self._connection = realtime.connection
        conninfo, where = self._connection.conninfo(), self.where
        with contextlib.ExitStack() as undo:
            self._name = NodeName(conninfo, where, systemname)
            undo.callback(self._name.close)
            self.nonce_key = self._name.shared_key("digest-nonce")
            self.contacts: PgContactStore | None = None
            self.mailboxes: PgMailboxStore | None = None
            if realtime.table(ObjectType.CONTACT) is not None:
                self.contacts = PgContactStore(conninfo, where, systemname=systemname)
                undo.callback(self.contacts.close)
            if OwnTable.MAILBOXES in realtime.own:
                self.mailboxes = PgMailboxStore(conninfo, where, systemname=systemname)
                undo.callback(self.mailboxes.close)
            self.jobs: PgJobStore | None = None
            if OwnTable.JOBS in realtime.own:
                self.jobs = PgJobStore(conninfo, where, systemname=systemname)
                undo.callback(self.jobs.close)
            self.subscriptions: PgSubscriptionStore | None = None
            if realtime.table(ObjectType.SUBSCRIPTION_PERSISTENCE) is not None:
                self.subscriptions = PgSubscriptionStore(conninfo, where, systemname=systemname)
                undo.callback(self.subscriptions.close)
            self.events = EventRelay(conninfo, where, systemname)  # what every node hears
            undo.pop_all()
        self._feed: Feed | None = None
        self._watch: NodeWatch | None = None
        self._relay: Relay | None = None

    @property
    def where(self) -> str:
        return self._connection.describe()

    def follow(self, registrar: Registrar, mwi: MwiService, publish: Publish,
               wall: Callable[[], float], *, resume: Callable[[], int],
               contacts: Callable[[], Iterable[Binding]], notifier: Notifier,
               job_changed: Callable[[str], None], jobs_missed: Callable[[], None],
               orphan: Callable[[Binding], None],
               publish_event: EventPublish) -> None:  # fmt: skip
        """Start taking the other nodes' changes: registrations into `registrar`, mailbox
        counts into `mwi` (their AMI events through `publish`); send through the node that
        holds a contact's flow (`notifier` forwards, and sends what the others forward); and
        watch for nodes that died: their jobs and MWI subscriptions are taken over (then
        `resume` runs them) and those of `contacts` bound to their connections are reported
        to `orphan`; the events the other nodes relay go to `publish_event`; a job another
        node paused, resumed or cancelled goes to `job_changed`, and `jobs_missed` runs when
        such changes may have been missed (after a lost connection, and at each look for dead
        nodes)."""
        outbox = Outbox(self._connection.conninfo(), self.where, self._name.systemname,
                        relay.CHANNEL)  # fmt: skip
        self._relay = Relay(outbox, self._name.systemname, notifier=notifier,
                            alive=self._alive, job_changed=job_changed,
                            jobs_missed=jobs_missed)  # fmt: skip
        notifier.forward = self._relay.forward
        followers: dict[str, Follower] = {relay.CHANNEL: self._relay}
        if self.contacts is not None:
            loop = asyncio.get_running_loop()
            followers[postgres.CHANNEL] = ContactFollower(
                self.contacts, registrar, wall, soon=loop.call_soon, later=loop.call_later
            )
        if self.mailboxes is not None:
            followers[pg_mailboxes.CHANNEL] = MailboxFollower(self.mailboxes, mwi, publish)
        followers[events.CHANNEL] = EventFollower(publish_event)
        self._feed = Feed(followers, conninfo=self._connection.conninfo(), where=self.where,
                          systemname=self._name.systemname)  # fmt: skip
        self._feed.background.start()
        owned = [s for s in (self.jobs, self.subscriptions) if s is not None]
        self._watch = NodeWatch(self._name, owned=owned, resume=resume, contacts=contacts,
                                orphan=orphan, lost=self._relay.lost, tick=jobs_missed)  # fmt: skip
        self._watch.background.start()

    def tell_job(self, node: str, job_id: str) -> None:
        """Tell `node` that a job it runs changed state (once following)."""
        if self._relay is not None:
            self._relay.tell_job(node, job_id)

    def _alive(self, node: str) -> bool:
        return self._watch is not None and self._watch.running(node)

    async def stop(self) -> None:
        if self._watch is not None:
            await self._watch.background.stop()
        if self._feed is not None:
            await self._feed.background.stop()
        if self._relay is not None:
            self._relay.close()
        self.events.close()
        self._name.close()

"""Live fleet progress for the web: every phone's change and every job's end, handed to each
subscriber (a Server-Sent Events stream) that watches that job or all jobs. A subscriber's
queue is bounded: one that cannot keep up (a slow or vanished browser) is cut off rather
than let the server buffer without limit; it can reconnect and read the job's state again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from sipnotify.storage.jobs import JobRecord, PhoneRecord, PhoneState
from sipnotify.web import views

QUEUE = 1000  # events a subscriber may have waiting


class Subscription:
    def __init__(self, job_id: str | None) -> None:
        self.job_id = job_id
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue(QUEUE)
        self.overflowed = False

    def offer(self, kind: str, data: dict[str, Any]) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait((kind, data))
        except asyncio.QueueFull:
            self.overflowed = True
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)  # the stream ends at once


class Hub:
    """A fleet listener (as FleetService calls it) that feeds the subscriptions."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    def __len__(self) -> int:
        return len(self._subscriptions)

    def subscribe(self, job_id: str | None) -> Subscription:
        subscription = Subscription(job_id)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def phone(self, job: JobRecord, phone: PhoneRecord) -> None:
        if self._subscriptions:
            self._offer(job.id, "phone", views.phone(phone))

    def finished(self, job: JobRecord, counts: Mapping[PhoneState, int]) -> None:
        self._offer(job.id, "job", views.job(job, counts))

    def _offer(self, job_id: str, kind: str, data: dict[str, Any]) -> None:
        for subscription in self._subscriptions:
            if subscription.job_id in (None, job_id):
                subscription.offer(kind, data)

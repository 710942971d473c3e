"""Prometheus metrics (`<prefix>/metrics`), with prometheus_client: counters fed as NOTIFYs are
answered and registrations change, and gauges computed from the running parts at each scrape.
Labels are bounded: a result class, a source, a preset or verb (from the configuration), a
vendor (from the catalogue), a state; never a phone, a URI or an endpoint name.

- sipnotify_notifies_total: source (pjsipnotify, fleet), order, vendor, result (2xx…6xx,
  timeout, transport_error); sipnotify_notify_roundtrip_seconds (histogram): source
- sipnotify_registration_changes_total: change (created, updated, removed)
- sipnotify_endpoints; sipnotify_contacts: kind (static, registered), status (Reachable,
  Unreachable, Unknown, NonQualified)
- sipnotify_ami_sessions, sipnotify_http_manager_sessions, sipnotify_api_sessions
- sipnotify_sip_transactions: role (client, server); sipnotify_sip_retransmissions_total
- sipnotify_fleet_jobs: state; sipnotify_fleet_phones: state (phones of jobs not ended)

This module counts; web/exposition.py turns the counts into prometheus_client's text at a
scrape, so a process that is never scraped never imports prometheus_client.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sipnotify.config.pjsip import PjsipConfig
from sipnotify.notify.notifier import Observation
from sipnotify.registrar.registry import Change
from sipnotify.sip.registrar import Binding
from sipnotify.storage.jobs import JobState, PhoneState
from sipnotify.web.views import StateOf

ROUNDTRIP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 32.0)


@dataclass(frozen=True, slots=True)
class Sources:
    """Where a scrape reads the running state."""

    config: Callable[[], PjsipConfig]
    bindings: Callable[[], Iterable[tuple[str, Iterable[Binding]]]]
    state_of: StateOf
    now: Callable[[], float]
    ami_sessions: Callable[[], int]
    http_sessions: Callable[[], int]
    api_sessions: Callable[[], int]
    transactions: Callable[[], tuple[int, int, int]]  # client, server, retransmissions
    jobs: Callable[[], Iterable[tuple[JobState, Mapping[PhoneState, int]]]]


Labels = tuple[str, ...]


@dataclass(slots=True)
class Counts:
    """A labelled counter's values and when each series began (its `_created`)."""

    counts: dict[Labels, int] = field(default_factory=dict)
    created: dict[Labels, float] = field(default_factory=dict)

    def add(self, labels: Labels, wall: Callable[[], float]) -> None:
        counts = self.counts
        if labels in counts:
            counts[labels] += 1
        else:
            counts[labels] = 1
            self.created[labels] = wall()


@dataclass(slots=True)
class Spread:
    """One histogram series: a count per bucket (not cumulative; the last is +Inf)."""

    created: float
    buckets: list[int] = field(default_factory=lambda: [0] * (len(ROUNDTRIP_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, value: float) -> None:
        self.buckets[bisect.bisect_left(ROUNDTRIP_BUCKETS, value)] += 1  # le: value <= bound
        self.total += value


class Metrics:
    """Made early (the counters are fed from the start); `watch` adds what the gauges read
    once every part exists.

    The counters and the histogram are plain numbers turned into prometheus_client's metric
    families at each scrape: its own Counter and Histogram take a lock per update and the
    histogram looks for its bucket in Python, 4 µs for each NOTIFY against about 1 µs here. The
    scrape reads the same as theirs (tests/web/test_exposition.py compares the two)."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self.notifies = Counts()
        self.roundtrips: dict[str, Spread] = {}
        self.changes = Counts()
        self.sources: Sources | None = None

    def watch(self, sources: Sources) -> None:
        self.sources = sources

    def observe(self, observation: Observation) -> None:
        """A NOTIFY's outcome."""
        result, source = observation.result, observation.source
        labels = (source, observation.order, observation.vendor or "none",
                  result_class(result.status, result.timed_out))  # fmt: skip
        self.notifies.add(labels, self._wall)
        if result.rtt is not None and result.status is not None:
            spread = self.roundtrips.get(source)
            if spread is None:
                spread = self.roundtrips[source] = Spread(self._wall())
            spread.observe(result.rtt)

    def registration(self, change: Change) -> None:
        self.changes.add((change.name.lower(),), self._wall)


def result_class(status: int | None, timed_out: bool) -> str:
    if status is not None:
        return f"{status // 100}xx"
    return "timeout" if timed_out else "transport_error"


def contact_counts(config: PjsipConfig, grouped: Iterable[tuple[str, Iterable[Binding]]],
                   state_of: StateOf, now: float) -> Tally[tuple[str, ...]]:  # fmt: skip
    """(kind, status) -> contacts; a contact of an AOR that is not qualified is NonQualified
    without a look at each."""
    counts: Tally[tuple[str, ...]] = Tally()
    for name, aor in config.aors.items():
        for uri in aor.contacts:
            counts[("static", state_of(name, uri).status)] += 1
    for name, bindings in grouped:
        qualified = config.aors.get(name)
        live = [b for b in bindings if b.expires_at > now]
        if qualified is None or not qualified.qualify_frequency:
            counts[("registered", "NonQualified")] += len(live)
            continue
        for binding in live:
            counts[("registered", state_of(name, binding.uri).status)] += 1
    return counts

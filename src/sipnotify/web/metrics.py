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
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from sipnotify.config.pjsip import PjsipConfig
from sipnotify.notify.notifier import Observation
from sipnotify.registrar.registry import Change
from sipnotify.sip.registrar import Binding
from sipnotify.storage.jobs import JobState, PhoneState
from sipnotify.web.views import StateOf

ROUNDTRIP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 32.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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
class _Tally:
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

    def family(self, name: str, documentation: str, names: list[str]) -> Metric:
        made = CounterMetricFamily(name, documentation, labels=names)
        for labels, count in self.counts.items():
            made.add_metric(labels, count, created=self.created[labels])
        return made


@dataclass(slots=True)
class _Spread:
    """One histogram series: a count per bucket (not cumulative; the last is +Inf)."""

    created: float
    buckets: list[int] = field(default_factory=lambda: [0] * (len(ROUNDTRIP_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, value: float) -> None:
        self.buckets[bisect.bisect_left(ROUNDTRIP_BUCKETS, value)] += 1  # le: value <= bound
        self.total += value


class Metrics:
    """Made early (the counters are fed from the start); `watch` adds the gauges once every
    part they read exists.

    The counters and the histogram are plain numbers turned into prometheus_client's metric
    families at each scrape: its own Counter and Histogram take a lock per update and the
    histogram looks for its bucket in Python, 4 µs for each NOTIFY against about 1 µs here. The
    scrape reads the same as theirs (tests/web/test_metrics.py compares the two)."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._wall = wall
        self._notifies = _Tally()
        self._roundtrips: dict[str, _Spread] = {}
        self._changes = _Tally()
        self.registry.register(_Counted(self))

    def watch(self, sources: Sources) -> None:
        self.registry.register(_Live(sources))

    def observe(self, observation: Observation) -> None:
        """A NOTIFY's outcome."""
        result, source = observation.result, observation.source
        labels = (source, observation.order, observation.vendor or "none",
                  result_class(result.status, result.timed_out))  # fmt: skip
        self._notifies.add(labels, self._wall)
        if result.rtt is not None and result.status is not None:
            spread = self._roundtrips.get(source)
            if spread is None:
                spread = self._roundtrips[source] = _Spread(self._wall())
            spread.observe(result.rtt)

    def registration(self, change: Change) -> None:
        self._changes.add((change.name.lower(),), self._wall)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def families(self) -> Iterator[Metric]:
        """The counters and the histogram as they stand."""
        yield self._notifies.family(
            "sipnotify_notifies", "NOTIFYs answered or failed, by result class",
            ["source", "order", "vendor", "result"],
        )  # fmt: skip
        name = "sipnotify_notify_roundtrip_seconds"
        roundtrip = HistogramMetricFamily(name, "Time from a NOTIFY to its final answer",
                                          labels=["source"])  # fmt: skip
        for source, spread in self._roundtrips.items():
            cumulative = list(itertools.accumulate(spread.buckets))
            bounds = [*(repr(b) for b in ROUNDTRIP_BUCKETS), "+Inf"]  # as `le` is written
            roundtrip.add_metric([source], list(zip(bounds, cumulative, strict=True)),
                                 spread.total)  # fmt: skip
            roundtrip.samples.append(Sample(f"{name}_created", {"source": source},
                                            spread.created))  # fmt: skip
        yield roundtrip
        yield self._changes.family(
            "sipnotify_registration_changes", "Registered contacts created, updated, removed",
            ["change"],
        )  # fmt: skip


class _Counted(Collector):
    """The counters and the histogram, read at each scrape."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return []  # the names are fixed; nothing to check at registration

    def collect(self) -> Iterable[Metric]:
        return self._metrics.families()


def result_class(status: int | None, timed_out: bool) -> str:
    if status is not None:
        return f"{status // 100}xx"
    return "timeout" if timed_out else "transport_error"


class _Live(Collector):
    """The gauges, computed at each scrape from the running parts."""

    def __init__(self, sources: Sources) -> None:
        self._sources = sources

    def describe(self) -> Iterable[Metric]:
        return []  # computed at collect time; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        s = self._sources
        config = s.config()
        yield _gauge("sipnotify_endpoints", "Endpoints configured", {(): len(config.endpoints)})
        yield _gauge("sipnotify_contacts", "Contacts by kind and status",
                     contact_counts(config, s.bindings(), s.state_of, s.now()),
                     ["kind", "status"])  # fmt: skip
        yield _gauge("sipnotify_ami_sessions", "AMI sessions (TCP and HTTP) taking events",
                     {(): s.ami_sessions()})  # fmt: skip
        yield _gauge("sipnotify_http_manager_sessions", "AMI-over-HTTP sessions",
                     {(): s.http_sessions()})  # fmt: skip
        yield _gauge("sipnotify_api_sessions", "Signed-in API sessions", {(): s.api_sessions()})
        clients, servers, retransmissions = s.transactions()
        yield _gauge("sipnotify_sip_transactions", "SIP transactions under way",
                     {("client",): clients, ("server",): servers}, ["role"])  # fmt: skip
        sent_again = CounterMetricFamily(
            "sipnotify_sip_retransmissions", "SIP requests and responses sent again by a timer"
        )
        sent_again.add_metric([], retransmissions)
        yield sent_again
        jobs: Tally[tuple[str, ...]] = Tally()
        phones: Tally[tuple[str, ...]] = Tally()
        for state, counts in s.jobs():
            jobs[(state.value,)] += 1
            if not state.finished:
                for phone_state, n in counts.items():
                    phones[(phone_state.value,)] += n
        yield _gauge("sipnotify_fleet_jobs", "Fleet jobs by state", jobs, ["state"])
        yield _gauge("sipnotify_fleet_phones", "Phones of fleet jobs not ended, by state",
                     phones, ["state"])  # fmt: skip


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


def _gauge(name: str, text: str, values: Mapping[tuple[str, ...], int],
           labels: list[str] | None = None) -> GaugeMetricFamily:  # fmt: skip
    gauge = GaugeMetricFamily(name, text, labels=labels or [])
    for key, value in sorted(values.items()):
        gauge.add_metric(list(key), value)
    return gauge

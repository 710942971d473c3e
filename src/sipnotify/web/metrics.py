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

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

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


M = TypeVar("M", Counter, Histogram)


def _child(metric: M, cache: dict[tuple[str, ...], M], labels: tuple[str, ...]) -> M:
    """`metric.labels(*labels)`, made once and kept in `cache`."""
    child = cache.get(labels)
    if child is None:
        child = cache[labels] = metric.labels(*labels)
    return child


class Metrics:
    """Made early (the counters are fed from the start); `watch` adds the gauges once every
    part they read exists."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._notifies = Counter(
            "sipnotify_notifies", "NOTIFYs answered or failed, by result class",
            ["source", "order", "vendor", "result"], registry=self.registry,
        )  # fmt: skip
        self._roundtrip = Histogram(
            "sipnotify_notify_roundtrip_seconds", "Time from a NOTIFY to its final answer",
            ["source"], buckets=ROUNDTRIP_BUCKETS, registry=self.registry,
        )  # fmt: skip
        # Labelled children, looked up here (`_child`): prometheus_client's `labels` (a lock,
        # label checks, a tuple) costs more than the increment, once per NOTIFY.
        self._counted: dict[tuple[str, ...], Counter] = {}
        self._timed: dict[tuple[str, ...], Histogram] = {}
        self._changes: dict[tuple[str, ...], Counter] = {}
        self._registrations = Counter(
            "sipnotify_registration_changes", "Registered contacts created, updated, removed",
            ["change"], registry=self.registry,
        )  # fmt: skip

    def watch(self, sources: Sources) -> None:
        self.registry.register(_Live(sources))

    def observe(self, observation: Observation) -> None:
        """A NOTIFY's outcome."""
        result, source = observation.result, observation.source
        labels = (source, observation.order, observation.vendor or "none",
                  result_class(result.status, result.timed_out))  # fmt: skip
        _child(self._notifies, self._counted, labels).inc()
        if result.rtt is not None and result.status is not None:
            _child(self._roundtrip, self._timed, (source,)).observe(result.rtt)

    def registration(self, change: Change) -> None:
        _child(self._registrations, self._changes, (change.name.lower(),)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


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

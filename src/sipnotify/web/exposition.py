"""The scrape (`<prefix>/metrics`): web/metrics.py's counts and the running parts' gauges as
prometheus_client's metric families, in its text format. Imported with the rest of the web
stack, when http.conf first asks for a listener."""

from __future__ import annotations

import itertools
from collections import Counter as Tally
from collections.abc import Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from sipnotify.web.metrics import ROUNDTRIP_BUCKETS, Counts, Metrics, Sources, contact_counts

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def scrape(metrics: Metrics) -> bytes:
    """Every metric as it stands now."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_Everything(metrics))
    return generate_latest(registry)


class _Everything(Collector):
    """The counters and the histogram, then the gauges once the running parts are watched."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return []  # computed at collect time; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        yield from _counted(self._metrics)
        if self._metrics.sources is not None:
            yield from _live(self._metrics.sources)


def _counted(metrics: Metrics) -> Iterator[Metric]:
    yield _counter(metrics.notifies, "sipnotify_notifies",
                   "NOTIFYs answered or failed, by result class",
                   ["source", "order", "vendor", "result"])  # fmt: skip
    name = "sipnotify_notify_roundtrip_seconds"
    roundtrip = HistogramMetricFamily(name, "Time from a NOTIFY to its final answer",
                                      labels=["source"])  # fmt: skip
    for source, spread in metrics.roundtrips.items():
        cumulative = list(itertools.accumulate(spread.buckets))
        bounds = [*(repr(b) for b in ROUNDTRIP_BUCKETS), "+Inf"]  # as `le` is written
        roundtrip.add_metric([source], list(zip(bounds, cumulative, strict=True)),
                             spread.total)  # fmt: skip
        roundtrip.samples.append(Sample(f"{name}_created", {"source": source},
                                        spread.created))  # fmt: skip
    yield roundtrip
    yield _counter(metrics.changes, "sipnotify_registration_changes",
                   "Registered contacts created, updated, removed", ["change"])  # fmt: skip


def _counter(counts: Counts, name: str, documentation: str, names: list[str]) -> Metric:
    made = CounterMetricFamily(name, documentation, labels=names)
    for labels, count in counts.counts.items():
        made.add_metric(labels, count, created=counts.created[labels])
    return made


def _live(s: Sources) -> Iterator[Metric]:
    """The gauges, computed from the running parts."""
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


def _gauge(name: str, text: str, values: Mapping[tuple[str, ...], int],
           labels: list[str] | None = None) -> GaugeMetricFamily:  # fmt: skip
    gauge = GaugeMetricFamily(name, text, labels=labels or [])
    for key, value in sorted(values.items()):
        gauge.add_metric(list(key), value)
    return gauge

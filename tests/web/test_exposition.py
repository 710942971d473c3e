"""The scrape: the counters read as prometheus_client's own Counter and Histogram would, and
the gauges read from the running parts at scrape time."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from sipnotify.notify.notifier import NotifyResult, Observation
from sipnotify.registrar.registry import Change
from sipnotify.sip.transactions.machines import TIMEOUT
from sipnotify.storage.jobs import JobState, PhoneState
from sipnotify.web.exposition import scrape
from sipnotify.web.metrics import ROUNDTRIP_BUCKETS, Metrics, Sources, result_class
from tests.web.test_metrics import BINDINGS, CONFIG, state_of


def test_observations_and_gauges_appear_in_a_scrape() -> None:
    metrics = Metrics()
    answered = NotifyResult("desk1", "sip:desk1@h", 200, "OK", None, 0.02)
    lost = NotifyResult("desk2", "sip:desk2@h", None, "", TIMEOUT, None)
    metrics.observe(Observation("fleet", "reboot", "yealink", answered))
    metrics.observe(Observation("pjsipnotify", "variables", "", lost))
    metrics.registration(Change.CREATED)
    metrics.watch(Sources(
        config=lambda: CONFIG, bindings=lambda: BINDINGS, state_of=state_of, now=lambda: 10.0,
        ami_sessions=lambda: 3, http_sessions=lambda: 1, api_sessions=lambda: 2,
        transactions=lambda: (4, 1, 7),
        jobs=lambda: [(JobState.RUNNING, {PhoneState.SENT: 5, PhoneState.ANSWERED: 2}),
                      (JobState.DONE, {PhoneState.ANSWERED: 9})],
    ))  # fmt: skip
    text = scrape(metrics).decode()
    for line in (
        'sipnotify_notifies_total{order="reboot",result="2xx",source="fleet",vendor="yealink"} 1.0',
        'sipnotify_notifies_total{order="variables",result="timeout",source="pjsipnotify",'
        'vendor="none"} 1.0',
        'sipnotify_notify_roundtrip_seconds_count{source="fleet"} 1.0',
        'sipnotify_registration_changes_total{change="created"} 1.0',
        "sipnotify_endpoints 2.0",
        'sipnotify_contacts{kind="registered",status="NonQualified"} 1.0',
        "sipnotify_ami_sessions 3.0",
        'sipnotify_sip_transactions{role="client"} 4.0',
        "sipnotify_sip_retransmissions_total 7.0",
        'sipnotify_fleet_jobs{state="done"} 1.0',
        'sipnotify_fleet_phones{state="sent"} 5.0',  # only jobs not ended
        'sipnotify_fleet_phones{state="answered"} 2.0',
    ):
        assert line in text, line


def _scrape_of_prometheus_clients_own(
    observations: list[Observation], changes: list[Change]
) -> str:
    """What prometheus_client's Counter and Histogram scrape for the same updates."""
    registry = CollectorRegistry()
    notifies = Counter("sipnotify_notifies", "NOTIFYs answered or failed, by result class",
                       ["source", "order", "vendor", "result"], registry=registry)  # fmt: skip
    roundtrip = Histogram("sipnotify_notify_roundtrip_seconds",
                          "Time from a NOTIFY to its final answer", ["source"],
                          buckets=ROUNDTRIP_BUCKETS, registry=registry)  # fmt: skip
    registrations = Counter("sipnotify_registration_changes",
                            "Registered contacts created, updated, removed", ["change"],
                            registry=registry)  # fmt: skip
    for seen in observations:
        result = seen.result
        notifies.labels(seen.source, seen.order, seen.vendor or "none",
                        result_class(result.status, result.timed_out)).inc()  # fmt: skip
        if result.rtt is not None and result.status is not None:
            roundtrip.labels(seen.source).observe(result.rtt)
    for change in changes:
        registrations.labels(change.name.lower()).inc()
    return generate_latest(registry).decode()


def test_the_counters_scrape_as_prometheus_clients_own_would() -> None:
    """Every line but the `_created` values: those are the times each series began."""
    rtts = [0.005, 0.0049, 0.0051, 0.02, 1.0, 31.0, 32.0, 33.0, None]
    observations = [
        Observation(source, "reboot", vendor, NotifyResult("d", "sip:d@h", status, "", None, rtt))
        for source, vendor in (("fleet", "yealink"), ("pjsipnotify", ""))
        for rtt in rtts
        for status in (200, 486)
    ]
    lost = NotifyResult("d", "sip:d@h", None, "", TIMEOUT, None)
    observations.append(Observation("fleet", "mwi", "snom", lost))
    changes = [Change.CREATED, Change.UPDATED, Change.CREATED, Change.REMOVED]
    ours = Metrics(wall=lambda: 1_700_000_000.0)
    for seen in observations:
        ours.observe(seen)
    for change in changes:
        ours.registration(change)

    def lines(text: str) -> list[str]:
        return sorted(re.sub(r"(_created\{.*\}|_created) \S+$", r"\1 T", line)
                      for line in text.splitlines())  # fmt: skip

    expected = _scrape_of_prometheus_clients_own(observations, changes)
    assert lines(scrape(ours).decode()) == lines(expected)
    assert 'sipnotify_notify_roundtrip_seconds_bucket{le="0.005",source="fleet"} 4.0' in expected
    assert "sipnotify_notifies_created{" in expected  # the times are compared as present

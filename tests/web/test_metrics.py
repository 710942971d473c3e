"""The counting on its own: result classes, contact counting without a look at every contact
of an unqualified AOR, counters fed by observations (web/exposition.py's tests scrape them)."""

from __future__ import annotations

from sipnotify.config.parser import parse_text
from sipnotify.config.pjsip import load_pjsip
from sipnotify.notify.notifier import NotifyResult, Observation
from sipnotify.registrar.reachability import State
from sipnotify.sip.registrar import Binding
from sipnotify.web.metrics import Metrics, contact_counts, result_class

PJSIP = (
    "[a]\ntype=aor\ncontact=sip:a@192.0.2.1\nqualify_frequency=60\n[a]\ntype=endpoint\naors=a\n"
    "[b]\ntype=aor\nmax_contacts=5\n[b]\ntype=endpoint\naors=b\n"
)
CONFIG = load_pjsip(parse_text(PJSIP))[0]
BINDINGS = [
    ("b", [Binding("b", "sip:b1@192.0.2.2", 100.0, "b"), Binding("b", "sip:b2@x", 5.0, "b")]),
]


def state_of(_aor: str, uri: str) -> State:
    return State("Reachable", 0.01) if uri == "sip:a@192.0.2.1" else State("Unknown")


def test_result_classes() -> None:
    assert [result_class(s, t) for s, t in [(200, False), (481, False), (None, True),
                                            (None, False)]] == [
        "2xx", "4xx", "timeout", "transport_error"]  # fmt: skip


def test_contacts_are_counted_by_kind_and_status_expired_ones_left_out() -> None:
    counts = contact_counts(CONFIG, BINDINGS, state_of, now=10.0)
    assert counts == {("static", "Reachable"): 1, ("registered", "NonQualified"): 1}


def test_observations_are_counted_by_labels_and_round_trips_by_bucket() -> None:
    metrics = Metrics(wall=lambda: 5.0)
    answered = NotifyResult("desk1", "sip:desk1@h", 200, "OK", None, 0.02)
    for _ in range(2):
        metrics.observe(Observation("fleet", "reboot", "yealink", answered))
    metrics.observe(Observation("pjsipnotify", "variables", "", answered))
    assert metrics.notifies.counts == {("fleet", "reboot", "yealink", "2xx"): 2,
                                       ("pjsipnotify", "variables", "none", "2xx"): 1}  # fmt: skip
    assert metrics.roundtrips["fleet"].buckets[2] == 2  # 0.02 is within 0.025
    assert metrics.roundtrips["fleet"].created == 5.0

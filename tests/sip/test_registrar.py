"""REGISTER rules for one AOR (RFC 3261 §10.3, behaviour: pjsip.conf), without sockets or
storage."""

from __future__ import annotations

from sipnotify.sip.message import Request
from sipnotify.sip.registrar import Binding, Decision, Policy, Source, register

DEFAULTS: dict[str, object] = {
    "max_contacts": 2,
    "remove_existing": False,
    "minimum_expiration": 60,
    "maximum_expiration": 7200,
    "default_expiration": 3600,
    "support_path": False,
    "rewrite_contact": False,
}
POLICY = Policy(**DEFAULTS)  # type: ignore[arg-type]
SOURCE = Source(address="198.51.100.7", port=40000, protocol="udp")
NOW = 1_000_000.0


def request(*contacts: str, expires: str | None = None, path: str | None = None) -> Request:
    headers = [
        ("Via", "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKr"),
        ("From", "<sip:bob@example.com>;tag=1"),
        ("To", "<sip:bob@example.com>"),
        ("Call-ID", "reg-1"),
        ("CSeq", "7 REGISTER"),
        *(("Contact", c) for c in contacts),
    ]
    if expires is not None:
        headers.append(("Expires", expires))
    if path is not None:
        headers.append(("Path", path))
    return Request(method="REGISTER", uri="sip:example.com", headers=tuple(headers))


def decide(
    req: Request, existing: list[Binding] | None = None, policy: Policy = POLICY
) -> Decision:
    return register(
        req,
        aor="bob",
        endpoint="bob",
        policy=policy,
        existing=existing or [],
        source=SOURCE,
        now=NOW,
    )


def binding(uri: str, left: float) -> Binding:
    return Binding(aor="bob", uri=uri, expires_at=NOW + left, endpoint="bob")


def test_expiry_from_param_then_header_then_default_clamped_to_maximum() -> None:
    d = decide(request("<sip:bob@10.0.0.5>;expires=120", "<sip:bob@10.0.0.6>"), policy=POLICY)
    assert [(b.uri, b.expires_at - NOW) for b in d.store] == [
        ("sip:bob@10.0.0.5", 120),
        ("sip:bob@10.0.0.6", 3600),
    ]
    assert decide(request("<sip:bob@10.0.0.5>", expires="90")).store[0].expires_at == NOW + 90
    assert decide(request("<sip:bob@10.0.0.5>", expires="99999")).store[0].expires_at == NOW + 7200
    ok = decide(request("<sip:bob@10.0.0.5>", expires="90"))
    assert ("Contact", "<sip:bob@10.0.0.5>;expires=90") in ok.headers
    assert ("Expires", "90") in ok.headers


def test_too_brief_is_423_with_min_expires() -> None:
    d = decide(request("<sip:bob@10.0.0.5>", expires="30"))
    assert (d.status, d.headers) == (423, (("Min-Expires", "60"),))


def test_the_binding_records_where_it_came_from() -> None:
    (b,) = decide(request("<sip:bob@10.0.0.5>")).store
    assert (b.call_id, b.cseq, b.via_addr, b.via_port, b.protocol) == (
        "reg-1",
        7,
        "198.51.100.7",
        40000,
        "udp",
    )
    assert b.id.startswith("bob;@")
    assert len(b.id) == len("bob;@") + 32


def test_zero_removes_and_star_removes_all() -> None:
    existing = [binding("sip:bob@10.0.0.5", 100), binding("sip:bob@10.0.0.6", 100)]
    one = decide(request("<sip:bob@10.0.0.5>;expires=0"), existing)
    assert (one.status, one.store, one.drop) == (200, (), (existing[0],))
    everything = decide(request("*", expires="0"), existing)
    assert everything.drop == tuple(existing)
    assert decide(request("*", expires="10"), existing).status == 400
    assert decide(request("*", "<sip:bob@10.0.0.5>", expires="0"), existing).status == 400


def test_max_contacts_refuses_or_removes_the_soonest_to_expire() -> None:
    existing = [binding("sip:bob@10.0.0.5", 100), binding("sip:bob@10.0.0.6", 50)]
    assert decide(request("<sip:bob@10.0.0.7>"), existing).status == 403
    d = decide(request("<sip:bob@10.0.0.7>"), existing, _with(remove_existing=True))
    assert d.status == 200
    assert d.drop == (existing[1],)
    assert [c for c in d.headers if c[0] == "Contact"] == [
        ("Contact", "<sip:bob@10.0.0.5>;expires=100"),
        ("Contact", "<sip:bob@10.0.0.7>;expires=3600"),
    ]
    assert decide(request("<sip:bob@10.0.0.5>"), existing).status == 200  # a refresh fits
    assert decide(request("<sip:bob@10.0.0.5>"), policy=_with(max_contacts=0)).status == 403


def test_rewrite_contact_and_path() -> None:
    policy = _with(rewrite_contact=True, support_path=True)
    tcp = Source(address="198.51.100.7", port=40001, protocol="tcp")
    d = register(
        request("<sip:bob@10.0.0.5:5060;transport=udp;ob>", path="<sip:edge.example.com;lr>"),
        aor="bob", endpoint="bob", policy=policy, existing=[], source=tcp, now=NOW,
    )  # fmt: skip
    (b,) = d.store
    assert b.uri == "sip:bob@198.51.100.7:40001;ob;transport=tcp"
    assert b.path == "<sip:edge.example.com;lr>"


def test_malformed_contact_or_expires_is_400_and_a_query_lists_bindings() -> None:
    assert decide(request("<nonsense>")).status == 400
    assert decide(request("<sip:bob@10.0.0.5>", expires="soon")).status == 400
    existing = [binding("sip:bob@10.0.0.5", 100)]
    query = decide(request(), existing)
    assert (query.status, query.store, query.drop) == (200, (), ())
    assert ("Contact", "<sip:bob@10.0.0.5>;expires=100") in query.headers


def _with(**changes: object) -> Policy:
    return Policy(**{**DEFAULTS, **changes})  # type: ignore[arg-type]

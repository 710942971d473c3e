"""The registrar service in memory: identifying the sender (IP, From user, Authorization
username), digest authentication with stateless nonces, the AOR, storing, and the events it
tells of. The store is SQLite in memory; nothing else is faked."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from sipnotify.config.parser import parse_text
from sipnotify.config.pjsip import load_pjsip
from sipnotify.registrar.registry import Change, Registry
from sipnotify.registrar.service import ContactChange, Registrar, Security, SecurityEvent
from sipnotify.sip import auth
from sipnotify.sip.message import Request, Response
from sipnotify.sip.registrar import Binding, Source
from sipnotify.sip.responses import Reply
from sipnotify.storage.base import Crowded, StorageError
from sipnotify.storage.sqlite import SqliteContactStore

PJSIP = """
[alice-auth]
type=auth
username=alice
password=wonderland
nonce_lifetime=32
[alice]
type=aor
max_contacts=2
qualify_frequency=60
contact=sip:alice-desk@192.0.2.20
[alice]
type=endpoint
aors=alice
auth=alice-auth
[gw]
type=endpoint
aors=alice
force_rport=no
[gw-ip]
type=identify
endpoint=gw
match=198.51.100.0/24
[keyed]
type=endpoint
aors=keyed
auth=alice-auth
identify_by=auth_username
[keyed]
type=aor
max_contacts=1
"""
SOURCE = Source("203.0.113.9", 5062, "udp", "192.0.2.5", 5060)
NOW = 1_000_000.0


class FullStore(SqliteContactStore):
    """The store at the registrar's edge, failing as a full disk does."""

    def change(self, store: Sequence[Binding], drop: Sequence[Binding], *, limit: int = 0,
               now: float = 0.0) -> None:  # fmt: skip
        del store, drop, limit, now
        raise StorageError("disk full")


class SharedStore(SqliteContactStore):
    """The store at the registrar's edge as several nodes share it: other nodes have filled
    the AOR since this one last heard, so a change past the limit is refused `times` times."""

    def __init__(self, others: list[Binding], times: int) -> None:
        super().__init__(Path(":memory:"))
        self.others, self.times, self.limits = others, times, list[int]()

    def change(self, store: Sequence[Binding], drop: Sequence[Binding], *, limit: int = 0,
               now: float = 0.0) -> None:  # fmt: skip
        self.limits.append(limit)
        if self.times:
            self.times -= 1
            raise Crowded("alice", self.others)
        super().change(store, drop, limit=limit, now=now)


class World:
    def __init__(self, store: SqliteContactStore | None = None) -> None:
        config, _ = load_pjsip(parse_text(PJSIP, name="pjsip.conf"))
        self.registry = Registry(store or SqliteContactStore(Path(":memory:")), NOW)
        self.security: list[SecurityEvent] = []
        self.contacts: list[ContactChange] = []
        self.registrar = Registrar(config, self.registry, security=self.security.append,
                                   contacts=self.contacts.append)  # fmt: skip

    def register(self, user: str = "alice", *, to: str = "", authorization: str = "",
                 now: float = NOW, expires: str = "600") -> Reply:  # fmt: skip
        headers = [
            ("Via", "SIP/2.0/UDP 203.0.113.9:5062;branch=z9hG4bKr1"),
            ("From", f"<sip:{user}@example.com>;tag=1"),
            ("To", f"<sip:{to or user}@example.com>"),
            ("Call-ID", "reg-1"),
            ("CSeq", "1 REGISTER"),
            ("Contact", f"<sip:{user}@203.0.113.9:5062>"),
            ("Expires", expires),
        ]
        if authorization:
            headers.append(("Authorization", authorization))
        request = Request(method="REGISTER", uri="sip:example.com", headers=tuple(headers))
        return self.registrar.handle(request, SOURCE, now)

    def answer(self, challenge: Reply, password: str = "wonderland", user: str = "alice") -> str:
        response = Response(status=challenge.status, reason=challenge.reason,
                            headers=challenge.headers)  # fmt: skip
        credentials = [auth.Credentials(username=user, password=password)]
        ((_, value),) = auth.answer_challenges(response, credentials, set(), method="REGISTER",
                                               uri="sip:example.com", cnonce="c")  # fmt: skip
        return value


@pytest.fixture
def world() -> Iterator[World]:
    made = World()
    yield made
    made.registry.close()


def test_a_register_is_challenged_then_bound(world: World) -> None:
    challenge = world.register()
    assert challenge.status == 401
    assert "nonce=" in dict(challenge.headers)["WWW-Authenticate"]
    done = world.register(authorization=world.answer(challenge))
    assert (done.status, done.reason) == (200, "OK")
    assert [e.kind for e in world.security] == [Security.CHALLENGE_SENT, Security.SUCCESSFUL_AUTH]
    (change,) = world.contacts
    assert (change.change, change.remaining, change.qualified) == (Change.CREATED, 2, True)
    assert [b.uri for b in world.registrar.bindings("alice", NOW)] == ["sip:alice@203.0.113.9:5062"]


def test_a_wrong_password_is_challenged_again_and_told(world: World) -> None:
    wrong = world.answer(world.register(), password="looking-glass")
    assert world.register(authorization=wrong).status == 401
    assert world.security[-1].kind is Security.CHALLENGE_RESPONSE_FAILED
    assert world.security[-1].response != ""
    assert world.contacts == []


def test_a_stale_nonce_is_challenged_with_stale_true(world: World) -> None:
    answer = world.answer(world.register())
    late = world.register(authorization=answer, now=NOW + 60)
    assert late.status == 401
    assert "stale=true" in dict(late.headers)["WWW-Authenticate"]


def test_an_unknown_user_is_challenged_like_a_known_one_then_refused(world: World) -> None:
    challenge = world.register("mallory")
    assert challenge.status == 401
    answer = world.answer(challenge, user="mallory")
    assert world.register("mallory", authorization=answer).status == 403
    assert world.security[0].account == "mallory"


def test_nobody_registers_for_another_users_aor(world: World) -> None:
    answer = world.answer(world.register(to="keyed"), user="alice")
    assert world.register(to="keyed", authorization=answer).status == 404


def test_the_authorization_username_identifies_when_allowed(world: World) -> None:
    answer = world.answer(world.register("keyed"), user="alice")
    assert world.register("keyed", authorization=answer).status == 200
    assert world.registrar.bindings("keyed", NOW) != []


def test_a_store_that_fails_answers_500_and_changes_nothing() -> None:
    world = World(FullStore(Path(":memory:")))
    answer = world.answer(world.register())
    assert world.register(authorization=answer).status == 500
    assert world.registrar.bindings("alice", NOW) == []


def other_node(uri: str) -> Binding:
    return Binding(aor="alice", uri=uri, expires_at=NOW + 600, endpoint="alice",
                   reg_server="node-b")  # fmt: skip


def test_a_registration_past_the_limit_others_reached_meanwhile_is_decided_again() -> None:
    others = [other_node("sip:b1@198.51.100.1"), other_node("sip:b2@198.51.100.2")]
    store = SharedStore(others, times=1)
    world = World(store)
    answer = world.answer(world.register())
    assert world.register(authorization=answer).status == 403  # max_contacts=2: now full
    assert store.limits == [2]  # refused once, then decided with the others' latest
    assert [b.uri for b in world.registrar.bindings("alice", NOW)] == [b.uri for b in others]
    assert [c.change for c in world.contacts] == [Change.CREATED, Change.CREATED]


def test_a_registration_refused_twice_for_the_limit_is_asked_again_later() -> None:
    store = SharedStore([other_node("sip:b1@198.51.100.1")], times=2)
    world = World(store)
    reply = world.register(authorization=world.answer(world.register()))
    assert (reply.status, reply.headers) == (503, (("Retry-After", "1"),))
    assert store.limits == [2, 2]


def test_expiry_is_pruned_and_told(world: World) -> None:
    world.register(authorization=world.answer(world.register()), expires="60")
    assert world.registrar.prune(NOW + 61) == 1
    assert [c.change for c in world.contacts] == [Change.CREATED, Change.REMOVED]
    assert world.contacts[-1].remaining == 1  # the static contact stays


def invite(user: str) -> Request:
    return Request(method="INVITE", uri="sip:100@example.com", headers=(
        ("Via", "SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKi"), ("From", f"<sip:{user}@x>;tag=2"),
        ("To", "<sip:100@example.com>"), ("Call-ID", "inv-1"), ("CSeq", "1 INVITE"),
    ))  # fmt: skip


def test_a_gateway_is_identified_by_its_address_and_needs_no_auth(world: World) -> None:
    admitted = world.registrar.admit(invite("anyone"), "198.51.100.7", NOW)
    assert not isinstance(admitted, Reply)
    assert admitted.name == "gw"
    assert world.registrar.force_rport(invite("anyone"), "198.51.100.7") is False
    assert world.registrar.force_rport(invite("nobody"), "203.0.113.1") is True


def test_an_invite_from_a_user_with_auth_is_challenged(world: World) -> None:
    refused = world.registrar.admit(invite("alice"), "203.0.113.9", NOW)
    assert isinstance(refused, Reply)
    assert refused.status == 401

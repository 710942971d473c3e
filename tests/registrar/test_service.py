"""The registrar service in memory: identifying the sender (IP, From user, Authorization
username), digest authentication with stateless nonces, the AOR, storing, and the events it
tells of. The store is SQLite in memory; nothing else is faked."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from sipnotify.config.parser import parse_text
from sipnotify.config.pjsip import load_pjsip
from sipnotify.registrar.commits import Done, Offload, inline
from sipnotify.registrar.registry import Change, Registry
from sipnotify.registrar.service import ContactChange, Registrar, Security, SecurityEvent
from sipnotify.sip import auth
from sipnotify.sip.message import Request, Response
from sipnotify.sip.registrar import Binding, Source
from sipnotify.sip.responses import Reply
from sipnotify.storage.base import Crowded, StorageError, StoreUnavailable, Write
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
    """The store at the registrar's edge, failing as a full disk does (for `aors`)."""

    def __init__(self, aors: frozenset[str] = frozenset(("alice",))) -> None:
        super().__init__(Path(":memory:"))
        self.aors = aors
        self.transactions = 0

    def change_many(self, writes: Sequence[Write]) -> None:
        self.transactions += 1
        if any(b.aor in self.aors for w in writes for b in (*w.store, *w.drop)):
            raise StorageError("disk full")
        super().change_many(writes)


class DownStore(SqliteContactStore):
    """The store at the registrar's edge while its database server is unreachable."""

    def change_many(self, writes: Sequence[Write]) -> None:
        del writes
        raise StoreUnavailable("PostgreSQL: connection refused")


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

    def change_many(self, writes: Sequence[Write]) -> None:
        if self.times:  # as PostgreSQL refuses the whole transaction
            raise StorageError("more contacts registered through other nodes meanwhile")
        super().change_many(writes)


class World:
    def __init__(self, store: SqliteContactStore | None = None, *,
                 offload: Offload = inline) -> None:  # fmt: skip
        config, _ = load_pjsip(parse_text(PJSIP, name="pjsip.conf"))
        self.registry = Registry(store or SqliteContactStore(Path(":memory:")), NOW)
        self.security: list[SecurityEvent] = []
        self.contacts: list[ContactChange] = []
        self.turn: list[Callable[[], None]] = []  # what runs when the loop turn ends
        self.security_wanted = True  # as when an AMI session takes the security class
        self.asked = 0  # how often the registrar asked whether anyone listens
        self.registrar = Registrar(config, self.registry, security=self.security.append,
                                   contacts=self.contacts.append, soon=self.turn.append,
                                   offload=offload, security_wanted=self._wanted)  # fmt: skip

    def _wanted(self) -> bool:
        self.asked += 1
        return self.security_wanted

    def end_turn(self) -> None:
        while self.turn:
            self.turn.pop(0)()

    def register(self, user: str = "alice", *, to: str = "", authorization: str = "",
                 now: float = NOW, expires: str = "600") -> Reply:  # fmt: skip
        """One REGISTER in a loop turn of its own: its answer."""
        answers = self.send(user, to=to, authorization=authorization, now=now, expires=expires)
        self.end_turn()
        (answer,) = answers
        return answer

    def send(self, user: str = "alice", *, to: str = "", authorization: str = "",
             now: float = NOW, expires: str = "600") -> list[Reply]:  # fmt: skip
        """One REGISTER, the loop turn going on: its answer, once there is one."""
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
        answers: list[Reply] = []
        self.registrar.handle(request, SOURCE, now, answers.append)
        return answers

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


def test_no_security_event_is_built_when_nobody_listens(world: World) -> None:
    world.security_wanted = False
    done = world.register(authorization=world.answer(world.register()))
    assert done.status == 200
    assert world.security == []
    assert world.asked == 2  # the challenge's and the success's, each asked, neither built


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


def test_challenges_of_one_second_are_one_but_a_stale_one_says_so(world: World) -> None:
    answer = world.answer(world.register())
    later = world.register(now=NOW + 60)
    assert world.register(now=NOW + 60) == later  # the nonce signs the second: made once
    assert world.register(now=NOW + 61) != later
    stale = world.register(authorization=answer, now=NOW + 61)
    assert "stale=true" in dict(stale.headers)["WWW-Authenticate"]
    assert "stale" not in dict(world.register(now=NOW + 61).headers)["WWW-Authenticate"]


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
    world = World(FullStore())
    answer = world.answer(world.register())
    assert world.register(authorization=answer).status == 500
    assert world.registrar.bindings("alice", NOW) == []


def test_the_registrations_of_a_loop_turn_are_committed_together_then_answered() -> None:
    store = FullStore(frozenset())
    world = World(store)
    alice = world.answer(world.register())
    keyed = world.answer(world.register("keyed"), user="alice")
    first, second = world.send(authorization=alice), world.send("keyed", authorization=keyed)
    assert (first, second, world.contacts) == ([], [], [])  # not stored yet: not answered
    world.end_turn()
    assert [r.status for r in (*first, *second)] == [200, 200]
    assert store.transactions == 1
    assert [(c.binding.aor, c.change) for c in world.contacts] == [
        ("alice", Change.CREATED), ("keyed", Change.CREATED)]  # fmt: skip
    assert len(SqliteContactStore.load(store)) == 2


def test_a_second_register_for_a_waiting_aor_is_decided_on_the_first_stored() -> None:
    store = FullStore(frozenset())
    world = World(store)
    answer = world.answer(world.register())
    first = world.send(authorization=answer)
    second = world.send(authorization=answer, expires="60")
    assert first == second == []
    world.end_turn()  # the first committed, then the second decided and committed
    assert [r.status for r in (*first, *second)] == [200, 200]
    assert store.transactions == 2
    assert [c.change for c in world.contacts] == [Change.CREATED, Change.UPDATED]
    (binding,) = world.registrar.bindings("alice", NOW)
    assert binding.expires_at == NOW + 60


class Held:
    """An offload that runs the store's work only when the test says (a helper thread's
    transaction still out)."""

    def __init__(self) -> None:
        self.out: list[tuple[Callable[[], None], Done]] = []

    def __call__(self, work: Callable[[], None], done: Done) -> None:
        self.out.append((work, done))

    def finish(self) -> None:
        work, done = self.out.pop(0)
        inline(work, done)


def test_registrations_decided_while_a_commit_is_out_wait_for_the_next() -> None:
    held = Held()
    world = World(FullStore(frozenset()), offload=held)
    alice = world.answer(world.register())
    keyed = world.answer(world.register("keyed"), user="alice")
    first = world.send(authorization=alice)
    world.end_turn()
    assert len(held.out) == 1  # out: the loop goes on deciding
    second, again = world.send("keyed", authorization=keyed), world.send(authorization=alice)
    world.end_turn()
    assert (first, second, again, len(held.out)) == ([], [], [], 1)  # one out at a time
    held.finish()
    assert [r.status for r in first] == [200]
    world.end_turn()
    assert len(held.out) == 1
    held.finish()  # keyed, and alice's again (decided once the first was stored)
    assert [r.status for r in (*second, *again)] == [200, 200]
    assert [c.change for c in world.contacts] == [Change.CREATED, Change.CREATED, Change.UPDATED]


def test_when_a_turns_commit_fails_each_registration_is_stored_alone() -> None:
    world = World(FullStore(frozenset(("alice",))))
    alice = world.answer(world.register())
    keyed = world.answer(world.register("keyed"), user="alice")
    first, second = world.send(authorization=alice), world.send("keyed", authorization=keyed)
    world.end_turn()
    assert [r.status for r in (*first, *second)] == [500, 200]
    assert world.registrar.bindings("alice", NOW) == []
    assert [b.aor for b in world.registrar.bindings("keyed", NOW)] == ["keyed"]


def test_an_unreachable_store_answers_the_whole_turn_503() -> None:
    world = World(DownStore(Path(":memory:")))
    alice = world.answer(world.register())
    keyed = world.answer(world.register("keyed"), user="alice")
    first, second = world.send(authorization=alice), world.send("keyed", authorization=keyed)
    world.end_turn()
    assert [(r.status, r.headers) for r in (*first, *second)] == [
        (503, (("Retry-After", "5"),))] * 2  # fmt: skip
    assert world.registrar.bindings("alice", NOW) == []
    assert world.contacts == []


def test_pruning_commits_what_waits_first(world: World) -> None:
    waiting = world.send(authorization=world.answer(world.register()), expires="60")
    assert world.registrar.prune(NOW + 61) == 1  # stored, then found expired
    assert [r.status for r in waiting] == [200]
    assert [c.change for c in world.contacts] == [Change.CREATED, Change.REMOVED]


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

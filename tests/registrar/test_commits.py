"""Group commit, whatever the interleaving: REGISTERs for a few AORs asked in any order, loop
turns ending and transactions coming back (sometimes failed) at any point. Every REGISTER
gets exactly one answer; one AOR's are answered in the order asked, each decided on what the
one before it stored; memory and the store agree at the end. The store is SQLite in memory,
failing a shared commit when told to; the helper thread is held until the test lets it go."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sipnotify.registrar.commits import Asked, Done, GroupCommit, Waiting, inline
from sipnotify.registrar.registry import Registry
from sipnotify.sip.message import Request
from sipnotify.sip.registrar import Binding, Decision, Source
from sipnotify.sip.responses import Reply
from sipnotify.storage.base import StorageError, Write
from sipnotify.storage.sqlite import SqliteContactStore

AORS = ("a", "b", "c")
REQUEST = Request(method="REGISTER", uri="sip:example.com", headers=())
SOURCE = Source("192.0.2.9", 5060, "udp", "192.0.2.1", 5060)


class Store(SqliteContactStore):
    def __init__(self) -> None:
        super().__init__(Path(":memory:"))
        self.fail_next = False

    def change_many(self, writes: Sequence[Write]) -> None:
        if self.fail_next:
            self.fail_next = False
            raise StorageError("disk full")
        super().change_many(writes)


class World:
    def __init__(self) -> None:
        self.store = Store()
        self.registry = Registry(self.store, 0.0)
        self.turn: list[Callable[[], None]] = []
        self.out: list[tuple[Callable[[], None], Done]] = []
        self.seen: dict[int, float] = {}  # each REGISTER (by number): the expiry it found
        self.answers: dict[str, list[int]] = {aor: [] for aor in AORS}  # numbers, as answered
        self.commits = GroupCommit(
            self.registry, soon=self.turn.append, offload=lambda w, d: self.out.append((w, d)),
            decide=self.decide, alone=self.alone, tell=lambda _now: lambda _b, _c: None,
            limit=lambda _aor: 1,
        )  # fmt: skip

    def ask(self, aor: str, number: int) -> None:
        def answer(reply: Reply) -> None:
            assert reply.status == 200
            self.answers[aor].append(number)

        self.commits.ask(Asked(REQUEST, None, aor, SOURCE, float(number), answer))  # type: ignore[arg-type]

    def decide(self, asked: Asked) -> Decision:
        number = int(asked.now)
        found = self.registry.bindings(asked.aor, 0.0)
        self.seen[number] = found[0].expires_at if found else 0.0
        binding = Binding(aor=asked.aor, uri=f"sip:{asked.aor}@h", expires_at=1e6 + number,
                          endpoint=asked.aor)  # fmt: skip
        return Decision(200, "OK", store=(binding,))

    def alone(self, waiting: Waiting) -> Reply:
        self.registry.apply(waiting.decision, lambda _b, _c: None)
        return waiting.reply()

    def end_turn(self) -> None:
        while self.turn:
            self.turn.pop(0)()

    def finish(self, fail: bool) -> None:
        if self.out:
            self.store.fail_next = fail
            work, done = self.out.pop(0)
            inline(work, done)


step = st.one_of(
    st.tuples(st.just("ask"), st.sampled_from(AORS)),
    st.tuples(st.just("turn"), st.just("")),
    st.tuples(st.just("finish"), st.sampled_from(["ok", "fail"])),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(step, max_size=40))
def test_every_register_is_answered_once_in_order_on_what_was_stored(
    steps: list[tuple[str, str]],
) -> None:
    world = World()
    asked: dict[str, list[int]] = {aor: [] for aor in AORS}
    for number, (kind, value) in enumerate(steps, start=1):
        if kind == "ask":
            asked[value].append(number)
            world.ask(value, number)
        elif kind == "turn":
            world.end_turn()
        else:
            world.finish(value == "fail")
    for _ in range(len(steps) + 1):  # everything still waiting, to the end
        world.end_turn()
        world.finish(False)
    assert world.answers == asked
    for numbers in asked.values():
        expected = [0.0, *(1e6 + n for n in numbers)]
        assert [world.seen[n] for n in numbers] == expected[:-1]
    for aor in AORS:
        in_memory = [b.expires_at for b in world.registry.bindings(aor, 0.0)]
        stored = [b.expires_at for b in world.store.load() if b.aor == aor]
        assert in_memory == stored == ([1e6 + asked[aor][-1]] if asked[aor] else [])
    world.registry.close()

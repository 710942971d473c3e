"""Fleet jobs on an event loop, with the SIP endpoint a fake at the edge (answering at once, or
never) and the real SQLite job store: a job runs to its end, a reboot is confirmed by a new
registration, a job is cancelled, a scheduled job waits, and a restart resumes without sending
twice to a phone that answered."""

from __future__ import annotations

import asyncio
import gc
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from sipnotify.config.sipnotify import FleetSettings
from sipnotify.fleet import service as service_module
from sipnotify.fleet.catalogue import Verb, load_catalogue
from sipnotify.fleet.pacing import Pace
from sipnotify.fleet.plan import Mwi, PlanError, Preset, Variables
from sipnotify.fleet.selection import Selection
from sipnotify.fleet.service import FleetError, FleetOrder, FleetService, decode, encode
from sipnotify.notify.notifier import Notifier
from sipnotify.sip.ids import Ids
from sipnotify.sip.transactions.exchange import Final
from sipnotify.storage.base import StorageError
from sipnotify.storage.jobs import JobRecord, JobState, PhoneRecord, PhoneState
from sipnotify.storage.sqlite_jobs import SqliteJobStore
from sipnotify.ua.addresses import Local
from tests.ami.helpers import FakeSender, context

PJSIP = "".join(
    f"[p{n}]\ntype=aor\ncontact=sip:p{n}@192.0.2.{n}:5060\n[p{n}]\ntype=endpoint\naors=p{n}\n"
    for n in range(1, 4)
)
FAST = Pace(rate=math.inf, in_flight=10, per_address=10)
DEFAULTS = FleetSettings()


class Listener:
    """What the AMI layer will be told."""

    def __init__(self) -> None:
        self.phones: list[PhoneRecord] = []
        self.ended: list[JobRecord] = []

    def phone(self, job: JobRecord, phone: PhoneRecord) -> None:
        del job
        self.phones.append(phone)

    def finished(self, job: JobRecord, counts: Mapping[PhoneState, int]) -> None:
        del counts
        self.ended.append(job)


class Silent(FakeSender):
    """A fleet whose phones never answer."""

    def send(self, hop, factory, credentials, done) -> None:  # type: ignore[no-untyped-def]
        del done
        super().send(hop, factory, credentials, lambda _final: None)


async def settle() -> None:
    """Let the loop run what the job scheduled (its first pass comes after the reply)."""
    for _ in range(5):
        await asyncio.sleep(0)


def service(tmp_path: Path, sender: FakeSender, listener: Listener,
            wall: Callable[[], float],
            settings: FleetSettings = DEFAULTS) -> FleetService:  # fmt: skip
    notifier: Notifier = context(pjsip_conf=PJSIP, sender=sender).notifier
    return FleetService(store=SqliteJobStore(tmp_path / "jobs.sqlite3"), notifier=notifier,
                        catalogue=load_catalogue(None), wall=wall, ids=Ids("job", seed=1),
                        local_for=lambda _hop: Local("udp", "192.0.2.5", 5060),
                        rng=random.Random(1), listener=listener,
                        settings=settings)  # fmt: skip


def run(test: Callable[[], object]) -> None:
    async def main() -> None:
        outcome = test()
        if asyncio.iscoroutine(outcome):
            await outcome

    asyncio.run(main())


def test_a_job_runs_to_its_end_and_is_stored(tmp_path: Path) -> None:
    sender, heard = FakeSender(), Listener()

    async def test() -> None:
        fleet = service(tmp_path, sender, heard, lambda: 1000.0)
        job = fleet.start(FleetOrder(Verb.RESYNC, Selection(all=True), FAST))
        await settle()
        stored, phones = fleet.job(job.id)
        assert stored.state is JobState.DONE
        assert [p.state for p in phones] == [PhoneState.ANSWERED] * 3
        assert [f.id for f in heard.ended] == [job.id]
        assert len(sender.sent) == 3
        assert fleet.jobs() == [stored]

    run(test)


def test_a_reboot_is_confirmed_when_the_phone_registers_afresh(tmp_path: Path) -> None:
    heard = Listener()

    async def test() -> None:
        fleet = service(tmp_path, FakeSender(), heard, lambda: 1000.0)
        job = fleet.start(FleetOrder(Verb.REBOOT, Selection(endpoints=("p1",)), FAST))
        await settle()
        assert fleet.job(job.id)[1][0].state is PhoneState.ANSWERED
        fleet.registered("p1", "after-reboot", "Yealink 2")
        stored, (phone,) = fleet.job(job.id)
        assert (stored.state, phone.state, phone.user_agent_after) == (
            JobState.DONE,
            PhoneState.CONFIRMED,
            "Yealink 2",
        )

    run(test)


def test_sipnotify_conf_sets_the_defaults_the_limit_and_the_window(tmp_path: Path) -> None:
    heard = Listener()
    settings = FleetSettings(rate=2.0, in_flight=3, per_address=1, jitter=0.0, deadline=60.0,
                             confirm_above=2, confirm_window=0.05)  # fmt: skip

    async def test() -> None:
        fleet = service(tmp_path, FakeSender(), heard, time.time, settings)
        assert len(fleet.preview(FleetOrder(Verb.REBOOT, Selection(all=True)))) == 3  # a look
        with pytest.raises(PlanError, match=r"reboot of 3 phones needs confirming \(more than 2"):
            fleet.start(FleetOrder(Verb.REBOOT, Selection(all=True)))
        job = fleet.start(FleetOrder(Verb.REBOOT, Selection(endpoints=("p1", "p2"))))
        assert (job.rate, job.in_flight, job.per_address, job.jitter) == (2.0, 3, 1, 0.0)
        assert job.deadline == pytest.approx(job.start_at + 60.0)
        for _ in range(100):  # the second phone waits half a second (2 a second)
            if fleet.job(job.id)[0].state is JobState.DONE:
                break
            await asyncio.sleep(0.02)
        assert [p.state for p in fleet.job(job.id)[1]] == [PhoneState.IGNORED] * 2

    run(test)


def test_cancel_stops_a_job_and_an_ended_job_cannot_be_cancelled(tmp_path: Path) -> None:
    async def test() -> None:
        fleet = service(tmp_path, Silent(), Listener(), lambda: 1000.0)
        job = fleet.start(FleetOrder(Verb.RESYNC, Selection(all=True), FAST))
        assert fleet.cancel(job.id).state is JobState.CANCELLED
        with pytest.raises(FleetError, match="has already ended"):
            fleet.cancel(job.id)
        with pytest.raises(FleetError, match="no job nope"):
            fleet.job("nope")

    run(test)


def test_a_scheduled_job_waits_and_a_past_start_is_refused(tmp_path: Path) -> None:
    sender = FakeSender()

    async def test() -> None:
        fleet = service(tmp_path, sender, Listener(), lambda: 1000.0)
        job = fleet.start(FleetOrder(Verb.RESYNC, Selection(all=True), FAST, start_at=5000.0))
        await settle()
        assert job.state is JobState.SCHEDULED
        assert sender.sent == []
        with pytest.raises(FleetError, match="the start time is in the past"):
            fleet.start(FleetOrder(Verb.RESYNC, Selection(all=True), FAST, start_at=10.0))
        fleet.stop()

    run(test)


def test_a_restart_resumes_without_sending_again_to_phones_that_answered(tmp_path: Path) -> None:
    async def first_life() -> str:
        fleet = service(tmp_path, Silent(), Listener(), lambda: 1000.0)
        job = fleet.start(FleetOrder(Verb.RESYNC, Selection(all=True), FAST))
        store = SqliteJobStore(tmp_path / "jobs.sqlite3")
        (one, *_) = store.phones(job.id)
        store.update([replace(one, state=PhoneState.ANSWERED, status=200)])
        store.close()
        fleet.stop()  # killed: the others stay sent, unanswered
        return job.id

    async def second_life(job_id: str) -> None:
        sender = FakeSender()
        started = time.monotonic()
        fleet = service(tmp_path, sender, Listener(), lambda: 1010.0 + time.monotonic() - started)
        assert fleet.resume() == 1  # at the default pace: 5 phones a second
        for _ in range(100):
            if fleet.job(job_id)[0].state is JobState.DONE:
                break
            await asyncio.sleep(0.02)
        assert sorted(str(hop.uri) for hop, _ in sender.sent) == [
            "sip:p2@192.0.2.2:5060",
            "sip:p3@192.0.2.3:5060",
        ]
        assert fleet.job(job_id)[0].state is JobState.DONE

    job_id = asyncio.run(first_life())
    asyncio.run(second_life(job_id))


def test_a_dry_run_plans_without_storing(tmp_path: Path) -> None:
    async def test() -> None:
        fleet = service(tmp_path, FakeSender(), Listener(), lambda: 1000.0)
        planned = fleet.preview(FleetOrder(Verb.REBOOT, Selection(all=True)))
        assert [p.vendor for p in planned] == ["fallback"] * 3
        assert fleet.jobs() == []

    run(test)


@pytest.mark.parametrize(
    "order", [Verb.RESYNC, Verb.REBOOT, Mwi(2, 1, 0, 1), Preset("clear-mwi"),
              Variables((("Event", "check-sync"), ("X-Y", "a, b")))],
)  # fmt: skip
def test_orders_are_stored_as_text_and_read_back(order: object) -> None:
    assert decode(encode(order)) == order  # type: ignore[arg-type]


def test_a_failed_final_is_a_failure(tmp_path: Path) -> None:
    async def test() -> None:
        fleet = service(tmp_path, FakeSender(Final(481, "Gone", None, 0.01)), Listener(),
                        lambda: 1000.0)  # fmt: skip
        job = fleet.start(FleetOrder(Verb.RESYNC, Selection(endpoints=("p2",)), FAST))
        await settle()
        (phone,) = fleet.job(job.id)[1]
        assert (phone.state, phone.status) == (PhoneState.FAILED, 481)

    run(test)


def test_a_paused_job_sends_nothing_until_resumed_and_keeps_its_pace(tmp_path: Path) -> None:
    sender = FakeSender()

    async def test() -> None:
        fleet = service(tmp_path, sender, Listener(), time.time)
        slow = Pace(rate=2, in_flight=5, per_address=5, jitter=0)
        job = fleet.start(FleetOrder(Verb.RESYNC, Selection(all=True), slow))
        assert (job.rate, job.in_flight, job.per_address, job.jitter) == (2, 5, 5, 0)
        await settle()
        assert fleet.pause(job.id).state is JobState.PAUSED
        sent = len(sender.sent)
        await asyncio.sleep(0.6)
        assert len(sender.sent) == sent  # nothing while paused
        with pytest.raises(FleetError, match="is already paused"):
            fleet.pause(job.id)
        assert fleet.resume_job(job.id).state is JobState.RUNNING
        for _ in range(100):
            if fleet.job(job.id)[0].state is JobState.DONE:
                break
            await asyncio.sleep(0.02)
        assert len(sender.sent) == 3
        with pytest.raises(FleetError, match="has already ended"):
            fleet.resume_job(job.id)

    run(test)


def test_a_paused_job_stays_paused_across_a_restart(tmp_path: Path) -> None:
    async def first() -> str:
        fleet = service(tmp_path, Silent(), Listener(), time.time)
        job = fleet.start(FleetOrder(Verb.RESYNC, Selection(all=True), FAST))
        fleet.pause(job.id)
        fleet.stop()
        return job.id

    async def second(job_id: str) -> None:
        sender = FakeSender()
        fleet = service(tmp_path, sender, Listener(), time.time)
        assert fleet.resume() == 0
        await settle()
        assert sender.sent == []
        fleet.resume_job(job_id)
        await settle()
        assert len(sender.sent) == 3

    job_id = asyncio.run(first())
    asyncio.run(second(job_id))


class LockedOnce(SqliteJobStore):
    """The job store at the service's edge, locked for its first progress write."""

    locked = True

    def update(self, phones: Sequence[PhoneRecord]) -> None:
        if self.locked:
            self.locked = False
            raise StorageError("database is locked")
        super().update(phones)


def test_progress_that_cannot_be_written_is_kept_and_written_later(tmp_path: Path) -> None:
    heard = Listener()

    async def test() -> None:
        notifier: Notifier = context(pjsip_conf=PJSIP, sender=FakeSender()).notifier
        fleet = FleetService(store=LockedOnce(tmp_path / "jobs.sqlite3"), notifier=notifier,
                             catalogue=load_catalogue(None), wall=time.time, ids=Ids("j", 1),
                             local_for=lambda _hop: Local("udp", "192.0.2.5", 5060),
                             rng=random.Random(1), listener=heard,
                             settings=FleetSettings())  # fmt: skip
        job = fleet.start(FleetOrder(Verb.RESYNC, Selection(endpoints=("p1",)), FAST))
        for _ in range(100):
            if fleet.job(job.id)[0].state is JobState.DONE:
                break
            await asyncio.sleep(0.05)
        assert [p.state for p in fleet.job(job.id)[1]] == [PhoneState.ANSWERED]
        assert heard.ended

    run(test)


def test_a_resumed_job_fails_phones_the_configuration_no_longer_has(tmp_path: Path) -> None:
    async def first() -> str:
        fleet = service(tmp_path, Silent(), Listener(), time.time)
        job = fleet.start(FleetOrder(Verb.RESYNC, Selection(all=True), FAST))
        fleet.stop()  # a restart, with p2 and p3 since emptied of contacts
        return job.id

    async def second(job_id: str) -> None:
        sender = FakeSender()
        emptied = PJSIP.replace("contact=sip:p2@192.0.2.2:5060\n", "").replace(
            "contact=sip:p3@192.0.2.3:5060\n", ""
        )
        notifier = context(pjsip_conf=emptied, sender=sender).notifier
        fleet = FleetService(store=SqliteJobStore(tmp_path / "jobs.sqlite3"), notifier=notifier,
                             catalogue=load_catalogue(None), wall=time.time, ids=Ids("j", 2),
                             local_for=lambda _hop: Local("udp", "192.0.2.5", 5060),
                             rng=random.Random(1), listener=Listener(),
                             settings=FleetSettings())  # fmt: skip
        assert fleet.resume() == 1
        await settle()
        assert [str(hop.uri) for hop, _ in sender.sent] == ["sip:p1@192.0.2.1:5060"]
        states = [p.state for p in fleet.job(job_id)[1]]
        assert states == [PhoneState.ANSWERED, PhoneState.FAILED, PhoneState.FAILED]

    job_id = asyncio.run(first())
    asyncio.run(second(job_id))


def test_a_large_job_keeps_its_phones_out_of_full_collections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_module, "FREEZE_FROM", 3)

    async def test() -> None:
        fleet = service(tmp_path, Silent(), Listener(), time.time)
        before = gc.get_freeze_count()
        fleet.start(FleetOrder(Verb.RESYNC, Selection(endpoints=("p1", "p2")), FAST))
        assert gc.get_freeze_count() == before  # two phones: left alone
        fleet.start(FleetOrder(Verb.RESYNC, Selection(all=True), FAST))
        assert gc.get_freeze_count() > before
        fleet.stop()

    try:
        run(test)
    finally:
        gc.unfreeze()


def test_an_mwi_job_hands_its_counts_to_the_mailboxes(tmp_path: Path) -> None:
    lamps: list[tuple[Mwi, list[str]]] = []

    async def test() -> None:
        notifier: Notifier = context(pjsip_conf=PJSIP, sender=FakeSender()).notifier
        fleet = FleetService(store=SqliteJobStore(tmp_path / "jobs.sqlite3"), notifier=notifier,
                             catalogue=load_catalogue(None), wall=time.time, ids=Ids("j", 3),
                             local_for=lambda _hop: Local("udp", "192.0.2.5", 5060),
                             rng=random.Random(1), listener=Listener(), settings=DEFAULTS,
                             lamp=lambda o, endpoints: lamps.append((o, endpoints)))  # fmt: skip
        fleet.start(FleetOrder(Mwi(2, 1), Selection(endpoints=("p2", "p1")), FAST))
        fleet.start(FleetOrder(Verb.RESYNC, Selection(all=True), FAST))  # not a lamp
        fleet.stop()

    run(test)
    assert lamps == [(Mwi(2, 1), ["p1", "p2"])]


class RunElsewhere(SqliteJobStore):
    """The job store at the service's edge as several nodes share it: every job is node A's."""

    def set_state(self, job_id: str, state: JobState) -> str | None:
        return None if super().set_state(job_id, state) is None else "node-a"

    def mine(self) -> list[JobRecord]:
        return []


def test_a_job_changed_on_another_node_is_acted_on_by_the_node_running_it(
    tmp_path: Path,
) -> None:
    sender = FakeSender()

    async def test() -> None:
        a = service(tmp_path, sender, Listener(), time.time)
        told: list[tuple[str, str]] = []
        b = FleetService(store=RunElsewhere(tmp_path / "jobs.sqlite3"),
                         notifier=context(pjsip_conf=PJSIP, sender=FakeSender()).notifier,
                         catalogue=load_catalogue(None), wall=time.time, ids=Ids("b", seed=2),
                         local_for=lambda _hop: Local("udp", "192.0.2.5", 5060),
                         rng=random.Random(1), listener=Listener(), settings=DEFAULTS,
                         node="node-b", tell_owner=lambda *told_: told.append(told_))  # fmt: skip
        slow = Pace(rate=2, in_flight=5, per_address=5, jitter=0)
        job = a.start(FleetOrder(Verb.RESYNC, Selection(all=True), slow))
        await settle()
        assert b.pause(job.id).state is JobState.PAUSED
        assert told == [("node-a", job.id)]  # node B only tells node A
        assert b.resume() == 0  # and never runs node A's job itself
        a.heard(job.id)
        sent = len(sender.sent)
        await asyncio.sleep(0.6)
        assert len(sender.sent) == sent  # node A paused it
        b.cancel(job.id)
        a.recheck()  # as after a missed notice: node A reads the state of what it runs
        with pytest.raises(FleetError, match="has already ended"):
            b.resume_job(job.id)
        await asyncio.sleep(0.6)
        assert len(sender.sent) == sent
        assert a.job(job.id)[0].state is JobState.CANCELLED

    run(test)

"""The job store contract, which every store must pass (SQLite, PostgreSQL): jobs and their
phones kept durably and in order, all or nothing, progress that survives reopening, and an
ended job that stays ended; and PostgreSQL's owners: every node lists and changes every job,
runs its own, and takes over a dead node's."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sipnotify.storage.base import StorageError
from sipnotify.storage.jobs import JobRecord, JobState, JobStore, PhoneRecord, PhoneState
from sipnotify.storage.pg_jobs import PgJobStore
from sipnotify.storage.sqlite_jobs import SqliteJobStore
from tests.storage.postgres import Server

JOB = JobRecord("j1", "reboot", "--match floor3-*", 100.0, 100.0, 3700.0, JobState.SCHEDULED,
                action_id="start-1")  # fmt: skip
PHONES = [
    PhoneRecord("j1", f"sip:p{n}@192.0.2.{n}:5060", f"p{n}", f"p{n}", user_agent_before="UA")
    for n in range(1, 4)
]
Open = Callable[[], JobStore]


@pytest.fixture(params=["sqlite", "postgres"])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Open]:
    """Opens the store under test (again) on the same data."""
    opened: list[JobStore] = []
    dsn = request.getfixturevalue("postgres").new_database() if request.param == "postgres" else ""

    def make() -> JobStore:
        store: JobStore = (PgJobStore(dsn, "test", systemname="node-a") if dsn
                           else SqliteJobStore(tmp_path / "contacts.sqlite3"))  # fmt: skip
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_a_job_and_its_phones_come_back_in_order(reopen: Open) -> None:
    store = reopen()
    store.create(JOB, PHONES)
    assert store.jobs() == [JOB]
    assert store.job("j1") == JOB
    assert store.job("nope") is None
    assert store.phones("j1") == PHONES
    assert store.phones("nope") == []


def test_progress_survives_reopening(reopen: Open) -> None:
    store = reopen()
    store.create(JOB, PHONES)
    answered = replace(PHONES[0], state=PhoneState.ANSWERED, status=200, attempts=1,
                       updated_at=120.5, user_agent_after="UA2")  # fmt: skip
    retrying = replace(PHONES[1], state=PhoneState.RETRYING, attempts=2, next_at=180.0)
    store.update([answered, retrying])
    store.set_state("j1", JobState.RUNNING)
    store.close()
    again = reopen()
    assert again.phones("j1") == [answered, retrying, PHONES[2]]
    assert again.counts("j1") == {
        PhoneState.ANSWERED: 1,
        PhoneState.RETRYING: 1,
        PhoneState.PENDING: 1,
    }
    assert again.counts("nope") == {}
    assert again.job("j1") == replace(JOB, state=JobState.RUNNING)


def test_only_an_unfinished_job_changes_state(reopen: Open) -> None:
    store = reopen()
    store.create(JOB, PHONES)
    owner = store.set_state("j1", JobState.PAUSED)
    assert owner in ("", "node-a")  # the embedded store has no owners
    assert store.set_state("j1", JobState.CANCELLED) == owner
    assert store.set_state("j1", JobState.DONE) is None  # cancelled stays cancelled
    assert store.set_state("nope", JobState.PAUSED) is None
    assert store.job("j1") == replace(JOB, state=JobState.CANCELLED)
    assert store.mine() == store.jobs() == [replace(JOB, state=JobState.CANCELLED)]


def test_a_job_id_is_used_once_and_a_failed_create_leaves_nothing(reopen: Open) -> None:
    store = reopen()
    store.create(JOB, PHONES)
    with pytest.raises(StorageError):
        store.create(replace(JOB, order="resync"), PHONES)
    twice = [PHONES[0], PHONES[0]]  # the same phone twice in one job
    with pytest.raises(StorageError):
        store.create(replace(JOB, id="j2"), twice)
    assert [j.id for j in store.jobs()] == ["j1"]
    assert store.phones("j2") == []


def test_a_locked_store_is_an_error_not_a_wait(tmp_path: Path) -> None:
    store = SqliteJobStore(tmp_path / "contacts.sqlite3")
    store.create(JOB, PHONES)
    lock = sqlite3.connect(tmp_path / "contacts.sqlite3", timeout=0)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StorageError):
            store.set_state("j1", JobState.CANCELLED)
    finally:
        lock.rollback()
        lock.close()
    assert store.job("j1") == JOB
    store.close()


def test_every_node_sees_every_job_runs_its_own_and_takes_over_a_dead_nodes(
    postgres: Server,
) -> None:
    dsn = postgres.new_database()
    a, b = (PgJobStore(dsn, "test", systemname=name) for name in ("node-a", "node-b"))
    a.create(JOB, PHONES)
    a.create(replace(JOB, id="j2", state=JobState.DONE), [])
    answered = replace(PHONES[0], state=PhoneState.ANSWERED, status=200, attempts=1)
    a.update([answered])
    assert ([j.id for j in b.jobs()], b.job("j1"), b.mine()) == (["j1", "j2"], JOB, [])
    assert b.set_state("j1", JobState.PAUSED) == "node-a"  # node B tells node A to act
    assert a.job("j1") == replace(JOB, state=JobState.PAUSED)
    assert b.owners() == ["node-a"]
    assert b.take_over("node-a") == 1  # the unfinished one only
    assert [j.id for j in b.mine()] == ["j1"]
    assert b.phones("j1")[0] == answered  # its recorded answers come along
    assert [j.id for j in a.mine()] == ["j2"]
    assert b.owners() == []
    a.close()
    b.close()


def test_states_say_what_is_settled() -> None:
    assert {s for s in PhoneState if s.settled} == {
        PhoneState.FAILED,
        PhoneState.CONFIRMED,
        PhoneState.IGNORED,
    }
    assert {s for s in JobState if s.finished} == {JobState.CANCELLED, JobState.DONE}


def test_a_job_file_from_before_action_ids_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "contacts.sqlite3"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE jobs (id TEXT PRIMARY KEY, ord TEXT, selection TEXT, created_at REAL, "
        "start_at REAL, deadline REAL, state TEXT, rate REAL, in_flight INTEGER, "
        "per_address INTEGER, jitter REAL)"
    )
    old.execute("INSERT INTO jobs VALUES ('j0', 'resync', 'all', 1, 1, 2, 'done', 5, 20, 4, 0.2)")
    old.commit()
    old.close()
    store = SqliteJobStore(path)
    try:
        (job,) = store.jobs()
        assert (job.id, job.action_id) == ("j0", "")
        store.create(JOB, PHONES)
        assert store.job("j1") == JOB
    finally:
        store.close()

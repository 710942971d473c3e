"""The fleet job store interface, and its values: a job (what was ordered, for which
selection, when it may start and until when it may retry, its state) and each phone's progress
in it. Small on purpose, like the contact store, so that a shared store (PostgreSQL) can
implement it later; `tests/storage/test_jobs.py` is the contract both must pass."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class JobState(enum.Enum):
    SCHEDULED = "scheduled"  # waiting for its start time
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"

    @property
    def finished(self) -> bool:
        return self in (JobState.CANCELLED, JobState.DONE)


class PhoneState(enum.Enum):
    PENDING = "pending"  # not sent yet
    SENT = "sent"  # sent, no answer recorded (sent again on resume)
    RETRYING = "retrying"  # offline or timed out: sent again at `next_at`
    ANSWERED = "answered"  # a final answer (`status`); a reboot waits for confirmation
    FAILED = "failed"  # a failure answer, or no answer before the job's deadline
    CONFIRMED = "confirmed"  # re-registered after a reboot
    IGNORED = "ignored"  # answered 2xx to a reboot and never re-registered

    @property
    def settled(self) -> bool:
        """Whether the phone gets nothing more from this job."""
        return self in (PhoneState.FAILED, PhoneState.CONFIRMED, PhoneState.IGNORED)


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    order: str  # what is sent, as the operator asked it ("reboot", "preset:clear-mwi", …)
    selection: str  # the selection, as the operator gave it (for listing)
    created_at: float
    start_at: float
    deadline: float  # retries stop here
    state: JobState
    rate: float = 5.0  # the job's pace, kept so a resumed job runs as it was started
    in_flight: int = 20
    per_address: int = 4
    jitter: float = 0.2
    action_id: str = ""  # of the AMI request that started it: its events carry it


@dataclass(frozen=True, slots=True)
class PhoneRecord:
    job_id: str
    uri: str  # the contact: one phone of the job
    endpoint: str
    aor: str
    state: PhoneState = PhoneState.PENDING
    status: int | None = None
    attempts: int = 0
    updated_at: float = 0.0
    next_at: float = 0.0  # the earliest time to send (again)
    user_agent_before: str = ""
    user_agent_after: str = ""
    call_id_before: str = ""  # the registration's Call-ID when sent: a reboot changes it


class JobStore(Protocol):
    def create(self, job: JobRecord, phones: Sequence[PhoneRecord]) -> None:
        """Store a new job with its phones, all or nothing. Raises StorageError (also for an
        id already used)."""
        ...

    def jobs(self) -> list[JobRecord]:
        """Every job, oldest first (in a store several nodes share, every node's)."""
        ...

    def mine(self) -> list[JobRecord]:
        """The jobs this node runs, oldest first (in the embedded store, every job)."""
        ...

    def job(self, job_id: str) -> JobRecord | None: ...

    def phones(self, job_id: str) -> list[PhoneRecord]:
        """The job's phones in the order they were stored."""
        ...

    def counts(self, job_id: str) -> dict[PhoneState, int]:
        """How many of the job's phones are in each state (states with none left out), without
        reading them all: listing jobs stays fast while a large one runs."""
        ...

    def set_state(self, job_id: str, state: JobState) -> str | None:
        """Change an unfinished job's state. Returns the node that runs it (its `systemname`;
        "" in the embedded store), or None when the job is unknown or has ended (nothing
        changed: an ended job stays as it ended)."""
        ...

    def update(self, phones: Sequence[PhoneRecord]) -> None:
        """Record the phones' progress (matched on job and URI), durably, before returning."""
        ...

    def close(self) -> None: ...


# The columns both stores keep, in this order, and a record as such a row and back.
JOB_COLUMNS = ("id, ord, selection, created_at, start_at, deadline, state, rate, in_flight, "
               "per_address, jitter, action_id")  # fmt: skip
PHONE_COLUMNS = ("uri, endpoint, aor, state, status, attempts, updated_at, next_at, "
                 "user_agent_before, user_agent_after, call_id_before")  # fmt: skip


def job_row(job: JobRecord) -> tuple[object, ...]:
    return (job.id, job.order, job.selection, job.created_at, job.start_at, job.deadline,
            job.state.value, job.rate, job.in_flight, job.per_address, job.jitter,
            job.action_id)  # fmt: skip


def job_from_row(row: Sequence[Any]) -> JobRecord:
    job_id, order, selection, created, start, deadline, state, rate, flight, per, jitter, aid = row
    return JobRecord(str(job_id), str(order), str(selection), float(created), float(start),
                     float(deadline), JobState(state), float(rate), int(flight), int(per),
                     float(jitter), str(aid))  # fmt: skip


def phone_row(phone: PhoneRecord) -> tuple[object, ...]:
    return (phone.uri, phone.endpoint, phone.aor, phone.state.value, phone.status,
            phone.attempts, phone.updated_at, phone.next_at, phone.user_agent_before,
            phone.user_agent_after, phone.call_id_before)  # fmt: skip


def phone_from_row(job_id: str, row: Sequence[Any]) -> PhoneRecord:
    uri, endpoint, aor, state, status, attempts, updated, next_at, before, after, call = row
    return PhoneRecord(job_id, str(uri), str(endpoint), str(aor), PhoneState(state),
                       None if status is None else int(status), int(attempts), float(updated),
                       float(next_at), str(before), str(after), str(call))  # fmt: skip

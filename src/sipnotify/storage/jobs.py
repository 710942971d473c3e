"""The fleet job store interface, and its values: a job (what was ordered, for which
selection, when it may start and until when it may retry, its state) and each phone's progress
in it. Small on purpose, like the contact store, so that a shared store (PostgreSQL) can
implement it later; `tests/storage/test_jobs.py` is the contract both must pass."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


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
        """Every job, oldest first."""
        ...

    def job(self, job_id: str) -> JobRecord | None: ...

    def phones(self, job_id: str) -> list[PhoneRecord]:
        """The job's phones in the order they were stored."""
        ...

    def counts(self, job_id: str) -> dict[PhoneState, int]:
        """How many of the job's phones are in each state (states with none left out), without
        reading them all: listing jobs stays fast while a large one runs."""
        ...

    def set_state(self, job_id: str, state: JobState) -> None: ...

    def update(self, phones: Sequence[PhoneRecord]) -> None:
        """Record the phones' progress (matched on job and URI), durably, before returning."""
        ...

    def close(self) -> None: ...

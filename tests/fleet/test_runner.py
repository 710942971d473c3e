"""A job's progress on a clock stepped by hand: pacing, answers, retries until the deadline,
the reboot confirmation window, and resuming after a restart without sending twice to a phone
that answered."""

from __future__ import annotations

import math
import random
from dataclasses import replace

from sipnotify.fleet.pacing import Pace, Pacer
from sipnotify.fleet.runner import RETRY_FIRST, JobRun
from sipnotify.storage.jobs import JobRecord, JobState, PhoneRecord, PhoneState

JOB = JobRecord("j1", "reboot", "all", 0.0, 0.0, 1000.0, JobState.RUNNING)


def phones(count: int) -> list[PhoneRecord]:
    return [PhoneRecord("j1", f"sip:p{n}@10.0.0.{n % 2}:5060", f"p{n}", f"p{n}",
                        call_id_before=f"reg-{n}") for n in range(count)]  # fmt: skip


CONFIRM_WINDOW = 300.0


def run(count: int, *, reboot: bool = False, pace: Pace | None = None) -> JobRun:
    pacer = Pacer(pace or Pace(rate=math.inf, in_flight=100, per_address=100),
                  rng=random.Random(3))  # fmt: skip
    return JobRun(JOB, phones(count), pacer, reboot=reboot,
                  address=lambda p: p.uri.split("@")[1].split(":")[0],
                  confirm_window=CONFIRM_WINDOW)  # fmt: skip


def states(job: JobRun) -> list[str]:
    """Each phone's state, checked against the counts the job keeps as it goes."""
    found = [p.state.value for p in job.phones]
    kept = {state.value: n for state, n in job.counts.items() if n}
    assert kept == {state: found.count(state) for state in found}
    return found


def test_every_phone_answered_ends_the_job() -> None:
    job = run(3)
    sent = job.due(0.0)
    assert [p.attempts for p in sent] == [1, 1, 1]
    assert states(job) == ["sent"] * 3
    assert job.due(0.0) == []  # nothing is sent twice while in flight
    for phone in sent:
        job.answered(phone.uri, 200, 0.1)
    assert states(job) == ["answered"] * 3
    assert job.done
    assert job.get_timer() is None
    assert len(job.changes()) == 6  # sent, then answered, for each


def test_the_rate_and_the_caps_hold_sends_back() -> None:
    job = run(6, pace=Pace(rate=2, jitter=0, in_flight=10, per_address=2))
    assert len(job.due(0.0)) == 1
    assert job.get_timer() == 0.5
    assert len(job.due(0.5)) == 1
    capped = run(6, pace=Pace(rate=math.inf, in_flight=10, per_address=2))
    first = capped.due(0.0)
    assert len(first) == 4  # two behind each of the two addresses
    capped.answered(first[0].uri, 200, 1.0)
    assert len(capped.due(1.0)) == 1


def test_no_answer_is_retried_with_backoff_until_the_deadline() -> None:
    job = run(1)
    (phone,) = job.due(0.0)
    job.answered(phone.uri, None, 32.0)
    (retrying,) = job.phones
    assert (retrying.state, retrying.next_at) == (PhoneState.RETRYING, 32.0 + RETRY_FIRST)
    assert job.due(40.0) == []
    assert job.get_timer() == 62.0
    (again,) = job.due(62.0)
    assert again.attempts == 2
    job.answered(again.uri, None, 94.0)
    assert job.phones[0].next_at == 94.0 + 2 * RETRY_FIRST
    job.handle_timer(1000.0)
    assert states(job) == ["failed"]
    assert job.done


def test_a_failure_answer_fails_the_phone_at_once() -> None:
    job = run(1)
    (phone,) = job.due(0.0)
    job.answered(phone.uri, 481, 0.2)
    assert (job.phones[0].state, job.phones[0].status) == (PhoneState.FAILED, 481)
    assert job.done


def test_a_reboot_is_confirmed_by_a_new_registration_or_marked_ignored() -> None:
    job = run(3, reboot=True)
    for phone in job.due(0.0):
        job.answered(phone.uri, 200, 1.0)
    assert not job.done
    job.registered("p0", "reg-0", "Yealink 1", 20.0)  # a refresh: the same Call-ID
    job.registered("p1", "new-call-id", "Yealink 2", 30.0)  # registered afresh
    assert states(job) == ["answered", "confirmed", "answered"]
    assert job.phones[1].user_agent_after == "Yealink 2"
    job.handle_timer(1.0 + CONFIRM_WINDOW)
    assert states(job) == ["ignored", "confirmed", "ignored"]
    assert job.done


def test_a_resumed_job_sends_only_to_phones_without_an_answer() -> None:
    answered = replace(phones(1)[0], state=PhoneState.ANSWERED, status=200)
    sent = replace(phones(2)[1], state=PhoneState.SENT, attempts=1)
    pending = phones(3)[2]
    pacer = Pacer(Pace(rate=math.inf), rng=random.Random(1))
    job = JobRun(JOB, [answered, sent, pending], pacer, reboot=False, address=lambda p: p.uri,
                 confirm_window=CONFIRM_WINDOW)  # fmt: skip
    assert [(p.uri, p.attempts) for p in job.due(5.0)] == [(sent.uri, 2), (pending.uri, 1)]

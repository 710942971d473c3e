"""The asyncio side of fleet jobs: starting one (selection, plan, store), running each on the
SIP endpoint at its pace with one timer per job, recording every phone's progress in the job
store before telling listeners, confirming reboots from the registrar's contact changes, and
resuming unfinished jobs after a restart.

A resumed job reaches only phones it already had, and only those the running configuration
still has: a reload never widens a job.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from sipnotify.config.sipnotify import FleetSettings
from sipnotify.fleet.catalogue import Catalogue, Verb
from sipnotify.fleet.pacing import Pace, Pacer
from sipnotify.fleet.plan import Mwi, Order, PlanError, Planned, Preset, Variables, plan, wire
from sipnotify.fleet.runner import JobRun
from sipnotify.fleet.selection import Phone, Selection, SelectionError, describe, select
from sipnotify.notify.notifier import Notifier, NotifyResult, Observation, Observer, ignore
from sipnotify.notify.targets import target_hop
from sipnotify.sip.ids import Ids
from sipnotify.sip.transactions.exchange import Final
from sipnotify.storage.base import StorageError
from sipnotify.storage.jobs import JobRecord, JobState, JobStore, PhoneRecord, PhoneState
from sipnotify.ua.addresses import Hop, Local

log = logging.getLogger("sipnotify.fleet")
# Seconds a running job gathers answers before one pass over them (store write, next sends):
# an answer is recorded at most this late, and a crash may lose that much of them (those
# phones are sent again on resume).
TICK = 0.01
FREEZE_FROM = 1000  # phones in a job from which its objects are kept out of full collections


class FleetError(Exception):
    """A job that cannot be started or found; the text is for the operator."""


@dataclass(frozen=True, slots=True)
class FleetOrder:
    """What an operator asks: what to send, to whom, how fast, from when and until when."""

    order: Order
    selection: Selection
    pace: Pace | None = None  # None: sipnotify.conf's
    confirmed: bool = False  # a destructive verb on many phones
    start_at: float | None = None  # wall-clock time; None: now
    deadline: float | None = None  # seconds after the start; None: sipnotify.conf's
    action_id: str = ""  # of the AMI request, carried by the job's events


# An `mwi` job's counts for its phones' endpoints: their mailboxes are set to them, and whoever
# else watches those mailboxes is told (the job itself tells the phones it selected).
Lamp = Callable[[Mwi, list[str]], None]
TellOwner = Callable[[str, str], None]  # (node, job_id)


def _nobody(_node: str, _job_id: str) -> None:
    """Alone: no other node runs a job."""


def _no_lamp(_order: Mwi, _endpoints: list[str]) -> None:
    """Without MWI: the job's NOTIFYs are all there is."""


class Listener(Protocol):
    def phone(self, job: JobRecord, phone: PhoneRecord) -> None:
        """A phone's progress, once stored."""

    def finished(self, job: JobRecord, counts: Mapping[PhoneState, int]) -> None:
        """The job ended; how many of its phones ended in each state."""


class FleetService:
    def __init__(
        self, *, store: JobStore, notifier: Notifier, catalogue: Catalogue,
        local_for: Callable[[Hop], Local], wall: Callable[[], float], ids: Ids,
        rng: random.Random, listener: Listener, settings: FleetSettings,
        observe: Observer = ignore, lamp: Lamp | None = None, node: str = "",
        tell_owner: TellOwner | None = None,
    ) -> None:  # fmt: skip
        """`node` is this node's name; `tell_owner(node, job_id)` tells another node that a
        job it runs changed state in the shared store."""
        self.settings = settings
        self._node, self._tell_owner = node, tell_owner or _nobody
        self._lamp = lamp or _no_lamp
        self._observe = observe
        self._store = store
        self._local_for = local_for
        self._notifier = notifier
        self.catalogue = catalogue
        self._wall = wall
        self._ids = ids
        self._rng = rng
        self._listener = listener
        self._runs: dict[str, _Running] = {}
        self._ended_counts: dict[str, dict[PhoneState, int]] = {}

    # -- what operators ask ----------------------------------------------------------------

    def preview(self, request: FleetOrder) -> list[Planned]:
        """The phones and what each would get, without storing or sending (a dry run, which
        needs no confirmation: it is how an operator looks before confirming)."""
        return self._plan(replace(request, confirmed=True))

    def _plan(self, request: FleetOrder) -> list[Planned]:
        phones = select(self._notifier.config, request.selection, self._notifier.registered)
        return plan(phones, request.order, self.catalogue, self._notifier.presets,
                    confirmed=request.confirmed,
                    confirm_above=self.settings.confirm_above)  # fmt: skip

    @property
    def default_pace(self) -> Pace:
        """The pace of a job whose order names none (sipnotify.conf's [fleet])."""
        s = self.settings
        return Pace(s.rate, s.in_flight, s.per_address, s.jitter)

    def wire(self, planned: Planned) -> bytes:
        """The NOTIFY a phone of a dry run would get, as it would leave."""
        local = self._local_for(target_hop(planned.phone.target))
        return wire(planned, local, self._notifier.config, self._ids)

    def start(self, request: FleetOrder) -> JobRecord:
        """Store a new job and start it (at once, or at its start time). Raises FleetError,
        SelectionError, PlanError or StorageError; then nothing was stored or sent."""
        now = self._wall()
        start = now if request.start_at is None else request.start_at
        if start < now - 1.0:
            raise FleetError("the start time is in the past")
        planned = self._plan(request)
        state = JobState.SCHEDULED if start > now else JobState.RUNNING
        pace = request.pace or self.default_pace
        deadline = self.settings.deadline if request.deadline is None else request.deadline
        job = JobRecord(self._ids(), encode(request.order), describe(request.selection), now,
                        start, start + deadline, state, pace.rate, pace.in_flight,
                        pace.per_address, pace.jitter, request.action_id)  # fmt: skip
        records = [_record(job.id, p.phone) for p in planned]
        self._store.create(job, records)
        self._run(job, records, planned)
        if isinstance(request.order, Mwi):  # the mailboxes take the counts too
            self._lamp(request.order, sorted({p.phone.target.endpoint.name for p in planned}))
        return job

    def jobs(self) -> list[JobRecord]:
        """Every job (in a cluster, every node's)."""
        return self._store.jobs()

    def mine(self) -> list[JobRecord]:
        """The jobs this node runs."""
        return self._store.mine()

    def job(self, job_id: str) -> tuple[JobRecord, list[PhoneRecord]]:
        job = self._store.job(job_id)
        if job is None:
            raise FleetError(f"no job {job_id}")
        return job, self._store.phones(job_id)

    def counts(self, job_id: str) -> dict[PhoneState, int]:
        """How many of the job's phones are in each state: a running job's from memory (no
        scan of a large job while it runs), an ended job's read once."""
        running = self._runs.get(job_id)
        if running is not None:
            return {state: n for state, n in running.run.counts.items() if n}
        counts = self._ended_counts.get(job_id)
        if counts is None:
            counts = self._store.counts(job_id)
            job = self._store.job(job_id)
            if job is not None and job.state.finished:  # they cannot change any more
                self._ended_counts[job_id] = counts
        return counts

    def pause(self, job_id: str) -> JobRecord:
        """No more sends until `resume`; answers to what was sent are still recorded."""
        job = self._open_job(job_id)
        if job.state is JobState.PAUSED:
            raise FleetError(f"job {job_id} is already paused")
        return self._change(job, JobState.PAUSED)

    def resume_job(self, job_id: str) -> JobRecord:
        job = self._open_job(job_id)
        if job.state is not JobState.PAUSED:
            raise FleetError(f"job {job_id} is not paused")
        state = JobState.SCHEDULED if job.start_at > self._wall() else JobState.RUNNING
        return self._change(job, state)

    def cancel(self, job_id: str) -> JobRecord:
        return self._change(self._open_job(job_id), JobState.CANCELLED)

    def _open_job(self, job_id: str) -> JobRecord:
        job, _ = self.job(job_id)
        if job.state.finished:
            raise FleetError(f"job {job_id} has already ended ({job.state.value})")
        return job

    def _change(self, job: JobRecord, state: JobState) -> JobRecord:
        """Store the new state, then have the node running the job act on it."""
        owner = self._store.set_state(job.id, state)
        if owner is None:  # it ended meanwhile (on another node)
            return self._open_job(job.id)  # raises, naming how it ended
        if owner in ("", self._node):
            self.heard(job.id)
        else:
            self._tell_owner(owner, job.id)
        return self.job(job.id)[0]

    def recheck(self) -> None:
        """Act on the stored state of every job running here (a change another node made
        may have been missed). Raises StorageError."""
        for job_id in list(self._runs):
            self.heard(job_id)

    def heard(self, job_id: str) -> None:
        """A job this node runs changed state in the store (here, or on another node): act
        on it. Raises StorageError."""
        job = self._store.job(job_id)
        running = self._runs.get(job_id)
        if job is None:
            return
        if job.state is JobState.CANCELLED and running is not None:
            del self._runs[job_id]
            running.end()
        elif job.state is JobState.PAUSED and running is not None:
            running.pause()
        elif job.state in (JobState.RUNNING, JobState.SCHEDULED):
            if running is None:
                self._resume(job)
            else:
                running.unpause()

    # -- what the rest of the process tells ------------------------------------------------

    def registered(self, aor: str, call_id: str, user_agent: str) -> None:
        """A registration was stored (a rebooted phone registers afresh)."""
        for running in list(self._runs.values()):
            running.run.registered(aor, call_id, user_agent, self._wall())
            running.settle()

    def resume(self) -> int:
        """Run again every job a restart interrupted; returns how many."""
        resumed = 0
        for job in self._store.mine():
            if job.state.finished or job.state is JobState.PAUSED or job.id in self._runs:
                continue
            try:
                self._resume(job)
            except StorageError as exc:  # the others still resume; this one at the next start
                log.error("cannot resume fleet job %s: %s", job.id, exc)
                continue
            resumed += 1
        return resumed

    def _resume(self, job: JobRecord) -> None:
        records = self._store.phones(job.id)
        self._run(job, records, self._replan(job, records))

    def stop(self) -> None:
        """Shutting down: jobs stay as stored, to be resumed at the next start."""
        for running in self._runs.values():
            running.end()
        self._runs.clear()

    # -- running ---------------------------------------------------------------------------

    def _run(self, job: JobRecord, records: list[PhoneRecord], planned: list[Planned]) -> None:
        by_uri = {str(p.phone.target.uri): p for p in planned}
        kept: list[PhoneRecord] = []
        gone: list[PhoneRecord] = []
        for record in records:
            (kept if record.uri in by_uri or record.state.settled else gone).append(record)
        if gone:  # no longer in the configuration: failed, never sent to
            failed = [_failed(r, self._wall()) for r in gone]
            self._store.update(failed)
            kept += failed
        pace = Pace(job.rate, job.in_flight, job.per_address, job.jitter)
        run = JobRun(job, kept, Pacer(pace, rng=self._rng), reboot=job.order == "reboot",
                     address=lambda r: by_uri[r.uri].phone.target.uri.host,
                     confirm_window=self.settings.confirm_window)  # fmt: skip
        running = self._runs[job.id] = _Running(self, run, by_uri)
        running.soon()  # after the reply that started it
        if len(records) >= FREEZE_FROM:
            _freeze()

    def _replan(self, job: JobRecord, records: list[PhoneRecord]) -> list[Planned]:
        config = self._notifier.config
        order = decode(job.order)
        wanted = {r.uri for r in records}
        planned = []
        for endpoint in sorted({r.endpoint for r in records} & set(config.endpoints)):
            selection = Selection(endpoints=(endpoint,))
            try:
                phones = select(config, selection, self._notifier.registered)
                mine = [p for p in phones if str(p.target.uri) in wanted]
                planned += plan(mine, order, self.catalogue, self._notifier.presets,
                                confirmed=True)  # fmt: skip
            except (SelectionError, PlanError) as exc:  # gone since: its phones fail
                log.warning("fleet job %s: %s: %s", job.id, endpoint, exc)
        return planned

    def _send(self, planned: Planned, done: Callable[[Final], None]) -> None:
        self._notifier.deliver(planned.phone.target, planned.content, done)

    def _observed(self, job: JobRecord, planned: Planned, final: Final) -> None:
        result = NotifyResult.of(planned.phone.target.endpoint.name, str(planned.phone.target.uri),
                                 final)  # fmt: skip
        self._observe(Observation("fleet", order_label(job.order), planned.vendor, result))

    def _stored(self, job: JobRecord, changes: list[PhoneRecord]) -> None:
        """Record the phones' progress, then tell of it. Raises StorageError (nothing told)."""
        latest = {phone.uri: phone for phone in changes}  # a phone's last change is its state
        self._store.update(list(latest.values()))
        for phone in changes:
            self._listener.phone(job, phone)

    def _ended(self, running: _Running) -> None:
        job = running.run.job
        self._runs.pop(job.id, None)
        try:
            self._store.set_state(job.id, JobState.DONE)
            ended = replace(job, state=JobState.DONE)
        except StorageError as exc:  # every phone's progress is stored; the next start ends it
            log.error("cannot record the end of fleet job %s: %s", job.id, exc)
            return
        counts = {state: n for state, n in running.run.counts.items() if n}
        self._ended_counts[job.id] = counts
        self._listener.finished(ended, counts)


class _Running:
    """One job on the loop: its progress and its one timer."""

    def __init__(self, service: FleetService, run: JobRun, planned: dict[str, Planned]) -> None:
        self._service = service
        self.run = run
        self._planned = planned
        self._timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        self._poked = False
        self._ended = False
        self._paused = False
        self._unsaved: list[PhoneRecord] = []

    def wake(self) -> None:
        """Send what is due, store what changed, and sleep until the next deadline."""
        self.stop()
        service, job = self._service, self.run.job
        if self._ended:
            return
        if job.start_at > service._wall():
            self._sleep_until(job.start_at)
            return
        now = service._wall()
        self.run.handle_timer(now)
        self._pump(now)
        self.settle()

    def _pump(self, now: float) -> None:
        """Send to every phone the pacer lets go now."""
        if not self._paused:
            for record in self.run.due(now):
                self._service._send(self._planned[record.uri], self._answered(record.uri))

    def settle(self) -> None:
        """Store what changed and tell of it; end the job, or sleep until its next deadline."""
        if self._ended:
            return
        self._unsaved += self.run.changes()
        if self._unsaved:
            try:
                self._service._stored(self.run.job, self._unsaved)
            except StorageError as exc:  # a locked or full store: kept, written next time
                log.error("cannot record fleet job %s progress (will retry): %s",
                          self.run.job.id, exc)  # fmt: skip
                self._sleep_until(self._service._wall() + 1.0)
                return
            self._unsaved = []
        if self.run.done:
            self._ended = True
            self.stop()
            self._service._ended(self)
            return
        when = self.run.get_timer()
        self.stop()
        if when is not None and not self._paused:
            self._sleep_until(when)

    def soon(self) -> None:
        self.stop()
        self._timer = self._loop.call_later(0.0, self.wake)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def pause(self) -> None:
        self._paused = True
        self.stop()

    def unpause(self) -> None:
        self._paused = False
        self.soon()

    def end(self) -> None:
        """No more sends or timers; answers still on their way are dropped."""
        self._ended = True
        self.stop()

    def _answered(self, uri: str) -> Callable[[Final], None]:
        def done(final: Final) -> None:
            if self._ended:
                return
            self._service._observed(self.run.job, self._planned[uri], final)
            status = final.status if final.failure is None else None
            now = self._service._wall()
            self.run.answered(uri, status, now)
            self._pump(now)  # a freed place in flight is taken at once
            self._poke()

        return done

    def _poke(self) -> None:
        """Take the answers of the next TICK in one pass: one store write for all of them,
        so a job writes at most 1/TICK times a second whatever its rate."""
        if not self._poked:
            self._poked = True
            self._loop.call_later(TICK, self._poked_wake)

    def _poked_wake(self) -> None:
        self._poked = False
        self.settle()

    def _sleep_until(self, when: float) -> None:
        self.stop()
        delay = max(TICK, when - self._service._wall())  # the pacer lets the rate catch up
        self._timer = self._loop.call_later(delay, self.wake)


def _freeze() -> None:
    """Keep a large job's phones out of the cyclic collector's full passes: they live as long
    as the job, hold no cycles (reference counting frees them when it ends), and walking
    100,000 of them at each full collection stalls the loop for a tenth of a second or more."""
    gc.freeze()


def _record(job_id: str, phone: Phone) -> PhoneRecord:
    binding = phone.binding
    return PhoneRecord(job_id, str(phone.target.uri), phone.target.endpoint.name, phone.aor,
                       user_agent_before=phone.user_agent,
                       call_id_before=binding.call_id if binding is not None else "")  # fmt: skip


def _failed(record: PhoneRecord, now: float) -> PhoneRecord:
    return replace(record, state=PhoneState.FAILED, updated_at=now)


def encode(order: Order) -> str:
    """The order as the store keeps it (and listings show it)."""
    if isinstance(order, Verb):
        return order.value
    if isinstance(order, Mwi):
        return f"mwi {order.new}/{order.old} ({order.urgent_new}/{order.urgent_old})"
    if isinstance(order, Preset):
        return f"preset {order.name}"
    return "variables " + json.dumps(order.items)


def order_label(text: str) -> str:
    """A stored order as a metric names it: the verb, `mwi`, `variables`, or the preset."""
    kind, _, rest = text.partition(" ")
    return rest if kind == "preset" else kind


def decode(text: str) -> Order:
    kind, _, rest = text.partition(" ")
    if kind in ("resync", "reboot"):
        return Verb(kind)
    if kind == "preset":
        return Preset(rest)
    if kind == "variables":
        return Variables(tuple((str(k), str(v)) for k, v in json.loads(rest)))
    counts = rest.replace("(", " ").replace(")", " ").replace("/", " ").split()
    new, old, urgent_new, urgent_old = (int(n) for n in counts)
    return Mwi(new, old, urgent_new, urgent_old)

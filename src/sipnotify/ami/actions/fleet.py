"""The fleet actions: FleetNotify (start a job, or show it as a dry run), FleetJobs (list
jobs), FleetJob (one job's phones), FleetPause, FleetResume and FleetCancel, and the events a
job sends as it goes (FleetPhone for each phone's progress, FleetJobComplete at its end).
sipnotify's own actions,
in Asterisk's style: list replies as PJSIPShowEndpoints frames them, errors as `Response:
Error` with a message that says what was wrong. They need the `system` class, as PJSIPNotify.

FleetPause and FleetResume hold a job's sends and let them go again.

FleetNotify takes what to send — `Verb` (resync, reboot), `Option` (a pjsip_notify.conf
preset), `MWI` (`new/old`, `0/0` for the lamp off) or `Variable` lines — whom — `All: yes`,
`Endpoint` (may repeat), `Match` (a glob on the endpoint name), `Regex`, `UserAgent`, `AOR`,
`Registration` (registered, static) — and how: `Rate` (phones per second), `InFlight`,
`PerAddress`, `Jitter`, `StartAt` (Unix time), `Deadline` (seconds), `Confirm: yes` for a
reboot of many phones, `DryRun: yes` to see each phone, its vendor and the exact NOTIFY.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from sipnotify.ami import replies
from sipnotify.ami.actions.pjsip_show import event_list
from sipnotify.ami.audience import Broadcast
from sipnotify.ami.codec import AmiMessage, Fields
from sipnotify.ami.session import Action, ActionResult, AmiContext, SessionState, reply
from sipnotify.ami.variables import split_variables
from sipnotify.config import permissions
from sipnotify.config.numbers import seconds, whole_number
from sipnotify.fleet.catalogue import Verb
from sipnotify.fleet.pacing import Pace, PaceError
from sipnotify.fleet.plan import Mwi, Order, PlanError, Planned, Preset, Variables
from sipnotify.fleet.selection import Registration, Selection, SelectionError
from sipnotify.fleet.service import FleetError, FleetOrder
from sipnotify.storage.base import StorageError
from sipnotify.storage.jobs import JobRecord, PhoneRecord, PhoneState

WHAT = "FleetNotify needs one of Verb, Option, MWI or Variable"
_YES = ("yes", "true", "1", "on")


class Refused(Exception):
    """A field that cannot be used; the text names it."""


def fleet_notify(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    try:
        order = FleetOrder(_order(request), _selection(request),
                           _pace(request, ctx.fleet.default_pace),
                           confirmed=_yes(request, "Confirm"), start_at=_start(request),
                           deadline=_seconds(request, "Deadline", ctx.fleet.settings.deadline),
                           action_id=request.get("ActionID"))  # fmt: skip
        if _yes(request, "DryRun"):
            return _dry_run(ctx, request, ctx.fleet.preview(order))
        job = ctx.fleet.start(order)
    except (Refused, SelectionError, PlanError, PaceError, FleetError, StorageError) as exc:
        return reply(replies.error(request, str(exc)))
    total = sum(ctx.fleet.counts(job.id).values())
    extra = (("JobID", job.id), ("Phones", str(total)), ("State", job.state.value))
    return reply(replies.success(request, "Fleet job started", extra=extra))


def fleet_jobs(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    items = [("FleetJob", job_fields(job, ctx.fleet.counts(job.id))) for job in ctx.fleet.jobs()]
    return event_list(request, "Fleet jobs follow", items, "FleetJobListComplete")


def fleet_job(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    try:
        job, phones = ctx.fleet.job(request.get("JobID").strip())
    except FleetError as exc:
        return reply(replies.error(request, str(exc)))
    items = [("FleetJobPhone", phone_fields(job, p)) for p in phones]
    return event_list(request, f"Fleet job {job.id} follows", items, "FleetJobPhoneListComplete")


def fleet_cancel(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    return _change(request, ctx.fleet.cancel, "cancelled")


def fleet_pause(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    return _change(request, ctx.fleet.pause, "paused")


def fleet_resume(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    return _change(request, ctx.fleet.resume_job, "resumed")


def _change(request: AmiMessage, change: Callable[[str], JobRecord], done: str) -> ActionResult:
    try:
        job = change(request.get("JobID").strip())
    except (FleetError, StorageError) as exc:
        return reply(replies.error(request, str(exc)))
    return reply(replies.success(request, f"Fleet job {job.id} {done}"))


# -- the fields of a request -------------------------------------------------------------------


def _order(request: AmiMessage) -> Order:
    given = {n: request.get(n).strip() for n in ("Verb", "Option", "MWI")}
    variables = [v for line in request.get_all("Variable") for v in split_variables(line)]
    if sum(map(bool, given.values())) + bool(variables) != 1:
        raise Refused(WHAT)
    if given["Verb"]:
        verb = next((v for v in Verb if v.value == given["Verb"].lower()), None)
        if verb is None:
            raise Refused(f"unknown verb '{given['Verb']}': use resync or reboot")
        return verb
    if given["Option"]:
        return Preset(given["Option"])
    if given["MWI"]:
        return _mwi(given["MWI"])
    return Variables(tuple(variables))


def _mwi(text: str) -> Mwi:
    """`new/old`, as Voice-Message counts (`0/0`: the lamp off)."""
    new, slash, old = text.partition("/")
    counts = [whole_number(n.strip(), maximum=999_999) for n in (new, old)]
    if not slash or counts[0] is None or counts[1] is None:
        raise Refused(f"MWI '{text}' is not new/old, as 2/0")
    return Mwi(new=counts[0], old=counts[1])


def _selection(request: AmiMessage) -> Selection:
    registration = request.get("Registration").strip().lower() or "any"
    chosen = next((r for r in Registration if r.value == registration), None)
    if chosen is None:
        raise Refused(f"Registration '{registration}': use registered, static or any")
    endpoints = tuple(e.strip() for e in request.get_all("Endpoint") if e.strip())
    aors = tuple(a.strip() for a in request.get_all("AOR") if a.strip())
    return Selection(endpoints=endpoints, all=_yes(request, "All"),
                     glob=request.get("Match").strip(), regex=request.get("Regex").strip(),
                     user_agent=request.get("UserAgent").strip(), aors=aors,
                     registration=chosen)  # fmt: skip


def _pace(request: AmiMessage, default: Pace) -> Pace:
    """The request's pacing; what it leaves out is sipnotify.conf's."""
    rate = request.get("Rate").strip()
    return Pace(
        rate=math.inf if rate.lower() == "unlimited" else _number(request, "Rate", default.rate),
        in_flight=_count(request, "InFlight", default.in_flight),
        per_address=_count(request, "PerAddress", default.per_address),
        jitter=_number(request, "Jitter", default.jitter),
    )


def _count(request: AmiMessage, name: str, default: int) -> int:
    value = _number(request, name, float(default))
    if not value.is_integer():
        raise Refused(f"{name} '{request.get(name).strip()}' is not a whole number")
    return int(value)


def _number(request: AmiMessage, name: str, default: float) -> float:
    text = request.get(name).strip()
    if not text:
        return default
    try:
        value = float(text) if text.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise Refused(f"{name} '{text}' is not a number")
    return value


def _seconds(request: AmiMessage, name: str, default: float) -> float:
    text = request.get(name).strip()
    value = seconds(text) if text else default
    if value is None or value <= 0:
        raise Refused(f"{name} '{text}' is not a number of seconds")
    return value


def _start(request: AmiMessage) -> float | None:
    text = request.get("StartAt").strip()
    if not text:
        return None
    value = seconds(text)
    if value is None:
        raise Refused(f"StartAt '{text}' is not a Unix time")
    return value


def _yes(request: AmiMessage, name: str) -> bool:
    return request.get(name).strip().lower() in _YES


# -- what is sent back --------------------------------------------------------------------------


def _dry_run(ctx: AmiContext, request: AmiMessage, planned: list[Planned]) -> ActionResult:
    items = [("FleetDryRunPhone", _dry_fields(ctx, p)) for p in planned]
    return event_list(request, "Fleet dry run follows", items, "FleetDryRunComplete")


def _dry_fields(ctx: AmiContext, planned: Planned) -> Fields:
    phone = planned.phone
    lines = ctx.fleet.wire(planned).decode("utf-8", "replace").split("\r\n")
    return (
        ("Endpoint", phone.target.endpoint.name),
        ("URI", str(phone.target.uri)),
        ("AOR", phone.aor),
        ("UserAgent", phone.user_agent),
        ("Vendor", planned.vendor),
        *(("Request", line) for line in lines if line),
    )


def job_fields(job: JobRecord, counts: Mapping[PhoneState, int]) -> Fields:
    return (
        ("JobID", job.id),
        ("Order", job.order),
        ("Selection", job.selection),
        ("State", job.state.value),
        ("Created", f"{job.created_at:.3f}"),
        ("StartAt", f"{job.start_at:.3f}"),
        ("Deadline", f"{job.deadline:.3f}"),
        ("Total", str(sum(counts.values()))),
        *((state.value.capitalize(), str(counts.get(state, 0))) for state in PhoneState),
    )


def phone_fields(job: JobRecord, phone: PhoneRecord) -> Fields:
    return (
        ("JobID", job.id),
        ("Endpoint", phone.endpoint),
        ("URI", phone.uri),
        ("AOR", phone.aor),
        ("State", phone.state.value),
        ("StatusCode", "" if phone.status is None else str(phone.status)),
        ("Attempts", str(phone.attempts)),
        ("UserAgentBefore", phone.user_agent_before),
        ("UserAgentAfter", phone.user_agent_after),
    )


def phone_event(job: JobRecord, phone: PhoneRecord) -> Broadcast:
    return Broadcast("FleetPhone", permissions.SYSTEM, phone_fields(job, phone), job.action_id)


def complete_event(job: JobRecord, counts: Mapping[PhoneState, int]) -> Broadcast:
    fields = job_fields(job, counts)
    return Broadcast("FleetJobComplete", permissions.SYSTEM, fields, job.action_id)


class EventSink(Protocol):
    """Where fleet events go: this node's sessions (Audience), and in a cluster the other
    nodes' sessions too."""

    def listening(self, category: int) -> bool: ...

    def publish_all(self, events: Iterable[Broadcast]) -> None: ...


class FleetEvents:
    """A fleet job's progress, told to every AMI session that takes `system` events, with the
    ActionID of the request that started the job."""

    def __init__(self, audience: EventSink) -> None:
        self._audience = audience

    def phone(self, job: JobRecord, phone: PhoneRecord) -> None:
        if self._audience.listening(permissions.SYSTEM):
            self._audience.publish_all((phone_event(job, phone),))

    def finished(self, job: JobRecord, counts: Mapping[PhoneState, int]) -> None:
        self._audience.publish_all((complete_event(job, counts),))


ACTIONS = (
    Action("FleetNotify", "Send a NOTIFY to a fleet of phones.", permissions.SYSTEM,
           fleet_notify),
    Action("FleetJobs", "List fleet jobs.", permissions.SYSTEM, fleet_jobs),
    Action("FleetJob", "Show a fleet job's phones.", permissions.SYSTEM, fleet_job),
    Action("FleetCancel", "Cancel a fleet job.", permissions.SYSTEM, fleet_cancel),
    Action("FleetPause", "Pause a fleet job.", permissions.SYSTEM, fleet_pause),
    Action("FleetResume", "Resume a paused fleet job.", permissions.SYSTEM, fleet_resume),
)  # fmt: skip

"""`sipnotify resync|reboot|mwi` and `sipnotify jobs` over AMI: start a fleet job (or show its
dry run) and follow it to its end, printing each phone as it settles and a summary; list, show
and cancel jobs. The fleet actions are sipnotify's own (README, Fleet jobs)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from sipnotify.ami.codec import AmiMessage, encode
from sipnotify.cli.amiclient import ClientError, Messages, Server, Show, connect, listing, login

# The phone states a job ends a phone in (answered: for any verb but reboot).
SETTLED = frozenset(("answered", "failed", "confirmed", "ignored"))
GOOD = frozenset(("answered", "confirmed"))


@dataclass
class JobReport:
    """What a job did: its id, and each phone's last state."""

    job_id: str = ""
    total: int = 0
    phones: dict[str, AmiMessage] = field(default_factory=dict)  # by URI
    dry_run: list[AmiMessage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every phone answered (or, after a reboot, confirmed)."""
        states = [p.get("State") for p in self.phones.values()]
        return len(states) == self.total and all(s in GOOD for s in states)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for phone in self.phones.values():
            found[phone.get("State")] = found.get(phone.get("State"), 0) + 1
        return found

    def rows(self) -> list[dict[str, str]]:
        names = ("Endpoint", "URI", "State", "StatusCode", "Attempts", "UserAgentBefore",
                 "UserAgentAfter")  # fmt: skip
        return [{n: p.get(n) for n in names} for p in self.phones.values()]


async def run_job(server: Server, fields: Sequence[tuple[str, str]], show: Show) -> JobReport:
    """Send FleetNotify with `fields`; follow the job (or collect the dry run) to its end.
    Raises ClientError, with the server's message for a refused job."""
    reader, writer = await connect(server)
    report = JobReport()
    try:
        messages = await login(reader, writer, server.username, server.secret, events="system")
        writer.write(encode([("Action", "FleetNotify"), ("ActionID", "fleet"), *fields]))
        answer = await _reply(messages)
        if answer.get("Response") != "Success":
            raise ClientError(answer.get("Message").strip())
        if answer.get("EventList") == "start":  # a dry run
            while (item := await messages.next()).get("Event") != "FleetDryRunComplete":
                report.dry_run.append(item)
            return report
        report.job_id, report.total = answer.get("JobID"), int(answer.get("Phones") or 0)
        show(f"job {report.job_id}: {report.total} phones")
        while True:
            message = await messages.next()
            if message.get("JobID") != report.job_id:
                continue
            if message.get("Event") == "FleetPhone":
                _phone(report, message, show)
            elif message.get("Event") == "FleetJobComplete":
                return report
    finally:
        writer.close()


async def _reply(messages: Messages) -> AmiMessage:
    """The reply to our action, past any event that came first."""
    while True:
        message = await messages.next()
        if message.get("ActionID") == "fleet" and message.get("Response"):
            return message


def _phone(report: JobReport, message: AmiMessage, show: Show) -> None:
    state = message.get("State")
    report.phones[message.get("URI")] = message
    if state in SETTLED:
        code = message.get("StatusCode")
        after = message.get("UserAgentAfter")
        detail = "".join((f" {code}" if code else "", f" ({after})" if after else ""))
        show(f"{message.get('Endpoint')} {message.get('URI')} -> {state}{detail}")


def summary(report: JobReport) -> str:
    counts = ", ".join(f"{n} {state}" for state, n in sorted(report.counts().items()))
    return f"job {report.job_id}: {report.total} phones: {counts or 'none'}"


def as_json(report: JobReport) -> str:
    return json.dumps({"job": report.job_id, "phones": report.rows()}, indent=2)


async def jobs(server: Server) -> list[AmiMessage]:
    return await listing(server, "FleetJobs")


async def job(server: Server, job_id: str) -> list[AmiMessage]:
    return await listing(server, "FleetJob", (("JobID", job_id),))


async def change(server: Server, action: str, job_id: str) -> str:
    """FleetCancel, FleetPause or FleetResume; the server's message."""
    reader, writer = await connect(server)
    try:
        messages = await login(reader, writer, server.username, server.secret, events="off")
        writer.write(encode([("Action", action), ("ActionID", "fleet"), ("JobID", job_id)]))
        answer = await _reply(messages)
        if answer.get("Response") != "Success":
            raise ClientError(answer.get("Message").strip())
        return answer.get("Message")
    finally:
        writer.close()

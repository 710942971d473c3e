"""`sipnotify resync|reboot|mwi` and `sipnotify jobs` over AMI: start a fleet job (or show its
dry run) and follow it to its end, telling a watcher (cli/present.py) of each phone's progress;
list, show, pause, resume and cancel jobs. The fleet actions are sipnotify's own (README, Fleet
jobs)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sipnotify.ami.codec import AmiMessage, encode
from sipnotify.cli.amiclient import ClientError, Messages, Server, connect, listing, login

PHONE_COLUMNS = ("Endpoint", "URI", "State", "StatusCode", "Attempts", "UserAgentBefore",
                 "UserAgentAfter")  # fmt: skip


class Format(enum.Enum):
    """How a fleet command prints (cli/present.py)."""

    TEXT = "text"
    JSON = "json"
    CSV = "csv"


class Watcher(Protocol):
    def started(self, report: JobReport) -> None: ...

    def phone(self, report: JobReport, message: AmiMessage) -> None: ...


@dataclass
class JobReport:
    """What a job did: its id, and each phone's last state."""

    reboot: bool = False  # then `answered` is not the end: confirmed or ignored is
    job_id: str = ""
    total: int = 0
    phones: dict[str, AmiMessage] = field(default_factory=dict)  # by URI
    dry_run: list[AmiMessage] = field(default_factory=list)

    @property
    def good(self) -> frozenset[str]:
        """The states of a phone that did what it was told."""
        return frozenset(("confirmed",) if self.reboot else ("answered",))

    def settled(self, state: str) -> bool:
        """Whether the job is done with a phone in `state`."""
        return state in self.good or state in ("failed", "ignored")

    @property
    def ok(self) -> bool:
        """Every phone answered (or, after a reboot, confirmed)."""
        states = [p.get("State") for p in self.phones.values()]
        return len(states) == self.total and all(s in self.good for s in states)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for phone in self.phones.values():
            found[phone.get("State")] = found.get(phone.get("State"), 0) + 1
        return found

    def rows(self) -> list[dict[str, str]]:
        return [{n: p.get(n) for n in PHONE_COLUMNS} for p in self.phones.values()]


async def run_job(server: Server, fields: Sequence[tuple[str, str]], report: JobReport,
                  watcher: Watcher) -> None:  # fmt: skip
    """Send FleetNotify with `fields`; follow the job (or collect the dry run) to its end into
    `report`. Raises ClientError, with the server's message for a refused job."""
    reader, writer = await connect(server)
    try:
        messages = await login(reader, writer, server.username, server.secret, events="system")
        writer.write(encode([("Action", "FleetNotify"), ("ActionID", "fleet"), *fields]))
        answer = await _reply(messages)
        if answer.get("Response") != "Success":
            raise ClientError(answer.get("Message").strip())
        if answer.get("EventList") == "start":  # a dry run
            while (item := await messages.next()).get("Event") != "FleetDryRunComplete":
                report.dry_run.append(item)
            return
        report.job_id, report.total = answer.get("JobID"), int(answer.get("Phones") or 0)
        watcher.started(report)
        while True:
            message = await messages.next()
            if message.get("JobID") != report.job_id:
                continue
            if message.get("Event") == "FleetPhone":
                report.phones[message.get("URI")] = message
                watcher.phone(report, message)
            elif message.get("Event") == "FleetJobComplete":
                return
    finally:
        writer.close()


async def _reply(messages: Messages) -> AmiMessage:
    """The reply to our action, past any event that came first."""
    while True:
        message = await messages.next()
        if message.get("ActionID") == "fleet" and message.get("Response"):
            return message


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

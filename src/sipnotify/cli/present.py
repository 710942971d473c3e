"""How the fleet commands show their work. On a terminal: a live progress bar with the count of
phones in each state, failures printed above it as they come, and tables at the end (rich).
Anywhere else (a pipe, a log, cron): one plain line per settled phone and a summary line.
On request: every phone as JSON or CSV, and nothing else on stdout."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sipnotify.ami.codec import AmiMessage
from sipnotify.cli import fleet
from sipnotify.cli.fleet import PHONE_COLUMNS, Format, JobReport

PROBLEM_ROWS = 50  # phones listed by name in the final table on a terminal


class Watcher(fleet.Watcher, Protocol):
    """Told of a job's progress as its events arrive; closed when the job ends."""

    def close(self) -> None: ...


class Quiet:
    """JSON or CSV: the phones are printed at the end, nothing while the job runs."""

    def started(self, report: JobReport) -> None:
        del report

    def phone(self, report: JobReport, message: AmiMessage) -> None:
        del report, message

    def close(self) -> None:
        return None


class Lines:
    """Not a terminal: a line when the job starts and one per phone as it settles."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def started(self, report: JobReport) -> None:
        self._print(f"job {report.job_id}: {report.total} phones")

    def phone(self, report: JobReport, message: AmiMessage) -> None:
        if report.settled(message.get("State")):
            self._print(phone_line(message))

    def close(self) -> None:
        return None

    def _print(self, line: str) -> None:
        print(line, file=self._out, flush=True)


class Bar:
    """A terminal: a progress bar over the settled phones, with the count in each state;
    phones that failed or ignored a reboot are printed above it as they settle."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._progress = Progress(
            TextColumn("job {task.fields[job]}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), console=console,
        )  # fmt: skip
        self._task = self._progress.add_task("job", total=None, job="", counts="")

    def started(self, report: JobReport) -> None:
        self._progress.update(self._task, total=report.total, job=report.job_id)
        self._progress.start()

    def phone(self, report: JobReport, message: AmiMessage) -> None:
        done = sum(report.settled(p.get("State")) for p in report.phones.values())
        counts = ", ".join(f"{n} {state}" for state, n in sorted(report.counts().items()))
        self._progress.update(self._task, completed=done, counts=counts)
        if message.get("State") in ("failed", "ignored"):
            self._progress.console.print(phone_line(message), markup=False, highlight=False)

    def close(self) -> None:
        self._progress.stop()


def watcher(form: Format, out: TextIO) -> Watcher:
    if form is not Format.TEXT:
        return Quiet()
    if out.isatty():
        return Bar(Console(file=out))
    return Lines(out)


def phone_line(message: AmiMessage) -> str:
    code, after = message.get("StatusCode"), message.get("UserAgentAfter")
    detail = "".join((f" {code}" if code else "", f" ({after})" if after else ""))
    return f"{message.get('Endpoint')} {message.get('URI')} -> {message.get('State')}{detail}"


def result(report: JobReport, form: Format, out: TextIO) -> None:
    """What the job did, once it ended."""
    if form is Format.JSON:
        print(json.dumps({"job": report.job_id, "phones": report.rows()}, indent=2), file=out)
    elif form is Format.CSV:
        out.write(csv_text(report.rows(), PHONE_COLUMNS))
    elif out.isatty():
        _result_tables(report, Console(file=out))
    else:
        print(summary(report), file=out)


def summary(report: JobReport) -> str:
    counts = ", ".join(f"{n} {state}" for state, n in sorted(report.counts().items()))
    return f"job {report.job_id}: {report.total} phones: {counts or 'none'}"


def _result_tables(report: JobReport, console: Console) -> None:
    states = Table(title=f"job {report.job_id}: {report.total} phones")
    states.add_column("state")
    states.add_column("phones", justify="right")
    for state, count in sorted(report.counts().items()):
        states.add_row(state, str(count))
    console.print(states)
    problems = [p for p in report.rows() if p["State"] not in report.good]
    if problems:
        console.print(table(problems[:PROBLEM_ROWS], PHONE_COLUMNS, title="phones to look at"))
        if len(problems) > PROBLEM_ROWS:
            console.print(f"… and {len(problems) - PROBLEM_ROWS} more (`sipnotify jobs show`)")


def table(rows: Sequence[Mapping[str, str]], names: Sequence[str], title: str = "") -> Table:
    shown = Table(title=title or None)
    for name in names:
        shown.add_column(name)
    for row in rows:
        shown.add_row(*(row.get(name, "") for name in names))
    return shown


def listing(rows: Sequence[Mapping[str, str]], names: Sequence[str], form: Format,
            out: TextIO) -> None:  # fmt: skip
    """Jobs or a job's phones: a table on a terminal, `name=value` lines elsewhere."""
    if form is Format.JSON:
        print(json.dumps([{n: row.get(n, "") for n in names} for row in rows], indent=2), file=out)
    elif form is Format.CSV:
        out.write(csv_text(rows, names))
    elif out.isatty():
        Console(file=out).print(table(rows, names))
    else:
        for row in rows:
            print("  ".join(f"{name}={row.get(name, '')}" for name in names), file=out)


def csv_text(rows: Sequence[Mapping[str, str]], names: Sequence[str]) -> str:
    """RFC 4180 CSV with a header line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([row.get(name, "") for name in names])
    return buffer.getvalue()

"""How fleet commands print: plain lines off a terminal, a progress bar and tables on one, and
JSON or CSV on request."""

from __future__ import annotations

import csv
import io
import json

from rich.console import Console

from sipnotify.ami.codec import AmiMessage
from sipnotify.cli import present
from sipnotify.cli.fleet import PHONE_COLUMNS, Format, JobReport


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def phone(n: int, state: str, code: str = "200", after: str = "") -> AmiMessage:
    return AmiMessage(headers=(
        ("Event", "FleetPhone"), ("JobID", "j1"), ("Endpoint", f"desk{n}"),
        ("URI", f"sip:desk{n}@192.0.2.{n}:5060"), ("State", state), ("StatusCode", code),
        ("Attempts", "1"), ("UserAgentBefore", "Yealink 1"), ("UserAgentAfter", after),
    ))  # fmt: skip


def followed(watcher: present.Watcher, *messages: AmiMessage, reboot: bool = False) -> JobReport:
    report = JobReport(reboot=reboot, job_id="j1", total=3)
    watcher.started(report)
    for message in messages:
        report.phones[message.get("URI")] = message
        watcher.phone(report, message)
    watcher.close()
    return report


def test_off_a_terminal_each_settled_phone_is_a_line_and_the_end_a_summary() -> None:
    out = io.StringIO()
    watcher = present.watcher(Format.TEXT, out)
    assert isinstance(watcher, present.Lines)
    report = followed(watcher, phone(1, "sent", ""), phone(1, "answered"), phone(2, "answered"),
                      phone(3, "failed", "489"))  # fmt: skip
    present.result(report, Format.TEXT, out)
    assert out.getvalue().splitlines() == [
        "job j1: 3 phones",
        "desk1 sip:desk1@192.0.2.1:5060 -> answered 200",
        "desk2 sip:desk2@192.0.2.2:5060 -> answered 200",
        "desk3 sip:desk3@192.0.2.3:5060 -> failed 489",
        "job j1: 3 phones: 2 answered, 1 failed",
    ]
    assert not report.ok


def test_after_a_reboot_only_confirmed_phones_are_good() -> None:
    report = followed(present.Quiet(), phone(1, "confirmed", after="Yealink 2"),
                      phone(2, "ignored"), phone(3, "answered"), reboot=True)  # fmt: skip
    assert (report.settled("answered"), report.settled("ignored")) == (False, True)
    assert not report.ok
    done = followed(present.Quiet(), *(phone(n, "confirmed") for n in (1, 2, 3)), reboot=True)
    assert done.ok


def test_on_a_terminal_a_progress_bar_then_tables_of_states_and_problems() -> None:
    out = Terminal()
    watcher = present.watcher(Format.TEXT, out)
    assert isinstance(watcher, present.Bar)
    bar = present.Bar(Console(file=out, force_terminal=True, width=120))
    report = followed(bar, phone(1, "confirmed", after="Yealink 2"), phone(2, "ignored"),
                      phone(3, "failed", "481"), reboot=True)  # fmt: skip
    drawn = out.getvalue()
    assert "job j1" in drawn
    assert "3/3" in drawn  # every phone settled
    assert "desk2 sip:desk2@192.0.2.2:5060 -> ignored 200" in drawn  # printed above the bar
    tables = Terminal()
    present._result_tables(report, Console(file=tables, width=160))
    text = tables.getvalue()
    assert "job j1: 3 phones" in text
    assert "phones to look at" in text
    assert "desk3" in text
    assert "481" in text
    assert "desk1" not in text.split("look at")[1]


def test_json_and_csv_carry_every_phone_and_nothing_else() -> None:
    report = followed(present.Quiet(), phone(1, "answered"), phone(2, "failed", "489"))
    as_json = io.StringIO()
    present.result(report, Format.JSON, as_json)
    loaded = json.loads(as_json.getvalue())
    assert loaded["job"] == "j1"
    assert [p["State"] for p in loaded["phones"]] == ["answered", "failed"]
    as_csv = io.StringIO()
    present.result(report, Format.CSV, as_csv)
    rows = list(csv.reader(io.StringIO(as_csv.getvalue())))
    assert rows[0] == list(PHONE_COLUMNS)
    assert rows[2][:4] == ["desk2", "sip:desk2@192.0.2.2:5060", "failed", "489"]


def test_csv_quotes_what_needs_quoting() -> None:
    text = present.csv_text([{"A": 'say "hi", then go', "B": "x"}], ("A", "B"))
    assert text == 'A,B\r\n"say ""hi"", then go",x\r\n'


def test_listings_as_lines_tables_json_and_csv() -> None:
    rows = [{"JobID": "j1", "State": "done"}, {"JobID": "j2", "State": "running"}]
    names = ("JobID", "State")
    lines = io.StringIO()
    present.listing(rows, names, Format.TEXT, lines)
    assert lines.getvalue() == "JobID=j1  State=done\nJobID=j2  State=running\n"
    drawn = Terminal()
    present.listing(rows, names, Format.TEXT, drawn)
    assert "JobID" in drawn.getvalue()
    assert "running" in drawn.getvalue()
    assert "JobID=" not in drawn.getvalue()
    as_json = io.StringIO()
    present.listing(rows, names, Format.JSON, as_json)
    assert json.loads(as_json.getvalue()) == rows
    as_csv = io.StringIO()
    present.listing(rows, names, Format.CSV, as_csv)
    assert as_csv.getvalue() == "JobID,State\r\nj1,done\r\nj2,running\r\n"

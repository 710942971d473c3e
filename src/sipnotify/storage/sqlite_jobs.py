"""SQLite job store, the embedded default: the contacts' file holds the jobs too (two more
tables), with the same durability (WAL, synchronous=NORMAL: a recorded answer survives a
restart or `kill -9`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sipnotify.storage.base import StorageError
from sipnotify.storage.jobs import (
    JOB_COLUMNS,
    PHONE_COLUMNS,
    JobRecord,
    JobState,
    PhoneRecord,
    PhoneState,
    job_from_row,
    job_row,
    phone_from_row,
    phone_row,
)
from sipnotify.storage.sqlite import add_columns, open_database

Row = tuple[Any, ...]  # as sqlite3 returns it: the columns are ours, in _JOB_/PHONE_COLUMNS
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY, ord TEXT, selection TEXT, created_at REAL, start_at REAL,
        deadline REAL, state TEXT, rate REAL, in_flight INTEGER, per_address INTEGER,
        jitter REAL, action_id TEXT NOT NULL DEFAULT '')""",
    """CREATE TABLE IF NOT EXISTS job_phones (
        job_id TEXT, seq INTEGER, uri TEXT, endpoint TEXT, aor TEXT, state TEXT,
        status INTEGER, attempts INTEGER, updated_at REAL, next_at REAL,
        user_agent_before TEXT, user_agent_after TEXT, call_id_before TEXT,
        PRIMARY KEY (job_id, uri))""",
)
_UNFINISHED = ", ".join(f"'{s.value}'" for s in JobState if not s.finished)
# Columns added since the table was first shipped: a file from then gets them at open.
_ADDED = (("jobs", "action_id", "TEXT NOT NULL DEFAULT ''"),)


class SqliteJobStore:
    def __init__(self, path: Path) -> None:
        self._db = open_database(path, _SCHEMA)
        add_columns(self._db, path, _ADDED)

    def create(self, job: JobRecord, phones: Sequence[PhoneRecord]) -> None:
        rows = [(job.id, n, *phone_row(p)) for n, p in enumerate(phones)]
        self._write(
            (f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
             [job_row(job)]),
            (f"INSERT INTO job_phones (job_id, seq, {PHONE_COLUMNS}) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows),
        )  # fmt: skip

    def jobs(self) -> list[JobRecord]:
        rows = self._read(f"SELECT {JOB_COLUMNS} FROM jobs ORDER BY created_at, id", ())
        return [job_from_row(row) for row in rows]

    def mine(self) -> list[JobRecord]:
        return self.jobs()

    def job(self, job_id: str) -> JobRecord | None:
        rows = self._read(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return job_from_row(rows[0]) if rows else None

    def phones(self, job_id: str) -> list[PhoneRecord]:
        query = f"SELECT {PHONE_COLUMNS} FROM job_phones WHERE job_id = ? ORDER BY seq"
        return [phone_from_row(job_id, row) for row in self._read(query, (job_id,))]

    def counts(self, job_id: str) -> dict[PhoneState, int]:
        query = "SELECT state, COUNT(*) FROM job_phones WHERE job_id = ? GROUP BY state"
        return {PhoneState(state): count for state, count in self._read(query, (job_id,))}

    def set_state(self, job_id: str, state: JobState) -> str | None:
        try:
            with self._db:  # one statement: its own transaction
                changed = self._db.execute(
                    f"UPDATE jobs SET state = ? WHERE id = ? AND state IN ({_UNFINISHED})",
                    (state.value, job_id),
                ).rowcount
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc
        return "" if changed else None

    def update(self, phones: Sequence[PhoneRecord]) -> None:
        sets = ", ".join(f"{c.strip()} = ?" for c in PHONE_COLUMNS.split(",")[1:])
        rows = [(*phone_row(p)[1:], p.job_id, p.uri) for p in phones]
        self._write((f"UPDATE job_phones SET {sets} WHERE job_id = ? AND uri = ?", rows))

    def close(self) -> None:
        self._db.close()

    def _read(self, query: str, args: tuple[object, ...]) -> list[Row]:
        try:
            return self._db.execute(query, args).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc

    def _write(self, *statements: tuple[str, Sequence[tuple[object, ...]]]) -> None:
        """Every statement, all or nothing."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for query, rows in statements:
                    self._db.executemany(query, rows)
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc

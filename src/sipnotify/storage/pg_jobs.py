"""PostgreSQL job store: `sipnotify_jobs` and `sipnotify_job_phones` (made by `sipnotify db
upgrade`), when extconfig.conf maps `sipnotify_jobs => pgsql,general`. Same contract as the
SQLite store: each job row names its owner (the `systemname` of the node running it); every
node lists every job and may change any unfinished job's state (then tells its owner, which
acts on it: cluster/relay.py), but runs and resumes only its own. `take_over` moves a dead
node's unfinished jobs to this one (cluster/watch.py decides when); their phones' recorded
answers come along, so a phone that answered is not sent to again.
"""

from __future__ import annotations

from collections.abc import Sequence

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
from sipnotify.storage.pg_connection import PgConnection

_UNFINISHED = [s.value for s in JobState if not s.finished]


class PgJobStore:
    what = "fleet jobs"

    def __init__(self, conninfo: str, where: str, *, systemname: str) -> None:
        self._db = PgConnection(conninfo, where)
        self._owner = systemname

    def create(self, job: JobRecord, phones: Sequence[PhoneRecord]) -> None:
        """The job and its phones in one transaction (the phones by COPY: 100,000 in a
        fraction of a second)."""
        with self._db.transaction() as db:
            db.execute(f"INSERT INTO sipnotify_jobs (owner, {JOB_COLUMNS}) VALUES "
                       f"(%s, {', '.join(['%s'] * 12)})", (self._owner, *job_row(job)))  # fmt: skip
            with db.cursor().copy(f"COPY sipnotify_job_phones (job_id, seq, {PHONE_COLUMNS}) "
                                  "FROM STDIN") as copy:  # fmt: skip
                for n, phone in enumerate(phones):
                    copy.write_row((job.id, n, *phone_row(phone)))

    def jobs(self) -> list[JobRecord]:
        with self._db.use() as db:
            rows = db.execute(f"SELECT {JOB_COLUMNS} FROM sipnotify_jobs "
                              "ORDER BY created_at, id").fetchall()  # fmt: skip
        return [job_from_row(row) for row in rows]

    def mine(self) -> list[JobRecord]:
        with self._db.use() as db:
            rows = db.execute(f"SELECT {JOB_COLUMNS} FROM sipnotify_jobs WHERE owner = %s "
                              "ORDER BY created_at, id", (self._owner,)).fetchall()  # fmt: skip
        return [job_from_row(row) for row in rows]

    def job(self, job_id: str) -> JobRecord | None:
        with self._db.use() as db:
            row = db.execute(f"SELECT {JOB_COLUMNS} FROM sipnotify_jobs WHERE id = %s",
                             (job_id,)).fetchone()  # fmt: skip
        return job_from_row(row) if row else None

    def phones(self, job_id: str) -> list[PhoneRecord]:
        with self._db.use() as db:
            rows = db.execute(f"SELECT {PHONE_COLUMNS} FROM sipnotify_job_phones "
                              "WHERE job_id = %s ORDER BY seq", (job_id,)).fetchall()  # fmt: skip
        return [phone_from_row(job_id, row) for row in rows]

    def counts(self, job_id: str) -> dict[PhoneState, int]:
        with self._db.use() as db:
            rows = db.execute("SELECT state, COUNT(*) FROM sipnotify_job_phones "
                              "WHERE job_id = %s GROUP BY state", (job_id,)).fetchall()  # fmt: skip
        return {PhoneState(state): int(str(count)) for state, count in rows}

    def set_state(self, job_id: str, state: JobState) -> str | None:
        with self._db.use() as db:
            row = db.execute("UPDATE sipnotify_jobs SET state = %s WHERE id = %s AND "
                             "state = ANY(%s) RETURNING owner",
                             (state.value, job_id, _UNFINISHED)).fetchone()  # fmt: skip
        return None if row is None else str(row[0])

    def update(self, phones: Sequence[PhoneRecord]) -> None:
        sets = ", ".join(f"{c.strip()} = %s" for c in PHONE_COLUMNS.split(",")[1:])
        rows = [(*phone_row(p)[1:], p.job_id, p.uri) for p in phones]
        with self._db.transaction() as db:
            db.cursor().executemany(
                f"UPDATE sipnotify_job_phones SET {sets} WHERE job_id = %s AND uri = %s", rows
            )

    def owners(self) -> list[str]:
        """The other nodes that own unfinished jobs."""
        with self._db.use() as db:
            rows = db.execute(
                "SELECT DISTINCT owner FROM sipnotify_jobs WHERE owner <> %s AND state = ANY(%s)",
                (self._owner, _UNFINISHED),
            ).fetchall()
        return [str(row[0]) for row in rows]

    def take_over(self, owner: str) -> int:
        """Make `owner`'s unfinished jobs this node's; returns how many."""
        with self._db.use() as db:
            cursor = db.execute(
                "UPDATE sipnotify_jobs SET owner = %s WHERE owner = %s AND state = ANY(%s)",
                (self._owner, owner, _UNFINISHED),
            )
        return cursor.rowcount

    def close(self) -> None:
        self._db.close()

"""PostgreSQL contact store: Asterisk realtime's `ps_contacts`, as its Alembic migrations create
it and as Asterisk writes it (docs/realtime.md), so sipnotify and Asterisk read each other's
registrations; plus `sipnotify_contacts` for what Asterisk does not keep (the AOR as given, the
REGISTER's CSeq, the transport, the exact expiry).

Asterisk stores values escaped (`;` as `^3B`, `^` as `^5E`): a contact's id is
`<aor>^3B@<md5 of its URI>` and a URI's parameters are escaped too; rows are read back the same
way. Each row names the node that registered it (`reg_server`, asterisk.conf's `systemname`).
Every statement is parameterised; a failure is a StorageError naming the database, never its
password (pg_connection.py, which also connects again after the server restarts). The schema
is made by `sipnotify db upgrade` (storage/pg_schema.py) and checked on opening.

Every change also says which AORs it touched on the channel `sipnotify_contacts` (payload
`<systemname> <aor>`), delivered by PostgreSQL to the other nodes when the transaction commits:
they read those AORs again (cluster/contacts.py). Changes to one AOR are serialised across
the nodes by an advisory lock per AOR, taken in name order (two nodes replacing each other's
contact of one AOR would otherwise deadlock). A change is one call of a function the schema
defines (pg_schema.py): one round trip, where separate statements took six. Several changes
(a loop turn's registrations) are one statement calling it for each element of a JSON array,
in the array's order: one round trip and one commit for them all, atomic as any statement is.
The array is sorted by AOR name, so the locks are still taken in name order (were PostgreSQL to
see a deadlock anyway, the statement fails and the registrar stores each alone). They go over
a second connection, made when first needed, as they may run on a helper thread
(registrar/helper.py) while the loop uses the first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg

from sipnotify.sip.registrar import Binding
from sipnotify.storage.base import Crowded, Write
from sipnotify.storage.pg_connection import PgConnection

CHANNEL = "sipnotify_contacts"  # named in sipnotify_change_contacts too
CROWDED = "SN409"  # the SQLSTATE sipnotify_change_contacts raises past an AOR's limit

_LOAD = """SELECT c.id, c.uri, c.expiration_time, c.endpoint, c.call_id, c.user_agent,
    c.via_addr, c.via_port, c.path, c.reg_server, s.aor, s.cseq, s.protocol, s.expires
    FROM ps_contacts c LEFT JOIN sipnotify_contacts s ON s.id = c.id {where} ORDER BY c.id"""


def _prefix(aor: str) -> str:
    """The escaped id prefix of an AOR's rows, as a LIKE pattern's literal part."""
    return escape(f"{aor};@").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def escape(value: str) -> str:
    """As Asterisk's realtime stores a value: `^` as `^5E`, then `;` as `^3B`."""
    return value.replace("^", "^5E").replace(";", "^3B")


def unescape(value: str) -> str:
    """A value as Asterisk's realtime stores it, read back."""
    return value.replace("^3B", ";").replace("^5E", "^")


class PgContactStore:
    def __init__(self, conninfo: str, where: str, *, systemname: str = "") -> None:
        """Connect and check the schema; `where` names the database in errors."""
        self._systemname = systemname
        self._conninfo, self._where = conninfo, where
        self._db = PgConnection(conninfo, where)
        self._together: PgConnection | None = None  # change_many's own connection

    def load(self) -> list[Binding]:
        return self._select(_LOAD.format(where=""), ())

    def load_aor(self, aor: str) -> list[Binding]:
        """One AOR's rows, found as Asterisk finds them: by the escaped id prefix."""
        return self.load_aors([aor]).get(aor, [])

    def load_aors(self, aors: Sequence[str]) -> dict[str, list[Binding]]:
        """Several AORs' rows in one query (an AOR without rows is missing)."""
        patterns = [_prefix(aor) + "%" for aor in aors]
        found: dict[str, list[Binding]] = {}
        for binding in self._select(_LOAD.format(where="WHERE c.id LIKE ANY(%s)"), (patterns,)):
            found.setdefault(binding.aor, []).append(binding)
        return found

    def _select(self, query: str, parameters: tuple[object, ...]) -> list[Binding]:
        with self._db.use() as db:
            rows = db.execute(query, parameters).fetchall()
        return [_binding(row) for row in rows]

    def change(self, store: Sequence[Binding], drop: Sequence[Binding], *, limit: int = 0,
               now: float = 0.0) -> None:  # fmt: skip
        """One call of `sipnotify_change_contacts` (pg_schema.py): one round trip; it checks
        the limit under the AOR's lock, after the others' changes."""
        aors, change = _change(Write(store, drop, limit, now))
        with self._db.use() as db:
            try:
                db.execute(_CHANGE, (self._systemname, json.dumps(change)))
                return
            except psycopg.Error as exc:
                if exc.sqlstate != CROWDED:
                    raise
        raise Crowded(aors[0], self.load_aor(aors[0]))

    def change_many(self, writes: Sequence[Write]) -> None:
        """One statement; the writes ordered by their AORs' names (a stable sort: one AOR's
        writes keep their order), so locks are taken as `change` takes them."""
        changes = sorted((_change(write) for write in writes), key=lambda c: c[0])
        if self._together is None:
            self._together = PgConnection(self._conninfo, self._where)
        with self._together.use() as db:
            db.execute(_CHANGE_MANY, (self._systemname, json.dumps([c for _, c in changes])))

    def prune(self, now: float) -> int:
        with self._db.transaction() as db:
            gone = db.execute(
                "DELETE FROM ps_contacts WHERE expiration_time <= %s RETURNING id", (now,)
            ).fetchall()
            db.execute("DELETE FROM sipnotify_contacts WHERE id = ANY(%s)", ([r[0] for r in gone],))
        return len(gone)

    def close(self) -> None:
        self._db.close()
        if self._together is not None:
            self._together.close()


_CHANGE = "SELECT sipnotify_change_contacts(%s, %s::json)"
_CHANGE_MANY = ("SELECT count(sipnotify_change_contacts(%s, change)) "
                "FROM json_array_elements(%s::json) AS change")  # fmt: skip


def _change(write: Write) -> tuple[list[str], dict[str, object]]:
    """The AORs a write touches, in name order, and what `sipnotify_change_contacts` takes
    (as JSON)."""
    aors = sorted({b.aor for b in (*write.store, *write.drop)})
    change = {"aors": aors, "dropped": [escape(b.id) for b in write.drop], "limit": write.limit,
              "now": write.now, "rows": [_row(binding) for binding in write.store]}  # fmt: skip
    return aors, change


def _row(binding: Binding) -> dict[str, object]:
    """A binding as Asterisk's row (escaped id and URI, expiry in whole seconds) and ours."""
    return {"id": escape(binding.id), "uri": escape(binding.uri),
            "expiration": round(binding.expires_at), "path": binding.path,
            "agent": binding.user_agent, "server": binding.reg_server,
            "via_addr": binding.via_addr, "via_port": binding.via_port,
            "call_id": binding.call_id, "endpoint": binding.endpoint, "aor": binding.aor,
            "cseq": binding.cseq, "protocol": binding.protocol,
            "expires": binding.expires_at}  # fmt: skip


def _binding(row: tuple[Any, ...]) -> Binding:
    (
        key,
        uri,
        expiration,
        endpoint,
        call_id,
        agent,
        via_addr,
        via_port,
        path,
        reg_server,
        aor,
        cseq,
        protocol,
        expires,
    ) = row
    uri = unescape(uri or "")
    if aor is None:  # written by Asterisk: what it does not keep is derived
        aor = unescape(key).partition(";@")[0]
        protocol = _transport(uri)
        cseq, expires = 0, float(expiration or 0)
    return Binding(
        aor=aor,
        uri=uri,
        expires_at=float(expires),
        endpoint=endpoint or "",
        call_id=call_id or "",
        cseq=int(cseq or 0),
        user_agent=agent or "",
        via_addr=via_addr or "",
        via_port=int(via_port or 0),
        protocol=protocol,
        path=path or "",
        reg_server=reg_server or "",
    )


def _transport(uri: str) -> str:
    for parameter in uri.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "transport":
            return value.strip().lower() or "udp"
    return "udp"

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
contact of one AOR would otherwise deadlock).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from sipnotify.sip.registrar import Binding
from sipnotify.storage.pg_connection import PgConnection

CHANNEL = "sipnotify_contacts"
AOR_LOCKS = 0x5195_0002  # the first key of the per-AOR advisory locks

_UPSERT = """INSERT INTO ps_contacts (id, uri, expiration_time, qualify_frequency,
    outbound_proxy, path, user_agent, qualify_timeout, reg_server, authenticate_qualify,
    via_addr, via_port, call_id, endpoint, prune_on_boot, qualify_2xx_only)
    VALUES (%s, %s, %s, 0, '', %s, %s, 3.0, %s, 'no', %s, %s, %s, %s, 'no', 'no')
    ON CONFLICT (id) DO UPDATE SET uri = EXCLUDED.uri,
        expiration_time = EXCLUDED.expiration_time, path = EXCLUDED.path,
        user_agent = EXCLUDED.user_agent, reg_server = EXCLUDED.reg_server,
        via_addr = EXCLUDED.via_addr, via_port = EXCLUDED.via_port, call_id = EXCLUDED.call_id,
        endpoint = EXCLUDED.endpoint"""
_UPSERT_OURS = """INSERT INTO sipnotify_contacts (id, aor, cseq, protocol, expires)
    VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET aor = EXCLUDED.aor,
    cseq = EXCLUDED.cseq, protocol = EXCLUDED.protocol, expires = EXCLUDED.expires"""
_LOAD = """SELECT c.id, c.uri, c.expiration_time, c.endpoint, c.call_id, c.user_agent,
    c.via_addr, c.via_port, c.path, c.reg_server, s.aor, s.cseq, s.protocol, s.expires
    FROM ps_contacts c LEFT JOIN sipnotify_contacts s ON s.id = c.id {where} ORDER BY c.id"""


def escape(value: str) -> str:
    """As Asterisk's realtime stores a value: `^` as `^5E`, then `;` as `^3B`."""
    return value.replace("^", "^5E").replace(";", "^3B")


def unescape(value: str) -> str:
    return value.replace("^3B", ";").replace("^5E", "^")


class PgContactStore:
    def __init__(self, conninfo: str, where: str, *, systemname: str = "") -> None:
        """Connect and check the schema; `where` names the database in errors."""
        self._systemname = systemname
        self._db = PgConnection(conninfo, where)

    def load(self) -> list[Binding]:
        return self._select(_LOAD.format(where=""), ())

    def load_aor(self, aor: str) -> list[Binding]:
        """One AOR's rows, found as Asterisk finds them: by the escaped id prefix."""
        prefix = escape(f"{aor};@").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self._select(_LOAD.format(where="WHERE c.id LIKE %s"), (prefix + "%",))

    def _select(self, query: str, parameters: tuple[str, ...]) -> list[Binding]:
        with self._db.use() as db:
            rows = db.execute(query, parameters).fetchall()
        return [_binding(row) for row in rows]

    def change(self, store: Sequence[Binding], drop: Sequence[Binding]) -> None:
        aors = sorted({b.aor for b in (*store, *drop)})
        with self._db.transaction() as db:
            for aor in aors:  # one writer per AOR in the cluster, locks taken in one order
                db.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (AOR_LOCKS, aor))
            for binding in drop:
                _delete(db, escape(binding.id))
            for binding in store:
                db.execute(_UPSERT, _row(binding))
                ours = (binding.aor, binding.cseq, binding.protocol, binding.expires_at)
                db.execute(_UPSERT_OURS, (escape(binding.id), *ours))
            for aor in aors:
                db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{self._systemname} {aor}"))

    def prune(self, now: float) -> int:
        with self._db.transaction() as db:
            gone = db.execute(
                "DELETE FROM ps_contacts WHERE expiration_time <= %s RETURNING id", (now,)
            ).fetchall()
            db.execute("DELETE FROM sipnotify_contacts WHERE id = ANY(%s)", ([r[0] for r in gone],))
        return len(gone)

    def close(self) -> None:
        self._db.close()


def _delete(db: psycopg.Connection[tuple[object, ...]], key: str) -> None:
    db.execute("DELETE FROM ps_contacts WHERE id = %s", (key,))
    db.execute("DELETE FROM sipnotify_contacts WHERE id = %s", (key,))


def _row(binding: Binding) -> tuple[object, ...]:
    """A binding as Asterisk's row: escaped id and URI, expiry in whole seconds."""
    return (escape(binding.id), escape(binding.uri), round(binding.expires_at), binding.path,
            binding.user_agent, binding.reg_server, binding.via_addr, binding.via_port,
            binding.call_id, binding.endpoint)  # fmt: skip


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

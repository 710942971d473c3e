"""PostgreSQL contact store: Asterisk realtime's `ps_contacts`, as its Alembic migrations create
it and as Asterisk writes it (docs/realtime.md), so sipnotify and Asterisk read each other's
registrations; plus `sipnotify_contacts` for what Asterisk does not keep (the AOR as given, the
REGISTER's CSeq, the transport, the exact expiry).

Asterisk stores values escaped (`;` as `^3B`, `^` as `^5E`): a contact's id is
`<aor>^3B@<md5 of its URI>` and a URI's parameters are escaped too; rows are read back the same
way. Each row names the node that registered it (`reg_server`, asterisk.conf's `systemname`).
Every statement is parameterised; a failure is a StorageError naming the database, never its
password.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from sipnotify.sip.registrar import Binding
from sipnotify.storage.base import StorageError

SCHEMA = (
    """DO $$ BEGIN
        CREATE TYPE ast_bool_values AS ENUM ('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes');
    EXCEPTION WHEN duplicate_object THEN NULL; END $$""",
    """CREATE TABLE IF NOT EXISTS ps_contacts (
        id varchar(255) NOT NULL, uri varchar(511), expiration_time bigint,
        qualify_frequency integer, outbound_proxy varchar(255), path text,
        user_agent varchar(255), qualify_timeout double precision, reg_server varchar(255),
        authenticate_qualify ast_bool_values, via_addr varchar(40), via_port integer,
        call_id varchar(255), endpoint varchar(255), prune_on_boot ast_bool_values,
        qualify_2xx_only ast_bool_values)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS ps_contacts_id ON ps_contacts (id)",
    """CREATE TABLE IF NOT EXISTS sipnotify_contacts (
        id varchar(255) PRIMARY KEY, aor varchar(255) NOT NULL, cseq integer NOT NULL,
        protocol varchar(8) NOT NULL, expires double precision NOT NULL)""",
)
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
    c.via_addr, c.via_port, c.path, s.aor, s.cseq, s.protocol, s.expires
    FROM ps_contacts c LEFT JOIN sipnotify_contacts s ON s.id = c.id ORDER BY c.id"""


def escape(value: str) -> str:
    """As Asterisk's realtime stores a value: `^` as `^5E`, then `;` as `^3B`."""
    return value.replace("^", "^5E").replace(";", "^3B")


def unescape(value: str) -> str:
    return value.replace("^3B", ";").replace("^5E", "^")


class PgContactStore:
    def __init__(self, conninfo: str, *, systemname: str = "") -> None:
        self._systemname = systemname
        self._where = _describe(conninfo)
        try:
            self._db = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
            with self._db.transaction():
                for statement in SCHEMA:
                    self._db.execute(statement)
        except psycopg.Error as exc:
            raise StorageError(f"{self._where}: {_reason(exc)}") from exc

    def load(self) -> list[Binding]:
        try:
            rows = self._db.execute(_LOAD).fetchall()
        except psycopg.Error as exc:
            raise StorageError(f"{self._where}: {_reason(exc)}") from exc
        return [_binding(row) for row in rows]

    def change(self, store: Sequence[Binding], drop: Sequence[Binding]) -> None:
        try:
            with self._db.transaction():
                for binding in drop:
                    self._delete(escape(binding.id))
                for binding in store:
                    key = escape(binding.id)
                    self._db.execute(
                        _UPSERT,
                        (
                            key,
                            escape(binding.uri),
                            round(binding.expires_at),
                            binding.path,
                            binding.user_agent,
                            self._systemname,
                            binding.via_addr,
                            binding.via_port,
                            binding.call_id,
                            binding.endpoint,
                        ),
                    )
                    self._db.execute(
                        _UPSERT_OURS,
                        (
                            key,
                            binding.aor,
                            binding.cseq,
                            binding.protocol,
                            binding.expires_at,
                        ),
                    )
        except psycopg.Error as exc:
            raise StorageError(f"{self._where}: {_reason(exc)}") from exc

    def prune(self, now: float) -> int:
        try:
            with self._db.transaction():
                gone = self._db.execute(
                    "DELETE FROM ps_contacts WHERE expiration_time <= %s RETURNING id", (now,)
                ).fetchall()
                self._db.execute(
                    "DELETE FROM sipnotify_contacts WHERE id = ANY(%s)",
                    ([row[0] for row in gone],),
                )
        except psycopg.Error as exc:
            raise StorageError(f"{self._where}: {_reason(exc)}") from exc
        return len(gone)

    def close(self) -> None:
        self._db.close()

    def _delete(self, key: str) -> None:
        self._db.execute("DELETE FROM ps_contacts WHERE id = %s", (key,))
        self._db.execute("DELETE FROM sipnotify_contacts WHERE id = %s", (key,))


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
    )


def _transport(uri: str) -> str:
    for parameter in uri.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "transport":
            return value.strip().lower() or "udp"
    return "udp"


def _describe(conninfo: str) -> str:
    """The connection without its password, to name it in errors."""
    try:
        parts = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "PostgreSQL"
    return (
        f"PostgreSQL {parts.get('user', '')}@{parts.get('host', '')}:"
        f"{parts.get('port', 5432)}/{parts.get('dbname', '')}"
    )


def _reason(exc: psycopg.Error) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

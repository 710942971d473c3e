"""Reading the PJSIP objects sorcery.conf keeps in PostgreSQL (`ps_endpoints`, `ps_aors`,
`ps_auths`, `ps_endpoint_id_ips`): every row of a table, each non-NULL column as text with
Asterisk's escapes read back (`^3B` is `;`), for the configuration to turn into sections
(config/realtime.py). Read at start-up and at each reload
of res_pjsip, so a node uses what the tables held when it last (re)loaded."""

from __future__ import annotations

import psycopg
from psycopg import sql

from sipnotify.config.parser import ConfigError, Origin
from sipnotify.config.realtime import Connection
from sipnotify.storage.pg_schema import reason
from sipnotify.storage.postgres import unescape


def read_rows(connection: Connection, table: str) -> list[dict[str, str]]:
    """Raises ConfigError naming the database (never its password) and the table."""
    query = sql.SQL("SELECT * FROM {} ORDER BY id").format(sql.Identifier(table))
    try:
        with psycopg.connect(connection.conninfo(), connect_timeout=5) as db:
            cursor = db.execute(query)
            names = [column.name for column in cursor.description or ()]
            return [{name: unescape(str(value)) for name, value in zip(names, row, strict=True)
                     if value is not None} for row in cursor]  # fmt: skip
    except psycopg.Error as exc:
        raise ConfigError(Origin(connection.describe(), 0),
                          f"cannot read {table}: {reason(exc)}") from exc  # fmt: skip

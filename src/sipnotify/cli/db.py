"""`sipnotify db upgrade` and `sipnotify db check`: make or check the PostgreSQL schema the
configuration's realtime files point at (storage/pg_schema.py holds the migrations)."""

from __future__ import annotations

import sys
from pathlib import Path

from sipnotify.config.load import load_config
from sipnotify.config.parser import ConfigError
from sipnotify.storage.base import StorageError


def run(action: str, config_dir: Path) -> int:
    """0 done, 1 the database or configuration refused, 2 nothing is kept in PostgreSQL."""
    try:
        realtime = load_config(config_dir, rows=lambda _connection, _table: []).realtime
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not realtime.used:
        print(f"error: {config_dir}: sorcery.conf and extconfig.conf keep nothing in PostgreSQL",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        import psycopg  # noqa: PLC0415 (only this command and a realtime server need it)

        from sipnotify.storage import pg_schema  # noqa: PLC0415
    except ImportError:
        print("error: psycopg is not installed: pip install 'sipnotify[postgres]'", file=sys.stderr)
        return 1
    where = realtime.connection.describe()
    try:
        if action == "upgrade":
            before, after = pg_schema.upgrade(realtime.connection.conninfo(), where)
            print(f"{where}: schema at version {after}"
                  + (f" (was {before})" if before != after else " (already)"))  # fmt: skip
        else:
            with psycopg.connect(realtime.connection.conninfo(), connect_timeout=5) as db:
                pg_schema.check(db, where)
            print(f"{where}: schema at version {pg_schema.VERSION}, as this sipnotify needs")
    except (StorageError, psycopg.Error) as exc:
        print(f"error: {exc if isinstance(exc, StorageError) else pg_schema.reason(exc)}",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0

"""A real PostgreSQL server for the tests: Debian's binaries, a cluster made in a temporary
folder (initdb, trust on loopback, no fsync), started on a free port and stopped at the end of
the test session. As root (CI), the server runs as the `postgres` user, as initdb requires."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sipnotify.storage.pg_schema import upgrade
from tests.integration.ports import free_port

USER = "sipnotify"


@dataclass(frozen=True)
class Server:
    port: int
    folder: Path

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={USER} dbname={database}"

    def new_database(self, *, upgraded: bool = True) -> str:
        """A fresh database's connection string (each test its own), with sipnotify's schema
        made as `sipnotify db upgrade` makes it unless `upgraded` is false."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        _psql(self, f"CREATE DATABASE {name}")
        if upgraded:
            upgrade(self.dsn(name), name)
        return self.dsn(name)

    def stop(self) -> None:
        """Stop the server at once, as a crash would (`start` brings it back)."""
        _ctl(self.folder, "-m", "immediate", "stop")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        _ctl(self.folder, "-o", options, "-w", "-l", str(self.folder / "server.log"), "start")


def _ctl(folder: Path, *arguments: str, check: bool = True) -> None:
    command = [_binary("pg_ctl"), "-D", str(folder / "data"), *arguments]
    subprocess.run(_as_server_user(command), check=check, capture_output=True, timeout=120)


def available() -> bool:
    """Whether PostgreSQL's server binaries are installed."""
    try:
        _binary("initdb")
    except RuntimeError:
        return False
    return True


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise RuntimeError(f"{name} not found: `make test` installs Debian's postgresql")
    return found


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _psql(server: Server, sql: str) -> None:
    import psycopg  # noqa: PLC0415 (only the PostgreSQL tests need it)

    with psycopg.connect(server.dsn(), autocommit=True) as connection:
        connection.execute(sql)


def running(folder: Path) -> Iterator[Server]:
    """Make, start and in the end stop a cluster in `folder`."""
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    initdb = [_binary("initdb"), "-D", str(folder / "data"), "-U", USER, "-A", "trust",
              "--no-sync", "-E", "UTF8"]  # fmt: skip
    subprocess.run(_as_server_user(initdb), check=True, capture_output=True, timeout=120)
    server = Server(free_port(), folder)
    server.start()
    try:
        yield server
    finally:
        _ctl(folder, "-m", "immediate", "stop", check=False)

"""Fixtures every test folder may use: the PostgreSQL server the store contracts and the
cluster tests run against (one per test session, started only when a test asks for it)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.storage.postgres import Server, running

SRC = Path(__file__).resolve().parent.parent / "src" / "sipnotify"


def pytest_sessionstart(session: pytest.Session) -> None:
    """A compiled module older than its source would test yesterday's code: stop at once."""
    del session
    stale = [str(built.relative_to(SRC)) for built in SRC.rglob("*.so")
             if (source := built.with_name(built.name.split(".")[0] + ".py")).exists()
             and source.stat().st_mtime > built.stat().st_mtime]  # fmt: skip
    if stale:
        pytest.exit(
            f"compiled modules older than their sources: {', '.join(stale)}; "
            "run `make test` (or `pip install -e .`) to build them again",
            returncode=4,
        )


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    folder = Path(tempfile.mkdtemp(prefix="sipnotify-pg-"))  # postgres must reach it (not 0700)
    try:
        yield from running(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

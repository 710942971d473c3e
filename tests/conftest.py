"""Fixtures every test folder may use: the PostgreSQL server the store contracts and the
cluster tests run against (one per test session, started only when a test asks for it)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.storage.postgres import Server, running


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    folder = Path(tempfile.mkdtemp(prefix="sipnotify-pg-"))  # postgres must reach it (not 0700)
    try:
        yield from running(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

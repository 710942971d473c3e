"""The composition root's chores: the prune chore outlives a failing store."""

from __future__ import annotations

import asyncio
import logging

import pytest

from sipnotify import app
from sipnotify.storage.base import StorageError


class FlakyRegistry:
    """Fails the first prune as a locked or full store would, then works."""

    def __init__(self) -> None:
        self.calls = 0

    def prune(self, _now: float) -> int:
        self.calls += 1
        if self.calls == 1:
            raise StorageError("database is locked")
        return 2


def test_the_prune_chore_logs_a_storage_error_and_tries_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(app, "PRUNE_INTERVAL", 0.001)
    registry = FlakyRegistry()

    async def run() -> None:
        chore = asyncio.create_task(app._prune(registry))
        for _ in range(1000):
            if registry.calls >= 2:
                break
            await asyncio.sleep(0.001)
        chore.cancel()

    with caplog.at_level(logging.INFO, logger="sipnotify"):
        asyncio.run(run())
    assert registry.calls >= 2
    assert "cannot prune expired registrations (will retry): database is locked" in caplog.text
    assert "removed 2 expired registrations" in caplog.text

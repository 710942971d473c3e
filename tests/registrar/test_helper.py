"""The helper thread a group commit's store work runs on (PostgreSQL): the work runs off the
loop's thread, in order, and its outcome comes back on the loop."""

from __future__ import annotations

import asyncio
import threading

from sipnotify.registrar.helper import HelperThread


def test_work_runs_on_the_helper_and_its_outcome_comes_back_on_the_loop() -> None:
    async def scenario() -> list[tuple[str, int, int]]:
        helper = HelperThread()
        loop_thread = threading.get_ident()
        told: list[tuple[str, int, int]] = []
        ran: list[int] = []
        finished = asyncio.Event()

        def fail() -> None:
            ran.append(threading.get_ident())
            raise RuntimeError("database gone")

        def done(error: BaseException | None) -> None:
            told.append((repr(error), ran[-1] != loop_thread, threading.get_ident() == loop_thread))
            if len(told) == 2:
                finished.set()

        helper(lambda: ran.append(threading.get_ident()), done)
        helper(fail, done)
        await asyncio.wait_for(finished.wait(), 5)
        helper.close()
        return told

    assert asyncio.run(scenario()) == [
        ("None", True, True), ("RuntimeError('database gone')", True, True)]  # fmt: skip

"""The store's part of a group commit on one helper thread (PostgreSQL): the round trip to the
database and its commit happen there while the loop goes on deciding and answering; the
outcome comes back on the loop. The store makes these writes over a connection of their own
(storage/postgres.py), so nothing else the loop asks of it shares a connection with them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sipnotify.registrar.commits import Done


class HelperThread:
    """An `Offload` (registrar/commits.py) on one thread, so commits stay in order."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sipnotify-store")

    def __call__(self, work: Callable[[], None], done: Done) -> None:
        future = asyncio.get_running_loop().run_in_executor(self._executor, work)

        def finished(result: asyncio.Future[None]) -> None:
            if not result.cancelled():  # cancelled: the loop is closing, nobody to answer
                done(result.exception())

        future.add_done_callback(finished)

    def close(self) -> None:
        """Wait for the commit out (the store closes next), then stop the thread."""
        self._executor.shutdown(wait=True)

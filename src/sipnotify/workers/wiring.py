"""What a worker changes in the running parts: sending to a sibling's UDP contacts itself,
and telling its siblings (through the supervisor) to reload when AMI asks it to."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass

from sipnotify.config.reload import ReloadResult
from sipnotify.notify.content import NotifyContent
from sipnotify.notify.notifier import Done, Forward
from sipnotify.notify.targets import Target
from sipnotify.workers.worker import Worker

# Sent to the supervisor: "reload every worker but me" (it knows who sent it).
RELOAD_SIBLINGS = signal.SIGUSR1


@dataclass(frozen=True, slots=True)
class UdpHere:
    """A cluster forward that keeps the UDP contacts of sibling workers here: they share the
    port, so the NOTIFY leaves from the address the phone knows, and the answer comes back
    through the hand-off. A TCP/TLS contact's connection is the sibling's: forwarded."""

    forward: Forward
    siblings: frozenset[str]  # made once: asked for every registered contact of a fan-out

    @classmethod
    def around(cls, forward: Forward | None, worker: Worker | None) -> Forward | None:
        """`forward` as a worker runs it (unchanged outside workers)."""
        if forward is None or worker is None:
            return forward
        return cls(forward, worker.siblings)

    def __call__(self, target: Target, content: NotifyContent, done: Done) -> bool:
        if target.flow is None and target.node in self.siblings:
            return False
        return self.forward(target, content, done)


def reloading_siblings(
    reload: Callable[[str | None], ReloadResult],
) -> Callable[[str | None], ReloadResult]:
    """`reload`, then the supervisor is asked to reload the other workers (as SIGHUP does)."""

    def reload_all(name: str | None) -> ReloadResult:
        result = reload(name)
        os.kill(os.getppid(), RELOAD_SIBLINGS)
        return result

    return reload_all

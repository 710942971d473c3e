"""Contact reachability from OPTIONS (qualify): the state of every contact, the schedule that
keeps it fresh for AORs with `qualify_frequency`, and a listener told of every change.

A contact is `Reachable` (with its round-trip time) when any final response comes back,
`Unreachable` when none does, `Unknown` before its first answer, and `NonQualified` when its AOR
does not qualify. Listeners format events; this module knows nothing of AMI.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sipnotify.notify.notifier import Notifier, qualify
from sipnotify.notify.targets import Target, aor_targets

log = logging.getLogger("sipnotify.qualify")
TICK = 1.0  # seconds between looks at the schedule


@dataclass(frozen=True, slots=True)
class State:
    status: str
    rtt: float | None = None


# (aor, endpoint name, contact uri, new state)
Listener = Callable[[str, str, str, State], None]


class Reachability:
    def __init__(
        self, notifier: Notifier, listener: Listener, *, clock: Callable[[], float]
    ) -> None:
        self._notifier = notifier
        self._listener = listener
        self._clock = clock
        self._states: dict[tuple[str, str], State] = {}
        self._due: dict[tuple[str, str], float] = {}
        self._orphans: set[tuple[str, str]] = set()  # bound to a connection that died

    def state(self, aor: str, uri: str) -> State:
        found = self._states.get((aor, uri))
        if found is not None:
            return found
        known = self._notifier.config.aors.get(aor)
        return State("Unknown" if known and known.qualify_frequency else "NonQualified")

    def orphan(self, aor: str, endpoint: str, uri: str) -> None:
        """The node holding this contact's connection is gone: Unreachable (told once) until
        it registers again."""
        key = (aor, uri)
        if key in self._orphans:
            return
        self._orphans.add(key)
        self._states[key] = State("Unreachable")
        self._listener(aor, endpoint, uri, self._states[key])

    def registered(self, aor: str, uri: str) -> None:
        """The contact registered (again): an orphan's state starts afresh."""
        if (aor, uri) in self._orphans:
            self._orphans.discard((aor, uri))
            self._states.pop((aor, uri), None)

    async def qualify_endpoint(self, name: str) -> None:
        """PJSIPQualify: OPTIONS to every contact of the endpoint now; every answer is told."""
        targets = self._targets(name)
        await asyncio.gather(*(self._check(aor, t, announce=True) for aor, t in targets))

    async def run(self) -> None:
        """Qualify every contact of every AOR with `qualify_frequency`, on schedule."""
        config = self._notifier.config
        scheduled = [
            (owner, config.aors[name])
            for owner in config.endpoints.values()
            for name in owner.aors
            if name in config.aors and config.aors[name].qualify_frequency
        ]
        while True:
            now = self._clock()
            due: list[tuple[str, Target]] = []
            for owner, aor in scheduled:
                for target in aor_targets(owner, aor, self._notifier.registered(aor.name)):
                    key = (aor.name, str(target.uri))
                    if self._due.get(key, 0.0) <= now:
                        self._due[key] = now + aor.qualify_frequency
                        due.append((aor.name, target))
            await asyncio.gather(*(self._check(aor, t, announce=False) for aor, t in due))
            await asyncio.sleep(TICK)

    def _targets(self, endpoint: str) -> list[tuple[str, Target]]:
        config = self._notifier.config
        owner = config.endpoints[endpoint]
        found: list[tuple[str, Target]] = []
        for name in owner.aors:
            aor = config.aors.get(name)
            if aor is not None:
                targets = aor_targets(owner, aor, self._notifier.registered(name))
                found += [(name, target) for target in targets]
        return found

    async def _check(self, aor: str, target: Target, *, announce: bool) -> None:
        """Qualify one contact; tell the listener when asked to, or when the status changed."""
        result = await qualify(self._notifier, target)
        reachable = result.status is not None
        new = State("Reachable", result.rtt) if reachable else State("Unreachable")
        key = (aor, str(target.uri))
        old = self._states.get(key)
        self._states[key] = new
        if announce or old is None or old.status != new.status:
            self._listener(aor, target.endpoint.name, str(target.uri), new)
        if not reachable:
            log.warning("contact %s of %s is Unreachable: %s", target.uri, aor, result.error)

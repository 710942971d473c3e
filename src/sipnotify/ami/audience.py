"""Who hears AMI events: the live sessions, and the one rule for which events reach each.

An event reaches a session when the session's event mask and its user's read classes take the
event's class, and manager.conf's `disabledevents` does not name it; with `timestampevents`
every event carries a Timestamp. Everything that tells sessions of something (registrations,
qualify results, channels, security events, Reload, Shutdown, an action's own result events)
goes through here, so the rule is written once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from sipnotify.ami import replies
from sipnotify.ami.codec import Fields, encode
from sipnotify.config.manager import ManagerGeneral


@dataclass(frozen=True, slots=True)
class Broadcast:
    """An event for every session that takes it (a Reload, a ContactStatus…)."""

    name: str
    category: int
    fields: Fields
    action_id: str = ""  # of the request it follows from (a fleet job's start), if any


class Mask(Protocol):
    """A session's event mask and read classes (`session.SessionState`)."""

    def wants(self, category: int) -> bool: ...


class Member(Protocol):
    """A live session, as events reach it."""

    @property
    def session(self) -> Mask: ...

    def send_event(self, data: bytes) -> None: ...


class Audience:
    """`general` is manager.conf's [general] as it was at start (it does not reload)."""

    def __init__(self, general: ManagerGeneral, wall_clock: Callable[[], float]) -> None:
        self._general = general
        self._wall_clock = wall_clock
        self._members: set[Member] = set()

    def join(self, member: Member) -> None:
        self._members.add(member)

    def leave(self, member: Member) -> None:
        self._members.discard(member)

    def __iter__(self) -> Iterator[Member]:
        return iter(list(self._members))

    def __len__(self) -> int:
        return len(self._members)

    def delivers(self, session: Mask, name: str, category: int) -> bool:
        """Whether an event `name` of class `category` goes to `session`."""
        return session.wants(category) and name not in self._general.disabledevents

    def timestamp(self) -> float | None:
        """The wall-clock time to stamp events with, if manager.conf asks for it."""
        return self._wall_clock() if self._general.timestampevents else None

    def listening(self, category: int) -> bool:
        """Whether any session takes events of `category` (else there is nothing to build)."""
        return any(member.session.wants(category) for member in self._members)

    def publish(self, name: str, category: int, fields: Fields, action_id: str = "") -> None:
        """Send an event to every session that takes it."""
        if name in self._general.disabledevents:
            return
        takers = [member for member in self._members if member.session.wants(category)]
        if not takers:  # nobody listens: not even encoded (a large job's progress)
            return
        stamp = self.timestamp()
        data = encode(replies.event(name, category, fields, action_id=action_id, timestamp=stamp))
        for member in takers:
            member.send_event(data)

    def publish_all(self, events: Iterable[Broadcast]) -> None:
        for event in events:
            self.publish(event.name, event.category, event.fields, event.action_id)

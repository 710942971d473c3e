"""Channels: one leg of a call each, named and numbered as Asterisk names them (no I/O).

Owns channel names `PJSIP/<endpoint>-<8 hex digits>`, Uniqueid and Linkedid, the states
(Down, Ring, Ringing, Up), where the dialplan stands (context, extension, priority,
application), hangup causes with Asterisk's texts, and telling a listener of every new
channel, state change and hangup (the AMI layer turns them into events).
"""

from __future__ import annotations

import enum
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


class ChannelState(enum.IntEnum):
    """ast_state values (behaviour: AMI events)."""

    DOWN = 0
    RING = 4
    RINGING = 5
    UP = 6

    @property
    def text(self) -> str:
        return self.name.capitalize()


# ast_cause2str() texts of the causes sipnotify uses.
CAUSES = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
    38: "Network out of order",
}


@dataclass(slots=True)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    endpoint: str
    created: float
    caller_num: str = "<unknown>"
    caller_name: str = "<unknown>"
    connected_num: str = "<unknown>"
    connected_name: str = "<unknown>"
    context: str = "default"
    exten: str = "s"
    priority: int = 1
    state: ChannelState = ChannelState.DOWN
    application: str = ""
    app_data: str = ""
    cause: int = 0
    variables: dict[str, str] = field(default_factory=dict)


Listener = Callable[[str, Channel], None]  # ("Newchannel" | "Newstate" | "Hangup", channel)


class Channels:
    """Every live channel, by name; a channel leaves when it is hung up."""

    def __init__(self, listener: Listener, clock: Callable[[], float]) -> None:
        self._listener = listener
        self._clock = clock
        self._by_name: dict[str, Channel] = {}
        self._names = itertools.count()
        self._ids = itertools.count()
        self._epoch = int(clock())

    def create(self, endpoint: str, *, state: ChannelState, linked: Channel | None = None,
               **fields: str) -> Channel:  # fmt: skip
        """A new channel (Newchannel); `linked` makes it share that channel's Linkedid."""
        uniqueid = f"{self._epoch}.{next(self._ids)}"
        channel = Channel(
            name=f"PJSIP/{endpoint}-{next(self._names) & 0xFFFFFFFF:08x}",
            uniqueid=uniqueid,
            linkedid=linked.linkedid if linked is not None else uniqueid,
            endpoint=endpoint,
            created=self._clock(),
            state=state,
        )
        for key, value in fields.items():
            setattr(channel, key, value)
        self._by_name[channel.name] = channel
        self._listener("Newchannel", channel)
        return channel

    def set_state(self, channel: Channel, state: ChannelState) -> None:
        if channel.state is not state and channel.name in self._by_name:
            channel.state = state
            self._listener("Newstate", channel)

    def hang_up(self, channel: Channel, cause: int) -> None:
        """Remove the channel (Hangup, once)."""
        if self._by_name.pop(channel.name, None) is not None:
            channel.cause = cause
            self._listener("Hangup", channel)

    def get(self, name: str) -> Channel | None:
        return self._by_name.get(name)

    def matching(self, pattern: re.Pattern[str]) -> list[Channel]:
        return [c for c in self._by_name.values() if pattern.search(c.name)]

    def __iter__(self) -> Iterator[Channel]:
        return iter(sorted(self._by_name.values(), key=lambda c: c.created))

    def __len__(self) -> int:
        return len(self._by_name)

    def duration(self, channel: Channel) -> str:
        """`HH:MM:SS` since the channel was created (CoreShowChannel's Duration)."""
        seconds = max(0, int(self._clock() - channel.created))
        return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"

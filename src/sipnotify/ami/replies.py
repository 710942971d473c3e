"""The shapes of Asterisk's AMI replies and events, as ordered fields (behaviour: AMI wire,
AMI events).

Owns field order: `Response`, `ActionID` (only when the request had a non-empty one),
`EventList`, `Message`, then any extra fields; events start `Event`, [`ActionID`],
`Privilege`, [`Timestamp`].
"""

from __future__ import annotations

from sipnotify.ami.codec import AmiMessage, Fields
from sipnotify.config import permissions

__all__ = ["Fields", "error", "event", "format_timestamp", "response", "success"]


def response(
    request: AmiMessage,
    kind: str,
    message: str | None = None,
    *,
    extra: Fields = (),
    eventlist: str | None = None,
) -> Fields:
    fields: list[tuple[str, str]] = [("Response", kind)]
    action_id = request.get("ActionID")
    if action_id:
        fields.append(("ActionID", action_id))
    if eventlist is not None:
        fields.append(("EventList", eventlist))
    if message is not None:
        fields.append(("Message", message))
    fields.extend(extra)
    return tuple(fields)


def success(request: AmiMessage, message: str | None = None, *, extra: Fields = ()) -> Fields:
    return response(request, "Success", message, extra=extra)


def error(request: AmiMessage, message: str) -> Fields:
    return response(request, "Error", message)


def event(
    name: str,
    category: int,
    fields: Fields,
    *,
    action_id: str = "",
    timestamp: float | None = None,
) -> Fields:
    """An event; `timestamp` is given when manager.conf has `timestampevents = yes`."""
    head: list[tuple[str, str]] = [("Event", name)]
    if action_id:
        head.append(("ActionID", action_id))
    head.append(("Privilege", permissions.privilege_text(category)))
    if timestamp is not None:
        head.append(("Timestamp", format_timestamp(timestamp)))
    return (*head, *fields)


def format_timestamp(when: float) -> str:
    """`<seconds>.<6-digit microseconds>`, as Asterisk prints a struct timeval."""
    seconds = int(when)
    return f"{seconds}.{int((when - seconds) * 1_000_000):06d}"

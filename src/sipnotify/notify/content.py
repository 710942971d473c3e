"""What a PJSIPNotify sends (behaviour: notify content; deliberate difference 2): turning
Option/Variable items into NOTIFY headers and body (reserved names, Content joining, a single
Event, Content-Type), refusing what would inject a line, and quoting a user's text safely.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import Final, final

from sipnotify.sip.message import (
    canonical_name,
)
from sipnotify.sip.value import Value

log = logging.getLogger("sipnotify.notify")


# behaviour: notify content: names a user may not set (compared case-insensitively).
RESERVED = frozenset(
    ("call-id", "contact", "cseq", "to", "from", "record-route", "route", "request-uri", "via")
)
_TOKEN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
_FORBIDDEN_CHARS = ("\r", "\n", "\0")


class NotifyError(Exception):
    """A PJSIPNotify that cannot be sent; `message` is the text for the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def shown(text: str) -> str:
    """A user's text as an error message may quote it: control characters (CR, LF, NUL…)
    written as escapes, so an echo can never add a line to a reply."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@final
class NotifyContent(Value):
    """User headers in order, and the body (None without a Content-Type)."""

    __match_args__ = ("headers", "content_type", "body")

    def __init__(
        self, headers: tuple[tuple[str, str], ...], content_type: str | None = None, body: str = ""
    ) -> None:
        self.headers: Final = headers
        self.content_type: Final = content_type
        self.body: Final = body


@functools.lru_cache(maxsize=256)
def preset_content(items: tuple[tuple[str, str], ...]) -> NotifyContent:
    """A pjsip_notify.conf preset's content, built once (presets never change at run time)."""
    return build_content(items, from_ami=False)


def build_content(items: Iterable[tuple[str, str]], *, from_ami: bool) -> NotifyContent:
    """Apply Asterisk's build_notify() to items from `Variable:` lines or a preset.

    A compact form is the header it stands for (RFC 3261 §7.3.3): `l` is a Content-Length,
    `v` a Via, `o` an Event. Content-Length is always computed, so a given one is dropped (with
    a note for AMI variables; behaviour: notify content). Raises NotifyError for a name or value
    that would break the message: CR, LF or NUL, or a name that is not a token.
    """
    headers: list[tuple[str, str]] = []
    content_type: str | None = None
    body: list[str] = []
    has_event = False
    for name, value in items:
        _check_item(name, value)
        lowered = canonical_name(name).lower()
        if lowered == "content-length":
            if from_ami:
                log.info("ignoring %s in PJSIPNotify variables; it is computed", name)
        elif lowered in RESERVED:
            log.warning("cannot specify %s header, ignoring", name)
        elif lowered == "content-type":
            content_type = value
        elif lowered == "content":
            body.append(value)
        elif lowered == "event" and has_event:
            log.error("only one 'Event' header can be added to a NOTIFY; '%s' dropped", value)
        else:
            has_event |= lowered == "event"
            headers.append((name, value))
    return NotifyContent(headers=tuple(headers), content_type=content_type, body=_join(body))


def _join(lines: list[str]) -> str:
    """Asterisk appends CRLF before a line only when the body so far is non-empty."""
    text = ""
    for line in lines:
        if text:
            text += "\r\n"
        text += line
    return text


def _check_item(name: str, value: str) -> None:
    if any(c in name or c in value for c in _FORBIDDEN_CHARS):
        raise NotifyError(f"Variable '{shown(name)}' must not contain CR, LF or NUL")
    if not set(name) <= _TOKEN:
        raise NotifyError(f"Invalid header name '{name}': use letters, digits and -.!%*_+`'~")

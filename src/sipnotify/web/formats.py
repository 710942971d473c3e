"""AMI over HTTP, sans I/O (behaviour: AMI over HTTP): request parameters to one AMI request,
and AMI messages to the three bodies Asterisk serves them in.

- `rawman`: the messages exactly as on the TCP socket.
- `mxml`: `<ajax-response>`, one `<response type='object' id='…'><generic … /></response>`
  per message (keys lower-cased, anything but letters and digits an underscore, a leading
  digit prefixed with one, a repeated key numbered `-2`, `-3`…; values XML-escaped), LF lines.
- `manager` (HTML): a table row per field, a rule after each message.
`ajaxdest` and `ajaxobjtype` parameters name the `id` and the element, as in Asterisk.

Parameters become headers in order; a name or value with a control character is refused (it
could start a header of its own on the wire), and the TCP framing limits apply: a line of
1,024 bytes or more, or more than 128 parameters, gets the error the socket gives.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sipnotify.ami.codec import (
    LINE_TOO_LONG,
    MAX_HEADERS,
    MAX_LINE,
    TOO_MANY_LINES,
    AmiMessage,
    Fields,
    FramingError,
    Incoming,
    encode,
)

Params = Sequence[tuple[str, str]]
_BLANKS = "".join(chr(c) for c in range(1, 33))


class Format(enum.Enum):
    RAW = "text/plain"
    HTML = "text/html"
    XML = "text/xml"


@dataclass(frozen=True, slots=True)
class BadRequest:
    """Parameters that cannot become an AMI request; the text says which."""

    text: str


def to_request(params: Params) -> Incoming | BadRequest:
    """The AMI request the parameters stand for."""
    for name, value in params:
        for text in (name, value):
            if any(ord(c) < 32 or ord(c) == 127 for c in text):
                return BadRequest(f"control character in parameter '{_shown(name)}'")
    headers = tuple((name, value.lstrip(_BLANKS)) for name, value in params[:MAX_HEADERS])
    message = AmiMessage(headers=headers)
    if len(params) > MAX_HEADERS:
        return FramingError(message=message, text=TOO_MANY_LINES)
    if any(len(f"{n}: {v}\r\n".encode("utf-8", "surrogateescape")) > MAX_LINE for n, v in params):
        return FramingError(message=message, text=LINE_TOO_LONG)
    return message


def decode_event(data: bytes) -> Fields:
    """An event as the audience encoded it, back into its fields (to render it again)."""
    lines = data.decode("utf-8", "surrogateescape").split("\r\n")
    return tuple((name, value) for name, _, value in (line.partition(": ") for line in lines)
                 if name)  # fmt: skip


def render(form: Format, messages: Sequence[Fields], params: Params = ()) -> str:
    """The body of the response for these messages (without the HTML page's frame)."""
    if form is Format.RAW:
        return b"".join(encode(m) for m in messages).decode("utf-8", "surrogateescape")
    if form is Format.XML:
        dest = _param(params, "ajaxdest", "unknown")
        kind = _param(params, "ajaxobjtype", "generic")
        body = "".join(_xml_object(m, _escape(dest), _escape(kind)) for m in messages)
        return f"<ajax-response>\n{body}</ajax-response>\n"
    return "".join(_html_object(m) for m in messages)


def _xml_object(message: Fields, dest: str, kind: str) -> str:
    attributes = "".join(f" {key}='{_escape(value.strip())}'" for key, value in _keyed(message))
    return f"<response type='object' id='{dest}'><{kind}{attributes} /></response>\n"


def _html_object(message: Fields) -> str:
    rows = "".join(
        f"<tr><td>{_escape(key)}</td><td>{_escape(value.strip())}</td></tr>\n"
        for key, value in _keyed(message, xml=False)
    )
    return rows + '<tr><td colspan="2"><hr></td></tr>\r\n'


def _keyed(message: Fields, *, xml: bool = True) -> list[tuple[str, str]]:
    """Each field with its key as the page shows it (a repeated key gets `-N`)."""
    seen: Counter[str] = Counter()
    out = []
    for raw, value in message:
        name = raw.strip()
        seen[name] += 1
        key = _xml_key(name) if xml else name
        out.append((key if seen[name] == 1 else f"{key}-{seen[name]}", value))
    return out


def _xml_key(name: str) -> str:
    key = "".join(c.lower() if c.isascii() and c.isalnum() else "_" for c in name)
    return f"_{key}" if key[:1].isdigit() else key


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )


def _param(params: Params, name: str, default: str) -> str:
    return next((value for key, value in params if key.lower() == name), default)


def _shown(name: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in name)[:40]

"""SIP requests and responses as frozen values, and their wire form (RFC 3261 §7, §20).

Owns header naming (compact forms expanded, RFC 3261 §7.3.3), lookup (case-insensitive, the
comma-separated list headers split on demand), Via and CSeq values, and serialisation with
pjsip's spelling of Content-Length, which Asterisk users' captures show.
"""

from __future__ import annotations

import re
from typing import Final, final

from sipnotify.sip.errors import ParseError
from sipnotify.sip.lexical import decimal
from sipnotify.sip.uri import Params, format_params, get_param, parse_params, split_header_values
from sipnotify.sip.value import Value

Headers = tuple[tuple[str, str], ...]

# RFC 3261 §7.3.3 and later RFCs' compact forms.
COMPACT = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "o": "Event",
    "r": "Refer-To",
    "b": "Referred-By",
    "u": "Allow-Events",
    "x": "Session-Expires",
    "a": "Accept-Contact",
    "j": "Reject-Contact",
    "d": "Request-Disposition",
    "y": "Identity",
    "n": "Identity-Info",
}
_CANONICAL = {
    name.lower(): name
    for name in (
        *COMPACT.values(),
        "CSeq",
        "Max-Forwards",
        "Route",
        "Record-Route",
        "WWW-Authenticate",
        "Proxy-Authenticate",
        "Authorization",
        "Proxy-Authorization",
        "User-Agent",
        "Server",
        "Expires",
        "Min-Expires",
        "Subscription-State",
        "Allow",
        "Accept",
        "Date",
        "Path",
        "Require",
        "Unsupported",
        "Retry-After",
    )
}
_KNOWN = frozenset(_CANONICAL.values())
_LIST_HEADERS = frozenset(
    ("via", "route", "record-route", "contact", "allow", "supported", "require", "path")
)


_SPELLING = {**_CANONICAL, **COMPACT}
_LIST_KNOWN = frozenset(_CANONICAL[name] for name in _LIST_HEADERS)
# Every spelling of a known header that peers write as is (full, lower case, compact), each a
# token: the parser takes these at once, without checking the name's characters or folding
# its case.
EXACT_NAMES = {**{name: name for name in _KNOWN}, **_SPELLING}


def canonical_name(name: str) -> str:
    """The header's full, conventional spelling; unknown names keep theirs."""
    return _SPELLING.get(name.lower(), name)


class _Message(Value):
    def __init__(self, headers: Headers, body: bytes) -> None:
        self.headers: Final = headers
        self.body: Final = body
        # parsed when first asked for, then kept: the parser's checks, the transaction key,
        # the reply address and the response all read the top Via
        self._via: Via | None = None
        self._cseq: CSeq | None = None

    def header(self, name: str) -> str | None:
        """The first value of a header (whole line for list headers), or None."""
        if name in _KNOWN:  # known names are always stored in their canonical spelling
            for key, value in self.headers:
                if key == name:
                    return value
            return None
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def header_values(self, name: str) -> list[str]:
        """Every value; list headers (Via, Route, Contact…) are split at top-level commas."""
        if name in _KNOWN:  # as in `header`: no case folding for a known name
            values = [value for key, value in self.headers if key == name]
            listed = name in _LIST_KNOWN
        else:
            wanted = name.lower()
            values = [value for key, value in self.headers if key.lower() == wanted]
            listed = wanted in _LIST_HEADERS
        if listed:
            return [part for value in values for part in split_header_values(value)]
        return values

    @property
    def call_id(self) -> str:
        return self.header("Call-ID") or ""

    @property
    def cseq(self) -> CSeq:
        if self._cseq is None:
            self._cseq = parse_cseq(self.header("CSeq") or "")
        return self._cseq

    @property
    def top_via(self) -> Via:
        if self._via is None:
            values = self.header_values("Via")
            if not values:
                raise ParseError("no Via header")
            self._via = parse_via(values[0])
        return self._via


@final
class Request(_Message):
    __match_args__ = ("method", "uri", "headers", "body")

    def __init__(self, method: str, uri: str, headers: Headers, body: bytes = b"") -> None:
        super().__init__(headers, body)
        self.method: Final = method
        self.uri: Final = uri

    def start_line(self) -> str:
        return f"{self.method} {self.uri} SIP/2.0"


@final
class Response(_Message):
    __match_args__ = ("status", "reason", "headers", "body")

    def __init__(self, status: int, reason: str, headers: Headers, body: bytes = b"") -> None:
        super().__init__(headers, body)
        self.status: Final = status
        self.reason: Final = reason

    def start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"


Message = Request | Response


def serialize(message: Message) -> bytes:
    """The wire form. Content-Length is always computed, in pjsip's spelling (right-aligned in
    five characters; `Content-Length:  0` for no body)."""
    head = f"{message.start_line()}\r\n{header_lines(message.headers)}"
    head += content_length(len(message.body))
    return head.encode("utf-8", "surrogateescape") + message.body


def header_lines(headers: Headers) -> str:
    """`Name: value` lines, each ending in CRLF; a Content-Length is left for serialize."""
    return "".join([f"{k}: {v}\r\n" for k, v in headers if not _is_length(k)])


def content_length(length: int) -> str:
    """The Content-Length line and the blank line after the headers, in pjsip's spelling."""
    return f"Content-Length: {length:5d}\r\n\r\n" if length else "Content-Length:  0\r\n\r\n"


@final
class Outgoing(Value):
    """A request as it goes on the wire, with what its client transaction (the top Via's
    branch) and a digest answer (method, Request-URI) need to know of it."""

    __match_args__ = ("method", "uri", "branch", "data")

    def __init__(self, method: str, uri: str, branch: str, data: bytes) -> None:
        self.method: Final = method
        self.uri: Final = uri
        self.branch: Final = branch
        self.data: Final = data


def outgoing(request: Request) -> Outgoing:
    return Outgoing(request.method, request.uri, request.top_via.branch, serialize(request))


def _is_length(name: str) -> bool:
    return len(name) == 14 and name.lower() == "content-length"


@final
class Via(Value):
    """RFC 3261 §20.42: `SIP/2.0/UDP host:port;branch=…;rport`."""

    __match_args__ = ("transport", "host", "port", "params")

    def __init__(self, transport: str, host: str, port: int | None, params: Params) -> None:
        self.transport: Final = transport
        self.host: Final = host
        self.port: Final = port
        self.params: Final = params

    def param(self, name: str) -> str | None:
        return get_param(self.params, name)

    @property
    def branch(self) -> str:
        return self.param("branch") or ""

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport} {self.host}{port}{format_params(self.params)}"


# RFC 3261 §20.42 and §25.1: sent-protocol = protocol-name SLASH protocol-version SLASH
# transport, where SLASH = SWS "/" SWS, so blanks may stand around each slash (RFC 4475
# "wsinv" folds a Via across lines there).
_SENT_PROTOCOL = re.compile(r"\s*SIP\s*/\s*2\.0\s*/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+", re.I)


def parse_via(text: str) -> Via:
    found = _SENT_PROTOCOL.match(text)
    if found is None:
        raise ParseError(f"bad Via: {text[:60]!r}")
    sent_by, _, params = text[found.end() :].partition(";")
    sent_by = sent_by.strip()
    if sent_by.startswith("["):
        end = sent_by.find("]")
        host, port_text = sent_by[: end + 1], sent_by[end + 2 :] if end >= 0 else ""
    else:
        host, _, port_text = sent_by.partition(":")
    if not host or " " in host:
        raise ParseError(f"bad Via sent-by: {text[:60]!r}")
    port = decimal(port_text.strip(), "Via port", maximum=65535) if port_text else None
    return Via(transport=found.group(1).upper(), host=host, port=port, params=parse_params(params))


@final
class CSeq(Value):
    __match_args__ = ("number", "method")

    def __init__(self, number: int, method: str) -> None:
        self.number: Final = number
        self.method: Final = method

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


def parse_cseq(text: str) -> CSeq:
    """RFC 3261 §20.16: a 32-bit sequence number and a method."""
    number, _, method = text.strip().partition(" ")
    method = method.strip()
    if not method:
        raise ParseError(f"bad CSeq: {text[:40]!r}")
    return CSeq(number=decimal(number, "CSeq", maximum=2**31 - 1), method=method)

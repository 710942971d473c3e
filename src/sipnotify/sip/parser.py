"""Bytes to SIP messages (RFC 3261 §7, §25), failing only with a ParseError.

Owns the start line, header folding, compact forms, the mandatory headers, Content-Length,
and the stream framing of TCP/TLS (messages delimited by Content-Length, CRLF keep-alives
between them, RFC 5626 §3.5.1), with bounds on header and body size.
"""

from __future__ import annotations

import re
from typing import Final, final

from sipnotify.sip.errors import ParseError
from sipnotify.sip.lexical import decimal, is_decimal
from sipnotify.sip.message import (
    EXACT_NAMES,
    Message,
    Request,
    Response,
    canonical_name,
    parse_cseq,
    parse_via,
)
from sipnotify.sip.uri import check_name_addr, check_request_uri
from sipnotify.sip.value import Value

MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
# RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_REQUIRED = ("To", "From", "CSeq", "Call-ID", "Via")
# RFC 3261 §7.3.1: only headers whose grammar is a comma-separated list may appear more than
# once; these may not (RFC 4475 §3.3.4 "multi01" is the torture case).
_SINGLE = frozenset(
    ("To", "From", "CSeq", "Call-ID", "Max-Forwards", "Content-Type", "Expires", "Event")
)


@final
class ResponseHead(Value):
    """What a response is matched to its transaction on (RFC 3261 §17.1.3: the top Via's
    branch and the CSeq method) and what a non-INVITE transaction reports (status, reason)."""

    __match_args__ = ("status", "reason", "branch", "method")

    def __init__(self, status: int, reason: str, branch: str, method: str) -> None:
        self.status: Final = status
        self.reason: Final = reason
        self.branch: Final = branch
        self.method: Final = method


_VIA_BRANCH = re.compile(r";\s*branch=([^;,\s]+)", re.IGNORECASE)
_PEEKED = {"via": "via", "v": "via", "cseq": "cseq", "from": "from", "f": "from", "to": "to",
           "t": "to", "call-id": "call-id", "i": "call-id"}  # fmt: skip


def peek_response(data: bytes) -> ResponseHead | None:
    """A response's head, read without building the message: the status line, the top Via's
    branch and the CSeq, with From, To and Call-ID present. None for anything else (a request,
    folded or odd lines, a missing header): `parse_message` then decides."""
    end = data.find(b"\r\n\r\n")
    if not data.startswith(b"SIP/2.0 ") or end < 0:
        return None
    lines = data[:end].decode("utf-8", "surrogateescape").split("\r\n")
    code, _, reason = lines[0][8:].partition(" ")
    if len(code) != 3 or not is_decimal(code) or code[0] == "0":
        return None
    found: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        key = _PEEKED.get(name.strip().lower())
        if not colon or line[:1] in (" ", "\t"):
            return None
        if key is not None and key not in found:
            found[key] = value
    branch = via_branch(found.get("via", ""))
    number, _, method = found.get("cseq", "").strip().partition(" ")
    if len(found) < 5 or not branch or not is_decimal(number) or not method.strip():
        return None
    return ResponseHead(int(code), reason, branch, method.strip())


def via_branch(via: str) -> str:
    """The branch of the first Via in a Via header value ("" without one), read without
    parsing the Via: responses are matched on it (RFC 3261 §17.1.3)."""
    found = _VIA_BRANCH.search(via)
    return found.group(1) if found is not None else ""


def parse_message(data: bytes) -> Message:
    """One whole message (a datagram, or a frame cut by `StreamFramer`)."""
    head, body = _split_head(data)
    lines = _unfold(head.decode("utf-8", "surrogateescape"))
    if not lines or not lines[0]:
        raise ParseError("empty message")
    headers: list[tuple[str, str]] = []
    lengths: set[str] = set()
    for line in lines[1:]:
        name, value = _header(line)
        if name == "Content-Length":
            lengths.add(value.strip())
        else:
            headers.append((name, value))
    return _start(lines[0], tuple(headers), _body(body, lengths))


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    data = data.lstrip(b"\r\n")
    for marker in (b"\r\n\r\n", b"\n\n"):
        cut = data.find(marker)
        if cut >= 0:
            return data[:cut], data[cut + len(marker) :]
    return data, b""


def _unfold(head: str) -> list[str]:
    """Join continuation lines (leading SP/HTAB) onto the previous header (RFC 3261 §7.3.1)."""
    lines = head.split("\r\n")
    breaks = len(lines) - 1
    if head.count("\n") == breaks and head.count("\r") == breaks and not _folded(lines):
        return lines  # the usual message: CRLF only, nothing folded
    lines = []
    for raw in head.replace("\r\n", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] = lines[-1].rstrip() + " " + raw.strip()
        else:
            lines.append(raw.rstrip("\r"))
    return lines


def _folded(lines: list[str]) -> bool:
    return any(line[:1] in (" ", "\t") for line in lines)


def _header(line: str) -> tuple[str, str]:
    name, colon, value = line.partition(":")
    known = EXACT_NAMES.get(name)
    if known is not None and colon:
        return known, value.strip(" \t")
    name = name.rstrip(" \t")
    if not colon or _TOKEN_RE.fullmatch(name) is None:
        raise ParseError(f"malformed header line {line[:40]!r}")
    return canonical_name(name), value.strip(" \t")


def _body(body: bytes, lengths: set[str]) -> bytes:
    """The body, cut to Content-Length, which has done its work and leaves the headers
    (serialize() computes it again)."""
    if not lengths:
        return body
    if len(lengths) > 1:
        raise ParseError("conflicting Content-Length headers")
    (text,) = lengths
    length = decimal(text, "Content-Length")
    if length > len(body):
        raise ParseError("body shorter than Content-Length")
    return body[:length]


def _start(line: str, headers: tuple[tuple[str, str], ...], body: bytes) -> Message:
    if line.startswith("SIP/"):
        return _status_line(line, headers, body)
    parts = line.split(" ")
    if len(parts) != 3 or _TOKEN_RE.fullmatch(parts[0]) is None or not parts[1]:
        raise ParseError(f"malformed request line {line[:60]!r}")
    method, uri, version = parts
    if version.upper() != "SIP/2.0":
        raise ParseError(f"unsupported version {version!r}", 505)
    request = Request(method=method, uri=uri, headers=headers, body=body)
    _check_request(request)
    return request


def _status_line(line: str, headers: tuple[tuple[str, str], ...], body: bytes) -> Response:
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if version.upper() != "SIP/2.0" or len(code) != 3 or not is_decimal(code) or code[0] == "0":
        raise ParseError(f"malformed status line {line[:60]!r}")
    _check_required(headers)
    response = Response(status=int(code), reason=reason, headers=headers, body=body)
    parse_cseq(response.header("CSeq") or "")  # a response is matched on its Via branch and CSeq
    return response


def _check_single(headers: tuple[tuple[str, str], ...]) -> None:
    seen: set[str] = set()
    for name, _ in headers:
        if name in _SINGLE:
            if name in seen:
                raise ParseError(f"more than one {name} header")
            seen.add(name)


def _check_required(headers: tuple[tuple[str, str], ...]) -> None:
    present = {name for name, _ in headers}
    for name in _REQUIRED:
        if name not in present:
            raise ParseError(f"missing {name}")


def _check_request(request: Request) -> None:
    """RFC 3261 §8.2: the mandatory headers must be there, once where their grammar allows
    one value, and make sense; the Request-URI is a URI, not a name-addr (RFC 4475
    "ltgtruri")."""
    _check_required(request.headers)
    _check_single(request.headers)
    check_request_uri(request.uri)
    if request.cseq.method != request.method:
        raise ParseError("CSeq method does not match the request method")
    vias = request.header_values("Via")
    if not vias:
        raise ParseError("empty Via")
    request.top_via  # noqa: B018 (parsed, checked and kept for what reads it next)
    for via in vias[1:]:
        parse_via(via)
    for name in ("From", "To"):
        check_name_addr(request.header(name) or "")
    forwards = request.header("Max-Forwards")
    if forwards is not None:
        decimal(forwards, "Max-Forwards", maximum=255)


class StreamFramer:
    """Cuts a TCP/TLS byte stream into whole messages by their Content-Length.

    CRLF keep-alives between messages are dropped (a double CRLF "ping" is reported so the
    transport can answer it with a single CRLF "pong", RFC 5626 §3.5.1). A header block or body
    past its bound raises ParseError(413): the stream cannot be resynchronised after that.
    """

    def __init__(
        self, *, max_header: int = MAX_HEADER_BYTES, max_body: int = MAX_BODY_BYTES
    ) -> None:
        self._buffer = bytearray()
        self._max_header = max_header
        self._max_body = max_body
        self.pings = 0

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames: list[bytes] = []
        while True:
            self._skip_keepalives()
            frame = self._next_frame()
            if frame is None:
                return frames
            frames.append(frame)

    def _skip_keepalives(self) -> None:
        while self._buffer[:2] == b"\r\n":
            if self._buffer[:4] == b"\r\n\r\n":
                self.pings += 1
                del self._buffer[:4]
            else:
                del self._buffer[:2]

    def _next_frame(self) -> bytes | None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > self._max_header:
                raise ParseError("header block too large", 413)
            return None
        if end > self._max_header:
            raise ParseError("header block too large", 413)
        length = _content_length(bytes(self._buffer[:end]))
        if length > self._max_body:
            raise ParseError("body too large", 413)
        total = end + 4 + length
        if len(self._buffer) < total:
            return None
        frame = bytes(self._buffer[:total])
        del self._buffer[:total]
        return frame


def _content_length(head: bytes) -> int:
    """Content-Length (or `l`) from a header block; a stream message must carry exactly one.
    Two that differ are refused here rather than trusting the first: the parser would refuse
    the message, and the bytes the first one left over would be read as a second request
    that its sender wrote whole (request smuggling)."""
    found: set[bytes] = set()
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() in (b"content-length", b"l"):
            found.add(value.strip())
    if not found:
        raise ParseError("stream message without Content-Length")
    if len(found) > 1:
        raise ParseError("conflicting Content-Length headers")
    (text,) = found
    return decimal(text.decode("ascii", "replace"), "Content-Length")

"""Responses a server sends (RFC 3261 §8.2.6), sans I/O: to a parsed request, or, when a
request cannot be parsed, to whatever of its headers can still be read (400/413/505).

The top Via gains `received` and a filled `rport` (RFC 3581 §4), so the answer finds its way
back through NAT.
"""

from __future__ import annotations

import re
from typing import Final, final

from sipnotify.sip.errors import ParseError
from sipnotify.sip.message import Request, Response, Via, parse_via
from sipnotify.sip.value import Value

Address = tuple[str, int]
_TAG = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]{1,128}")  # RFC 3261 §25.1 token, kept short


@final
class Reply(Value):
    """What a request is to be answered with: a status, its reason, extra headers, and the To
    tag to answer with when the answer starts a dialog of its own."""

    __match_args__ = ("status", "reason", "headers", "to_tag")

    def __init__(
        self, status: int, reason: str, headers: tuple[tuple[str, str], ...] = (), to_tag: str = ""
    ) -> None:
        self.status: Final = status
        self.reason: Final = reason
        self.headers: Final = headers
        self.to_tag: Final = to_tag


def make_response(
    request: Request,
    status: int,
    reason: str,
    source: Address,
    *,
    server: str,
    extra: tuple[tuple[str, str], ...] = (),
    to_tag: str,
    body: bytes = b"",
) -> Response:
    """RFC 3261 §8.2.6: a response copying Via, From, To, Call-ID and CSeq; the top Via gains
    `received` and a filled `rport` (RFC 3581 §4). A To without a tag gets `to_tag` (none at
    all when empty, as for 100 Trying)."""
    vias = request.header_values("Via")
    vias[0] = _stamp_via(request.top_via, source)
    to = request.header("To") or ""
    if ";tag=" not in to.replace(" ", ""):
        to += f";tag={to_tag}" if to_tag else ""
    headers = (
        *(("Via", v) for v in vias),
        ("From", request.header("From") or ""),
        ("To", to),
        ("Call-ID", request.call_id),
        ("CSeq", request.header("CSeq") or ""),
        *extra,
        ("Server", server),
    )
    return Response(status=status, reason=reason, headers=headers, body=body)


def stateless_tag(request: Request) -> str:
    """RFC 3261 §8.2.7: "To header tags MUST be generated for responses in a stateless manner
    - in a manner that will generate the same tag for the same request consistently." The
    top Via's branch, as Asterisk's answers outside a dialog carry it ("" when that is not a
    token: the caller makes a tag of its own)."""
    branch = request.top_via.branch
    return branch if _TAG.fullmatch(branch) else ""


def unsupported(request: Request, supported: frozenset[str]) -> tuple[str, ...]:
    """RFC 3261 §8.2.2.3: the option tags of `Require` this UAS does not support, for a 420
    with an `Unsupported` header listing them. ACK and CANCEL are never refused for them."""
    if request.method in ("ACK", "CANCEL"):
        return ()
    required = request.header_values("Require")
    return tuple(tag for tag in required if tag.lower() not in supported)


def _stamp_via(via: Via, source: Address) -> str:
    params = [(k, v) for k, v in via.params if k.lower() not in ("received", "rport")]
    params.insert(0, ("received", source[0]))
    if via.param("rport") is not None:
        params.insert(1, ("rport", str(source[1])))
    return str(Via(via.transport, via.host, via.port, tuple(params)))


def bad_request(data: bytes, exc: ParseError, source: Address) -> bytes | None:
    """The 400/413/505 for an unparseable request when its Via, From, To, Call-ID and CSeq
    can still be read; None for anything else (a response, or too little to answer)."""
    text = data.decode("utf-8", "replace")
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].startswith("SIP/"):
        return None
    found: dict[str, str] = {}
    short = {"v": "via", "f": "from", "t": "to", "i": "call-id"}
    for line in lines[1:]:
        if not line:
            break
        name, colon, value = line.partition(":")
        key = short.get(name.strip().lower(), name.strip().lower())
        if colon and key in ("via", "from", "to", "call-id", "cseq"):
            found.setdefault(key, value.strip())
    if len(found) < 5:
        return None
    reasons = {400: "Bad Request", 413: "Request Entity Too Large", 505: "Version Not Supported"}
    try:
        via = _stamp_via(parse_via(found["via"].split(",")[0]), source)
    except ParseError:
        return None
    warning = exc.reason.replace('"', "")
    head = [
        f"SIP/2.0 {exc.status} {reasons.get(exc.status, 'Bad Request')}",
        f"Via: {via}",
        f"From: {found['from']}",
        f"To: {found['to']}",
        f"Call-ID: {found['call-id']}",
        f"CSeq: {found['cseq']}",
        f'Warning: 399 sipnotify "{warning}"',
        "Content-Length:  0",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode()

"""RFC 3261 §17.1.3 and §17.2.3: which transaction a message belongs to."""

from __future__ import annotations

import re

from sipnotify.sip.message import Request
from sipnotify.sip.uri import parse_name_addr

# RFC 3261 §8.1.1.7: a branch that starts with the magic cookie was made by an RFC 3261
# element and is unique per transaction.
MAGIC_COOKIE = "z9hG4bK"
Key = tuple[str, ...]  # (branch, method) for clients, (branch, sent-by, method) for servers


def server_key(request: Request, method: str | None = None) -> Key:
    """The server transaction a request belongs to (§17.2.3). `method` names the
    transaction's method when it differs from the request's (an ACK or CANCEL looks up its
    INVITE).

    With the magic cookie: the top Via's branch and sent-by, and the method. Without it (an
    RFC 2543 peer), §17.2.3 matches on the Request-URI, From tag, Call-ID, CSeq number and the
    whole top Via instead; the To tag is left out, since the ACK of a non-2xx carries the tag
    of our response and the INVITE none."""
    via = request.top_via
    sent_by = f"{via.host}:{via.port}"
    wanted = method or request.method
    if via.branch.startswith(MAGIC_COOKIE):
        return (via.branch, sent_by, wanted)
    from_tag = parse_name_addr(request.header("From") or "").tag or ""
    legacy = "\n".join((request.uri, from_tag, request.call_id, str(request.cseq.number), str(via)))
    return (legacy, sent_by, wanted)


# A top Via as RFC 3261 elements write it: no blanks, a plain host, parameters that are
# tokens (optionally `=` a token); anything else is left to the full parser.
_PLAIN_VIA = re.compile(
    r"SIP/2\.0/[A-Za-z]+ ([A-Za-z0-9.\-]+)(?::([0-9]{1,5}))?"
    r"((?:;[A-Za-z0-9\-.!%*_+`'~]+(?:=[A-Za-z0-9\-.!%*_+`'~]*)?)*)"
)


# The first branch parameter with the magic cookie anywhere in a message's bytes. Usually the
# top Via's; when it is not, a retransmission is merely found the slower way (parsed).
_FIRST_BRANCH = re.compile(rb";(?i:branch)=(z9hG4bK[^;,\s]*)")


def first_branch(data: bytes) -> str | None:
    """The branch a request most likely belongs to, found with one search: whether a live
    transaction has it decides if the request is worth matching on its bytes at all (most
    requests a busy server reads are new, and `peek_server_key` costs several times more)."""
    found = _FIRST_BRANCH.search(data)
    return found.group(1).decode("utf-8", "surrogateescape") if found is not None else None


def peek_server_key(data: bytes) -> Key | None:
    """The server transaction key of a request (§17.2.3, with the magic cookie), read without
    building the message: what a retransmission is matched on, so one costs a look-up rather
    than a parse. None when unsure (ACK, CANCEL, a folded line, a Via written otherwise, no
    cookie): the full parser and `server_key` decide. Where it answers, it answers as
    `server_key` of the parsed request would."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    at = data.find(b"\r\n")  # only the lines up to the Via are read, and only it is decoded
    method, _, rest = data[:at].partition(b" ")
    if method in (b"ACK", b"CANCEL") or not rest.endswith(b" SIP/2.0"):
        return None
    while at < end:
        start = at + 2
        at = data.find(b"\r\n", start)
        name, colon, value = data[start:at].partition(b":")
        if not colon or name[:1] in (b" ", b"\t"):
            return None
        if name.rstrip(b" \t").lower() in (b"via", b"v"):
            if at < end and data[at + 2 : at + 3] in (b" ", b"\t"):
                return None  # folded onto the next line
            text = value.strip(b" \t").decode("utf-8", "surrogateescape")
            return _plain_key(text, method.decode("utf-8", "surrogateescape"))
    return None


def _plain_key(via: str, method: str) -> Key | None:
    found = _PLAIN_VIA.fullmatch(via)
    if found is None:
        return None
    host, port, params = found.groups()
    for param in params.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.lower() == "branch":
            if not value.startswith(MAGIC_COOKIE):
                return None
            return (value, f"{host}:{int(port) if port else None}", method)
    return None

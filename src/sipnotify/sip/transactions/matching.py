"""RFC 3261 §17.1.3 and §17.2.3: which transaction a message belongs to."""

from __future__ import annotations

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

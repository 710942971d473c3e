"""SIP dialogs (RFC 3261 §12), sans I/O: the state two user agents share after an INVITE.

Owns building a dialog on the UAS side from an INVITE and the tag we answer with, and on the
UAC side from a response carrying a To tag; early and confirmed states; the route set and
remote target (updated by a target-refresh request); the local and remote CSeq; matching an
incoming request to its dialog; and building in-dialog requests (§12.2.1.1).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sipnotify.sip.errors import ParseError
from sipnotify.sip.message import Request, Response, parse_cseq
from sipnotify.sip.uri import NameAddr, parse_name_addr

Headers = tuple[tuple[str, str], ...]


class DialogState(enum.Enum):
    EARLY = "Early"
    CONFIRMED = "Confirmed"
    TERMINATED = "Terminated"


@dataclass(frozen=True, slots=True)
class DialogId:
    """RFC 3261 §12: Call-ID, local tag and remote tag identify a dialog."""

    call_id: str
    local_tag: str
    remote_tag: str


class Dialog:
    """One dialog. `local_uri`/`remote_uri` are the From/To values without tags, as received
    or sent (display names kept), `remote_target` the peer's Contact URI."""

    __slots__ = (
        "id",
        "local_cseq",
        "local_uri",
        "remote_cseq",
        "remote_target",
        "remote_uri",
        "route_set",
        "state",
    )

    def __init__(
        self,
        *,
        id: DialogId,
        local_uri: NameAddr,
        remote_uri: NameAddr,
        remote_target: str,
        route_set: tuple[str, ...],
        local_cseq: int,
        remote_cseq: int | None,
        state: DialogState,
    ) -> None:
        self.id = id
        self.local_uri = local_uri
        self.remote_uri = remote_uri
        self.remote_target = remote_target
        self.route_set = route_set
        self.local_cseq = local_cseq
        self.remote_cseq = remote_cseq
        self.state = state

    def confirm(self) -> None:
        """A 2xx was sent or received (§12.1): the early dialog becomes confirmed."""
        if self.state is DialogState.EARLY:
            self.state = DialogState.CONFIRMED

    def terminate(self) -> None:
        self.state = DialogState.TERMINATED

    def accepts(self, request: Request) -> bool:
        """§12.2.2: a request with a CSeq lower than the last one is out of order (answered
        500); ACK and CANCEL carry the INVITE's number and are always taken."""
        number = parse_cseq(request.header("CSeq") or "").number
        if request.method in ("ACK", "CANCEL"):
            return True
        if self.remote_cseq is not None and number <= self.remote_cseq:
            return False
        self.remote_cseq = number
        return True

    def refresh_target(self, message: Request | Response) -> None:
        """§12.2.2: a target-refresh request (re-INVITE, UPDATE) replaces the remote target."""
        contact = _contact_uri(message)
        if contact:
            self.remote_target = contact

    def request(
        self,
        method: str,
        *,
        via: str,
        contact: str,
        extra: Headers = (),
        body: bytes = b"",
        cseq: int | None = None,
    ) -> Request:
        """§12.2.1.1: a request within the dialog, with the sender's `via` (sent-by and a new
        branch) and our `contact` URI.

        Request-URI is the remote target and Route the route set (loose routing, `lr`: the
        only kind sipnotify follows); To and From carry the tags; the CSeq is the next local
        number, or `cseq` as given (the ACK of a 2xx reuses the INVITE's, §13.2.2.4). Header
        order is pjsip's: Via, From, To, Contact, Call-ID, CSeq, Route, then `extra`."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        headers: Headers = (
            ("Via", via),
            ("From", _with_tag(self.local_uri, self.id.local_tag)),
            ("To", _with_tag(self.remote_uri, self.id.remote_tag)),
            ("Contact", f"<{contact}>"),
            ("Call-ID", self.id.call_id),
            ("CSeq", f"{cseq} {method}"),
            *(("Route", route) for route in self.route_set),
            *extra,
        )
        return Request(method=method, uri=self.remote_target, headers=headers, body=body)


def uas_dialog(invite: Request, local_tag: str, *, confirmed: bool = False) -> Dialog:
    """§12.1.1: the dialog a UAS creates with its 1xx (with a tag) or 2xx to `invite`.

    Route set: the Record-Route values in order; remote target: the request's Contact; remote
    CSeq: the request's; the local CSeq starts empty (0) until we send a request."""
    remote = parse_name_addr(invite.header("From") or "")
    local = parse_name_addr(invite.header("To") or "")
    if not remote.tag:
        raise ParseError("INVITE without a From tag")
    return Dialog(
        id=DialogId(invite.call_id, local_tag, remote.tag),
        local_uri=_untagged(local),
        remote_uri=_untagged(remote),
        remote_target=_contact_uri(invite) or str(remote.uri),
        route_set=tuple(invite.header_values("Record-Route")),
        local_cseq=0,
        remote_cseq=parse_cseq(invite.header("CSeq") or "").number,
        state=DialogState.CONFIRMED if confirmed else DialogState.EARLY,
    )


def uac_dialog(invite: Request, response: Response) -> Dialog:
    """§12.1.2: the dialog a UAC creates from a 1xx with a To tag or a 2xx to `invite`.

    Route set: the response's Record-Route in reverse order; remote target: its Contact."""
    local = parse_name_addr(invite.header("From") or "")
    remote = parse_name_addr(response.header("To") or "")
    if not local.tag or not remote.tag:
        raise ParseError("a dialog needs both tags")
    return Dialog(
        id=DialogId(invite.call_id, local.tag, remote.tag),
        local_uri=_untagged(local),
        remote_uri=_untagged(remote),
        remote_target=_contact_uri(response) or invite.uri,
        route_set=tuple(reversed(response.header_values("Record-Route"))),
        local_cseq=parse_cseq(invite.header("CSeq") or "").number,
        remote_cseq=None,
        state=DialogState.CONFIRMED if 200 <= response.status < 300 else DialogState.EARLY,
    )


def _contact_uri(message: Request | Response) -> str:
    values = message.header_values("Contact")
    if not values:
        return ""
    try:
        return str(parse_name_addr(values[0]).uri)
    except ParseError:
        return ""


def _untagged(value: NameAddr) -> NameAddr:
    params = tuple((k, v) for k, v in value.params if k.lower() != "tag")
    return NameAddr(uri=value.uri, display=value.display, params=params)


def _with_tag(value: NameAddr, tag: str) -> str:
    return f"{value};tag={tag}"

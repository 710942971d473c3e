"""The NOTIFY (or OPTIONS) on the wire, exactly as Asterisk builds it (behaviour: notify
request): formatted once per target, with only the branch, CSeq and Authorization filled in per
attempt (the hot path), in and out of a dialog; and an endpoint's outbound credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import final

from sipnotify.config.pjsip import Endpoint, PjsipConfig
from sipnotify.notify.content import NotifyContent
from sipnotify.notify.targets import InDialog, Target
from sipnotify.sip.auth import Credentials
from sipnotify.sip.ids import Ids
from sipnotify.sip.message import (
    Outgoing,
    canonical_name,
    content_length,
    header_lines,
    outgoing,
)
from sipnotify.sip.transactions.exchange import Build, Headers
from sipnotify.sip.uri import SipUri
from sipnotify.ua.addresses import Local, bracketed, via

log = logging.getLogger("sipnotify.notify")


Factory = Callable[[Local], Build]


def request_factory(
    target: Target,
    content: NotifyContent,
    local: Local,
    config: PjsipConfig,
    *,
    ids: Ids,
    method: str = "NOTIFY",
) -> Build:
    """The NOTIFY for `target`, as Asterisk builds it (header order from the captures);
    the factory takes the CSeq number and any Authorization headers, so a challenge can be
    answered with the same Call-ID and From tag. Everything but the branch, the CSeq and the
    Authorization is formatted once, here (the hot path)."""
    endpoint = target.endpoint
    user = endpoint.from_user or endpoint.name
    transport = local.protocol.upper()
    via_suffix = "" if local.protocol == "udp" else ";alias"
    transport_param = "" if local.protocol == "udp" else f";transport={transport}"
    from_uri = _from_uri(user, endpoint.from_domain or local.host)
    contact_user = endpoint.contact_user or user.partition("@")[0]
    contact = f"<sip:{contact_user}@{bracketed(local.host)}:{local.port}{transport_param}>"
    request_uri = _request_uri(target.uri, endpoint)
    call_id, tag = ids(), ids()
    head = f"{method} {request_uri} SIP/2.0\r\nVia: SIP/2.0/{transport} "
    head += f"{bracketed(local.host)}:{local.port};rport;branch="
    middle = (
        f"{via_suffix}\r\nFrom: <{from_uri}>;tag={tag}\r\nTo: <{target.uri.without_port()}>\r\n"
        f"Contact: {contact}\r\nCall-ID: {call_id}\r\nCSeq: "
    )
    route = f"Route: {_bracket(endpoint.outbound_proxy)}\r\n" if endpoint.outbound_proxy else ""
    if target.path:  # RFC 3327 §5.3: the registered Path is the route set to the contact
        route += f"Route: {target.path}\r\n"
    state = (("Subscription-State", "terminated"),) if method == "NOTIFY" else ()
    body = content.body.encode("utf-8", "surrogateescape") if content.content_type else b""
    trailing = header_lines((*state, *content.headers, *_trailing_headers(content, config)))
    tail = (trailing + content_length(len(body))).encode("utf-8", "surrogateescape") + body
    return _Formatted(method, request_uri, (head, middle, route), tail, ids)


@final
class _Formatted:
    """A request `request_factory` formatted: each call is one attempt, with its branch, CSeq
    and Authorization filled in. The builders here are classes, not closures: compiled by
    mypyc, a closure and its environment refer to each other, and each of a fan-out's
    thousand NOTIFYs would leave a reference cycle for the collector's slower passes."""

    def __init__(self, method: str, uri: str, parts: tuple[str, str, str], tail: bytes,
                 ids: Ids) -> None:  # fmt: skip
        self._method = method
        self._uri = uri
        self._head, self._middle, self._route = parts  # around the branch and the CSeq
        self._tail = tail
        self._ids = ids

    def __call__(self, cseq: int, authorization: Headers) -> Outgoing:
        branch = self._ids.branch()
        method = self._method
        text = (f"{self._head}{branch}{self._middle}{cseq} {method}\r\n{self._route}"
                f"{header_lines(authorization)}")  # fmt: skip
        data = text.encode("utf-8", "surrogateescape") + self._tail
        return Outgoing(method, self._uri, branch, data)


def subscription_factory(
    target: InDialog,
    content: NotifyContent,
    local: Local,
    config: PjsipConfig,
    *,
    state: str,
    ids: Ids,
) -> Build:
    """A NOTIFY of a subscription (RFC 6665 §4.2.2): from its dialog, with the content's Event
    first, then `Subscription-State: <state>`, then the rest, as Asterisk orders them."""
    events = tuple(h for h in content.headers if h[0].lower() == "event")
    others = tuple(h for h in content.headers if h[0].lower() != "event")
    trailing = (*events, ("Subscription-State", state), *others,
                *_trailing_headers(content, config))  # fmt: skip
    return _dialog_notify(target, content, trailing, local, ids)


def _dialog_notify(target: InDialog, content: NotifyContent, trailing: Headers, local: Local,
                   ids: Ids) -> Build:  # fmt: skip
    """A NOTIFY from the dialog (its Call-ID, tags, next local CSeq, remote target, route set;
    the factory's CSeq argument is not used), with these headers after the dialog's."""
    body = content.body.encode("utf-8", "surrogateescape") if content.content_type else b""
    return _FromDialog(target, trailing, body, local, ids)


@final
class _FromDialog:
    """A NOTIFY `_dialog_notify` builds, one attempt per call (a class for the reason
    `_Formatted` gives)."""

    def __init__(self, target: InDialog, trailing: Headers, body: bytes, local: Local,
                 ids: Ids) -> None:  # fmt: skip
        self._target = target
        self._trailing = trailing
        self._body = body
        self._local = local
        self._ids = ids

    def __call__(self, _cseq: int, authorization: Headers) -> Outgoing:
        target = self._target
        top = via(self._local, self._ids.branch())
        extra = (*authorization, *self._trailing)
        return outgoing(target.dialog.request("NOTIFY", via=top, contact=target.contact,
                                              extra=extra, body=self._body))  # fmt: skip


def _trailing_headers(content: NotifyContent, config: PjsipConfig) -> tuple[tuple[str, str], ...]:
    names = {canonical_name(name).lower() for name, _ in content.headers}
    extra: list[tuple[str, str]] = []
    if "max-forwards" not in names:
        extra.append(("Max-Forwards", str(config.global_.max_forwards)))
    if "user-agent" not in names:
        extra.append(("User-Agent", config.global_.user_agent))
    if content.content_type is not None:
        kind = content.content_type
        extra.append(("Content-Type", kind if "/" in kind else f"{kind}/"))
    return tuple(extra)


def _from_uri(user: str, host: str) -> str:
    """behaviour: notify request: a user with '@' is the whole URI; From carries no port, as
    Asterisk sends it."""
    return f"sip:{user}" if "@" in user else f"sip:{user}@{bracketed(host)}"


def _request_uri(uri: SipUri, endpoint: Endpoint) -> str:
    """`user_eq_phone=yes` adds `;user=phone` to a numeric user part."""
    numeric = bool(uri.user) and (uri.user or "").lstrip("+").isdigit()
    if endpoint.user_eq_phone and numeric and uri.param("user") is None:
        uri = uri.with_params((*uri.params, ("user", "phone")))
    return str(uri)


def _bracket(uri: str) -> str:
    uri = uri.strip()
    return uri if uri.startswith("<") else f"<{uri}>"


def credentials_for(endpoint: Endpoint, config: PjsipConfig) -> list[Credentials]:
    """The endpoint's `outbound_auth` sections as digest credentials."""
    found = []
    for name in endpoint.outbound_auth:
        auth = config.auths[name]
        md5 = auth.md5_cred if auth.auth_type == "md5" and auth.md5_cred else None
        found.append(
            Credentials(
                username=auth.username,
                password=auth.password,
                md5_ha1=md5,
                realm=auth.realm or None,
            )
        )
    return found


def in_dialog_factory(
    target: InDialog, content: NotifyContent, local: Local, config: PjsipConfig, ids: Ids
) -> Build:
    """behaviour: notify request: the NOTIFY from the dialog (same Call-ID, both tags, the next
    local CSeq — the factory's CSeq argument is not used —, the remote target, the route set), then
    Subscription-State and the user's headers and body, as out of dialog."""
    trailing = (
        ("Subscription-State", "terminated"),
        *content.headers,
        *_trailing_headers(content, config),
    )
    return _dialog_notify(target, content, trailing, local, ids)

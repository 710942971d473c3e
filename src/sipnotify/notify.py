"""The PJSIPNotify rules (behaviour: notify checks, notify presets; deliberate differences 1
and 2), independent of AMI.

Owns: turning Option/Variable items into NOTIFY headers and body (reserved names, Content
joining, a single Event, Content-Type), refusing what would inject a line, resolving targets
(an endpoint's contacts in every AOR, or a URI through the default outbound endpoint),
building each out-of-dialog NOTIFY exactly as Asterisk does, and sending them all at once
through a `Sender`, reporting each contact's answer.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from sipnotify.config.notify import NotifyPresets
from sipnotify.config.pjsip import Aor, Endpoint, PjsipConfig
from sipnotify.sending import Address, Done, Factory, Final, Hop, Local, bracketed, via
from sipnotify.sip.auth import Credentials
from sipnotify.sip.dialog import Dialog
from sipnotify.sip.errors import ParseError
from sipnotify.sip.message import (
    Outgoing,
    canonical_name,
    content_length,
    header_lines,
    outgoing,
)
from sipnotify.sip.registrar import Binding
from sipnotify.sip.uri import SipUri, parse_uri

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


@dataclass(frozen=True, slots=True)
class NotifyContent:
    """User headers in order, and the body (None without a Content-Type)."""

    headers: tuple[tuple[str, str], ...]
    content_type: str | None = None
    body: str = ""


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


@dataclass(frozen=True, slots=True)
class Target:
    """One NOTIFY to send: the endpoint whose identity it carries, the Request-URI, and for a
    contact registered over TCP/TLS the connection it registered on."""

    endpoint: Endpoint
    uri: SipUri
    label: str
    flow: tuple[str, tuple[str, int]] | None = None


@dataclass(frozen=True, slots=True)
class InDialog:
    """A NOTIFY inside a call (behaviour: notify request): the call's dialog, the endpoint it
    belongs to, our Contact in that dialog, the channel name it is reported under, and the
    TCP/TLS flow the call came in on, if any."""

    dialog: Dialog
    endpoint: Endpoint
    contact: str
    label: str
    flow: tuple[str, tuple[str, int]] | None = None


Registered = Callable[[str], list[Binding]]


def no_registrations(_aor: str) -> list[Binding]:
    return []


def endpoint_targets(
    config: PjsipConfig, name: str, registered: Registered = no_registrations
) -> list[Target]:
    """Every contact of every AOR of the endpoint (behaviour: notify request): the static
    ones, then the registered unexpired ones, AOR by AOR.

    Raises NotifyError when Asterisk would answer `NOTIFY sent` for nothing (deliberate
    difference 1).
    """
    endpoint = config.endpoints.get(name)
    if endpoint is None:
        raise NotifyError(f"Unable to retrieve endpoint {shown(name)}")
    if not endpoint.aors:
        raise NotifyError(f"Unable to send NOTIFY: endpoint {name} has no AORs configured")
    targets = []
    for aor_name in endpoint.aors:
        aor = config.aors.get(aor_name)
        if aor is not None:
            targets += aor_targets(endpoint, aor, registered(aor_name))
    if not targets:
        raise NotifyError(f"Unable to send NOTIFY: endpoint {name} has no contacts")
    return targets


def aor_targets(endpoint: Endpoint, aor: Aor, bindings: list[Binding]) -> list[Target]:
    """The AOR's static contacts, then its registered ones, as seen by `endpoint`."""
    static = [Target(endpoint, _contact_uri(c), endpoint.name) for c in aor.contacts]
    return static + [_registered(endpoint, b, endpoint.name) for b in bindings]


def _registered(endpoint: Endpoint, binding: Binding, name: str) -> Target:
    flow = None
    if binding.protocol != "udp":
        flow = (binding.protocol, (binding.via_addr, binding.via_port))
    return Target(endpoint, _contact_uri(binding.uri), name, flow)


def uri_target(config: PjsipConfig, text: str) -> Target:
    """An arbitrary URI, sent as the default outbound endpoint (behaviour: notify request)."""
    try:
        uri = _contact_uri(text)
    except ParseError:
        raise NotifyError(
            f"Unable to send NOTIFY: '{shown(text)}' is not a valid SIP URI"
        ) from None
    name = config.global_.default_outbound_endpoint
    endpoint = config.endpoints.get(name)
    if endpoint is None:
        raise NotifyError(
            "Unable to send NOTIFY: no default outbound endpoint; set "
            "default_outbound_endpoint in pjsip.conf [global] to an existing endpoint"
        )
    return Target(endpoint=endpoint, uri=uri, label="")


@functools.lru_cache(maxsize=65536)
def _contact_uri(text: str) -> SipUri:
    """A contact's URI; cached, since the same static and registered contacts are notified
    over and over (SipUri is immutable)."""
    return parse_uri(text.strip().removeprefix("<").removesuffix(">"))


@dataclass(frozen=True, slots=True)
class NotifyResult:
    """What one contact answered: a final status, or an error (timeout, transport)."""

    label: str
    uri: str
    status: int | None
    reason: str
    error: str | None
    rtt: float | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Sender(Protocol):
    """What sending needs from the SIP endpoint (endpoint.SipEndpoint implements it)."""

    def submit(
        self, hop: Hop, factory: Factory, credentials: list[Credentials], done: Done
    ) -> None: ...


def request_factory(
    target: Target,
    content: NotifyContent,
    local: Local,
    config: PjsipConfig,
    *,
    method: str = "NOTIFY",
    ids: Ids | None = None,
) -> Callable[[int, tuple[tuple[str, str], ...]], Outgoing]:
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
    new_id = ids or Ids()
    call_id, tag = new_id(), new_id()
    head = f"{method} {request_uri} SIP/2.0\r\nVia: SIP/2.0/{transport} "
    head += f"{bracketed(local.host)}:{local.port};rport;branch="
    middle = (
        f"{via_suffix}\r\nFrom: <{from_uri}>;tag={tag}\r\nTo: <{target.uri.without_port()}>\r\n"
        f"Contact: {contact}\r\nCall-ID: {call_id}\r\nCSeq: "
    )
    route = f"Route: {_bracket(endpoint.outbound_proxy)}\r\n" if endpoint.outbound_proxy else ""
    state = (("Subscription-State", "terminated"),) if method == "NOTIFY" else ()
    body = content.body.encode("utf-8", "surrogateescape") if content.content_type else b""
    trailing = header_lines((*state, *content.headers, *_trailing_headers(content, config)))
    tail = (trailing + content_length(len(body))).encode("utf-8", "surrogateescape") + body

    def build(cseq: int, authorization: tuple[tuple[str, str], ...]) -> Outgoing:
        branch = f"z9hG4bKPj{new_id()}"
        text = f"{head}{branch}{middle}{cseq} {method}\r\n{route}{header_lines(authorization)}"
        return Outgoing(method, request_uri, branch, text.encode("utf-8", "surrogateescape") + tail)

    return build


class Ids:
    """Call-IDs, tags and branch parts: unique (a random prefix and a counter) and far cheaper
    than a UUID from the OS's random source per message."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}-{next(self._counter):x}"


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


Report = Callable[[NotifyResult], None]
Sending = Callable[[Report], None]  # starts sending; reports each result


def in_dialog_factory(
    target: InDialog, content: NotifyContent, local: Local, config: PjsipConfig, ids: Ids
) -> Callable[[int, tuple[tuple[str, str], ...]], Outgoing]:
    """behaviour: notify request: the NOTIFY from the dialog (same Call-ID, both tags, the next
    local CSeq — the factory's CSeq argument is not used —, the remote target, the route set), then
    Subscription-State and the user's headers and body, as out of dialog."""
    trailing = (
        ("Subscription-State", "terminated"),
        *content.headers,
        *_trailing_headers(content, config),
    )
    body = content.body.encode("utf-8", "surrogateescape") if content.content_type else b""

    def build(_cseq: int, authorization: tuple[tuple[str, str], ...]) -> Outgoing:
        extra = (*authorization, *trailing)
        top = via(local, f"z9hG4bKPj{ids()}")
        return outgoing(
            target.dialog.request("NOTIFY", via=top, contact=target.contact, extra=extra, body=body)
        )

    return build


def dialog_hop(dialog: Dialog, endpoint: Endpoint, flow: tuple[str, Address] | None) -> Hop:
    """Where a request inside `dialog` goes: the remote target, through the first route."""
    uri = parse_uri(dialog.remote_target)
    first = dialog.route_set[0] if dialog.route_set else ""
    return Hop(uri, endpoint.transport, first, flow)


def _hop(target: Target) -> Hop:
    endpoint = target.endpoint
    return Hop(target.uri, endpoint.transport, endpoint.outbound_proxy, target.flow)


@dataclass(slots=True)
class Notifier:
    """PJSIPNotify's whole job for one configuration: presets, targets, sending."""

    config: PjsipConfig
    presets: NotifyPresets
    sender: Sender
    registered: Registered = no_registrations
    ids: Ids = field(default_factory=Ids)

    def send(self, targets: list[Target], content: NotifyContent, report: Report) -> None:
        """Send to every target at once; `report` gets each contact's result as it arrives
        (possibly before this returns, for a contact that cannot be reached at all)."""
        for target in targets:
            self._send_one(target, content, report)

    def sending(self, targets: list[Target], content: NotifyContent) -> Sending:
        """`send` for these targets, to be started with the report callback."""
        return lambda report: self.send(targets, content, report)

    def send_in_dialog(self, target: InDialog, content: NotifyContent, report: Report) -> None:
        """One NOTIFY inside a call's dialog; `report` gets its result."""
        config, ids, endpoint = self.config, self.ids, target.endpoint

        def factory(local: Local) -> Callable[[int, tuple[tuple[str, str], ...]], Outgoing]:
            return in_dialog_factory(target, content, local, config, ids)

        def done(final: Final) -> None:
            uri = target.dialog.remote_target
            report(NotifyResult(target.label, uri, final.status, final.reason, final.error,
                                final.rtt))  # fmt: skip

        hop = dialog_hop(target.dialog, endpoint, target.flow)
        self.sender.submit(hop, factory, credentials_for(endpoint, config), done)

    def _send_one(self, target: Target, content: NotifyContent, report: Report) -> None:
        config, ids = self.config, self.ids
        label, uri = target.label, str(target.uri)

        def factory(local: Local) -> Callable[[int, tuple[tuple[str, str], ...]], Outgoing]:
            return request_factory(target, content, local, config, ids=ids)

        def done(final: Final) -> None:
            report(NotifyResult(label, uri, final.status, final.reason, final.error, final.rtt))

        credentials = credentials_for(target.endpoint, config)
        self.sender.submit(_hop(target), factory, credentials, done)


async def qualify(notifier: Notifier, target: Target) -> Final:
    """An OPTIONS to the target (RFC 3261 §11); any final answer means it is reachable."""
    config = notifier.config

    def factory(local: Local) -> Callable[[int, tuple[tuple[str, str], ...]], Outgoing]:
        empty = NotifyContent(headers=())
        return request_factory(target, empty, local, config, method="OPTIONS", ids=notifier.ids)

    answered: asyncio.Future[Final] = asyncio.get_running_loop().create_future()

    def done(final: Final) -> None:
        if not answered.done():
            answered.set_result(final)

    notifier.sender.submit(_hop(target), factory, credentials_for(target.endpoint, config), done)
    return await answered

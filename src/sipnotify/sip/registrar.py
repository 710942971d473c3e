"""REGISTER processing for one AOR (RFC 3261 §10.3, behaviour: pjsip.conf), sans I/O.

Owns the binding rules once the endpoint is identified and authenticated and the AOR chosen:
`Contact: *` with `Expires: 0`, expiry from the Contact's `expires`, then the `Expires` header,
then the AOR default, `423 Interval Too Brief` under the minimum, clamping to the maximum,
removal with 0, `max_contacts` with `remove_existing`, `rewrite_contact` to the source
address, `Path` when supported, and the 200 OK that lists every binding.
"""

from __future__ import annotations

import functools
from email.utils import formatdate
from typing import Final, final

from sipnotify.sip.auth import hex_digest
from sipnotify.sip.errors import ParseError
from sipnotify.sip.lexical import delta_seconds
from sipnotify.sip.message import Request
from sipnotify.sip.uri import SipUri, parse_name_addr
from sipnotify.sip.value import Value


@final
class Binding(Value):
    """A registered contact of an AOR (Asterisk's dynamic `contact` object). Its fields, in
    `__match_args__` order, are the contacts table's columns."""

    __match_args__ = (
        "aor", "uri", "expires_at", "endpoint", "call_id", "cseq", "user_agent", "via_addr",
        "via_port", "protocol", "path", "reg_server",
    )  # fmt: skip

    def __init__(  # noqa: PLR0917 (a value's fields, in order)
        self, aor: str, uri: str, expires_at: float, endpoint: str, call_id: str = "",
        cseq: int = 0, user_agent: str = "", via_addr: str = "", via_port: int = 0,
        protocol: str = "udp", path: str = "", reg_server: str = "",
    ) -> None:  # fmt: skip
        self.aor: Final = aor
        self.uri: Final = uri
        self.expires_at: Final = expires_at
        self.endpoint: Final = endpoint
        self.call_id: Final = call_id
        self.cseq: Final = cseq
        self.user_agent: Final = user_agent
        self.via_addr: Final = via_addr
        self.via_port: Final = via_port
        self.protocol: Final = protocol
        self.path: Final = path
        self.reg_server: Final = reg_server  # the node that registered it (systemname)

    @property
    def id(self) -> str:
        return contact_id(self.aor, self.uri)

    def on_node(self, reg_server: str) -> Binding:
        """This binding, registered through node `reg_server`."""
        return Binding(self.aor, self.uri, self.expires_at, self.endpoint, self.call_id,
                       self.cseq, self.user_agent, self.via_addr, self.via_port, self.protocol,
                       self.path, reg_server)  # fmt: skip


def contact_id(aor: str, uri: str, *, static: bool = False) -> str:
    """Asterisk's contact object name: `<aor>;@<md5 of the URI>` for a registered contact,
    `<aor>@@<md5 of the URI>` for a static one."""
    return f"{aor}{'@@' if static else ';@'}{hex_digest('MD5', uri)}"


@final
class Policy(Value):
    """The AOR options that govern its bindings."""

    __match_args__ = (
        "max_contacts", "remove_existing", "minimum_expiration", "maximum_expiration",
        "default_expiration", "support_path", "rewrite_contact",
    )  # fmt: skip

    def __init__(  # noqa: PLR0917 (a value's fields, in order)
        self,
        max_contacts: int,
        remove_existing: bool,
        minimum_expiration: int,
        maximum_expiration: int,
        default_expiration: int,
        support_path: bool,
        rewrite_contact: bool,
    ) -> None:
        self.max_contacts: Final = max_contacts
        self.remove_existing: Final = remove_existing
        self.minimum_expiration: Final = minimum_expiration
        self.maximum_expiration: Final = maximum_expiration
        self.default_expiration: Final = default_expiration
        self.support_path: Final = support_path
        self.rewrite_contact: Final = rewrite_contact


@final
class Source(Value):
    """Where the REGISTER came from and over what (`local_host`, `local_port`: where it
    arrived)."""

    __match_args__ = ("address", "port", "protocol", "local_host", "local_port")

    def __init__(
        self, address: str, port: int, protocol: str, local_host: str = "", local_port: int = 0
    ) -> None:
        self.address: Final = address
        self.port: Final = port
        self.protocol: Final = protocol
        self.local_host: Final = local_host
        self.local_port: Final = local_port


@final
class Decision(Value):
    """The answer: a status, its extra headers, and the bindings to store and to drop."""

    __match_args__ = ("status", "reason", "headers", "store", "drop")

    def __init__(
        self,
        status: int,
        reason: str,
        headers: tuple[tuple[str, str], ...] = (),
        store: tuple[Binding, ...] = (),
        drop: tuple[Binding, ...] = (),
    ) -> None:
        self.status: Final = status
        self.reason: Final = reason
        self.headers: Final = headers
        self.store: Final = store
        self.drop: Final = drop


def register(
    request: Request,
    *,
    aor: str,
    endpoint: str,
    policy: Policy,
    existing: list[Binding],
    source: Source,
    now: float,
) -> Decision:
    """Decide a REGISTER for `aor`, whose current bindings are `existing` (unexpired)."""
    if policy.max_contacts == 0:
        return Decision(403, "Forbidden")  # an AOR that takes no registrations
    contacts = request.header_values("Contact")
    default = _expires_header(request, policy)
    if default is None:
        return Decision(400, "Bad Request")
    if contacts == ["*"]:
        if default != 0:
            return Decision(400, "Bad Request")
        return Decision(200, "OK", _ok_headers([], now, 0), drop=tuple(existing))
    if "*" in contacts:
        return Decision(400, "Bad Request")
    try:
        wanted = [
            _binding(
                c,
                request=request,
                aor=aor,
                endpoint=endpoint,
                policy=policy,
                source=source,
                now=now,
                default=default,
            )
            for c in contacts
        ]
    except ParseError:
        return Decision(400, "Bad Request")
    except _TooBrief:
        return Decision(
            423, "Interval Too Brief", (("Min-Expires", str(policy.minimum_expiration)),)
        )
    return _apply(wanted, existing, policy, now, default)


class _TooBrief(Exception):
    pass


def _expires_header(request: Request, policy: Policy) -> int | None:
    text = request.header("Expires")
    if text is None:
        return policy.default_expiration
    return delta_seconds(text.strip())


def _binding(
    value: str,
    *,
    request: Request,
    aor: str,
    endpoint: str,
    policy: Policy,
    source: Source,
    now: float,
    default: int,
) -> tuple[Binding, int]:
    contact = parse_name_addr(value)
    param = contact.param("expires")
    given = delta_seconds(param) if param is not None else None
    expires = default if given is None else given
    if 0 < expires < policy.minimum_expiration:
        raise _TooBrief
    expires = min(expires, policy.maximum_expiration)
    uri = _rewrite(contact.uri, source) if policy.rewrite_contact else contact.uri
    path = ",".join(request.header_values("Path")) if policy.support_path else ""
    binding = Binding(
        aor=aor,
        uri=str(uri),
        expires_at=now + expires,
        endpoint=endpoint,
        call_id=request.call_id,
        cseq=request.cseq.number,
        user_agent=request.header("User-Agent") or "",
        via_addr=source.address,
        via_port=source.port,
        protocol=source.protocol,
        path=path,
    )
    return binding, expires


def _rewrite(uri: SipUri, source: Source) -> SipUri:
    """`rewrite_contact=yes`: reach the phone where its REGISTER came from (NAT)."""
    host = f"[{source.address}]" if ":" in source.address else source.address
    params = tuple(p for p in uri.params if p[0].lower() != "transport")
    if source.protocol != "udp":
        params += (("transport", source.protocol),)
    return SipUri(uri.scheme, host, uri.user, uri.password, source.port, params, uri.headers)


def _apply(
    wanted: list[tuple[Binding, int]],
    existing: list[Binding],
    policy: Policy,
    now: float,
    default: int,
) -> Decision:
    by_uri = {b.uri: b for b in existing}
    store = [b for b, expires in wanted if expires > 0]
    drop = [by_uri[b.uri] for b, expires in wanted if expires == 0 and b.uri in by_uri]
    touched = {b.uri for b, _ in wanted}
    kept = [b for b in existing if b.uri not in touched]
    overflow = len(kept) + len(store) - policy.max_contacts
    if overflow > 0:
        if not policy.remove_existing:
            return Decision(403, "Forbidden")
        soonest = sorted(kept, key=lambda b: b.expires_at)[:overflow]
        drop += soonest
        kept = [b for b in kept if b not in soonest]
    bindings = sorted([*kept, *store], key=lambda b: b.uri)
    expires = wanted[-1][1] if wanted else default
    return Decision(200, "OK", _ok_headers(bindings, now, expires), tuple(store), tuple(drop))


def _ok_headers(bindings: list[Binding], now: float, expires: int) -> tuple[tuple[str, str], ...]:
    contacts = tuple(
        ("Contact", f"<{b.uri}>;expires={max(0, int(b.expires_at - now))}") for b in bindings
    )
    return (("Date", http_date(int(now))), *contacts, ("Expires", str(expires)))


@functools.lru_cache(maxsize=2)
def http_date(second: int) -> str:
    """RFC 3261 §20.17: the Date header, RFC 1123 form in GMT. The same second's text is
    kept: a busy registrar answers thousands of REGISTERs in it (2.9 µs each to format)."""
    return formatdate(second, usegmt=True)

"""SIP and SIPS URIs and name-addr values (RFC 3261 §19.1, §20.10, §25.1).

Owns parsing and printing of `sip:user:password@host:port;params?headers` and of
`"Display" <uri>;params` header values, keeping parameter order and spelling.
"""

from __future__ import annotations

import functools
import re
from typing import Final, final

from sipnotify.sip.errors import ParseError
from sipnotify.sip.lexical import check_uri_chars, decimal
from sipnotify.sip.value import Value

Params = tuple[tuple[str, str | None], ...]
_NOT_IN_USERINFO = re.compile(r'[ \t<>"\r\n]')  # RFC 3261 §25.1: none of these in a user part
# RFC 3261 §25.1: hostname and IPv4address (an IPv6 reference is checked by its brackets)
_HOST = re.compile(r"[A-Za-z0-9\-._]+")


def format_params(params: Params) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)


def parse_params(text: str) -> Params:
    """`;a=1;b` → (("a", "1"), ("b", None)); quoted values keep their quotes."""
    out: list[tuple[str, str | None]] = []
    pieces = text.split(";") if '"' not in text else _split_outside_quotes(text, ";")
    for raw in pieces:
        piece = raw.strip()
        if not piece:
            continue
        name, eq, value = piece.partition("=")
        name = name.strip()
        if not name:
            raise ParseError(f"empty parameter name in {text!r}")
        out.append((name, value.strip() if eq else None))
    return tuple(out)


def get_param(params: Params, name: str) -> str | None:
    """A parameter's value ("" for a bare flag), None when absent; names compare
    case-insensitively (RFC 3261 §19.1.4)."""
    wanted = name.lower()
    for key, value in params:
        if key.lower() == wanted:
            return "" if value is None else value
    return None


@final
class SipUri(Value):
    """RFC 3261 §19.1.1: sip:user:password@host:port;uri-parameters?headers.

    `host` keeps IPv6 references in brackets, exactly as they are written.
    """

    __match_args__ = ("scheme", "host", "user", "password", "port", "params", "headers")

    def __init__(  # noqa: PLR0917 (a value's fields, in order)
        self,
        scheme: str,
        host: str,
        user: str | None = None,
        password: str | None = None,
        port: int | None = None,
        params: Params = (),
        headers: str | None = None,
    ) -> None:
        self.scheme: Final = scheme
        self.host: Final = host
        self.user: Final = user
        self.password: Final = password
        self.port: Final = port
        self.params: Final = params
        self.headers: Final = headers
        self._text: str | None = None  # its wire form, made when first asked for

    def param(self, name: str) -> str | None:
        return get_param(self.params, name)

    def with_params(self, params: Params) -> SipUri:
        return SipUri(
            self.scheme, self.host, self.user, self.password, self.port, params, self.headers
        )

    def without_port(self) -> SipUri:
        """Scheme, user and host only."""
        return SipUri(scheme=self.scheme, host=self.host, user=self.user, password=self.password)

    @property
    def secure(self) -> bool:
        return self.scheme == "sips"

    def __str__(self) -> str:
        text = self._text
        if text is None:
            text = self._text = self._format()
        return text

    def _format(self) -> str:
        userinfo = ""
        if self.user is not None:
            userinfo = self.user + (f":{self.password}" if self.password is not None else "") + "@"
        port = f":{self.port}" if self.port is not None else ""
        headers = f"?{self.headers}" if self.headers is not None else ""
        return f"{self.scheme}:{userinfo}{self.host}{port}{format_params(self.params)}{headers}"


def parse_uri(text: str) -> SipUri:
    """Parse a sip:/sips: URI; anything else raises ParseError."""
    text = text.strip()
    check_uri_chars(text)
    scheme, colon, rest = text.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in ("sip", "sips"):
        raise ParseError(f"not a SIP URI: {text!r}", 416)
    rest, qmark, headers = rest.partition("?")
    user = password = None
    if "@" in rest:
        userinfo, _, rest = rest.rpartition("@")
        user, pcolon, pw = userinfo.partition(":")
        password = pw if pcolon else None
        if not user or _NOT_IN_USERINFO.search(userinfo) is not None:
            raise ParseError(f"bad user part in {text!r}")
    hostport, _, params = rest.partition(";")
    host, port = _hostport(hostport, text)
    return SipUri(
        scheme=scheme,
        host=host,
        user=user,
        password=password,
        port=port,
        params=parse_params(params),
        headers=headers if qmark else None,
    )


@functools.lru_cache(maxsize=1024)
def check_request_uri(text: str) -> None:
    """RFC 3261 §25.1: a Request-URI is an absolute URI in printable US-ASCII, never inside
    `<>`; sip:/sips: ones must parse. Other schemes (tel:…) are left to the method's rules."""
    check_uri_chars(text)
    scheme, colon, _ = text.partition(":")
    if not colon or not scheme[:1].isalpha() or "<" in text or ">" in text:
        raise ParseError(f"bad Request-URI {text[:60]!r}")
    if scheme.lower() in ("sip", "sips"):
        parse_uri(text)


def _hostport(text: str, whole: str) -> tuple[str, int | None]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ParseError(f"unterminated IPv6 reference in {whole!r}")
        host, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ParseError(f"bad host in {whole!r}")
        port_text = rest[1:] if rest else ""
    else:
        host, _, port_text = text.partition(":")
    if not host or (not host.startswith("[") and _HOST.fullmatch(host) is None):
        raise ParseError(f"bad host in {whole[:60]!r}")
    if not port_text and ":" not in text.removeprefix(host):
        return host, None
    port = decimal(port_text, "URI port", maximum=65535)
    if port == 0:
        raise ParseError(f"bad port in {whole!r}")
    return host, port


@final
class NameAddr(Value):
    """A From/To/Contact/Route value: optional display name, URI, header parameters."""

    __match_args__ = ("uri", "display", "params")

    def __init__(self, uri: SipUri, display: str | None = None, params: Params = ()) -> None:
        self.uri: Final = uri
        self.display: Final = display
        self.params: Final = params

    def param(self, name: str) -> str | None:
        return get_param(self.params, name)

    @property
    def tag(self) -> str | None:
        return self.param("tag")

    def __str__(self) -> str:
        display = f"{self.display} " if self.display else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"


def check_name_addr(text: str) -> None:
    """What must hold of a From or To value before anything reads it (RFC 3261 §25.1): its
    quotes are balanced and a `<` is closed. Cheaper than parsing it, for every request."""
    if '"' in text and (text.count('"') - text.count('\\"')) % 2:
        raise ParseError(f"unbalanced quotes in {text[:60]!r}")
    if "<" in text and ">" not in text:
        raise ParseError(f"unterminated <...> in {text[:60]!r}")


def parse_name_addr(text: str) -> NameAddr:
    """`"Bob" <sip:bob@host>;tag=x`, `<sip:..>;p`, or a bare addr-spec whose `;params` belong
    to the header, not the URI (RFC 3261 §20.10)."""
    text = text.strip()
    lt = text.find("<")
    if lt > 0 and '"' in text[:lt]:  # a quoted display name may hold a "<" of its own
        lt = _find_outside_quotes(text, "<")
    if lt >= 0:
        gt = text.find(">", lt)
        if gt < 0:
            raise ParseError(f"unterminated <...> in {text!r}")
        display = text[:lt].strip() or None
        return NameAddr(
            uri=parse_uri(text[lt + 1 : gt]),
            display=display,
            params=parse_params(text[gt + 1 :].lstrip().removeprefix(";")),
        )
    uri_text, _, params = text.partition(";")
    return NameAddr(uri=parse_uri(uri_text), params=parse_params(params))


def _find_outside_quotes(text: str, char: str) -> int:
    quoted = False
    escaped = False
    for i, c in enumerate(text):
        if escaped:
            escaped = False
        elif c == "\\" and quoted:
            escaped = True
        elif c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            return i
    return -1


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    while True:
        cut = _find_outside_quotes(text, sep)
        if cut < 0:
            parts.append(text)
            return parts
        parts.append(text[:cut])
        text = text[cut + 1 :]


def split_header_values(text: str) -> list[str]:
    """Split a comma-separated header value (Via, Route, Contact…) outside quotes and <>."""
    if "," not in text:
        stripped = text.strip()
        return [stripped] if stripped else []
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for i, c in enumerate(text):
        if c == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and c == "<":
            depth += 1
        elif not quoted and c == ">":
            depth = max(0, depth - 1)
        elif c == "," and not quoted and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]

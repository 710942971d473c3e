"""Answering digest challenges (RFC 3261 §22, RFC 7616 for SHA-256, RFC 8760 in SIP).

Owns parsing a `WWW-Authenticate` / `Proxy-Authenticate` challenge and computing the
`Authorization` / `Proxy-Authorization` value, with and without `qop=auth`, for MD5 and
SHA-256, from a password or a precomputed MD5 HA1 (`md5_cred`). Pure functions; the caller
supplies the cnonce.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from typing import Final, final

from sipnotify.sip.errors import ParseError
from sipnotify.sip.lexical import is_decimal
from sipnotify.sip.message import Response
from sipnotify.sip.value import Value

# Fresh hash objects are copied from these: `hashlib.md5()` looks the algorithm up in
# OpenSSL 3 on every call (0.8 µs; a copy is 0.4 µs, and a registration hashes four times).
_HASHES = {"MD5": hashlib.md5(), "SHA-256": hashlib.sha256()}


def hex_digest(algorithm: str, text: str) -> str:
    """The hex digest of `text` (UTF-8, with any undecodable bytes as they came) under
    `algorithm`, `MD5` or `SHA-256`."""
    digest = _HASHES[algorithm].copy()
    digest.update(text.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


@final
class Challenge(Value):
    __match_args__ = ("realm", "nonce", "algorithm", "opaque", "qop", "stale")

    def __init__(  # noqa: PLR0917 (a value's fields, in order)
        self,
        realm: str,
        nonce: str,
        algorithm: str = "MD5",
        opaque: str | None = None,
        qop: tuple[str, ...] = (),
        stale: bool = False,
    ) -> None:
        self.realm: Final = realm
        self.nonce: Final = nonce
        self.algorithm: Final = algorithm
        self.opaque: Final = opaque
        self.qop: Final = qop
        self.stale: Final = stale


@final
class Credentials(Value):
    """An `auth` section: a password, or an MD5 HA1 hex (`md5_cred`) bound to one realm."""

    __match_args__ = ("username", "password", "md5_ha1", "realm")

    def __init__(
        self, username: str, password: str = "", md5_ha1: str | None = None,
        realm: str | None = None,
    ) -> None:  # fmt: skip
        self.username: Final = username
        self.password: Final = password
        self.md5_ha1: Final = md5_ha1
        self.realm: Final = realm


def parse_challenge(value: str) -> Challenge:
    """RFC 3261 §25.1 challenge: `Digest realm="…", nonce="…", qop="auth", algorithm=MD5`."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise ParseError(f"unsupported auth scheme {scheme!r}")
    fields = _auth_params(rest)
    if "realm" not in fields or "nonce" not in fields:
        raise ParseError("challenge without realm or nonce")
    algorithm = fields.get("algorithm", "MD5").upper()
    qop = tuple(q.strip().lower() for q in fields.get("qop", "").split(",") if q.strip())
    return Challenge(
        realm=fields["realm"],
        nonce=fields["nonce"],
        algorithm=algorithm,
        opaque=fields.get("opaque"),
        qop=qop,
        stale=fields.get("stale", "").lower() == "true",
    )


def supported(challenge: Challenge) -> bool:
    return challenge.algorithm in _HASHES and (not challenge.qop or "auth" in challenge.qop)


def authorization(
    challenge: Challenge,
    credentials: Credentials,
    *,
    method: str,
    uri: str,
    cnonce: str,
    nc: int = 1,
) -> str:
    """The Authorization header value answering `challenge` for `method` on `uri`."""
    qop = "auth" if "auth" in challenge.qop else ""
    count = f"{nc:08x}"
    response = digest_response(
        challenge.algorithm,
        credentials,
        realm=challenge.realm,
        method=method,
        uri=uri,
        nonce=challenge.nonce,
        qop=qop,
        nc=count,
        cnonce=cnonce,
    )
    parts = [
        f'username="{credentials.username}"',
        f'realm="{challenge.realm}"',
        f'nonce="{challenge.nonce}"',
        f'uri="{uri}"',
    ]
    parts += [f'response="{response}"', f"algorithm={challenge.algorithm}"]
    if qop:
        parts += [f'cnonce="{cnonce}"', "qop=auth", f"nc={count}"]
    if challenge.opaque is not None:
        parts.append(f'opaque="{challenge.opaque}"')
    return "Digest " + ", ".join(parts)


def _auth_params(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t,":
            i += 1
        eq = text.find("=", i)
        if eq < 0:
            break
        name = text[i:eq].strip().lower()
        i = eq + 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            end = _closing_quote(text, i + 1)
            fields[name] = text[i + 1 : end].replace('\\"', '"')
            i = end + 1
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            fields[name] = text[i:end].strip()
            i = end
    return fields


def _closing_quote(text: str, start: int) -> int:
    """Where the quoted-string opened before `start` ends (len(text) if it does not): a
    backslash takes the character after it as is (RFC 3261 §25.1 quoted-pair)."""
    at = start
    while True:
        quote = text.find('"', at)
        if quote < 0:
            return len(text)
        escape = text.find("\\", at, quote)
        if escape < 0:
            return quote
        at = escape + 2


# -- the server side: challenging and verifying (RFC 3261 §22.4, RFC 2617 §3.2) ------------


def make_nonce(now: int, secret: bytes) -> str:
    """A stateless nonce, `<unix seconds>/<32 hex digits signing them>` (Asterisk's shape): any
    number of challenges costs no memory, and its age is read back from it."""
    return f"{now}/{_sign(str(now), secret)}"


def nonce_age(nonce: str, secret: bytes, now: int) -> int | None:
    """Seconds since `nonce` was made here, or None if it was not made here."""
    stamp, _, signature = nonce.partition("/")
    if not is_decimal(stamp) or not hmac_equal(signature, _sign(stamp, secret)):
        return None
    return now - int(stamp)


def challenge_value(realm: str, nonce: str, *, stale: bool = False) -> str:
    """A `WWW-Authenticate` value, as Asterisk's (MD5, qop="auth")."""
    opaque = hex_digest("MD5", nonce)[:16]
    stale_text = ",stale=true" if stale else ""
    return (
        f'Digest realm="{realm}",nonce="{nonce}",opaque="{opaque}"{stale_text},'
        'algorithm=MD5,qop="auth"'
    )


@final
class Authorization(Value):
    """A parsed `Authorization` value."""

    __match_args__ = (
        "username",
        "realm",
        "nonce",
        "uri",
        "response",
        "algorithm",
        "qop",
        "nc",
        "cnonce",
    )

    def __init__(  # noqa: PLR0917 (a value's fields, in order)
        self,
        username: str,
        realm: str,
        nonce: str,
        uri: str,
        response: str,
        algorithm: str,
        qop: str,
        nc: str,
        cnonce: str,
    ) -> None:
        self.username: Final = username
        self.realm: Final = realm
        self.nonce: Final = nonce
        self.uri: Final = uri
        self.response: Final = response
        self.algorithm: Final = algorithm
        self.qop: Final = qop
        self.nc: Final = nc
        self.cnonce: Final = cnonce


def parse_answer(value: str) -> Authorization:
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise ParseError(f"unsupported auth scheme {scheme!r}")
    fields = _auth_params(rest)
    try:
        return Authorization(
            username=fields["username"],
            realm=fields["realm"],
            nonce=fields["nonce"],
            uri=fields["uri"],
            response=fields["response"].lower(),
            algorithm=fields.get("algorithm", "MD5").upper(),
            qop=fields.get("qop", "").lower(),
            nc=fields.get("nc", ""),
            cnonce=fields.get("cnonce", ""),
        )
    except KeyError as missing:
        raise ParseError(f"Authorization without {missing}") from None


def verify(answer: Authorization, credentials: Credentials, method: str) -> bool:
    """Whether `answer` proves the password, computed over the digest `uri` exactly as the
    client sent it (it need not equal the Request-URI byte for byte)."""
    if answer.algorithm not in _HASHES or answer.qop not in ("", "auth"):
        return False
    expected = digest_response(
        answer.algorithm,
        credentials,
        realm=answer.realm,
        method=method,
        uri=answer.uri,
        nonce=answer.nonce,
        qop=answer.qop,
        nc=answer.nc,
        cnonce=answer.cnonce,
    )
    return hmac_equal(expected, answer.response)


def digest_response(
    algorithm: str,
    credentials: Credentials,
    *,
    realm: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str,
    nc: str,
    cnonce: str,
) -> str:
    """RFC 2617 §3.2.2.1 / RFC 7616 §3.4.1: KD(H(A1), nonce[:nc:cnonce:qop]:H(A2)), where
    A1 = username:realm:password (or the stored MD5 HA1) and A2 = method:digest-uri."""

    def h(text: str) -> str:
        return hex_digest(algorithm, text)

    if credentials.md5_ha1 is not None and algorithm == "MD5":
        ha1 = credentials.md5_ha1.lower()
    else:
        ha1 = h(f"{credentials.username}:{realm}:{credentials.password}")
    ha2 = h(f"{method}:{uri}")
    if qop:
        return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return h(f"{ha1}:{nonce}:{ha2}")


def hmac_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(
        a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape")
    )


@functools.lru_cache(maxsize=64)
def _sign(text: str, secret: bytes) -> str:
    """Keyed BLAKE2b (RFC 7693 §2.9: a MAC with the key as its parameter), 16 bytes. HMAC-MD5
    through OpenSSL 3 looked the algorithm up on every call: 8 % of a registration's CPU.
    Remembered for the last few texts: what is signed is a nonce's second, so under load the
    same one is signed and checked thousands of times."""
    return hashlib.blake2b(text.encode(), digest_size=16, key=secret).hexdigest()


def answer_challenges(
    response: Response,
    credentials: list[Credentials],
    answered: set[str],
    *,
    method: str,
    uri: str,
    cnonce: str,
) -> tuple[tuple[str, str], ...]:
    """Authorization headers for every challenge we can answer; () when we cannot (no
    matching credentials, an unsupported algorithm, or a nonce we already answered that is
    not marked stale — the server refused our credentials)."""
    name = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
    header = "Authorization" if response.status == 401 else "Proxy-Authorization"
    out: list[tuple[str, str]] = []
    for value in response.header_values(name):
        try:
            challenge = parse_challenge(value)
        except ParseError:
            continue
        creds = next((c for c in credentials if c.realm in (None, challenge.realm)), None)
        if creds is None or not supported(challenge):
            continue
        if challenge.nonce in answered and not challenge.stale:
            return ()
        answered.add(challenge.nonce)
        out.append(
            (
                header,
                authorization(
                    challenge,
                    creds,
                    method=method,
                    uri=uri,
                    cnonce=cnonce,
                ),
            )
        )
    return tuple(out)

"""HTTP Digest authentication for `/arawman`, `/amxml` and `/amanager`, sans I/O (RFC 7616,
MD5 with qop=auth, as Asterisk offers it; behaviour: AMI over HTTP).

Every 401 carries a fresh nonce (8 hex digits, the opaque the same, realm "asterisk"), kept
for NONCE_LIFETIME seconds; an answer is accepted for a nonce issued here and still live, a
realm and digest-uri that are the request's, a manager.conf user with a secret whose ACL
lets the address in, and a response computed with that secret. Basic credentials are not
accepted. At most MAX_NONCES are kept (the oldest go first).
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sipnotify.config.manager import ManagerConfig, ManagerUser
from sipnotify.sip.auth import Credentials, parse_answer, verify
from sipnotify.sip.errors import ParseError

REALM = "asterisk"
NONCE_LIFETIME = 300.0
MAX_NONCES = 10_000


@dataclass(frozen=True, slots=True)
class Accepted:
    user: ManagerUser
    nonce: str


class DigestGate:
    def __init__(self, new_nonce: Callable[[], str] | None = None) -> None:
        self._new_nonce = new_nonce or (lambda: secrets.token_hex(4))
        self._issued: OrderedDict[str, float] = OrderedDict()  # nonce -> when

    def challenge(self, now: float) -> str:
        """A `WWW-authenticate` value with a new nonce."""
        nonce = self._new_nonce()
        self._issued[nonce] = now
        while len(self._issued) > MAX_NONCES:
            self._issued.popitem(last=False)
        return (
            f'Digest algorithm=MD5, realm="{REALM}", nonce="{nonce}", qop="auth", opaque="{nonce}"'
        )

    def check(self, header: str, *, method: str, target: str, peer: str,
              manager: ManagerConfig, now: float) -> Accepted | None:  # fmt: skip
        """The user the `Authorization` header proves, or None."""
        try:
            answer = parse_answer(header)
        except ParseError:
            return None
        issued = self._issued.get(answer.nonce)
        if issued is None or now - issued > NONCE_LIFETIME:
            return None
        if answer.realm != REALM or answer.uri != target or answer.algorithm != "MD5":
            return None
        user = manager.user(answer.username)
        if user is None or user.secret is None or not user.allows(peer):
            return None
        if not verify(answer, Credentials(answer.username, user.secret), method):
            return None
        return Accepted(user, answer.nonce)

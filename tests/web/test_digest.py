"""HTTP Digest for the a* manager URIs: the challenge as Asterisk words it, and what an answer
must be to pass."""

from __future__ import annotations

import hashlib

import pytest

from sipnotify.config.manager import ManagerConfig, load_manager, named_acls
from sipnotify.config.parser import parse_text
from sipnotify.web.digest import NONCE_LIFETIME, DigestGate

MANAGER = "[admin]\nsecret = s3cret\nread = all\nwrite = all\n[ops]\nsecret = x\ndeny=0.0.0.0/0\n"


def manager() -> ManagerConfig:
    acls, _ = named_acls(parse_text(""))
    return load_manager(parse_text(MANAGER), acls)[0]


def answer(nonce: str, *, user: str = "admin", secret: str = "s3cret",
           uri: str = "/arawman?action=ping", realm: str = "asterisk") -> str:  # fmt: skip
    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1, ha2 = md5(f"{user}:{realm}:{secret}"), md5(f"GET:{uri}")
    response = md5(f"{ha1}:{nonce}:00000001:abc:auth:{ha2}")
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'cnonce="abc", nc=00000001, qop=auth, response="{response}", '
            f'opaque="{nonce}", algorithm=MD5')  # fmt: skip


def gate() -> DigestGate:
    return DigestGate(new_nonce=lambda: "1aa3349b")


def check(gate: DigestGate, header: str, now: float = 1.0, peer: str = "127.0.0.1") -> bool:
    accepted = gate.check(header, method="GET", target="/arawman?action=ping", peer=peer,
                          manager=manager(), now=now)  # fmt: skip
    return accepted is not None


def test_the_challenge_reads_as_asterisks() -> None:
    assert gate().challenge(0.0) == (
        'Digest algorithm=MD5, realm="asterisk", nonce="1aa3349b", qop="auth", opaque="1aa3349b"'
    )


def test_a_right_answer_to_an_issued_nonce_passes() -> None:
    issuer = gate()
    issuer.challenge(0.0)
    assert check(issuer, answer("1aa3349b"))
    assert not check(issuer, answer("1aa3349b"), now=NONCE_LIFETIME + 1)  # too old


@pytest.mark.parametrize(
    "header",
    [
        answer("1aa3349b", secret="bad"),
        answer("ffffffff"),  # a nonce never issued
        answer("1aa3349b", uri="/arawman?action=logoff"),  # signed for another request
        answer("1aa3349b", realm="other"),
        answer("1aa3349b", user="nobody"),
        "Basic YWRtaW46czNjcmV0",
        "Digest garbage",
    ],
)
def test_anything_else_fails(header: str) -> None:
    issuer = gate()
    issuer.challenge(0.0)
    assert not check(issuer, header)


def test_the_users_acl_applies() -> None:
    issuer = gate()
    issuer.challenge(0.0)
    assert not check(issuer, answer("1aa3349b", user="ops", secret="x"))

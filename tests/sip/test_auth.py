"""Digest responses against the published examples of RFC 2617 §3.5 and RFC 7616 §3.9.1."""

from __future__ import annotations

import re

import pytest

from sipnotify.sip.auth import Credentials, authorization, parse_challenge, supported
from sipnotify.sip.errors import ParseError


def response_of(header: str) -> str:
    found = re.search(r'response="([0-9a-f]+)"', header)
    assert found is not None
    return found.group(1)


def test_rfc2617_md5_with_qop() -> None:
    challenge = parse_challenge(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    header = authorization(
        challenge,
        Credentials(username="Mufasa", password="Circle Of Life"),
        method="GET",
        uri="/dir/index.html",
        cnonce="0a4f113b",
    )
    assert response_of(header) == "6629fae49393a05397450978507c4ef1"
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in header
    assert "qop=auth, nc=00000001" in header


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_examples(algorithm: str, expected: str) -> None:
    challenge = parse_challenge(
        f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    header = authorization(
        challenge,
        Credentials(username="Mufasa", password="Circle of Life"),
        method="GET",
        uri="/dir/index.html",
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )
    assert response_of(header) == expected


def test_without_qop_and_with_md5_cred() -> None:
    challenge = parse_challenge('Digest realm="sipp.test", nonce="n1", algorithm=MD5')
    by_password = authorization(
        challenge, Credentials("alice", "secret"), method="NOTIFY", uri="sip:a@b", cnonce="c"
    )
    ha1 = "4f8dc3ec5a4d8e8a3ab7fa3c1a3e5f0e"
    by_ha1 = authorization(
        challenge, Credentials("alice", md5_ha1=ha1), method="NOTIFY", uri="sip:a@b", cnonce="c"
    )
    assert "qop" not in by_password
    assert "cnonce" not in by_password
    assert response_of(by_password) != response_of(by_ha1)


def test_challenge_parsing_and_support() -> None:
    stale = parse_challenge('Digest realm="r", nonce="n", stale=TRUE, algorithm=sha-256')
    assert stale.stale
    assert stale.algorithm == "SHA-256"
    assert supported(stale)
    assert not supported(parse_challenge('Digest realm="r", nonce="n", algorithm=SHA-512-256'))
    assert not supported(parse_challenge('Digest realm="r", nonce="n", qop="auth-int"'))
    with pytest.raises(ParseError):
        parse_challenge('Basic realm="r"')
    with pytest.raises(ParseError):
        parse_challenge('Digest realm="r"')

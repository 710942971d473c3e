"""Digest responses against the published examples of RFC 2617 §3.5 and RFC 7616 §3.9.1."""

from __future__ import annotations

import re

import pytest

from sipnotify.sip.auth import (
    Challenge,
    Credentials,
    authorization,
    challenge_value,
    make_nonce,
    nonce_age,
    parse_answer,
    parse_challenge,
    supported,
    verify,
)
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


def test_a_quoted_value_ends_at_its_closing_quote_and_keeps_what_is_escaped() -> None:
    found = parse_challenge('Digest realm="a \\"b\\", c\\\\", nonce="n\\"", qop="auth"')
    assert (found.realm, found.nonce, found.qop) == ('a "b", c\\\\', 'n"', ("auth",))
    with pytest.raises(ParseError):  # never closed: the nonce is inside the realm
        parse_challenge('Digest realm="r, nonce=n')


def test_server_side_nonces_are_stateless_signed_and_aged() -> None:
    secret = b"k" * 16
    nonce = make_nonce(1000, secret)
    assert nonce_age(nonce, secret, 1032) == 32
    assert nonce_age(nonce, b"other" * 4, 1032) is None
    assert nonce_age("1000/forged", secret, 1001) is None
    assert nonce_age("garbage", secret, 1001) is None
    value = challenge_value("asterisk", nonce, stale=True)
    assert value.startswith(f'Digest realm="asterisk",nonce="{nonce}",opaque="')
    assert value.endswith(',stale=true,algorithm=MD5,qop="auth"')


def test_server_verifies_what_a_client_computes_over_the_uri_as_sent() -> None:
    challenge = parse_challenge(challenge_value("asterisk", make_nonce(5, b"s" * 16)))
    for cnonce_qop in (True, False):
        header = authorization(
            challenge if cnonce_qop else Challenge(challenge.realm, challenge.nonce),
            Credentials("bob", "secret"),
            method="REGISTER",
            uri="sip:127.0.0.1:5060",  # not the Request-URI byte for byte
            cnonce="abc",
        )
        answer = parse_answer(header)
        assert verify(answer, Credentials("bob", "secret"), "REGISTER")
        assert not verify(answer, Credentials("bob", "wrong"), "REGISTER")
        assert not verify(answer, Credentials("bob", "secret"), "INVITE")
    with pytest.raises(ParseError):
        parse_answer('Digest username="bob"')

"""The server transaction key peeked from a request's bytes (what a retransmission is matched
on without a parse): where it answers, it answers as `server_key` of the parsed request;
anything unusual is left to the full parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipnotify.sip.message import Request
from sipnotify.sip.parser import parse_message
from sipnotify.sip.transactions.matching import first_branch, peek_server_key, server_key

REGISTER = (
    b"REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-77-1-0;rport\r\n"
    b"Max-Forwards: 70\r\nFrom: <sip:p7@127.0.0.1>;tag=77SIPpTag001\r\n"
    b"To: <sip:p7@127.0.0.1>\r\nCall-ID: 1-77@127.0.0.1\r\nCSeq: 2 REGISTER\r\n"
    b"Contact: <sip:p7@127.0.0.1:5062>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n"
)


def parsed_key(data: bytes) -> tuple[str, ...]:
    request = parse_message(data)
    assert isinstance(request, Request)
    return server_key(request)


@pytest.mark.parametrize("data", [
    REGISTER,
    REGISTER.replace(b"Via: SIP/2.0/UDP 127.0.0.1:5062;", b"v: SIP/2.0/UDP phone.example:5062;"),
    REGISTER.replace(b"127.0.0.1:5062;branch", b"127.0.0.1;BRANCH"),  # no port, any case
    REGISTER.replace(b"REGISTER sip", b"INVITE sip").replace(b"2 REGISTER", b"2 INVITE"),
    REGISTER.replace(b"Expires: 600\r\n", b"Expires: 600\r\nSubject: a\r\n b\r\n"),  # folded later
])  # fmt: skip
def test_the_key_is_the_one_the_parsed_request_has(data: bytes) -> None:
    assert peek_server_key(data) == parsed_key(data)


@pytest.mark.parametrize("data", [
    REGISTER.replace(b"REGISTER sip", b"ACK sip").replace(b"2 REGISTER", b"2 ACK"),
    REGISTER.replace(b"REGISTER sip", b"CANCEL sip").replace(b"2 REGISTER", b"2 CANCEL"),
    REGISTER.replace(b";rport\r\n", b";rport,SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx\r\n"),
    REGISTER.replace(b"127.0.0.1:5062;", b"[::1]:5062;"),
    REGISTER.replace(b"branch=z9hG4bK-77-1-0", b"branch=1234"),  # RFC 2543: the long way
    REGISTER.replace(b";rport\r\n", b";rport\r\n ;received=10.0.0.1\r\n"),  # folded Via
    REGISTER.replace(b"SIP/2.0/UDP 127", b"SIP / 2.0 / UDP 127"),
    REGISTER[:60],
])  # fmt: skip
def test_anything_unusual_is_left_to_the_parser(data: bytes) -> None:
    assert peek_server_key(data) is None


@pytest.mark.parametrize(("data", "branch"), [
    (REGISTER, "z9hG4bK-77-1-0"),
    (REGISTER.replace(b";branch=", b";BRANCH="), "z9hG4bK-77-1-0"),
    (REGISTER.replace(b"branch=z9hG4bK-77-1-0", b"branch=1234"), None),  # no cookie
    (REGISTER.replace(b";branch=z9hG4bK-77-1-0", b""), None),
])  # fmt: skip
def test_the_first_branch_is_found_with_one_search(data: bytes, branch: str | None) -> None:
    assert first_branch(data) == branch


token = st.text(alphabet="abcXYZ019-.!%*_+`'~", min_size=1, max_size=8)
host = st.sampled_from(["127.0.0.1", "phone.example", "PHONE-1.example", "10.0.0.99"])
port = st.one_of(st.none(), st.integers(1, 65535).map(str), st.just("05062"))
param = st.one_of(
    st.tuples(token, st.one_of(st.none(), token)),
    st.tuples(st.sampled_from(["branch", "Branch", "BRANCH"]), token.map("z9hG4bK".__add__)),
)


@given(host, port, st.lists(param, max_size=4), st.sampled_from(["Via", "v", "VIA"]))
def test_a_peeked_key_is_always_the_parsed_key(
    host: str, port: str | None, params: list[tuple[str, str | None]], name: str
) -> None:
    sent_by = host if port is None else f"{host}:{port}"
    text = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)
    data = REGISTER.replace(
        b"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-77-1-0;rport",
        f"{name}: SIP/2.0/UDP {sent_by}{text}".encode(),
    )
    peeked = peek_server_key(data)
    if peeked is not None:
        assert peeked == parsed_key(data)
        assert first_branch(data) == peeked[0]  # the pre-check lets every peeked key through

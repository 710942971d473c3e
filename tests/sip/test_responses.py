"""Responses built from requests (RFC 3261 §8.2.6, RFC 3581) and the stateless answer to a
request that cannot be parsed."""

from __future__ import annotations

import pytest

from sipnotify.sip.errors import ParseError
from sipnotify.sip.message import Request, serialize
from sipnotify.sip.responses import bad_request, make_response, stateless_tag, unsupported

HEAD = (
    "OPTIONS sip:x@192.0.2.5 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.5:5070;rport;branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKb\r\n"
    "f: <sip:a@h>;tag=1\r\nt: <sip:x@h>\r\ni: call-1\r\nCSeq: 4 OPTIONS\r\n"
)
REQUEST = Request(
    method="OPTIONS",
    uri="sip:x@192.0.2.5",
    headers=(
        ("Via", "SIP/2.0/UDP 10.0.0.5:5070;rport;branch=z9hG4bKa"),
        ("From", "<sip:a@h>;tag=1"),
        ("To", "<sip:x@h>"),
        ("Call-ID", "call-1"),
        ("CSeq", "4 OPTIONS"),
        ("Require", "path, 100rel, timer"),
    ),
)


@pytest.mark.parametrize(
    ("branch", "tag"),
    [("z9hG4bKa", "z9hG4bKa"), ('z9hG4bK"x"', ""), ("z9hG4bK" + "a" * 200, ""), ("", "")],
)
def test_a_stateless_tag_is_the_branch_when_it_is_a_short_token(branch: str, tag: str) -> None:
    via = f"SIP/2.0/UDP 10.0.0.5:5070;branch={branch}" if branch else "SIP/2.0/UDP 10.0.0.5"
    request = Request(method="REGISTER", uri="sip:h", headers=(("Via", via),))
    assert stateless_tag(request) == tag


def test_a_response_stamps_the_via_and_tags_the_to() -> None:
    response = make_response(REQUEST, 200, "OK", ("198.51.100.7", 40000), server="s", to_tag="t9")
    assert response.header("Via") == (
        "SIP/2.0/UDP 10.0.0.5:5070;received=198.51.100.7;rport=40000;branch=z9hG4bKa"
    )
    assert response.header("To") == "<sip:x@h>;tag=t9"
    assert b"Server: s\r\n" in serialize(response)
    trying = make_response(REQUEST, 100, "Trying", ("10.0.0.5", 5070), server="s", to_tag="")
    assert trying.header("To") == "<sip:x@h>"


def test_unknown_required_options_are_named_in_order() -> None:
    assert unsupported(REQUEST, frozenset(("path",))) == ("100rel", "timer")


@pytest.mark.parametrize("status", [400, 413, 505])
def test_an_unparseable_request_with_its_dialog_headers_is_answered(status: int) -> None:
    answer = bad_request((HEAD + "\r\n").encode(), ParseError('bad "x"', status), ("10.0.0.5", 1))
    assert answer is not None
    text = answer.decode()
    assert text.startswith(f"SIP/2.0 {status} ")
    assert "Via: SIP/2.0/UDP 10.0.0.5:5070;received=10.0.0.5;rport=1;branch=z9hG4bKa\r\n" in text
    assert "Call-ID: call-1\r\nCSeq: 4 OPTIONS\r\n" in text
    assert 'Warning: 399 sipnotify "bad x"\r\n' in text


@pytest.mark.parametrize(
    "data",
    [
        b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n",  # a response is never answered
        b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKa\r\n\r\n",  # too little
        (HEAD.replace("Via: SIP/2.0/UDP 10.0.0.5:5070", "Via: nonsense") + "\r\n").encode(),
    ],
)
def test_what_cannot_be_answered_is_dropped(data: bytes) -> None:
    assert bad_request(data, ParseError("bad"), ("10.0.0.5", 1)) is None

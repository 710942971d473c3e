"""SIP URIs and name-addr values (RFC 3261 §19.1, §20.10)."""

from __future__ import annotations

import pytest

from sipnotify.sip.errors import ParseError
from sipnotify.sip.uri import NameAddr, SipUri, parse_name_addr, parse_uri, split_header_values


def test_full_uri_round_trip() -> None:
    text = "sips:alice:pw@[2001:db8::1]:5061;transport=tcp;lr?subject=hi"
    uri = parse_uri(text)
    assert uri == SipUri(
        scheme="sips",
        host="[2001:db8::1]",
        user="alice",
        password="pw",
        port=5061,
        params=(("transport", "tcp"), ("lr", None)),
        headers="subject=hi",
    )
    assert str(uri) == text
    assert uri.secure
    assert uri.param("TRANSPORT") == "tcp"
    assert uri.param("lr") == ""
    assert str(uri.without_port()) == "sips:alice:pw@[2001:db8::1]"


@pytest.mark.parametrize(
    "text",
    ["garbage", "tel:+15551234", "sip:", "sip:a@", "sip:host:99999", "sip:a b@host", "sip:[::1"],
)
def test_bad_uris(text: str) -> None:
    with pytest.raises(ParseError):
        parse_uri(text)


def test_name_addr_forms() -> None:
    quoted = parse_name_addr('"Bob, Jr." <sip:bob@example.com;transport=udp>;tag=7')
    assert quoted == NameAddr(
        uri=parse_uri("sip:bob@example.com;transport=udp"),
        display='"Bob, Jr."',
        params=(("tag", "7"),),
    )
    assert quoted.tag == "7"
    bare = parse_name_addr("sip:bob@example.com;tag=9")
    assert bare.uri.params == ()
    assert bare.tag == "9"


def test_split_header_values_respects_quotes_and_brackets() -> None:
    value = '"a, b" <sip:x@y;p=1,2>, <sip:z@w>;q=0.5'
    assert split_header_values(value) == ['"a, b" <sip:x@y;p=1,2>', "<sip:z@w>;q=0.5"]

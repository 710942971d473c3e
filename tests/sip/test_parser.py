"""The parser: the torture corpus, the stream framer, and two properties — any bytes give a
message or a ParseError, and parse(serialize(m)) == m."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipnotify.sip.errors import ParseError
from sipnotify.sip.message import Request, Response, canonical_name, serialize
from sipnotify.sip.parser import ResponseHead, StreamFramer, parse_message, peek_response

CORPUS = Path(__file__).parent / "torture"
VALID = sorted((CORPUS / "valid").glob("*.sip"))
INVALID = sorted((CORPUS / "invalid").glob("*.sip"))


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_torture_messages_parse(path: Path) -> None:
    message = parse_message(path.read_bytes())
    assert message.call_id
    assert message.cseq.number >= 0
    assert message.top_via.transport in ("UDP", "TCP", "TLS")
    again = parse_message(serialize(message))
    assert again == message


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_torture_messages_are_rejected_with_their_status(path: Path) -> None:
    expected = int(path.stem.rsplit(".", 1)[1])
    with pytest.raises(ParseError) as caught:
        parse_message(path.read_bytes())
    assert caught.value.status == expected


def test_specific_readings() -> None:
    def load(name: str) -> Request | Response:
        return parse_message((CORPUS / "valid" / f"{name}.sip").read_bytes())

    wsinv = load("wsinv")
    assert wsinv.header("Subject") == "folded across three lines"
    assert wsinv.cseq.number == 8
    assert (wsinv.top_via.transport, wsinv.top_via.host, wsinv.top_via.port) == (
        "UDP",
        "192.0.2.10",
        5060,
    )
    compact = load("compact")
    assert compact.header("Event") == "check-sync"
    assert compact.body == b"hello"
    transports = load("transports")
    assert [v.split(";")[0] for v in transports.header_values("Via")] == [
        "SIP/2.0/UDP 192.0.2.1",
        "SIP/2.0/TCP 192.0.2.2:5060",
        "SIP/2.0/TLS 192.0.2.3",
    ]
    quoted = load("quoted")
    assert len(quoted.header_values("Contact")) == 2
    noreason = load("noreason")
    assert isinstance(noreason, Response)
    assert (noreason.status, noreason.reason) == (100, "")
    assert load("ipv6").top_via.host == "[2001:db8::9:1]"


@pytest.mark.parametrize("line", [b"Via", b"To", b"v", b"Call-ID"])
def test_a_known_header_name_without_a_colon_is_refused(line: bytes) -> None:
    data = (
        (CORPUS / "valid" / "compact.sip")
        .read_bytes()
        .replace(b"\r\n", b"\r\n" + line + b"\r\n", 1)
    )
    with pytest.raises(ParseError, match="malformed header line"):
        parse_message(data)


def test_body_is_cut_to_content_length() -> None:
    data = (CORPUS / "valid" / "compact.sip").read_bytes() + b"trailing junk"
    assert parse_message(data).body == b"hello"


def test_serialize_spells_content_length_as_pjsip() -> None:
    request = Request(method="NOTIFY", uri="sip:a@b", headers=(("Call-ID", "x"),), body=b"x" * 89)
    assert b"\r\nContent-Length:    89\r\n\r\n" in serialize(request)
    empty = Request(method="NOTIFY", uri="sip:a@b", headers=(("Call-ID", "x"),))
    assert serialize(empty).endswith(b"\r\nContent-Length:  0\r\n\r\n")


def test_stream_framer_cuts_by_content_length_and_answers_pings() -> None:
    message = (CORPUS / "valid" / "compact.sip").read_bytes()
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n" + message[:20]) == []
    assert framer.pings == 1
    assert framer.feed(message[20:] + b"\r\n" + message) == [message, message]


def test_stream_framer_bounds() -> None:
    with pytest.raises(ParseError) as caught:
        StreamFramer(max_header=100).feed(b"NOTIFY sip:a@b SIP/2.0\r\nX: " + b"y" * 200)
    assert caught.value.status == 413
    big = b"NOTIFY sip:a@b SIP/2.0\r\nContent-Length: 999999\r\n\r\n"
    with pytest.raises(ParseError) as caught:
        StreamFramer(max_body=1000).feed(big)
    assert caught.value.status == 413
    with pytest.raises(ParseError):
        StreamFramer().feed(b"NOTIFY sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n")


@given(st.binary(max_size=2000))
def test_any_bytes_give_a_message_or_a_parse_error(data: bytes) -> None:
    status = None
    try:
        parse_message(data)
    except ParseError as exc:
        status = exc.status
    assert status in (None, 400, 413, 416, 505)


TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~",
    min_size=2,
    max_size=12,
)
VALUE = st.text(
    alphabet=st.characters(
        codec="utf-8", blacklist_characters="\r\n\x00", blacklist_categories=("Zl", "Zp")
    ),
    max_size=40,
).map(lambda s: s.strip(" \t"))
REQUIRED = (
    ("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKprop"),
    ("From", "<sip:a@example.com>;tag=p"),
    ("To", "<sip:b@example.com>"),
    ("Call-ID", "prop@192.0.2.1"),
)


@given(
    method=TOKEN,
    extra=st.lists(st.tuples(TOKEN, VALUE), max_size=8),
    body=st.binary(max_size=300),
)
def test_parse_of_serialize_is_identity(
    method: str, extra: list[tuple[str, str]], body: bytes
) -> None:
    headers = (
        *REQUIRED,
        ("CSeq", f"7 {method}"),
        *((canonical_name(n), v) for n, v in extra if canonical_name(n) not in _SPECIAL),
    )
    request = Request(method=method, uri="sip:b@example.com", headers=headers, body=body)
    assert parse_message(serialize(request)) == request


_SPECIAL = {"Content-Length", "CSeq", "Via", "Max-Forwards", "To", "From", "Call-ID",
            "Content-Type", "Expires", "Event"}  # fmt: skip


OK_200 = (
    b"SIP/2.0 200 OK\r\n"
    b"v: SIP/2.0/UDP 127.0.0.1:5999;rport=5999;branch=z9hG4bKPjA-1;received=127.0.0.1\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKother\r\n"
    b"f: <sip:phone@127.0.0.1>;tag=a\r\nTo: <sip:phone@127.0.0.1>;tag=b\r\n"
    b"i: abc\r\nCSeq: 17 NOTIFY\r\nContent-Length: 0\r\n\r\n"
)


def test_peek_response_reads_what_matching_needs() -> None:
    head = peek_response(OK_200)
    assert head == ResponseHead(200, "OK", "z9hG4bKPjA-1", "NOTIFY")
    full = parse_message(OK_200)
    assert isinstance(full, Response)
    assert (full.status, full.reason, full.cseq.method) == (head.status, head.reason, head.method)


@pytest.mark.parametrize(
    "data",
    [
        OK_200.replace(b"f: <sip:phone@127.0.0.1>;tag=a\r\n", b""),  # no From
        OK_200.replace(b"CSeq: 17 NOTIFY", b"CSeq: x NOTIFY"),
        OK_200.replace(b"i: abc\r\n", b"i: abc\r\n  folded\r\n"),
        OK_200.replace(b"200 OK", b"2000 OK"),
        OK_200.replace(b";branch=z9hG4bKPjA-1", b""),
        b"NOTIFY sip:a@b SIP/2.0\r\n\r\n",
        OK_200[:40],
    ],
)
def test_peek_response_leaves_anything_odd_to_the_full_parser(data: bytes) -> None:
    assert peek_response(data) is None

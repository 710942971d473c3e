"""AMI framing (behaviour: AMI wire): sans-IO, so every rule is checked without a socket."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sipnotify.ami.codec import (
    LINE_TOO_LONG,
    TOO_MANY_LINES,
    AmiDecoder,
    AmiMessage,
    FramingError,
    Incoming,
    encode,
)
from sipnotify.config.parser import BLANKS


def decode(data: bytes) -> list[Incoming]:
    return AmiDecoder().feed(data)


def test_crlf_and_bare_lf_framing() -> None:
    out = decode(b"Action: Ping\r\nActionID: 1\r\n\r\naction:ping\nactionid:\t 2\n\n")
    assert out == [
        AmiMessage(headers=(("Action", "Ping"), ("ActionID", "1"))),
        AmiMessage(headers=(("action", "ping"), ("actionid", "2"))),
    ]


def test_lookup_is_case_insensitive_and_first_wins() -> None:
    (message,) = decode(b"ACTIONID: a\r\nActionID: b\r\nAction:\r\nAction: Ping\r\n\r\n")
    assert isinstance(message, AmiMessage)
    assert message.get("actionid") == "a"
    assert message.get_all("ActionID") == ["a", "b"]
    assert message.action == "Ping"  # the first non-empty Action
    assert message.get("Missing") == ""


def test_name_must_be_followed_directly_by_colon() -> None:
    (message,) = decode(b"Action : Ping\r\nno colon line\r\n\r\n")
    assert isinstance(message, AmiMessage)
    assert message.action == ""


def test_blank_line_alone_is_an_empty_message() -> None:
    assert decode(b"\r\n") == [AmiMessage(headers=())]


def test_line_limit_is_1024_bytes_with_its_terminator() -> None:
    ok = b"X: " + b"a" * (1024 - 5) + b"\r\n"
    assert len(ok) == 1024
    (fine,) = decode(b"Action: Ping\r\n" + ok + b"\r\n")
    assert isinstance(fine, AmiMessage)
    too_long = b"X: " + b"a" * (1024 - 4) + b"\r\n"
    (broken,) = decode(b"Action: Ping\r\nActionID: 7\r\n" + too_long + b"\r\n")
    assert broken == FramingError(
        message=AmiMessage(headers=(("Action", "Ping"), ("ActionID", "7"))), text=LINE_TOO_LONG
    )


def test_endless_line_is_discarded_in_pieces_and_the_stream_recovers() -> None:
    decoder = AmiDecoder()
    assert decoder.feed(b"Action: Ping\r\nX: ") == []
    for _ in range(100):
        assert decoder.feed(b"z" * 4096) == []
    out = decoder.feed(b"zzz\r\n\r\nAction: Ping\r\n\r\n")
    assert [type(m) for m in out] == [FramingError, AmiMessage]
    assert isinstance(out[0], FramingError)
    assert out[0].text == LINE_TOO_LONG


def test_at_most_128_header_lines() -> None:
    lines = b"".join(b"H%d: v\r\n" % i for i in range(127))
    (fine,) = decode(b"Action: Ping\r\n" + lines + b"\r\n")
    assert isinstance(fine, AmiMessage)
    assert len(fine.headers) == 128
    (broken,) = decode(b"Action: Ping\r\nActionID: 9\r\n" + lines + b"\r\n")
    assert isinstance(broken, FramingError)
    assert broken.text == TOO_MANY_LINES
    assert broken.message.get("ActionID") == "9"
    assert len(broken.message.headers) == 128


def test_non_utf8_bytes_round_trip() -> None:
    (message,) = decode(b"ActionID: \xff\xfe\r\n\r\n")
    assert isinstance(message, AmiMessage)
    assert encode([("ActionID", message.get("ActionID"))]) == b"ActionID: \xff\xfe\r\n\r\n"


def test_encode() -> None:
    assert encode([("Response", "Success"), ("Message", "x")]) == (
        b"Response: Success\r\nMessage: x\r\n\r\n"
    )


@given(st.binary(max_size=4000), st.lists(st.integers(min_value=0, max_value=4000), max_size=8))
def test_any_split_of_any_stream_decodes_the_same(data: bytes, cuts: list[int]) -> None:
    whole = AmiDecoder().feed(data)
    decoder = AmiDecoder()
    pieces: list[Incoming] = []
    start = 0
    for cut in sorted(c for c in cuts if c <= len(data)):
        pieces.extend(decoder.feed(data[start:cut]))
        start = cut
    pieces.extend(decoder.feed(data[start:]))
    assert pieces == whole
    assert all(isinstance(m, AmiMessage | FramingError) for m in whole)


@given(
    st.lists(
        st.tuples(
            st.text(
                alphabet=st.characters(blacklist_characters=":\r\n", codec="utf-8"),
                min_size=1,
            ).filter(lambda s: s.strip() == s and bool(s)),
            st.text(alphabet=st.characters(blacklist_characters="\r\n", codec="utf-8")).map(
                lambda s: s.lstrip(BLANKS)  # Asterisk skips every byte < 33 before a value
            ),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_encode_then_decode_gives_the_fields_back(fields: list[tuple[str, str]]) -> None:
    (message,) = AmiDecoder().feed(encode(fields))
    assert message == AmiMessage(headers=tuple(fields))

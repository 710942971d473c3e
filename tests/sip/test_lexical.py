"""Numbers and URI characters as SIP defines them, not as Python's str and int do."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipnotify.sip.errors import ParseError
from sipnotify.sip.lexical import check_uri_chars, decimal, delta_seconds, is_decimal


@pytest.mark.parametrize("text", ["", "\u00b2", "1\u00b2", "\u0661", " 1", "-1", "+1", "9" * 5000])
def test_decimal_refuses_what_is_not_ascii_digits(text: str) -> None:
    assert not is_decimal(text)
    with pytest.raises(ParseError):
        decimal(text, "X")


def test_decimal_bounds() -> None:
    assert decimal("0070", "Max-Forwards", maximum=255) == 70
    with pytest.raises(ParseError, match="out of range"):
        decimal("256", "Max-Forwards", maximum=255)


@pytest.mark.parametrize(
    ("text", "value"),
    [("60", 60), ("000", 0), ("4294967296", 2**32 - 1), ("9" * 5000, 2**32 - 1), ("\u00b2", None),
     ("", None), ("1 ", None)],
)  # fmt: skip
def test_delta_seconds_caps_and_refuses(text: str, value: int | None) -> None:
    assert delta_seconds(text) == value


@pytest.mark.parametrize("char", ["\r", "\n", "\0", " ", "\t", "\x7f", "\udcff", "é"])
def test_uri_characters(char: str) -> None:
    with pytest.raises(ParseError):
        check_uri_chars(f"sip:a{char}b@h")


@given(st.text(max_size=40))
def test_decimal_fails_only_with_parse_error(text: str) -> None:
    with contextlib.suppress(ParseError):
        assert 0 <= decimal(text, "X") <= 2**32 - 1

"""Numbers as Asterisk reads them from AMI fields and dialplan arguments (sscanf, strtol)."""

from __future__ import annotations

import pytest

from sipnotify.config.numbers import INT_MAX, scan_int, seconds, whole_number


@pytest.mark.parametrize(
    ("text", "number"),
    [("42", 42), ("  -7xyz", -7), ("+3", 3), ("9" * 29, INT_MAX), ("-" + "9" * 29, -INT_MAX - 1),
     ("", None), ("x1", None), ("²", None)],
)  # fmt: skip
def test_scan_int_reads_the_leading_number_clamped_to_a_c_int(
    text: str, number: int | None
) -> None:
    assert scan_int(text) == number


@pytest.mark.parametrize(
    ("text", "number"), [("0", 0), ("600", 600), ("601", None), ("-1", None), (" 5", None)]
)
def test_whole_number_must_be_all_ascii_digits_within_the_maximum(
    text: str, number: int | None
) -> None:
    assert whole_number(text, maximum=600) == number


@pytest.mark.parametrize(
    ("text", "value"), [("1.5", 1.5), ("0", 0.0), ("-1", None), ("nan", None), ("inf", None),
                        ("\u0661.5", None), ("x", None)],
)  # fmt: skip
def test_seconds_are_finite_and_not_negative(text: str, value: float | None) -> None:
    assert seconds(text) == value

"""Asterisk's Variable splitting (main/app.c, manager.c), item by item."""

from __future__ import annotations

import pytest

from sipnotify.ami.variables import split_arguments, split_variables


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("a=1,b=2", ["a=1", "b=2"]),
        ('a="x,y",b=2', ["a=x,y", "b=2"]),
        ("a=f(x,y),b=[1,2]", ["a=f(x,y)", "b=[1,2]"]),
        ("a=x\\,y\\\\z", ["a=x,y\\z"]),
        ("", [""]),
        ("a,,b", ["a", "", "b"]),
    ],
)
def test_split_arguments(text: str, items: list[str]) -> None:
    assert split_arguments(text) == items


def test_the_64th_item_takes_the_rest_unsplit() -> None:
    items = split_arguments(",".join(f"v{i}=\\x" for i in range(70)))
    assert len(items) == 64
    assert items[62] == "v62=x"
    assert items[63].startswith("v63=\\x,v64=")


def test_split_variables_keeps_order_and_drops_malformed_items() -> None:
    values = ["  Event=check-sync,junk,=nameless", "Content=a=b, X-Sp=1"]
    assert split_variables(values) == [
        ("Event", "check-sync"),
        ("Content", "a=b"),
        (" X-Sp", "1"),  # no trimming, as Asterisk
    ]

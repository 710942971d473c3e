"""Privilege classes and event masks (manager.c get_perm / strings_to_mask)."""

from __future__ import annotations

import pytest

from sipnotify.config import permissions as p


@pytest.mark.parametrize(
    ("text", "mask"),
    [
        ("", None),
        ("on", p.ALL),
        ("YES", p.ALL),
        ("true", p.ALL),
        ("all", p.ALL),
        ("all,user", p.ALL),
        ("off", 0),
        ("no", 0),
        ("none", 0),
        ("yeah whatever", 0),
        ("1", p.SYSTEM),
        ("0", 0),
        ("system,user,agent", p.SYSTEM | p.USER | p.AGENT),
        ("system, call", p.SYSTEM | p.CALL),
    ],
)
def test_event_masks(text: str, mask: int | None) -> None:
    assert p.parse_event_mask(text) == mask


def test_privilege_text_as_asterisk_prints_it() -> None:
    assert p.privilege_text(p.SYSTEM) == "system,all"
    assert p.privilege_text(p.SYSTEM | p.REPORTING) == "system,reporting,all"
    assert p.privilege_text(0) == "<none>"


def test_class_names_are_case_sensitive_like_asterisk() -> None:
    assert p.parse_classes("System,call") == p.CALL
    assert p.unknown_classes("System,call,bogus") == ["System", "bogus"]

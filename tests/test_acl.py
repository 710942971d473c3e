"""deny/permit evaluation (main/acl.c semantics)."""

from __future__ import annotations

import pytest

from sipnotify.config.acl import DENY_ALL, Acl, parse_rules


def acl(*pairs: tuple[str, str]) -> Acl:
    rules = [r for sense, value in pairs for r in parse_rules(value, permit=sense == "permit")]
    return Acl(rules=tuple(rules))


def test_empty_acl_allows_everyone() -> None:
    assert Acl().allows("192.0.2.1")
    assert Acl().allows("::1")


def test_last_matching_rule_wins() -> None:
    rules = acl(("deny", "0.0.0.0/0.0.0.0"), ("permit", "10.0.0.0/8"), ("deny", "10.1.0.0/16"))
    assert not rules.allows("192.0.2.1")
    assert rules.allows("10.2.3.4")
    assert not rules.allows("10.1.2.3")


def test_comma_lists_negation_and_ipv6() -> None:
    rules = acl(("deny", "0.0.0.0/0,::/0"), ("permit", "127.0.0.0/8, !127.0.0.2, ::1"))
    assert rules.allows("127.0.0.1")
    assert rules.allows("::1")
    assert not rules.allows("127.0.0.2")
    assert not rules.allows("2001:db8::1")


def test_deny_all() -> None:
    assert not DENY_ALL.allows("127.0.0.1")
    assert not DENY_ALL.allows("::1")


@pytest.mark.parametrize("value", ["", "nonsense", "10.0.0.0/33", "1.2.3.4,"])
def test_bad_rules_raise(value: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_rules(value, permit=True)

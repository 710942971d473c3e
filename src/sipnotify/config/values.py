"""Typed reading of single option values, with the file and line in every error.

Booleans follow Asterisk's ast_true()/ast_false() words; anything else is an error here
rather than Asterisk's silent "false", so a typo cannot quietly change behaviour.
"""

from __future__ import annotations

from ipaddress import ip_address

from sipnotify.config.parser import ConfigError, Item

_TRUE = frozenset(("yes", "true", "y", "t", "1", "on"))
TRUE_WORDS = _TRUE
_FALSE = frozenset(("no", "false", "n", "f", "0", "off"))


def boolean(item: Item) -> bool:
    """`yes`/`no` and Asterisk's other true and false words."""
    word = item.value.lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ConfigError(item.origin, f"{item.key} = '{item.value}' is not yes or no")


def integer(item: Item, *, low: int, high: int | None = None) -> int:
    """A whole number in [low, high]."""
    try:
        number = int(item.value, 10)
    except ValueError:
        raise ConfigError(item.origin, f"{item.key} = '{item.value}' is not a number") from None
    if number < low or (high is not None and number > high):
        upper = f" to {high}" if high is not None else " or more"
        raise ConfigError(item.origin, f"{item.key} = {number} is out of range ({low}{upper})")
    return number


def address(item: Item) -> str:
    """A literal IPv4 or IPv6 address (brackets around IPv6 allowed)."""
    text = item.value.strip("[]")
    try:
        return str(ip_address(text))
    except ValueError:
        raise ConfigError(
            item.origin, f"{item.key} = '{item.value}' is not an IP address"
        ) from None

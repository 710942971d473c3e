"""The vendor catalogue: for each verb, the NOTIFY each vendor's phones need, chosen by the
User-Agent a phone registered with.

Read from the shipped `vendors.conf` (beside this module) and then the configuration folder's
`vendors.conf`: a user's section replaces the shipped section of the same name, and the user's
vendors are tried first, in the user's order. Validated when read: a bad regular expression,
an unknown option or type, a verb pointing at a missing `type = notify` section, a vendor
without `user_agent` (but `[fallback]`) or a header name that is not a token is a
`ConfigError` naming the file and line.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sipnotify.config.parser import ConfigError, Origin, ParsedConfig, Section, parse_file

SHIPPED = Path(__file__).resolve().parent / "vendors.conf"
FILE = "vendors.conf"
FALLBACK = "fallback"
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")
Items = tuple[tuple[str, str], ...]


class Verb(enum.Enum):
    """What an operator asks of a phone, whatever its vendor."""

    RESYNC = "resync"  # re-read the configuration, without a reboot where the phone can
    REBOOT = "reboot"

    @property
    def destructive(self) -> bool:
        """Whether the verb interrupts the phone (calls drop)."""
        return self is Verb.REBOOT


@dataclass(frozen=True, slots=True)
class Vendor:
    name: str
    user_agents: tuple[re.Pattern[str], ...]
    verbs: Mapping[Verb, Items]
    origin: Origin

    def claims(self, user_agent: str) -> bool:
        return any(pattern.search(user_agent) for pattern in self.user_agents)


@dataclass(frozen=True, slots=True)
class Catalogue:
    vendors: tuple[Vendor, ...]  # tried in order
    fallback: Vendor

    def vendor_for(self, user_agent: str) -> Vendor:
        """The first vendor whose patterns match `user_agent`, else the fallback."""
        if user_agent:
            for vendor in self.vendors:
                if vendor.claims(user_agent):
                    return vendor
        return self.fallback

    def items(self, verb: Verb, user_agent: str) -> Items:
        """The NOTIFY items (as pjsip_notify.conf's) `verb` sends to a phone with this
        User-Agent; a vendor that does not name the verb gets the fallback's."""
        vendor = self.vendor_for(user_agent)
        return vendor.verbs.get(verb) or self.fallback.verbs[verb]


def load_catalogue(folder: Path | None) -> Catalogue:
    """The shipped catalogue with the folder's `vendors.conf` over it. Raises ConfigError."""
    user = parse_file(folder / FILE) if folder is not None else None
    return catalogue_from(parse_file(SHIPPED), user)


def catalogue_from(shipped: ParsedConfig, user: ParsedConfig | None) -> Catalogue:
    sections = _merged(shipped.objects(), user.objects() if user is not None else ())
    notifies = {name: s for name, s in sections.items() if _type(s) == "notify"}
    vendors = [_vendor(s, notifies) for s in sections.values() if _type(s) == "vendor"]
    fallback = next((v for v in vendors if v.name == FALLBACK), None)
    if fallback is None:
        raise ConfigError(Origin(FILE, 0), "no [fallback] vendor")
    missing = [verb.value for verb in Verb if verb not in fallback.verbs]
    if missing:
        raise ConfigError(fallback.origin, f"[fallback] must say what to send for {missing[0]}")
    return Catalogue(tuple(v for v in vendors if v is not fallback), fallback)


def _merged(shipped: Sequence[Section], user: Sequence[Section]) -> dict[str, Section]:
    """Sections by name: the user's first (in their order), then the shipped ones the user
    did not replace."""
    merged: dict[str, Section] = {}
    for section in (*user, *shipped):
        merged.setdefault(section.name.lower(), section)
    return merged


def _type(section: Section) -> str:
    item = section.first("type")
    if item is None or item.value.lower() not in ("vendor", "notify"):
        where = item.origin if item is not None else section.origin
        raise ConfigError(where, f"[{section.name}] needs type = vendor or type = notify")
    return item.value.lower()


def _vendor(section: Section, notifies: Mapping[str, Section]) -> Vendor:
    patterns: list[re.Pattern[str]] = []
    verbs: dict[Verb, Items] = {}
    for item in section.items:
        key = item.key.lower()
        if key == "type":
            continue
        if key == "user_agent":
            patterns.append(_pattern(item.value, item.origin))
            continue
        verb = next((v for v in Verb if v.value == key), None)
        if verb is None:
            raise ConfigError(item.origin, f"'{item.key}' is not an option of a vendor")
        verbs[verb] = _verb_items(item.value, item.origin, notifies)
    name = section.name.lower()
    if not patterns and name != FALLBACK:
        raise ConfigError(section.origin, f"vendor [{section.name}] has no user_agent")
    return Vendor(name, tuple(patterns), verbs, section.origin)


def _pattern(text: str, origin: Origin) -> re.Pattern[str]:
    try:
        return re.compile(text, re.IGNORECASE)
    except re.error as exc:
        message = f"user_agent '{text}' is not a regular expression: {exc}"
        raise ConfigError(origin, message) from None


def _verb_items(value: str, origin: Origin, notifies: Mapping[str, Section]) -> Items:
    """An Event value, or `@name` of a `type = notify` section."""
    if not value.startswith("@"):
        if not value:
            raise ConfigError(origin, "an empty Event")
        return (("Event", value),)
    section = notifies.get(value[1:].lower())
    if section is None:
        raise ConfigError(origin, f"'{value}' names no type = notify section")
    items = tuple((i.key, i.value) for i in section.items if i.key.lower() != "type")
    for key, _ in items:
        if not _TOKEN.fullmatch(key):
            raise ConfigError(section.origin, f"'{key}' is not a header name")
    return items

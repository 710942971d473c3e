"""asterisk.conf: the `[options]` sipnotify honours.

Owns `maxcalls`, the most channels alive at once (an INVITE beyond gets 503, an Originate
fails). Asterisk has no limit unless it is set; sipnotify keeps 1000 unless it is set, and 0
means no limit, as in Asterisk. And `systemname`, the node's name: written with every contact
it registers (`reg_server`) when several nodes share one database (empty: none, as in Asterisk).
"""

from __future__ import annotations

from dataclasses import dataclass

from sipnotify.config.parser import ConfigError, Diagnostic, Item, ParsedConfig

DEFAULT_MAXCALLS = 1000


@dataclass(frozen=True, slots=True)
class Options:
    maxcalls: int = DEFAULT_MAXCALLS
    systemname: str = ""


def load_options(parsed: ParsedConfig) -> tuple[Options, list[Diagnostic]]:
    maxcalls, systemname = DEFAULT_MAXCALLS, ""
    warnings: list[Diagnostic] = []
    for section in parsed.objects():
        if section.name.lower() != "options":
            continue
        for item in section.items:
            if item.key.lower() == "maxcalls":
                if not item.value.isdigit():
                    raise ConfigError(item.origin, f"maxcalls must be a number, not '{item.value}'")
                maxcalls = int(item.value)
            elif item.key.lower() == "systemname":
                systemname = _name(item)
    return Options(maxcalls=maxcalls, systemname=systemname), warnings


def _name(item: Item) -> str:
    """A node name goes into SQL values and AMI lines: printable, no spaces, at most 255."""
    if len(item.value) > 255 or not all(ch.isprintable() and not ch.isspace() for ch in item.value):
        raise ConfigError(item.origin, f"systemname must be printable, without spaces, at most "
                                       f"255 characters: '{item.value}'")  # fmt: skip
    return item.value

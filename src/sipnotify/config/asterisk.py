"""asterisk.conf: the `[options]` sipnotify honours.

Owns `maxcalls`, the most channels alive at once (an INVITE beyond gets 503, an Originate
fails). Asterisk has no limit unless it is set; sipnotify keeps 1000 unless it is set, and 0
means no limit, as in Asterisk.
"""

from __future__ import annotations

from dataclasses import dataclass

from sipnotify.config.parser import ConfigError, Diagnostic, ParsedConfig

DEFAULT_MAXCALLS = 1000


@dataclass(frozen=True, slots=True)
class Options:
    maxcalls: int = DEFAULT_MAXCALLS


def load_options(parsed: ParsedConfig) -> tuple[Options, list[Diagnostic]]:
    maxcalls = DEFAULT_MAXCALLS
    warnings: list[Diagnostic] = []
    for section in parsed.objects():
        if section.name.lower() != "options":
            continue
        for item in section.items:
            if item.key.lower() == "maxcalls":
                if not item.value.isdigit():
                    raise ConfigError(item.origin, f"maxcalls must be a number, not '{item.value}'")
                maxcalls = int(item.value)
    return Options(maxcalls=maxcalls), warnings

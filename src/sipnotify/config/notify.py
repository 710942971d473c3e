"""pjsip_notify.conf: the named NOTIFY presets that `Option:` selects.

Owns the preset model: each section (but `[general]`) is a preset whose items are kept in
file order as (name, value) pairs; names are looked up case-insensitively (behaviour: notify
presets).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sipnotify.config.parser import Diagnostic, Origin, ParsedConfig


@dataclass(frozen=True, slots=True)
class NotifyPreset:
    name: str
    items: tuple[tuple[str, str], ...]
    origin: Origin


@dataclass(frozen=True, slots=True)
class NotifyPresets:
    by_name: Mapping[str, NotifyPreset] = field(default_factory=dict)

    def find(self, name: str) -> NotifyPreset | None:
        """The preset called `name`, compared case-insensitively."""
        return self.by_name.get(name.lower())

    def names(self) -> list[str]:
        return [preset.name for preset in self.by_name.values()]


def load_notify(parsed: ParsedConfig) -> tuple[NotifyPresets, list[Diagnostic]]:
    presets: dict[str, NotifyPreset] = {}
    warnings: list[Diagnostic] = []
    for section in parsed.objects():
        key = section.name.lower()
        if key == "general":
            continue
        if key in presets:
            first = presets[key].origin
            warnings.append(
                Diagnostic(section.origin, f"notify type '{section.name}' repeats {first}; ignored")
            )
            continue
        items = tuple((item.key, item.value) for item in section.items)
        presets[key] = NotifyPreset(name=section.name, items=items, origin=section.origin)
    return NotifyPresets(by_name=presets), warnings

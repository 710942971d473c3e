"""Reload without restart: which Asterisk module names stand for which files, and the rule
that a file with an error changes nothing.

`Reloader.reload("res_pjsip_notify.so")` reads pjsip_notify.conf again; `reload(None)` reads
every part. A part whose file has an error keeps its running configuration, and the outcome
carries the file and line. What is applied goes to `apply`, which hands it to the running
parts (registrations and calls stay). Knows nothing of AMI: the actions translate outcomes.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sipnotify.config.load import Config, Part, reload_part
from sipnotify.config.parser import ConfigError
from sipnotify.config.realtime import RowReader

log = logging.getLogger("sipnotify.reload")

# Asterisk's module names (the `.so` may be left out) for the parts sipnotify re-reads; the
# manager and the HTTP server are built into Asterisk and have no `.so`.
RELOADABLE = {
    "res_pjsip.so": Part.PJSIP,
    "res_pjsip_notify.so": Part.NOTIFY,
    "pbx_config.so": Part.DIALPLAN,
    "manager": Part.MANAGER,
    "http": Part.HTTP,
}
# Modules sipnotify also stands in for, which Asterisk cannot reload on their own.
LOADED = frozenset(
    (
        "chan_pjsip.so",
        "res_pjsip_session.so",
        "res_pjsip_registrar.so",
        "res_pjsip_pubsub.so",
        "res_pjsip_authenticator_digest.so",
        "res_pjsip_outbound_authenticator_digest.so",
        "res_pjsip_endpoint_identifier_ip.so",
        "res_pjsip_endpoint_identifier_user.so",
        "app_dial.so",
    )
)


class Status(enum.IntEnum):
    """Asterisk's reload results, as the Reload event's `Status` numbers them."""

    SUCCESS = 0
    NOT_FOUND = 2
    ERROR = 3
    NOT_SUPPORTED = 6


@dataclass(frozen=True, slots=True)
class ReloadResult:
    status: Status
    error: str = ""  # for ERROR: `FILE:LINE: reason` of each part that failed


def canonical(name: str) -> str:
    """`res_pjsip_notify` → `res_pjsip_notify.so`; built-in names stay as they are."""
    lowered = name.strip().lower()
    if lowered in RELOADABLE or lowered.endswith(".so"):
        return lowered
    return f"{lowered}.so"


def is_loaded(name: str) -> bool:
    """Whether `name` is a module sipnotify stands in for (ModuleCheck)."""
    found = canonical(name)
    return found in RELOADABLE or found in LOADED


Apply = Callable[[Config, frozenset[Part]], None]


class Reloader:
    def __init__(self, config: Config, apply: Apply, *, manager_extra: Sequence[Path] = (),
                 rows: RowReader | None = None) -> None:  # fmt: skip
        self.config = config
        self._apply = apply
        self._manager_extra = tuple(manager_extra)
        self._rows = rows

    def reload(self, name: str | None) -> ReloadResult:
        """Reload one module by name, or every part for None."""
        if name is None:
            return self._parts(tuple(Part))
        found = canonical(name)
        part = RELOADABLE.get(found)
        if part is not None:
            return self._parts((part,))
        return ReloadResult(Status.NOT_SUPPORTED if found in LOADED else Status.NOT_FOUND)

    def _parts(self, parts: tuple[Part, ...]) -> ReloadResult:
        config = self.config
        applied: set[Part] = set()
        errors: list[str] = []
        for part in parts:
            try:
                config = reload_part(config, part, manager_extra=self._manager_extra,
                                     rows=self._rows)  # fmt: skip
            except ConfigError as exc:
                log.error("reload of %s failed, the running configuration stays: %s",
                          part.value, exc)  # fmt: skip
                errors.append(str(exc))
                continue
            for warning in config.warnings:
                log.warning("%s", warning)
            applied.add(part)
        if applied:
            self.config = config
            self._apply(config, frozenset(applied))
            log.info("reloaded %s", ", ".join(sorted(p.value for p in applied)))
        if errors:
            return ReloadResult(Status.ERROR, "; ".join(errors))
        return ReloadResult(Status.SUCCESS)

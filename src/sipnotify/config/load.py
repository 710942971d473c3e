"""Read a configuration directory into one frozen `Config`.

Owns which files are read (manager.conf, pjsip.conf, pjsip_notify.conf, acl.conf,
extensions.conf, asterisk.conf, http.conf, the realtime trio sorcery.conf, extconfig.conf and
res_pgsql.conf, and sipnotify's own sipnotify.conf; a missing one counts as empty, as in
Asterisk) and where the embedded defaults live.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sipnotify.config.asterisk import Options, load_options
from sipnotify.config.extensions import Dialplan, load_extensions
from sipnotify.config.http import HttpConfig, load_http
from sipnotify.config.manager import ManagerConfig, load_manager, named_acls
from sipnotify.config.notify import NotifyPresets, load_notify
from sipnotify.config.parser import (
    ConfigError,
    Diagnostic,
    Origin,
    ParsedConfig,
    parse_file,
    parse_files,
)
from sipnotify.config.pjsip import PjsipConfig, load_pjsip
from sipnotify.config.realtime import Realtime, RowReader, load_realtime, realtime_sections
from sipnotify.config.sipnotify import Settings, load_settings

DEFAULTS_DIR = Path(__file__).resolve().parent.parent / "defaults"


@dataclass(frozen=True, slots=True)
class Config:
    directory: Path
    manager: ManagerConfig
    notify: NotifyPresets
    pjsip: PjsipConfig
    dialplan: Dialplan
    options: Options
    settings: Settings
    http: HttpConfig
    realtime: Realtime
    warnings: tuple[Diagnostic, ...]


class Part(enum.Enum):
    """What a reload re-reads: each part is one Asterisk module's files."""

    PJSIP = "pjsip.conf"
    NOTIFY = "pjsip_notify.conf"
    DIALPLAN = "extensions.conf"
    MANAGER = "manager.conf"
    HTTP = "http.conf"


def reload_part(
    config: Config, part: Part, *, manager_extra: Sequence[Path] = (), rows: RowReader | None = None
) -> Config:
    """`config` with one part read again from its directory; warnings are the new file's.

    Raises ConfigError naming the file and line, and then nothing has changed."""
    directory = config.directory
    if part is Part.MANAGER:
        acls, acl_warnings = named_acls(acl_conf := parse_file(directory / "acl.conf"))
        parsed = parse_files([directory / "manager.conf", *manager_extra])
        manager, found = load_manager(parsed, acls)
        warnings = (*acl_conf.warnings, *acl_warnings, *parsed.warnings, *found)
        return replace(config, manager=manager, warnings=warnings)
    parsed = parse_file(directory / part.value)
    if part is Part.PJSIP:
        merged, from_tables = _with_realtime(parsed, config.realtime, rows)
        pjsip, found = load_pjsip(merged)
        return replace(config, pjsip=pjsip, warnings=(*parsed.warnings, *from_tables, *found))
    if part is Part.NOTIFY:
        notify, found = load_notify(parsed)
        return replace(config, notify=notify, warnings=(*parsed.warnings, *found))
    if part is Part.HTTP:
        http, found = load_http(parsed)
        return replace(config, http=http, warnings=(*parsed.warnings, *found))
    dialplan, found = load_extensions(parsed)
    return replace(config, dialplan=dialplan, warnings=(*parsed.warnings, *found))


def _with_realtime(
    pjsip_conf: ParsedConfig, realtime: Realtime, rows: RowReader | None
) -> tuple[ParsedConfig, list[Diagnostic]]:
    """pjsip.conf's sections followed by those sorcery.conf keeps in tables (read by `rows`);
    a table's object of the same name and type adds to and overrides the file's."""
    sections, warnings = realtime_sections(realtime, rows)
    return ParsedConfig((*pjsip_conf.sections, *sections), pjsip_conf.warnings), warnings


def load_config(
    directory: Path, *, manager_extra: Sequence[Path] = (), rows: RowReader | None = None
) -> Config:
    """Load every file of `directory`; `manager_extra` files are read after manager.conf;
    `rows` reads the realtime tables sorcery.conf names (objects kept in PostgreSQL).

    Raises ConfigError naming the file and line of the first error.
    """
    if not directory.is_dir():
        raise ConfigError(Origin(str(directory), 0), "configuration directory not found")
    acl_conf = parse_file(directory / "acl.conf")
    acls, acl_warnings = named_acls(acl_conf)
    manager_conf = parse_files([directory / "manager.conf", *manager_extra])
    manager, manager_warnings = load_manager(manager_conf, acls)
    notify_conf = parse_file(directory / "pjsip_notify.conf")
    notify, notify_warnings = load_notify(notify_conf)
    realtime_confs = [parse_file(directory / name)
                      for name in ("sorcery.conf", "extconfig.conf", "res_pgsql.conf")]  # fmt: skip
    realtime, realtime_warnings = load_realtime(*realtime_confs)
    pjsip_conf = parse_file(directory / "pjsip.conf")
    merged, from_tables = _with_realtime(pjsip_conf, realtime, rows)
    pjsip, pjsip_warnings = load_pjsip(merged)
    pjsip_warnings = [*from_tables, *pjsip_warnings]
    extensions_conf = parse_file(directory / "extensions.conf")
    dialplan, dialplan_warnings = load_extensions(extensions_conf)
    asterisk_conf = parse_file(directory / "asterisk.conf")
    options, options_warnings = load_options(asterisk_conf)
    sipnotify_conf = parse_file(directory / "sipnotify.conf")
    settings, settings_warnings = load_settings(sipnotify_conf)
    http_conf = parse_file(directory / "http.conf")
    http, http_warnings = load_http(http_conf)
    warnings = (
        *acl_conf.warnings,
        *acl_warnings,
        *manager_conf.warnings,
        *manager_warnings,
        *notify_conf.warnings,
        *notify_warnings,
        *pjsip_conf.warnings,
        *pjsip_warnings,
        *extensions_conf.warnings,
        *dialplan_warnings,
        *asterisk_conf.warnings,
        *options_warnings,
        *sipnotify_conf.warnings,
        *settings_warnings,
        *http_conf.warnings,
        *http_warnings,
        *(w for parsed in realtime_confs for w in parsed.warnings),
        *realtime_warnings,
    )
    return Config(
        directory=directory,
        manager=manager,
        notify=notify,
        pjsip=pjsip,
        dialplan=dialplan,
        options=options,
        settings=settings,
        http=http,
        realtime=realtime,
        warnings=warnings,
    )

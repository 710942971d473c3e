"""sorcery.conf, extconfig.conf and res_pgsql.conf: where PJSIP objects live when they are not
in pjsip.conf — Asterisk realtime's three files, read as Asterisk reads them.

Owns: which object types `sorcery.conf` maps to a realtime table (`contact = realtime,
ps_contacts` in `[res_pjsip]`; identify in `[res_pjsip_endpoint_identifier_ip]`,
subscription_persistence in `[res_pjsip_pubsub]`); which driver
and database `extconfig.conf` `[settings]` maps each table to (`ps_contacts => pgsql,general`;
sipnotify's own tables are mapped the same way); and the connection in `res_pgsql.conf`
`[general]`, in both spellings Asterisk accepts (`dbhost`… and `hostname`…). Only the `pgsql`
driver exists here; a realtime table with no mapping, or mapped to another driver, is a
ConfigError at its line, never a silent fall-back to the embedded store.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sipnotify.config import values
from sipnotify.config.parser import ConfigError, Diagnostic, Item, Origin, ParsedConfig, Section

DRIVER = "pgsql"
_SECTIONS = {"res_pjsip": ("contact", "endpoint", "aor", "auth"),
             "res_pjsip_endpoint_identifier_ip": ("identify",),
             "res_pjsip_pubsub": ("subscription_persistence",)}  # fmt: skip
_OTHER_WIZARDS = frozenset(("config", "memory", "memory_cache", "astdb"))
# res_pgsql.conf: each libpq keyword with the old and the 23.x spelling
_CONNECTION_KEYS = {"dbhost": "host", "hostname": "host", "dbport": "port", "port": "port",
                    "dbname": "dbname", "dbuser": "user", "user": "user",
                    "dbpass": "password", "password": "password", "dbsock": "host",
                    "dbappname": "application_name", "appname": "application_name"}  # fmt: skip
_ACCEPTED = frozenset(("requirements", "keepalive"))


class ObjectType(enum.Enum):
    """A PJSIP object type sorcery.conf can map."""

    CONTACT = "contact"
    ENDPOINT = "endpoint"
    AOR = "aor"
    AUTH = "auth"
    IDENTIFY = "identify"
    SUBSCRIPTION_PERSISTENCE = "subscription_persistence"  # MWI subscriptions


# pjsip.conf's `type=` for each object type realtime can hold
_PJSIP_TYPES = {ObjectType.ENDPOINT: "endpoint", ObjectType.AOR: "aor", ObjectType.AUTH: "auth",
                ObjectType.IDENTIFY: "identify"}  # fmt: skip


class OwnTable(enum.Enum):
    """sipnotify's own tables, which extconfig.conf may map to PostgreSQL too."""

    MAILBOXES = "sipnotify_mailboxes"
    JOBS = "sipnotify_jobs"  # with sipnotify_job_phones


@dataclass(frozen=True, slots=True)
class Connection:
    """res_pgsql.conf's connection, as libpq keywords."""

    keywords: tuple[tuple[str, str], ...] = ()

    def conninfo(self) -> str:
        """A libpq connection string (values quoted)."""
        return " ".join(f"{key}='{_quote(value)}'" for key, value in self.keywords)

    def describe(self) -> str:
        """The connection without its password, to name it in messages."""
        found = dict(self.keywords)
        return (f"PostgreSQL {found.get('user', '')}@{found.get('host', '')}:"
                f"{found.get('port', '5432')}/{found.get('dbname', '')}")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Realtime:
    """What lives in PostgreSQL; empty when everything is in files and the embedded store."""

    tables: Mapping[ObjectType, str] = field(default_factory=dict)
    own: frozenset[OwnTable] = frozenset()
    connection: Connection = Connection()

    @property
    def used(self) -> bool:
        return bool(self.tables or self.own)

    def table(self, kind: ObjectType) -> str | None:
        return self.tables.get(kind)


def load_realtime(
    sorcery: ParsedConfig, extconfig: ParsedConfig, pgsql: ParsedConfig
) -> tuple[Realtime, list[Diagnostic]]:
    """The three files together. Raises ConfigError for a mapping that cannot be served."""
    warnings: list[Diagnostic] = []
    wanted = _sorcery(sorcery, warnings)
    mapped = _extconfig(extconfig, warnings)
    for kind, (table, origin) in wanted.items():
        if table not in mapped:
            hint = f"add `{table} => pgsql,general`"
            raise ConfigError(origin, f"{kind.value} = realtime,{table}: extconfig.conf maps "
                                      f"no table {table} ({hint})")  # fmt: skip
    own = frozenset(t for t in OwnTable if t.value in mapped)
    for table, origin in mapped.items():
        if table not in {t for t, _ in wanted.values()} and table not in {t.value for t in own}:
            warnings.append(Diagnostic(origin, f"{table}: no object is kept in this table"))
    tables = {kind: table for kind, (table, _) in wanted.items()}
    if not tables and not own:
        return Realtime(), warnings
    return Realtime(tables, own, _connection(pgsql, warnings)), warnings


def _sorcery(
    parsed: ParsedConfig, warnings: list[Diagnostic]
) -> dict[ObjectType, tuple[str, Origin]]:
    wanted: dict[ObjectType, tuple[str, Origin]] = {}
    for section in parsed.objects():
        kinds = _SECTIONS.get(section.name.lower())
        if kinds is None:
            warnings.append(Diagnostic(section.origin, f"[{section.name}]: not a PJSIP module"))
            continue
        for item in section.items:
            wizard, _, data = (part.strip() for part in item.value.partition(","))
            if item.key.lower() not in kinds:
                warnings.append(Diagnostic(item.origin, f"unknown object type '{item.key}'"))
            elif wizard.lower() == "realtime":
                if not data:
                    raise ConfigError(item.origin, "realtime needs a table: realtime,ps_contacts")
                wanted[ObjectType(item.key.lower())] = (data.split(",")[0].strip(), item.origin)
            elif wizard.lower() not in _OTHER_WIZARDS:
                raise ConfigError(item.origin, f"unknown sorcery wizard '{wizard}'")
    return wanted


def _extconfig(parsed: ParsedConfig, warnings: list[Diagnostic]) -> dict[str, Origin]:
    mapped: dict[str, Origin] = {}
    for section in parsed.objects():
        if section.name.lower() != "settings":
            warnings.append(Diagnostic(section.origin, f"unknown section [{section.name}]"))
            continue
        for item in section.items:
            driver = item.value.split(",")[0].strip().lower()
            if driver != DRIVER:
                raise ConfigError(item.origin, f"{item.key}: driver '{driver}' is not supported "
                                               f"(only {DRIVER}, PostgreSQL)")  # fmt: skip
            mapped[item.key] = item.origin
    return mapped


def _connection(parsed: ParsedConfig, warnings: list[Diagnostic]) -> Connection:
    general = next((s for s in parsed.objects() if s.name.lower() == "general"), None)
    if general is None:
        raise ConfigError(Origin("res_pgsql.conf", 0), "realtime is configured but "
                          "res_pgsql.conf has no [general] connection")  # fmt: skip
    keywords: dict[str, str] = {}
    for item in general.items:
        keyword = _CONNECTION_KEYS.get(item.key.lower())
        if keyword == "port":
            keywords[keyword] = str(values.integer(item, low=1, high=65535))
        elif keyword is not None:
            keywords[keyword] = _checked(item)
        elif item.key.lower() not in _ACCEPTED:
            warnings.append(Diagnostic(item.origin, f"unknown option '{item.key}'"))
    return Connection(tuple(keywords.items()))


def _checked(item: Item) -> str:
    if any(ord(ch) < 32 for ch in item.value):
        raise ConfigError(item.origin, f"{item.key}: control characters are not allowed")
    return item.value


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


# Reads one table: each row's non-NULL columns as text, unescaped. Raises ConfigError naming
# the database.
RowReader = Callable[["Connection", str], list[dict[str, str]]]


def realtime_sections(
    realtime: Realtime, rows: RowReader | None
) -> tuple[tuple[Section, ...], list[Diagnostic]]:
    """The endpoints, AORs, auths and identifies sorcery.conf keeps in tables, as pjsip.conf
    sections (`id` is the section name, each other column an option). A row with a control
    character in a value is left out with a warning."""
    sections: list[Section] = []
    warnings: list[Diagnostic] = []
    for kind, pjsip_type in _PJSIP_TYPES.items():
        table = realtime.table(kind)
        if table is None:
            continue
        if rows is None:
            raise ConfigError(Origin("sorcery.conf", 0), f"{table}: no database reader")
        for row in rows(realtime.connection, table):
            name = row.get("id", "")
            origin = Origin(f"{table} id '{name}'", 0)
            columns = {column: value for column, value in row.items() if column != "id"}
            if not name or any(ord(ch) < 32 for v in (name, *columns.values()) for ch in v):
                warnings.append(Diagnostic(origin, "row left out: empty id or a control character"))
                continue
            options = (Item(column, value, origin) for column, value in columns.items())
            items = (Item("type", pjsip_type, origin), *options)
            sections.append(Section(name, items, origin))
    return tuple(sections), warnings

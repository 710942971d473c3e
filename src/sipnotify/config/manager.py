"""manager.conf (and acl.conf's named ACLs) as a typed, frozen model.

Owns what Asterisk's main/manager.c __init_manager() reads: the `[general]` options and one
user per other section (secret, read/write classes, deny/permit/acl, per-user overrides).
Unknown options are warnings with file:line; invalid values are ConfigErrors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from sipnotify.config import permissions, values
from sipnotify.config.acl import DENY_ALL, Acl, AclRule, parse_rules
from sipnotify.config.parser import ConfigError, Diagnostic, Item, ParsedConfig, Section

DEFAULT_PORT = 5038

_UNSUPPORTED_GENERAL = frozenset(("channelvars", "debug", "manager_debug"))
_UNSUPPORTED_USER = frozenset(("setvar", "eventfilter"))
_BOOLEAN_GENERAL = frozenset(
    (
        "enabled",
        "allowmultiplelogin",
        "displayconnects",
        "timestampevents",
        "brokeneventsaction",
        "notifyresults",
        "webenabled",
    )
)


@dataclass(frozen=True, slots=True)
class ManagerGeneral:
    """The `[general]` section, with Asterisk's defaults."""

    enabled: bool = False
    port: int = DEFAULT_PORT
    bindaddr: str = "0.0.0.0"
    authtimeout: int = 30
    authlimit: int = 50
    # sipnotify's own: unauthenticated sessions from one source address
    authlimitperaddress: int = 10
    allowmultiplelogin: bool = True
    displayconnects: bool = True
    timestampevents: bool = False
    brokeneventsaction: bool = False
    disabledevents: frozenset[str] = frozenset()
    # sipnotify's own: PJSIPNotifyResult/PJSIPNotifyComplete after `NOTIFY sent` (no: never)
    notifyresults: bool = True
    webenabled: bool = False  # AMI over HTTP (http.conf must enable the HTTP server)
    httptimeout: int = 60  # seconds an idle HTTP manager session lives (its cookie's Max-Age)


@dataclass(frozen=True, slots=True)
class ManagerUser:
    """One AMI login: section name = username (looked up case-insensitively)."""

    name: str
    secret: str | None = None
    readperm: int = 0
    writeperm: int = 0
    acls: tuple[Acl, ...] = ()
    displayconnects: bool = True
    allowmultiplelogin: bool = True
    writetimeout_ms: int = 100

    def allows(self, address: str) -> bool:
        """Whether a login from `address` passes every ACL of this user."""
        return all(acl.allows(address) for acl in self.acls)


@dataclass(frozen=True, slots=True)
class ManagerConfig:
    general: ManagerGeneral = ManagerGeneral()
    users: Mapping[str, ManagerUser] = field(default_factory=dict)

    def user(self, name: str) -> ManagerUser | None:
        return self.users.get(name.lower())


def named_acls(parsed: ParsedConfig) -> tuple[dict[str, Acl], list[Diagnostic]]:
    """acl.conf: each section is a named ACL of `deny=` / `permit=` rules."""
    acls: dict[str, Acl] = {}
    warnings: list[Diagnostic] = []
    for section in parsed.objects():
        rules: list[AclRule] = []
        for item in section.items:
            if item.key.lower() in ("deny", "permit"):
                rules.extend(_acl_rules(item))
            else:
                warnings.append(Diagnostic(item.origin, f"unknown option '{item.key}' in ACL"))
        acls[section.name] = Acl(rules=tuple(rules))
    return acls, warnings


def load_manager(
    parsed: ParsedConfig, acls: Mapping[str, Acl]
) -> tuple[ManagerConfig, list[Diagnostic]]:
    """Build the model from manager.conf sections; returns it with its warnings."""
    warnings: list[Diagnostic] = []
    general = ManagerGeneral()
    merged: dict[str, list[Section]] = {}
    for section in parsed.objects():
        if section.name.lower() == "general":
            general = _general(section, general, warnings)
        else:
            merged.setdefault(section.name.lower(), []).append(section)
    users = {key: _user(sections, general, acls, warnings) for key, sections in merged.items()}
    return ManagerConfig(general=general, users=users), warnings


def _general(
    section: Section, general: ManagerGeneral, warnings: list[Diagnostic]
) -> ManagerGeneral:
    fields: dict[str, object] = {}
    for item in section.items:
        key = item.key.lower()
        if key in _BOOLEAN_GENERAL:
            fields[key] = values.boolean(item)
        elif key == "port":
            fields[key] = values.integer(item, low=1024, high=65535)
        elif key == "bindaddr":
            fields[key] = values.address(item)
        elif key in ("authtimeout", "authlimit", "authlimitperaddress", "httptimeout"):
            fields[key] = values.integer(item, low=1)
        elif key == "disabledevents":
            fields[key] = frozenset(w.strip() for w in item.value.split(",") if w.strip())
        elif key in _UNSUPPORTED_GENERAL or key.startswith(("tls", "ssl")):
            warnings.append(Diagnostic(item.origin, f"'{item.key}' is not supported; ignored"))
        else:
            warnings.append(Diagnostic(item.origin, f"unknown option '{item.key}' in [general]"))
    return replace(general, **fields)  # type: ignore[arg-type]


@dataclass(slots=True)
class _UserBuilder:
    name: str
    secret: str | None = None
    readperm: int = 0
    writeperm: int = 0
    rules: list[AclRule] = field(default_factory=list)
    named: list[Acl] = field(default_factory=list)
    displayconnects: bool = True
    allowmultiplelogin: bool = True
    writetimeout_ms: int = 100


def _user(
    sections: list[Section],
    general: ManagerGeneral,
    acls: Mapping[str, Acl],
    warnings: list[Diagnostic],
) -> ManagerUser:
    user = _UserBuilder(
        name=sections[0].name,
        displayconnects=general.displayconnects,
        allowmultiplelogin=general.allowmultiplelogin,
    )
    for item in (item for section in sections for item in section.items):
        _user_option(user, item, acls, warnings)
    if user.secret is None:
        warnings.append(
            Diagnostic(sections[0].origin, f"user '{user.name}' has no secret and cannot log in")
        )
    own = (Acl(rules=tuple(user.rules)),) if user.rules else ()
    return ManagerUser(
        name=user.name,
        secret=user.secret,
        readperm=user.readperm,
        writeperm=user.writeperm,
        acls=own + tuple(user.named),
        displayconnects=user.displayconnects,
        allowmultiplelogin=user.allowmultiplelogin,
        writetimeout_ms=user.writetimeout_ms,
    )


def _user_option(
    user: _UserBuilder, item: Item, acls: Mapping[str, Acl], warnings: list[Diagnostic]
) -> None:
    key = item.key.lower()
    if key == "secret":
        user.secret = item.value
    elif key in ("read", "write"):
        mask = _classes(item, warnings)
        if key == "read":
            user.readperm = mask
        else:
            user.writeperm = mask
    elif key in ("deny", "permit"):
        user.rules.extend(_acl_rules(item))
    elif key == "acl":
        user.named.extend(_named(item, acls, warnings))
    elif key in ("displayconnects", "allowmultiplelogin"):
        setattr(user, key, values.boolean(item))
    elif key == "writetimeout":
        user.writetimeout_ms = values.integer(item, low=100)
    elif key in _UNSUPPORTED_USER:
        warnings.append(Diagnostic(item.origin, f"'{item.key}' is not supported; ignored"))
    else:
        warnings.append(
            Diagnostic(item.origin, f"unknown option '{item.key}' for user '{user.name}'")
        )


def _classes(item: Item, warnings: list[Diagnostic]) -> int:
    for word in permissions.unknown_classes(item.value):
        warnings.append(Diagnostic(item.origin, f"unknown class '{word}' in {item.key}; ignored"))
    return permissions.parse_classes(item.value)


def _acl_rules(item: Item) -> tuple[AclRule, ...]:
    try:
        return parse_rules(item.value, permit=item.key.lower() == "permit")
    except ValueError as exc:
        raise ConfigError(item.origin, f"{item.key}: {exc}") from None


def _named(item: Item, acls: Mapping[str, Acl], warnings: list[Diagnostic]) -> list[Acl]:
    found = []
    for name in (n.strip() for n in item.value.split(",") if n.strip()):
        acl = acls.get(name)
        if acl is None:
            warnings.append(
                Diagnostic(item.origin, f"named ACL '{name}' is not in acl.conf: denies everyone")
            )
            acl = DENY_ALL
        found.append(acl)
    return found

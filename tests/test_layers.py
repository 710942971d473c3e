"""The import contract of DESIGN.md, checked by walking every module's imports with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "sipnotify"

# module (or package prefix) -> prefixes of modules it must never import (ours or stdlib).
# The tree, bottom up: the sans-IO SIP core; transports; config; storage; the user agent (ua);
# PJSIPNotify's rules (notify); fleet operations; the registrar service; the cluster (several
# nodes on PostgreSQL); calls; AMI; the web; the command line; app. The workers' sockets,
# steering and hand-off sit beside the transports (the user agent and the web take their
# sockets); their wiring and supervisor sit just under app.
EVERYTHING_ABOVE_SIP = (
    "sipnotify.transport", "sipnotify.config", "sipnotify.storage", "sipnotify.ua",
    "sipnotify.notify", "sipnotify.fleet", "sipnotify.mwi", "sipnotify.registrar",
    "sipnotify.calls", "sipnotify.ami", "sipnotify.web", "sipnotify.cli", "sipnotify.app",
    "sipnotify.clock", "sipnotify.cluster",
)  # fmt: skip
IO = ("asyncio", "socket", "sqlite3", "ssl", "time", "uuid", "selectors")
# aiohttp, prometheus_client and our modules on them: imported when HTTP is first asked for
WEB_STACK = (
    "aiohttp", "prometheus_client", "sipnotify.web.server", "sipnotify.web.api",
    "sipnotify.web.console", "sipnotify.web.exposition", "sipnotify.web.manager",
)  # fmt: skip
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "sipnotify.sip": (*EVERYTHING_ABOVE_SIP, *IO),
    "sipnotify.ami.codec": ("sipnotify",),
    "sipnotify.config.parser": ("sipnotify",),
    "sipnotify.config.permissions": ("sipnotify",),
    "sipnotify.config.acl": ("sipnotify",),
    "sipnotify.clock": ("sipnotify",),
    "sipnotify.transport": (
        "sipnotify.config", "sipnotify.storage", "sipnotify.ua", "sipnotify.notify",
        "sipnotify.registrar", "sipnotify.calls", "sipnotify.ami", "sipnotify.cli",
        "sipnotify.app",
    ),
    "sipnotify.config": (
        "sipnotify.transport", "sipnotify.storage", "sipnotify.ua", "sipnotify.notify",
        "sipnotify.fleet",
        "sipnotify.registrar", "sipnotify.calls", "sipnotify.ami", "sipnotify.cli",
        "sipnotify.app", "asyncio", "socket",
    ),
    "sipnotify.storage": (
        "sipnotify.transport", "sipnotify.config", "sipnotify.ua", "sipnotify.notify",
        "sipnotify.registrar", "sipnotify.calls", "sipnotify.ami", "sipnotify.cli",
        "sipnotify.app", "sipnotify.cluster", "asyncio",
    ),
    # the stores: PostgreSQL's driver only in the PostgreSQL stores
    **{f"sipnotify.storage.{m}": ("psycopg",)
       for m in ("base", "jobs", "mailboxes", "sqlite", "sqlite_jobs", "sqlite_mailboxes")},
    "sipnotify.cluster": (
        "sipnotify.transport", "sipnotify.ua", "sipnotify.fleet", "sipnotify.calls",
        "sipnotify.ami", "sipnotify.web", "sipnotify.cli", "sipnotify.app", "socket",
    ),
    "sipnotify.ua": (
        "sipnotify.storage", "sipnotify.notify", "sipnotify.calls", "sipnotify.ami",
        "sipnotify.cli", "sipnotify.app",
    ),
    "sipnotify.notify": (
        "sipnotify.transport", "sipnotify.storage", "sipnotify.registrar", "sipnotify.calls",
        "sipnotify.ami", "sipnotify.cli", "sipnotify.app", "sipnotify.ua.endpoint",
        "sipnotify.ua.server", "sipnotify.fleet", "socket",
    ),
    "sipnotify.registrar": (
        "sipnotify.transport", "sipnotify.ua", "sipnotify.calls", "sipnotify.ami",
        "sipnotify.cli", "sipnotify.app", "sipnotify.storage.sqlite", "socket",
    ),
    "sipnotify.fleet": (  # the job store's interface, not a concrete store
        "sipnotify.transport", "sipnotify.storage.sqlite", "sipnotify.storage.sqlite_jobs",
        "sipnotify.calls", "sipnotify.ami", "sipnotify.cli", "sipnotify.app",
        "sipnotify.ua.endpoint", "sipnotify.ua.server",
    ),
    # the fleet's rules are sans-IO; only fleet.service runs on the loop
    **{f"sipnotify.fleet.{m}": ("asyncio", "socket", "sqlite3", "time")
       for m in ("catalogue", "selection", "plan", "pacing", "runner")},
    "sipnotify.mwi": (  # the mailbox store's interface, not a concrete store
        "sipnotify.transport", "sipnotify.storage.sqlite", "sipnotify.storage.sqlite_jobs",
        "sipnotify.storage.sqlite_mailboxes", "sipnotify.storage.sqlite_subscriptions",
        "sipnotify.storage.pg_subscriptions", "sipnotify.calls", "sipnotify.ami",
        "sipnotify.web", "sipnotify.cli", "sipnotify.app", "sipnotify.ua.endpoint",
        "sipnotify.ua.server",
    ),
    # the MWI rules are sans-IO; only mwi.service runs on the loop
    **{f"sipnotify.mwi.{m}": ("asyncio", "socket", "sqlite3", "time")
       for m in ("mailboxes", "summary", "subscriptions", "persistence")},
    "sipnotify.calls": (
        "sipnotify.transport", "sipnotify.storage", "sipnotify.ua.endpoint", "sipnotify.ami",
        "sipnotify.cli", "sipnotify.app",
    ),
    "sipnotify.ami": ("sipnotify.transport", "sipnotify.ua", "sipnotify.cli", "sipnotify.app"),
    "sipnotify.web": (
        "sipnotify.transport", "sipnotify.ua", "sipnotify.cli", "sipnotify.app",
        "sipnotify.storage.sqlite", "sipnotify.storage.sqlite_jobs",
    ),
    # the web's rules are sans-IO; the server and the manager adapter run on the loop
    **{f"sipnotify.web.{m}": ("asyncio", "aiohttp", "socket", "time")
       for m in ("formats", "sessions", "pages", "digest")},
    # what app imports at start (counting, live job progress) stays off the web stack
    **{f"sipnotify.web.{m}": WEB_STACK for m in ("metrics", "hub", "views")},
    **{f"sipnotify.workers.{m}": (
        "sipnotify.config", "sipnotify.storage", "sipnotify.ua", "sipnotify.notify",
        "sipnotify.fleet", "sipnotify.mwi", "sipnotify.registrar", "sipnotify.cluster",
        "sipnotify.calls", "sipnotify.ami", "sipnotify.web", "sipnotify.cli", "sipnotify.app",
    ) for m in ("steering", "sockets", "worker", "handoff")},
    "sipnotify.workers": (
        "sipnotify.ua", "sipnotify.calls", "sipnotify.ami", "sipnotify.web", "sipnotify.cli",
        "sipnotify.app",
    ),
    "sipnotify.cli.show": ("sipnotify.app",),
    "sipnotify.cli.amiclient": ("sipnotify.app",),
}  # fmt: skip
ONLY_IMPORTED_BY = {
    "sipnotify.app": ("sipnotify.cli.main",),
    "sipnotify.cluster": ("sipnotify.app",),
    "sipnotify.workers.supervisor": ("sipnotify.app",),
    "sipnotify.workers.wiring": ("sipnotify.app",),
    "sipnotify.web": ("sipnotify.app",),
    "sipnotify.cli": ("sipnotify.__main__",),
}


def modules() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
                imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[name] = imported
    return found


MODULES = modules()


def within(name: str, prefix: str) -> bool:
    return name == prefix.rstrip(".") or name.startswith(prefix.rstrip(".") + ".")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_respects_the_layers(module: str) -> None:
    rules = [bad for owner, bad in FORBIDDEN.items() if within(module, owner)]
    broken = sorted(
        imported
        for imported in MODULES[module]
        for prefixes in rules
        for prefix in prefixes
        if within(imported, prefix) or (prefix == "sipnotify" and imported == "sipnotify")
    )
    assert broken == [], f"{module} imports {broken}"


@pytest.mark.parametrize("target", sorted(ONLY_IMPORTED_BY))
def test_composition_root_is_imported_only_from_the_edge(target: str) -> None:
    importers = sorted(
        m
        for m, imported in MODULES.items()
        if not within(m, target) and any(within(i, target) for i in imported)
    )
    assert set(importers) <= {target, *ONLY_IMPORTED_BY[target]}, importers


def test_the_walk_sees_the_package() -> None:
    assert {"sipnotify.ami.codec", "sipnotify.config.parser", "sipnotify.app"} <= set(MODULES)


def test_every_module_sits_in_a_layer() -> None:
    """Nothing loose at the top but the entry point, the composition root and the clock."""
    loose = {m for m in MODULES if m.count(".") == 1 and not (SRC / m[10:]).is_dir()}
    assert loose == {"sipnotify.__main__", "sipnotify.app", "sipnotify.clock"}
    unruled = [m for m in MODULES if m.count(".") > 1 and not any(within(m, o) for o in FORBIDDEN)]
    assert sorted(unruled) == sorted(m for m in unruled if within(m, "sipnotify.cli"))


def top_imports(path: Path) -> set[str]:
    """A module's module-level imports (not those under TYPE_CHECKING or in a function)."""
    top: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            top.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            top.add(node.module)
    return top


def test_app_imports_the_web_stack_only_when_http_is_asked_for() -> None:
    top = top_imports(SRC / "app.py")
    assert "sipnotify.web.metrics" in top  # what it is allowed
    assert not [name for name in top if any(within(name, web) for web in WEB_STACK)]


def test_prometheus_client_is_loaded_by_the_first_scrape() -> None:
    for module in ("api", "console", "manager", "server"):
        top = top_imports(SRC / "web" / f"{module}.py")
        assert "aiohttp" in top or module == "manager"  # what they are allowed
        assert not [name for name in top if within(name, "prometheus_client")
                    or within(name, "sipnotify.web.exposition")], module  # fmt: skip

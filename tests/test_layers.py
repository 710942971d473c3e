"""The import contract of DESIGN.md, checked by walking every module's imports with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "sipnotify"

# module (or package prefix) -> prefixes of sipnotify modules it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "sipnotify.ami.codec": ("sipnotify",),
    "sipnotify.config.parser": ("sipnotify",),
    "sipnotify.sip": ("sipnotify.ami", "sipnotify.config", "sipnotify.notify", "sipnotify.app"),
    "sipnotify.notify": ("sipnotify.ami", "sipnotify.app", "sipnotify.cli"),
    "sipnotify.config": ("sipnotify.ami", "sipnotify.app", "sipnotify.cli"),
    "sipnotify.ami": ("sipnotify.app", "sipnotify.cli"),
    "sipnotify.calls": ("sipnotify.ami", "sipnotify.app", "sipnotify.cli"),
    "sipnotify.uas": ("sipnotify.ami", "sipnotify.calls", "sipnotify.notify", "sipnotify.app"),
    "sipnotify.sending": ("sipnotify.ami", "sipnotify.calls", "sipnotify.notify", "sipnotify.app"),
    "sipnotify.uac": ("sipnotify.ami", "sipnotify.calls", "sipnotify.notify", "sipnotify.app"),
    "sipnotify.permissions": ("sipnotify.",),
    "sipnotify.acl": ("sipnotify.",),
}
ONLY_IMPORTED_BY = {"sipnotify.app": ("sipnotify.cli",), "sipnotify.cli": ("sipnotify.__main__",)}


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
        found[name] = {m for m in imported if m == "sipnotify" or m.startswith("sipnotify.")}
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
        m for m, imported in MODULES.items() if any(within(i, target) for i in imported)
    )
    assert set(importers) <= {target, *ONLY_IMPORTED_BY[target]}, importers


def test_the_walk_sees_the_package() -> None:
    assert {"sipnotify.ami.codec", "sipnotify.config.parser", "sipnotify.app"} <= set(MODULES)

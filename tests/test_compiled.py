"""The compiled hot path (setup.py): where this build compiled it, every hot module is loaded
compiled; and the same modules as pure Python pass the cores' tests (what runs where no C
compiler is), run here in a subprocess on a copy of the sources without the extensions."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
HOT = [f"sipnotify.{m.replace('/', '.')}" for m in PROJECT["tool"]["sipnotify"]["compiled"]]


def compiled(module: str) -> bool:
    found = importlib.import_module(module).__file__ or ""
    return found.endswith(".so")


def test_the_hot_path_is_compiled_whole_or_not_at_all() -> None:
    kinds = {compiled(module) for module in HOT}
    assert len(kinds) == 1, {module: compiled(module) for module in HOT}
    if os.environ.get("SIPNOTIFY_PURE") or not any(kinds):
        pytest.skip("this build is pure Python (SIPNOTIFY_PURE, or no C compiler)")
    assert compiled("sipnotify.sip.parser")


def test_the_pure_modules_pass_the_cores_tests(tmp_path: Path) -> None:
    pure = tmp_path / "src"
    shutil.copytree(ROOT / "src", pure, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    env = {**os.environ, "PYTHONPATH": f"{pure}{os.pathsep}{ROOT}"}
    check = ("import sipnotify.sip.parser as p, sys; "
             "sys.exit(0 if p.__file__.endswith('.py') else 1)")  # fmt: skip
    assert subprocess.run([sys.executable, "-c", check], env=env, check=False,
                          timeout=60).returncode == 0  # fmt: skip
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "tests/sip", "tests/ami/test_codec.py", "tests/test_notify.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-3000:]

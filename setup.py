"""Builds sipnotify (the metadata is in pyproject.toml). The hot path — SIP parsing and
building, transactions, digest, the AMI codec and sessions' dispatch, the PJSIPNotify action,
the NOTIFY build and sending, the user agent's routing, receive and answer, the registrar — is
compiled with mypyc when it can be: the same typed modules, as C extensions, beside their
sources. Each extension is optional: without a C compiler (or with SIPNOTIFY_PURE=1) the same
modules run as pure Python, and tests/test_compiled.py runs the cores' tests on them too.

mypyc builds a module's classes in the order written, so a class that names a native class in
its annotations (a NamedTuple field, say) must come after it: sip/transactions/layer.py crashed
at import until its effects moved below the transaction entries they name.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from setuptools import Extension, setup

# pyproject.toml [tool.sipnotify] compiled: the modules, as paths under src/sipnotify
HOT = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["sipnotify"]["compiled"]


def extensions() -> list[Extension]:
    if os.environ.get("SIPNOTIFY_PURE"):
        return []
    try:
        from mypyc.build import mypycify  # noqa: PLC0415 (only when compiling)
    except ImportError:  # no mypyc where this is built: pure Python
        return []
    found = mypycify([f"src/sipnotify/{module}.py" for module in HOT], opt_level="3",
                     group_name="sipnotify._hot")  # fmt: skip
    for extension in found:
        extension.optional = True  # a failed compile leaves that module pure Python
    return found


setup(ext_modules=extensions())

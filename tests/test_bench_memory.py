"""bench/memory.py: each layer's row is printed, sizes grow layer by layer, and the web
stack's row names what its CA store costs. Checks the report, not the sizes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import memory  # noqa: E402 (the benchmark's folder is not a package)


def test_every_layer_is_reported_with_what_it_adds() -> None:
    done = subprocess.run([sys.executable, "bench/memory.py"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {line[:55].strip(): line[55:].split() for line in done.stdout.splitlines()[1:]}
    assert set(rows) == {label for label, _ in memory.LAYERS} | {
        "of which the CA store in its two client contexts"
    }
    totals = [float(rows[label][1]) for label, _ in memory.LAYERS]
    assert totals == sorted(totals)
    assert all(float(rows[label][0]) > 0 for label, _ in memory.LAYERS)

"""B10 (bench/core.py): the in-process measures run on what they claim to measure. Small
counts: this checks the operations, not speed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_core_measures_run_and_report_each_operation(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "bench/bench.py", "--only", "B10", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    row = next(line for line in done.stdout.splitlines() if line.startswith("B10_core"))
    figures = dict(field.split("=") for field in row.split()[1:])
    assert set(figures) == {"register_us", "peek_us", "response_head_us", "ami_action_us"}
    assert all(float(value) > 0 for value in figures.values())

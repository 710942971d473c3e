"""bench/harness.py's ports: a server's AMI, SIP and HTTP ports are picked together and
differ (picked one by one, the same port came back twice and the server stopped at start)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import harness  # noqa: E402 (the benchmark's folder is not a package)


def test_ports_picked_together_all_differ() -> None:
    ports = harness.free_ports(64)
    assert len(set(ports)) == 64
    assert all(1024 < port < 65536 for port in ports)

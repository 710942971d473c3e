"""Where an idle process's memory goes, layer by layer: a fresh interpreter imports what
`sipnotify serve` runs, one layer at a time, and reports its resident size after each. The
aiohttp layer is measured twice, the second time with no system CA store to be found, which
shows what aiohttp's two TLS client contexts (made when it is imported, used only by its
client side, which sipnotify never uses) cost.

Usage: python bench/memory.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

# (what the row says, the modules that layer imports)
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Python at start", ()),
    ("asyncio (with ssl: OpenSSL)", ("asyncio",)),
    ("uvloop", ("uvloop",)),
    ("sipnotify: every part `serve` runs", ("sipnotify.cli.main", "sipnotify.app")),
    ("the web stack: aiohttp", ("aiohttp.web", "sipnotify.web.server", "sipnotify.web.api")),
    ("prometheus_client (at the first scrape)", ("prometheus_client",)),
    ("psycopg (PostgreSQL storage, workers)", ("psycopg",)),
)

# Runs in the child: imports each layer in turn, prints the resident sizes (MB) as JSON.
CHILD = """
import importlib, json, sys
def rss():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")
sizes = []
for modules in json.loads(sys.argv[1]):
    for name in modules:
        importlib.import_module(name)
    sizes.append(rss())
print(json.dumps(sizes))
"""


def sizes(env: dict[str, str]) -> list[float]:
    layers = json.dumps([modules for _, modules in LAYERS])
    done = subprocess.run([sys.executable, "-c", CHILD, layers], env=env, capture_output=True,
                          text=True, timeout=120, check=True)  # fmt: skip
    found: list[float] = json.loads(done.stdout)
    return found


def main() -> int:
    env = dict(os.environ)
    normal = sizes(env)
    # OpenSSL then finds no CA file and no CA folder: the contexts are made empty
    bare = sizes(env | {"SSL_CERT_FILE": "/nonexistent", "SSL_CERT_DIR": "/nonexistent"})
    web = next(n for n, (label, _) in enumerate(LAYERS) if label.startswith("the web stack"))
    print(f"{'layer':55} {'adds MB':>8} {'RSS MB':>8}")
    previous = 0.0
    for n, (label, _) in enumerate(LAYERS):
        print(f"{label:55} {normal[n] - previous:8.1f} {normal[n]:8.1f}")
        if n == web:
            store = (normal[n] - normal[n - 1]) - (bare[n] - bare[n - 1])
            print(f"{'  of which the CA store in its two client contexts':55} {store:8.1f}")
        previous = normal[n]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

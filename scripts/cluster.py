"""`make cluster`: several sipnotify nodes on one PostgreSQL database on this machine, to try
the cluster without Docker. Makes a PostgreSQL server in a temporary folder (Debian's
binaries, as the tests do), runs `sipnotify db upgrade`, starts NODES nodes (default 2) on free
ports with systemnames node-1, node-2…, prints where each listens, and stops everything on
Ctrl-C. Each node's configuration folder is printed: change it and `Reload` as on any node.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.integration.ports import free_port  # noqa: E402
from tests.storage.postgres import available, running  # noqa: E402

PJSIP = """[udp]
type=transport
protocol=udp
bind=127.0.0.1:{sip}
[demo]
type=auth
username=demo
password=demo
[demo]
type=aor
max_contacts=10
[demo]
type=endpoint
aors=demo
auth=demo
"""
MANAGER = """[general]
enabled = yes
bindaddr = 127.0.0.1
port = {ami}
[admin]
secret = cluster
read = all
write = all
"""


def node_files(dsn: str, name: str, sip: int, ami: int) -> dict[str, str]:
    found = dict(part.split("=", 1) for part in dsn.split())
    return {
        "pjsip.conf": PJSIP.format(sip=sip), "manager.conf": MANAGER.format(ami=ami),
        "asterisk.conf": f"[options]\nsystemname = {name}\n",
        "sorcery.conf": "[res_pjsip]\ncontact = realtime,ps_contacts\n",
        "extconfig.conf": "[settings]\nps_contacts => pgsql,general\n"
                          "sipnotify_mailboxes => pgsql,general\n"
                          "sipnotify_jobs => pgsql,general\n",
        "res_pgsql.conf": f"[general]\ndbhost = {found['host']}\ndbport = {found['port']}\n"
                          f"dbname = {found['dbname']}\ndbuser = {found['user']}\n",
    }  # fmt: skip


def main() -> int:
    count = int(os.environ.get("NODES", "2"))
    if not available():
        print("PostgreSQL's server is not installed: apt-get install postgresql", file=sys.stderr)
        return 1
    folder = Path(tempfile.mkdtemp(prefix="sipnotify-cluster-"))
    folder.chmod(0o755)
    for server in running(folder):
        dsn = server.new_database(upgraded=False)
        nodes = []
        for n in range(1, count + 1):
            config = folder / f"node-{n}"
            config.mkdir()
            sip, ami = free_port(), free_port()
            for name, text in node_files(dsn, f"node-{n}", sip, ami).items():
                (config / name).write_text(text)
            nodes.append((f"node-{n}", config, sip, ami))
        sipnotify = [sys.executable, "-m", "sipnotify"]
        subprocess.run([*sipnotify, "db", "upgrade", "--config-dir", str(nodes[0][1])], check=True)
        processes = [subprocess.Popen([*sipnotify, "serve", "--config-dir", str(config),
                                       "--data-dir", str(folder / f"{name}-data")])
                     for name, config, _, _ in nodes]  # fmt: skip
        time.sleep(1.5)
        print(f"\nPostgreSQL: {dsn}")
        for name, config, sip, ami in nodes:
            print(f"{name}: SIP udp 127.0.0.1:{sip}  AMI 127.0.0.1:{ami} (admin/cluster)  "
                  f"config {config}")  # fmt: skip
        print("Register endpoint demo (password demo) through any node; Ctrl-C stops all.")
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=15)
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

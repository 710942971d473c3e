"""Kamailio as the SIP edge in front of sipnotify nodes (Debian's package): REGISTERs are
spread over the nodes by the dispatcher module with a Path pointing back at the edge (the path
module, with the phone's received address); requests the nodes send along that Path are
routed to the phone. Every request it handles is logged, so tests can see what went where."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.integration.ports import free_port
from tests.integration.sipp import wait_bound

MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
CONFIG = """#!KAMAILIO
debug=2
log_stderror=yes
fork=yes
children=2
disable_tcp=yes
listen=udp:127.0.0.1:{port}
loadpath "{modules}"
loadmodule "kex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "path.so"
loadmodule "dispatcher.so"
modparam("dispatcher", "list_file", "{folder}/dispatcher.list")
modparam("path", "use_received", 1)
request_route {{
    xlog("L_NOTICE", "EDGE $rm from $si:$sp ruri=$ru\\n");
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (is_method("REGISTER")) {{
        add_path_received("edge");
        if (!ds_select_dst("1", "4")) {{ sl_send_reply("503", "No node"); exit; }}
        t_relay();
        exit;
    }}
    if (is_method("NOTIFY|OPTIONS")) {{  # a node to a phone: along the Path it registered
        loose_route();  # drops our own Route; the path module sends to its `received`
        t_relay();
        exit;
    }}
    sl_send_reply("404", "Not here");
}}
"""


@dataclass
class Edge:
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def available() -> bool:
    return shutil.which("kamailio") is not None and Path(MODULES, "path.so").exists()


@contextmanager
def edge(folder: Path, nodes: Sequence[int]) -> Iterator[Edge]:
    """Kamailio on a free port, dispatching REGISTERs round-robin to the nodes' SIP ports."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (folder / "dispatcher.list").write_text("".join(f"1 sip:127.0.0.1:{node}\n" for node in nodes))
    config = folder / "kamailio.cfg"
    config.write_text(CONFIG.format(port=port, modules=MODULES, folder=folder))
    log_path = folder / "kamailio.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["kamailio", "-f", str(config), "-DD", "-E", "-m", "32", "-M", "8",
             "-P", str(folder / "kamailio.pid")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )  # fmt: skip
    try:
        wait_bound(port, socket.SOCK_DGRAM, process)
        yield Edge(port, log_path)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

"""`make bench ASTERISK=…`: the side-by-side comparison, run end to end with a stand-in for
the Asterisk binary (a script that checks Asterisk's command line and generated files, then
runs sipnotify on that folder, which reads Asterisk's syntax). Small counts: this checks the
harness (interleaving, medians, ratios, the table), not speed."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAND_IN = """#!/bin/sh
# asterisk -f -C FOLDER/asterisk.conf, as bench/reference.py starts it
[ "$1" = "-f" ] && [ "$2" = "-C" ] || exit 2
folder=$(dirname "$3")
grep -q '^astetcdir => ' "$3" && [ -f "$folder/modules.conf" ] && [ -f "$folder/logger.conf" ] \\
    || exit 3
exec {python} -m sipnotify serve --config-dir "$folder" --data-dir "$folder/../data"
"""


def test_the_reference_comparison_runs_both_and_prints_ratios(tmp_path: Path) -> None:
    stand_in = tmp_path / "asterisk"
    stand_in.write_text(STAND_IN.format(python=sys.executable))
    stand_in.chmod(0o755)
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "bench/bench.py", "--only", "B1,B3", "--asterisk", str(stand_in),
         "--notifies", "200", "--rates", "50", "--rounds", "1", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (written,) = out.iterdir()
    results = json.loads(written.read_text())
    assert set(results) == {"machine", "REF_B1_one_session", "REF_B1_one_session_http_off",
                            "REF_B1_replies_only", "REF_B3_registrations"}  # fmt: skip
    assert results["REF_B1_one_session_http_off"]["notifies_asterisk"] == 200
    replies_only = results["REF_B1_replies_only"]  # sessions with `Events: off`: no results
    assert replies_only["notifies_sipnotify"] == replies_only["notifies_asterisk"] == 200
    assert "failed_sipnotify" not in replies_only
    assert math.isfinite(replies_only["answered_per_s_ratio"])
    b1 = results["REF_B1_one_session"]
    assert b1["notifies_sipnotify"] == b1["notifies_asterisk"] == 200
    # both are timed by the UAS's answers; the results' events are sipnotify's own
    assert b1["answered_per_s_ratio"] == (
        b1["answered_per_s_sipnotify"] / b1["answered_per_s_asterisk"])  # fmt: skip
    assert math.isfinite(b1["answered_per_s_ratio"])
    assert b1["failed_sipnotify"] == 0
    assert math.isnan(b1["failed_asterisk"])
    registrations = results["REF_B3_registrations"]
    assert registrations["highest_offered_without_failure_asterisk"] == 50
    assert registrations["server_cpu_us_per_register_sipnotify"] > 0  # read from its /proc
    assert registrations["server_cpu_us_per_register_asterisk"] > 0
    table = done.stdout.splitlines()
    assert any(line.startswith("B1_one_session answered_per_s ") for line in table), done.stdout
    assert any(line.startswith("B3_registrations highest_offered_without_failure ")
               for line in table)  # fmt: skip


LOADER = """#!/bin/sh
# stands in for the Debian root's dynamic loader: shows what it was asked to run
echo "$@"
"""


def test_the_debian_asterisk_wrapper_runs_its_root_on_this_hosts_files(tmp_path: Path) -> None:
    """scripts/debian-asterisk.sh on a root already built (so nothing is fetched): the
    wrapper it writes runs the root's Asterisk with the root's loader and libraries, and
    gives a configuration without them the root's modules and data folders, once."""
    root = tmp_path / "ref" / "root"
    for name in ("usr/sbin/asterisk", "usr/lib64/ld-linux-x86-64.so.2"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(LOADER)
        (root / name).chmod(0o755)
    built = subprocess.run(
        ["sh", "scripts/debian-asterisk.sh", str(tmp_path / "ref")],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert built.stdout.split()[-1] == "-V"  # it asked the wrapper for the version
    conf = tmp_path / "asterisk.conf"
    conf.write_text("[directories]\nastetcdir => /x\n[options]\n")
    wrapper = str(tmp_path / "ref" / "asterisk")
    for _ in range(2):
        ran = subprocess.run([wrapper, "-f", "-C", str(conf)], capture_output=True, text=True,
                             timeout=30, check=True)  # fmt: skip
    assert ran.stdout.split() == [
        "--library-path", f"{root}/usr/lib/x86_64-linux-gnu", f"{root}/usr/sbin/asterisk",
        "-f", "-C", str(conf),
    ]  # fmt: skip
    assert conf.read_text() == (
        "[directories]\n"
        f"astmoddir => {root}/usr/lib/x86_64-linux-gnu/asterisk/modules\n"
        f"astdatadir => {root}/usr/share/asterisk\n"
        "astetcdir => /x\n[options]\n"
    )

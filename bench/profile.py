"""Profile the B1 hot path: a pipelined PJSIPNotify burst with py-spy attached to sipnotify.

Starts sipnotify and a SIPp UAS as `bench.py` does, samples the server with py-spy while one
AMI session pipelines N actions, and prints the CPU each process used and the functions that
took the most samples (own time, then with callees). The raw samples stay in --out for
flame graphs (`py-spy` "raw" format: one collapsed stack per line).

Usage: python bench/profile.py [--notifies 40000] [--rate 500] [--native]
                              [--out bench/results/profile.txt]

Without --native the compiled modules (mypyc) show as the interpreted frame that called into
them, often the event loop's `Runner.run`; with it py-spy unwinds C frames too and names
their functions (`CPyDef_...`), which costs more per sample.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import harness

HERE = Path(__file__).resolve().parent


def cpu(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / harness.CLK_TCK, int(fields[12]) / harness.CLK_TCK


def summarise(samples: Path, rows: int) -> None:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in samples.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    for title, counter in (("own time", own), ("with callees", inclusive)):
        print(f"-- {title} ({total} samples)")
        for frame, hits in counter.most_common(rows):
            print(f"{100 * hits / max(total, 1):5.1f}%  {frame[:110]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifies", type=int, default=40_000)
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    parser.add_argument("--rows", type=int, default=30)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "profile.txt")
    parser.add_argument(
        "--native", action="store_true", help="sample C frames too (compiled functions by name)"
    )
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sipnotify-profile-") as tmp:
        work = Path(tmp)
        with harness.sipp("uas_notify_hold.xml", args.notifies, work) as (uas, _peer):
            phone = harness.PHONE.replace("{uas}", str(uas))
            with harness.service(phone, work / "service") as svc:
                pid = svc.process.pid
                sampler = subprocess.Popen(
                    [spy, "record", "-p", str(pid), "-o", str(args.out), "-f", "raw",
                     "-r", str(args.rate), *(["--native"] if args.native else [])],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                time.sleep(1.0)
                before, mine = cpu(pid), resource.getrusage(resource.RUSAGE_SELF)
                started = time.perf_counter()
                asyncio.run(harness.drive(svc.ami_port, range(args.notifies), None))
                elapsed = time.perf_counter() - started
                after, mine_after = cpu(pid), resource.getrusage(resource.RUSAGE_SELF)
                sampler.send_signal(signal.SIGINT)
                sampler.wait(timeout=60)
    client = (mine_after.ru_utime + mine_after.ru_stime) - (mine.ru_utime + mine.ru_stime)
    print(
        f"{args.notifies / elapsed:.0f} NOTIFY/s; sipnotify user {after[0] - before[0]:.2f} s, "
        f"system {after[1] - before[1]:.2f} s; AMI client {client:.2f} s; samples: {args.out}"
    )
    summarise(args.out, args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

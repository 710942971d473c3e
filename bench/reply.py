"""B9, the AMI reply under a fan-out: one endpoint with 1,000 contacts, every NOTIFY answered
200 by a SIPp UAS (its own process). The time from writing a PJSIPNotify to reading its
`Response: Success` on a session that takes no events, for an action sent alone (the previous
fan-out over) and for one sent 5 ms after another, while that one's 1,000 NOTIFYs go out and
their answers come back (after one warm-up round); and the server's CPU per 1,000 NOTIFYs.

The client measuring runs at real-time priority where the system allows it (`probe_realtime`
says whether it did). On two cores the server and SIPp keep both busy during a fan-out, and an
ordinary client then waited up to 5 ms to be scheduled after its reply had arrived (measured
with `perf sched`): B9 counted that wait as the server's. 100 rounds: the p99 is the largest
reply of 100 (`harness.percentile`), not of 30.

Usage: run by bench.py (`--only B9`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path

from harness import UDP, Ami, Command, notify_action, percentile, service, sipnotify_command, sipp

CONTACTS = 1000
ROUNDS = 100
SETTLE = 0.4  # seconds for a fan-out's answers to come back before the next round
RUNS = itertools.count()  # each server run its own folder (the reference runs two servers)


def pjsip(port: int) -> str:
    """One `contact=` line per contact: Asterisk skips a line over 8 KB (with a warning),
    so one line listing all 1,000 would give it none."""
    contacts = "".join(f"contact=sip:u{i}@127.0.0.1:{port}\n" for i in range(CONTACTS))
    return UDP + f"[many]\ntype=aor\n{contacts}[many]\ntype=endpoint\naors=many\n"


async def _reply(ami: Ami, index: int) -> float:
    start = time.perf_counter()
    ami.writer.write(notify_action(index, "many"))
    await ami.until(b"Response: Success", 60)
    return time.perf_counter() - start


async def _rounds(port: int) -> tuple[list[float], list[float]]:
    ami = await Ami.open(port, b"off")  # replies only: the client reads no 1,000 events
    await _reply(ami, 10**6)  # a warm-up round, not counted (the first send fills caches)
    await asyncio.sleep(2 * SETTLE)
    alone, during = [], []
    for n in range(ROUNDS):
        alone.append(await _reply(ami, 3 * n))
        await asyncio.sleep(SETTLE)
        await _reply(ami, 3 * n + 1)
        await asyncio.sleep(0.005)  # its NOTIFYs are going out, its answers coming in
        during.append(await _reply(ami, 3 * n + 2))
        await asyncio.sleep(2 * SETTLE)
    ami.close()
    return alone, during


@contextlib.contextmanager
def _realtime() -> Iterator[bool]:
    """This thread at the lowest real-time priority while it measures, when the system
    allows it (root, or CAP_SYS_NICE); yields whether it could. Set after SIPp and the server
    have started, so neither inherits it."""
    try:
        policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        os.sched_setscheduler(0, policy, param)


def b9(workdir: Path, command: Command = sipnotify_command) -> dict[str, float]:
    """Against sipnotify, or whatever `command` starts (bench/reference.py: Asterisk): the
    measure reads replies only, which both servers send."""
    folder = workdir / f"b9-{next(RUNS)}"
    with (
        sipp("uas_notify.xml", (3 * ROUNDS + 1) * CONTACTS, workdir) as (uas, _peer),
        service(pjsip(uas), folder, command=command) as svc,
    ):
        cpu = svc.cpu_seconds()
        with _realtime() as realtime:
            alone, during = asyncio.run(_rounds(svc.ami_port))
        cpu_per_1000 = (svc.cpu_seconds() - cpu) / (3 * ROUNDS + 1)
    ms = 1000.0
    return {"reply_alone_p50_ms": percentile(alone, 0.5) * ms,
            "reply_alone_p99_ms": percentile(alone, 0.99) * ms,
            "reply_during_fan_out_p50_ms": percentile(during, 0.5) * ms,
            "reply_during_fan_out_p99_ms": percentile(during, 0.99) * ms,
            "cpu_s_per_1000_notifies": cpu_per_1000,
            "probe_realtime": float(realtime)}  # fmt: skip

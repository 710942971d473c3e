"""sipnotify benchmark: a real sipnotify process, real SIPp peers, on loopback.

B1  NOTIFY throughput: N PJSIPNotify (Endpoint, Option=check-sync preset) pipelined over one
    AMI session, and over 8 sessions at once, to a SIPp UAS that answers 200 and holds each call
    4 s (so retransmissions are not new NOTIFYs); then a paced run at a fixed rate for reply and
    result latencies. Figures: NOTIFY/s until every distinct NOTIFY is answered and reported, AMI
    reply and result-event latency p50/p99, CPU seconds per 1,000 NOTIFYs, RSS before and after.
B2  Fan-out: one PJSIPNotify to an endpoint with 1,000 contacts; seconds until all answered.
B3  Registrations: 1,000 phones (each its own endpoint and AOR) registering with digest, SIPp
    at rising offered rates; the highest with no failure, the rate achieved, SIPp's
    retransmissions per registration and the server's CPU per registration there.
B4  Scale: 100,000 stored contacts (10,000 AORs x 10): RSS, start-up time, PJSIPShowContacts time.
B5  Fleet jobs: 100 endpoints x 1,000 static contacts answered by a UDP responder in this
    process. First 10,000 contacts by PJSIPNotify fan-out (10 actions) and by one job at an
    unlimited rate (three of each, interleaved; medians); then a 100,000-phone job at
    5,000/s, during which FleetJobs and the start of a one-phone job are timed twice a second
    and RSS sampled: time to finish, RSS above idle, start and list latency p50/max.
B6  The web (bench/web.py): /rawman Ping and PJSIPNotify requests/s (8 at once, keep-alive,
    one cookie session), the metrics scrape with 100,000 contacts, and the console's list of
    10,000 endpoints in headless Chromium.
B7  MWI (bench/mwi.py): 1,000 subscribers to one mailbox, one MWIUpdate, time until all are
    notified; RSS of 10,000 subscriptions; SUBSCRIBE/s with digest.
B8  Several nodes on PostgreSQL (bench/cluster.py): REGISTER/s with digest on SQLite, on
    PostgreSQL, and on two PostgreSQL nodes; registration-to-visible latency from node A to
    node B; a 10,000-contact fan-out on one node versus two.
B9  The AMI reply under a fan-out (bench/reply.py): a PJSIPNotify to 1,000 contacts, its
    `Response: Success` latency sent alone and while another's fan-out is going out, 100
    rounds, measured by a client at real-time priority where allowed; CPU per 1,000 NOTIFYs.
B10 The sans-IO hot path in process (bench/core.py): microseconds to parse and answer a
    digest REGISTER, to match a retransmission on its bytes, to read a 200 OK for its
    transaction, to decode a PJSIPNotify action.

Usage: python bench/bench.py [--only B1,B2] [--notifies 20000] [--out bench/results]
Writes <out>/<timestamp>.json and prints a table. Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from cluster import b8
from core import b10
from harness import (
    HERE,
    PHONE,
    UDP,
    Ami,
    Command,
    Responder,
    answered_at,
    drive,
    notify_action,
    percentile,
    phones_conf,
    register_fleet,
    service,
    sipnotify_command,
    sipp,
)
from mwi import b7
from reference import Measure, compare, printed
from reply import b9
from web import b6

RUNS = itertools.count()  # each server run its own folder (the reference runs each twice)


def b1(
    workdir: Path, count: int, sessions: int, pace: float | None, seconds: float, *,
    command: Command = sipnotify_command, http: bool = True, events: bool = True,
) -> dict[str, float]:  # fmt: skip
    """`notify_per_s` ends at the last PJSIPNotifyComplete (sipnotify's); `answered_per_s`
    at the UAS's answer to the last NOTIFY, whichever server sent it (the reference's
    measure: Asterisk tells no result). CPU and RSS are read once everything is answered.
    Without `http`, http.conf turns HTTP off (Asterisk's default; B1 uses none). Without
    `events` the sessions log in with `Events: off` and take replies only: sipnotify then
    tells no results either, and both servers write the same, one reply per action."""
    total = int(pace * seconds) if pace else count
    folder = workdir / f"b1-{sessions}-{pace}-{next(RUNS)}"
    completions = command is sipnotify_command and events
    with (
        sipp("uas_notify_hold.xml", total, workdir) as (uas, peer),
        service(PHONE.replace("{uas}", str(uas)), folder, command=command, http=http) as svc,
    ):
        rss_before, cpu_before = svc.rss_mb(), svc.cpu_seconds()
        started = time.perf_counter()
        chunks = [range(s, total, sessions) for s in range(sessions)]

        wanted = b"system" if events else b"off"

        async def run_all() -> list[dict[str, list[float]]]:
            return await asyncio.gather(*(
                drive(svc.ami_port, c, pace and pace / sessions, completions=completions,
                      events=wanted)
                for c in chunks
            ))  # fmt: skip

        runs = asyncio.run(run_all())
        elapsed = time.perf_counter() - started
        answered = answered_at(peer) - started
        cpu = svc.cpu_seconds() - cpu_before
        rss_after = svc.rss_mb()
    replies = [x for r in runs for x in r["replies"]]
    results = [x for r in runs for x in r["results"]]
    figures = {
        "notifies": total,
        "sessions": sessions,
        "offered_per_s": pace or 0.0,
        "notify_per_s": total / elapsed,
        "answered_per_s": total / answered,
        "failed": sum(r["failures"][0] for r in runs),
        "reply_p50_ms": 1000 * percentile(replies, 0.5),
        "reply_p99_ms": 1000 * percentile(replies, 0.99),
        "result_p50_ms": 1000 * percentile(results, 0.5),
        "result_p99_ms": 1000 * percentile(results, 0.99),
        "cpu_s_per_1000": 1000 * cpu / total,
        "rss_before_mb": rss_before,
        "rss_after_mb": rss_after,
        "sipp_rc": float(peer.returncode if peer.returncode is not None else -1),
    }
    if not completions:  # these are read from the results' events
        for name in ("notify_per_s", "failed", "result_p50_ms", "result_p99_ms"):
            del figures[name]
    return figures


def b2(workdir: Path, contacts: int = 1000) -> dict[str, float]:
    with sipp("uas_notify.xml", contacts, workdir) as (uas, peer):
        lines = ",".join(f"sip:u{i}@127.0.0.1:{uas}" for i in range(contacts))
        pjsip = PHONE.replace("contact=sip:phone@127.0.0.1:{uas}", f"contact={lines}")
        with service(pjsip, workdir / "b2") as svc:

            async def once() -> float:
                ami = await Ami.open(svc.ami_port)
                start = time.perf_counter()
                ami.writer.write(notify_action(1))
                await ami.until(b"Event: PJSIPNotifyComplete", 120)
                ami.close()
                return time.perf_counter() - start

            seconds = asyncio.run(once())
        peer.wait(timeout=60)
    return {"contacts": contacts, "seconds_all_answered": seconds}


REGISTRAR = UDP + phones_conf()


def b3(workdir: Path, rates: list[int], seconds: int, *,
       command: Command = sipnotify_command) -> dict[str, float]:  # fmt: skip
    """The phones of `phones_conf` registering with digest at each offered rate in turn."""
    best = achieved = retransmitted = cpu_us = 0.0
    with service(REGISTRAR, workdir / f"b3-{next(RUNS)}", command=command) as svc:
        for rate in rates:
            started, cpu = time.perf_counter(), svc.cpu_seconds()
            done = register_fleet(svc.sip_port, rate, seconds, workdir)
            if done.wait(timeout=seconds * 12 + 30) != 0:
                break
            best, achieved = float(rate), rate * seconds / (time.perf_counter() - started)
            retransmitted = done.retransmissions() / (rate * seconds)
            cpu_us = (svc.cpu_seconds() - cpu) / (rate * seconds) * 1e6
    return {"highest_offered_without_failure": best, "achieved_per_s": achieved,
            "retransmissions_per_register": retransmitted,
            "server_cpu_us_per_register": cpu_us}  # fmt: skip


def b4(workdir: Path, aors: int = 10_000, per_aor: int = 10) -> dict[str, float]:
    sys.path.insert(0, str(HERE.parent / "src"))
    from sipnotify.sip.registrar import Binding  # noqa: PLC0415 (the package under test)
    from sipnotify.storage.sqlite import SqliteContactStore  # noqa: PLC0415

    base = workdir / "b4"
    store = SqliteContactStore(base / "data" / "contacts.sqlite3")
    far = time.time() + 86400
    store.change(
        [Binding(aor=f"a{a}", uri=f"sip:a{a}-{c}@10.0.{c}.{a % 250}", expires_at=far,
                 endpoint=f"a{a}", via_addr="10.0.0.1", via_port=5060)
         for a in range(aors) for c in range(per_aor)],
        [],
    )  # fmt: skip
    store.close()
    sections = "".join(
        f"[a{a}]\ntype=aor\nmax_contacts={per_aor}\n[a{a}]\ntype=endpoint\naors=a{a}\n"
        for a in range(aors)
    )
    pjsip = f"[udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:{{sip_port}}\n{sections}"
    with service(pjsip, base) as svc:
        rss = svc.rss_mb()

        async def show() -> tuple[float, int]:
            ami = await Ami.open(svc.ami_port)
            start = time.perf_counter()
            ami.writer.write(b"Action: PJSIPShowContacts\r\nActionID: 1\r\n\r\n")
            items = await ami.until(b"Event: ContactListComplete", 300)
            ami.close()
            return time.perf_counter() - start, items - 1

        seconds, listed = asyncio.run(show())
        startup = svc.started_in
    return {
        "contacts": aors * per_aor,
        "listed": listed,
        "rss_mb": rss,
        "startup_s": startup,
        "show_contacts_s": seconds,
    }


FLEET = (
    "".join(
        f"[fleet{e:02}]\ntype=aor\ncontact="
        + ",".join(f"sip:f{e}-{c}@127.0.0.1:{{responder}}" for c in range(1000))
        + f"\n[fleet{e:02}]\ntype=endpoint\naors=fleet{e:02}\n"
        for e in range(100)
    )
    + "[probe]\ntype=aor\ncontact=sip:probe@127.0.0.1:{responder}\n"
    + "[probe]\ntype=endpoint\naors=probe\n"
)


async def _action(ami: Ami, text: str, until: bytes) -> tuple[float, list[bytes]]:
    """Send one action; the seconds until its reply (or list) ended, and its messages."""
    start = time.perf_counter()
    ami.writer.write(text.encode())
    messages = [await asyncio.wait_for(ami.message(), 300)]
    while until not in messages[-1] and b"Response: Error" not in messages[0]:
        messages.append(await asyncio.wait_for(ami.message(), 300))
    if b"Response: Error" in messages[0]:
        raise RuntimeError(messages[0].decode(errors="replace"))
    return time.perf_counter() - start, messages


async def _job_done(ami: Ami, job_id: bytes, limit: float) -> float:
    """Poll FleetJobs until the job is done; its end time (perf_counter)."""
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        _, listed = await _action(ami, "Action: FleetJobs\r\n\r\n", b"FleetJobListComplete")
        mine = next(m for m in listed if b"JobID: " + job_id + b"\r\n" in m)
        if b"\r\nState: done\r\n" in mine:
            return time.perf_counter()
        await asyncio.sleep(0.05)
    raise RuntimeError("the fleet job did not finish")


def _job_id(reply: bytes) -> bytes:
    return reply.split(b"JobID: ", 1)[1].split(b"\r\n", 1)[0]


async def _fan_out_10k(port: int) -> float:
    """10 PJSIPNotify (1,000 contacts each) at once: seconds until all are complete."""
    ami = await Ami.open(port)
    start = time.perf_counter()
    ami.writer.write(b"".join(notify_action(e, f"fleet{e:02}") for e in range(10)))
    for _ in range(10):
        await ami.until(b"Event: PJSIPNotifyComplete", 120)
    ami.close()
    return time.perf_counter() - start


async def _job_10k(port: int) -> float:
    """One resync job over the same 10,000 contacts, unlimited rate: seconds until done."""
    ami = await Ami.open(port, b"off")  # replies only, no job events
    start = time.perf_counter()
    _, (reply,) = await _action(ami, "Action: FleetNotify\r\nVerb: resync\r\n"
                                "Regex: ^fleet0[0-9]$\r\nRate: unlimited\r\nInFlight: 128\r\n"
                                "PerAddress: 100000\r\nJitter: 0\r\n\r\n", b"")  # fmt: skip
    done = await _job_done(ami, _job_id(reply), 300) - start
    ami.close()
    return done


def b5(workdir: Path) -> dict[str, float]:
    async def run() -> dict[str, float]:
        loop = asyncio.get_running_loop()
        responder, _ = await loop.create_datagram_endpoint(Responder, local_addr=("127.0.0.1", 0))
        port = responder.get_extra_info("sockname")[1]
        with service(UDP + FLEET.replace("{responder}", str(port)), workdir / "b5") as svc:
            await asyncio.sleep(1.0)
            idle = svc.rss_mb()
            fan_outs, jobs = [], []
            for _ in range(3):  # interleaved: this machine's noise is larger than the gap
                fan_outs.append(await _fan_out_10k(svc.ami_port))
                jobs.append(await _job_10k(svc.ami_port))
            fan_out, job_10k = percentile(fan_outs, 0.5), percentile(jobs, 0.5)
            ami = await Ami.open(svc.ami_port, b"off")  # replies only, no job events
            cpu = svc.cpu_seconds()
            big_start = time.perf_counter()
            began, (reply,) = await _action(
                ami,
                "Action: FleetNotify\r\nVerb: resync\r\nRegex: ^fleet\r\nRate: 5000\r\n"
                "InFlight: 256\r\nPerAddress: 100000\r\n\r\n",
                b"",
            )
            big = _job_id(reply)
            starts: list[float] = []
            lists: list[float] = []
            peak = idle
            finished = asyncio.ensure_future(_job_done(ami, big, 600))
            probe = await Ami.open(svc.ami_port, b"off")
            while not finished.done():
                took, _ = await _action(
                    probe, "Action: FleetNotify\r\nVerb: resync\r\nEndpoint: probe\r\n\r\n", b""
                )
                starts.append(took)
                took, _ = await _action(probe, "Action: FleetJobs\r\n\r\n", b"FleetJobListComplete")
                lists.append(took)
                peak = max(peak, svc.rss_mb())
                await asyncio.wait([finished], timeout=0.5)
            elapsed = await finished - big_start
            cpu = svc.cpu_seconds() - cpu
            probe.close()
            ami.close()
        responder.close()
        return {
            "fan_out_10k_s": fan_out, "job_10k_s": job_10k,
            "job_100k_s": elapsed, "job_100k_start_ms": 1000 * began,
            "cpu_us_per_phone": 1e6 * cpu / 100_000,
            "rss_idle_mb": idle, "rss_peak_above_idle_mb": peak - idle,
            "start_p50_ms": 1000 * percentile(starts, 0.5), "start_max_ms": 1000 * max(starts),
            "list_p50_ms": 1000 * percentile(lists, 0.5), "list_max_ms": 1000 * max(lists),
            "samples": float(len(starts)),
        }  # fmt: skip

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="B1,B2,B3,B4,B5,B6,B7,B8,B9,B10")
    parser.add_argument("--notifies", type=int, default=20_000)
    parser.add_argument("--pace", type=float, default=8000.0, help="offered NOTIFY/s, paced run")
    parser.add_argument("--rates", default="500,1000,2000,3000,4000")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--asterisk", type=Path, help="an Asterisk: B1, B3, B9 side by side")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (--asterisk)")
    args = parser.parse_args()
    wanted = set(args.only.upper().split(","))
    results: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "kernel": platform.release()},
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="sipnotify-bench-") as tmp:
        work = Path(tmp)
        if args.asterisk is not None:
            results.update(_reference(args, work, wanted))
            wanted -= {"B1", "B3"}
        results.update(_ours(args, work, wanted))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / time.strftime("%Y%m%d-%H%M%S.json")
    path.write_text(json.dumps(results, indent=2))
    print(f"results: {path}")
    for name, values in results.items():
        if isinstance(values, dict):
            print(f"{name:22} " + "  ".join(f"{k}={_fmt(v)}" for k, v in values.items()))
    if args.asterisk is not None:
        print("\n".join(printed(results)))
    return 0


def _ours(args: argparse.Namespace, work: Path, wanted: set[str]) -> dict[str, object]:
    """The measures of sipnotify alone that `wanted` names."""
    results: dict[str, object] = {}
    if "B1" in wanted:
        results["B1_one_session"] = b1(work, args.notifies, 1, None, 0)
        results["B1_eight_sessions"] = b1(work, args.notifies, 8, None, 0)
        results["B1_paced"] = b1(work, 0, 1, args.pace, 5.0)
    if "B2" in wanted:
        results["B2_fan_out"] = b2(work)
    if "B3" in wanted:
        results["B3_registrations"] = b3(work, [int(r) for r in args.rates.split(",")], 5)
    if "B4" in wanted:
        results["B4_scale"] = b4(work)
    if "B5" in wanted:
        results["B5_fleet_jobs"] = b5(work)
    if "B6" in wanted:
        results["B6_web"] = b6(work)
    if "B7" in wanted:
        results["B7_mwi"] = b7(work)
    if "B8" in wanted:
        results["B8_cluster"] = b8(work, [int(r) for r in args.rates.split(",")])
    if "B9" in wanted:
        results["B9_reply_under_fan_out"] = b9(work)
    if "B10" in wanted:
        results["B10_core"] = b10()
    return results


def _reference(args: argparse.Namespace, work: Path, wanted: set[str]) -> dict[str, object]:
    """B1 (one session), B3 and B9 against sipnotify and the given Asterisk, interleaved."""
    rates = [int(r) for r in args.rates.split(",")]
    measures: dict[str, Measure] = {}
    if "B1" in wanted:
        measures["B1_one_session"] = lambda command: b1(
            work, args.notifies, 1, None, 0, command=command
        )
        measures["B1_one_session_http_off"] = lambda command: b1(
            work, args.notifies, 1, None, 0, command=command, http=False
        )
        measures["B1_replies_only"] = lambda command: b1(
            work, args.notifies, 1, None, 0, command=command, http=False, events=False
        )
    if "B3" in wanted:
        measures["B3_registrations"] = lambda command: b3(work, rates, 5, command=command)
    if "B9" in wanted:
        measures["B9_reply_under_fan_out"] = lambda command: b9(work, command)
    return compare(args.asterisk, measures, args.rounds)


def _fmt(value: object) -> str:
    if not isinstance(value, float):
        return str(value)
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


if __name__ == "__main__":
    raise SystemExit(main())

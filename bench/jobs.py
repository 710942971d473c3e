"""Fleet jobs against PJSIPNotify's fan-out, in one process (not part of `make bench` yet):
10,000 static contacts on one local UDP responder that answers every NOTIFY 200; first one
PJSIPNotify-style fan-out to all of them, then a resync job at an unlimited rate (128 in
flight). Prints the time and CPU per contact of each, the job's start time, listing time and
peak RSS.

Usage: PYTHONPATH=src python bench/jobs.py [--contacts 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import re
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import uvloop

from sipnotify.app import timers_of
from sipnotify.config.notify import NotifyPresets
from sipnotify.config.parser import parse_text
from sipnotify.config.pjsip import load_pjsip
from sipnotify.config.sipnotify import FleetSettings
from sipnotify.fleet.catalogue import Verb, load_catalogue
from sipnotify.fleet.pacing import Pace
from sipnotify.fleet.selection import Selection
from sipnotify.fleet.service import FleetOrder, FleetService
from sipnotify.notify.content import build_content
from sipnotify.notify.notifier import Notifier, NotifyResult
from sipnotify.notify.targets import endpoint_targets
from sipnotify.sip.ids import Ids
from sipnotify.storage.jobs import JobRecord, PhoneRecord
from sipnotify.storage.sqlite_jobs import SqliteJobStore
from sipnotify.transport.stream import Limits
from sipnotify.ua.addresses import Local
from sipnotify.ua.endpoint import SipEndpoint
from sipnotify.ua.routing import Router
from sipnotify.ua.transports import Transports

HEAD = re.compile(rb"^(Via|From|To|Call-ID|CSeq):[^\r]*\r\n", re.M)


class Responder(asyncio.DatagramProtocol):
    """A phone for every contact: answers each NOTIFY 200 OK."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        lines = b"".join(m.group(0) for m in HEAD.finditer(data))
        answer = b"SIP/2.0 200 OK\r\n" + lines + b"Content-Length: 0\r\n\r\n"
        self.transport.sendto(answer, addr)


class NoRequests:
    def receive(self, *_args: object) -> None:
        return None


class Finished:
    def __init__(self) -> None:
        self.event = asyncio.Event()

    def phone(self, job: JobRecord, phone: PhoneRecord) -> None:
        del job, phone

    def finished(self, job: JobRecord, phones: list[PhoneRecord]) -> None:
        del job, phones
        self.event.set()


async def timed(start: Callable[[], None], done: asyncio.Event) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    start()
    await asyncio.wait_for(done.wait(), 600)
    return time.perf_counter() - wall, time.process_time() - cpu


async def main(contacts: int) -> None:
    loop = asyncio.get_running_loop()
    responder, _ = await loop.create_datagram_endpoint(Responder, local_addr=("127.0.0.1", 0))
    port = responder.get_extra_info("sockname")[1]
    text = "[udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:0\n[phones]\ntype=aor\n"
    text += "".join(f"contact=sip:p{n}@127.0.0.1:{port}\n" for n in range(contacts))
    config, _ = load_pjsip(parse_text(text + "[phones]\ntype=endpoint\naors=phones\n"))
    timers = timers_of(config)
    transports = Transports(config.transports, limits=Limits(), connect_timeout=timers.timeout)
    ids = Ids()
    sip = SipEndpoint(transports, Router(config, transports), timers, clock=time.monotonic,
                      ids=ids)  # fmt: skip
    await sip.start(NoRequests())
    notifier = Notifier(config=config, presets=NotifyPresets(), sender=sip, ids=ids)
    content = build_content([("Event", "check-sync")], from_ami=True)
    targets = endpoint_targets(config, "phones")
    answered, all_in = [0], asyncio.Event()

    def report(_result: NotifyResult) -> None:
        answered[0] += 1
        if answered[0] == len(targets):
            all_in.set()

    wall, cpu = await timed(lambda: notifier.send(targets, content, report), all_in)
    print(f"PJSIPNotify fan-out: {contacts} contacts in {wall:.2f} s, "
          f"{1e6 * cpu / contacts:.0f} us CPU each")  # fmt: skip
    finished = Finished()
    fleet = FleetService(store=SqliteJobStore(Path(tempfile.mkdtemp()) / "jobs.sqlite3"),
                         notifier=notifier, catalogue=load_catalogue(None),
                         local_for=lambda _hop: Local("udp", "127.0.0.1", 5060),
                         wall=time.time, ids=ids, rng=random.Random(1),
                         listener=finished, settings=FleetSettings())  # fmt: skip
    order = FleetOrder(Verb.RESYNC, Selection(all=True),
                       Pace(rate=math.inf, in_flight=128, per_address=contacts))  # fmt: skip
    started = [0.0]

    def start() -> None:
        begin = time.perf_counter()
        fleet.start(order)
        started[0] = time.perf_counter() - begin

    wall, cpu = await timed(start, finished.event)
    print(f"fleet job: {contacts} contacts in {wall:.2f} s, {1e6 * cpu / contacts:.0f} us CPU "
          f"each; started in {1e3 * started[0]:.0f} ms")  # fmt: skip
    begin = time.perf_counter()
    fleet.jobs()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"listing jobs: {1e3 * (time.perf_counter() - begin):.1f} ms; peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    uvloop.run(main(parser.parse_args().contacts))

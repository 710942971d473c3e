"""B8, several nodes on PostgreSQL (bench/cluster.py): a PostgreSQL server made for the run in a
temporary folder (Debian's binaries, as the tests make it).

- Registrations with digest (1,000 phones from SIPp, as B3) at rising offered rates, 5 s
  each: one node on SQLite, one node on PostgreSQL, then two nodes on PostgreSQL each offered
  half the rate (and half the phones), then one server with `workers = 2` on PostgreSQL
  offered half by each of two SIPp (their ports chosen so each worker takes one); the highest
  offered rate with no failure for each, and the rate achieved. The idle memory of the
  supervisor and of each worker (RSS, PSS, USS: the workers are forked, sharing pages), and
  of the workers of a second such server with HTTP off (`idle_*_per_worker_no_http_mb`).
- Visibility: 300 new contacts registered one at a time through node A (a digest client in this
  process); for each, the time from its 200 OK to node B's ContactStatus event: p50/p99/max.
- Fan-out: 10,000 registered contacts (10 AORs x 1,000, rows written straight into
  `ps_contacts`) answered by a UDP responder here; 10 PJSIPNotify to one node versus 5 to each
  of two nodes, five of each interleaved: medians.

Usage: run by bench.py (`--only B8`); skipped when PostgreSQL's binaries are missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

from harness import (
    HERE,
    UDP,
    Ami,
    Responder,
    notify_action,
    percentile,
    phones_conf,
    register_fleet,
    service,
)

sys.path.insert(0, str(HERE.parent))  # the tests' PostgreSQL helper
sys.path.insert(0, str(HERE.parent / "src"))
from tests.storage.postgres import Server, available, running

AUTH = "[bob]\ntype=auth\nusername=bob\npassword=secret\n"
PHONES = phones_conf()
MANY = AUTH + "[many]\ntype=aor\nmax_contacts=1000\n[many]\ntype=endpoint\naors=many\nauth=bob\n"
FLEET = "".join(f"[fleet{e}]\ntype=aor\nmax_contacts=1000\n[fleet{e}]\ntype=endpoint\n"
                f"aors=fleet{e}\n" for e in range(10))  # fmt: skip
NONCE = re.compile(rb'nonce="([^"]+)"')
OPAQUE = re.compile(rb'opaque="([^"]+)"')
_ids = itertools.count()


def realtime(dsn: str, systemname: str) -> dict[str, str]:
    found = dict(part.split("=", 1) for part in dsn.split())
    return {
        "sorcery.conf": "[res_pjsip]\ncontact = realtime,ps_contacts\n",
        "extconfig.conf": "[settings]\nps_contacts => pgsql,general\n",
        "res_pgsql.conf": f"[general]\ndbhost = {found['host']}\ndbport = {found['port']}\n"
                          f"dbname = {found['dbname']}\ndbuser = {found['user']}\n",
        "asterisk.conf": f"[options]\nsystemname = {systemname}\n",
    }  # fmt: skip


def _workers(dsn: str) -> dict[str, str]:
    """`workers = 2` on PostgreSQL: they share contacts, mailboxes and jobs there."""
    files = realtime(dsn, "w")
    files["extconfig.conf"] += "sipnotify_mailboxes => pgsql,general\n" \
        "sipnotify_jobs => pgsql,general\n"  # fmt: skip
    files["sipnotify.conf"] = "[general]\nworkers = 2\n"
    return files


def _register_rate(ports: list[int], rate: int, seconds: int,
                   workdir: Path) -> tuple[float, float] | None:  # fmt: skip
    """The phones registering with digest at `rate` per second, split over the nodes (each
    SIPp its share of the phones): the rate achieved (SIPp holds new calls back while the
    server is behind, so it can be far below the rate offered) and SIPp's retransmissions
    per registration, or None when one failed."""
    share = max(1, rate // len(ports))
    started = time.perf_counter()
    runs = [register_fleet(port, share, seconds, workdir, part=index, parts=len(ports))
            for index, port in enumerate(ports)]  # fmt: skip
    if not all(run.wait(timeout=seconds * 12 + 30) == 0 for run in runs):
        return None
    calls = share * seconds * len(ports)
    achieved = calls / (time.perf_counter() - started)
    return achieved, sum(run.retransmissions() for run in runs) / calls


def _memory_mb(pid: int) -> dict[str, float]:
    """A process's resident memory (RSS), its share of pages it shares with others counted
    once across them (PSS), and what is its own alone (USS), in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        fields[name.rstrip(":")] = int(value) / 1024
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "uss": fields["Private_Clean"] + fields["Private_Dirty"]}  # fmt: skip


def _workers_memory(supervisor: int) -> dict[str, float]:
    """Idle memory of the supervisor and of its largest worker (RSS, PSS, USS)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    workers = [_memory_mb(int(pid)) for pid in children]
    found = {f"idle_{kind}_per_worker_mb": max(w[kind] for w in workers)
             for kind in ("rss", "pss", "uss")}  # fmt: skip
    found.update({f"supervisor_{k}_mb": v for k, v in _memory_mb(supervisor).items()})
    return found


def _ladder(name: str, ports: list[int], rates: list[int], workdir: Path) -> dict[str, float]:
    """`<name>_highest`: the highest offered rate with no failure; `<name>_achieved`: the
    highest rate SIPp achieved meanwhile (what the server absorbed); `<name>_retransmitted`:
    SIPp's retransmissions per registration at the highest offered rate."""
    best = achieved = retransmitted = 0.0
    for rate in rates:
        got = _register_rate(ports, rate, 5, workdir)
        if got is None:
            break
        best, achieved, retransmitted = float(rate), max(achieved, got[0]), got[1]
    return {f"{name}_highest": best, f"{name}_achieved": achieved,
            f"{name}_retransmitted": retransmitted}  # fmt: skip


class Phone(asyncio.DatagramProtocol):
    """Registers contacts with digest, one at a time."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.waiting: asyncio.Future[bytes] | None = None

    def datagram_received(self, data: bytes, _addr: tuple[str, int]) -> None:
        if data.startswith(b"SIP/2.0 ") and self.waiting is not None and not self.waiting.done():
            self.waiting.set_result(data)

    async def register(self, port: int, contact: str) -> None:
        n = next(_ids)
        here = self.transport.get_extra_info("sockname")[1]
        request = (f"REGISTER sip:127.0.0.1:{port} SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP 127.0.0.1:{here};branch=z9hG4bK{n}a;rport\r\n"
                   f"From: <sip:many@127.0.0.1>;tag=t{n}\r\nTo: <sip:many@127.0.0.1>\r\n"
                   f"Call-ID: b8-{n}\r\nCSeq: 1 REGISTER\r\nContact: <{contact}>\r\n"
                   "Expires: 600\r\n")  # fmt: skip
        answer = await self._send(request, port)
        nonce = NONCE.search(answer).group(1).decode()  # type: ignore[union-attr]
        opaque = OPAQUE.search(answer).group(1).decode()  # type: ignore[union-attr]
        uri = f"sip:127.0.0.1:{port}"
        ha1 = _md5("bob:asterisk:secret")
        digest = _md5(f"{ha1}:{nonce}:00000001:c{n}:auth:{_md5(f'REGISTER:{uri}')}")
        request = request.replace("CSeq: 1 ", "CSeq: 2 ").replace(f"{n}a;", f"{n}b;")
        request += (f'Authorization: Digest username="bob", realm="asterisk", nonce="{nonce}", '
                    f'uri="{uri}", response="{digest}", algorithm=MD5, cnonce="c{n}", qop=auth, '
                    f'nc=00000001, opaque="{opaque}"\r\n')  # fmt: skip
        if not (await self._send(request, port)).startswith(b"SIP/2.0 200"):
            raise RuntimeError("a REGISTER was refused")

    async def _send(self, text: str, port: int) -> bytes:
        self.waiting = asyncio.get_running_loop().create_future()
        for _ in range(6):
            self.transport.sendto(
                (text + "Content-Length: 0\r\n\r\n").encode(), ("127.0.0.1", port)
            )
            try:
                return await asyncio.wait_for(asyncio.shield(self.waiting), 2.0)
            except TimeoutError:
                continue
        raise RuntimeError("no answer to a REGISTER")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


async def _visibility(a: int, b_ami: int, count: int) -> list[float]:
    """Seconds from each 200 OK on node A to node B's ContactStatus for that contact."""
    loop = asyncio.get_running_loop()
    _, phone = await loop.create_datagram_endpoint(Phone, local_addr=("127.0.0.1", 0))
    watcher = await Ami.open(b_ami, b"system")
    delays = []
    for n in range(count):
        contact = f"sip:v{n}@127.0.0.1:9"
        await phone.register(a, contact)
        answered = time.perf_counter()
        while True:
            message = await asyncio.wait_for(watcher.message(), 10)
            if (
                message.startswith(b"Event: ContactStatus")
                and f"URI: {contact}\r\n".encode() in message
            ):
                break
        delays.append(max(0.0, time.perf_counter() - answered))
    phone.transport.close()
    watcher.close()
    return delays


def _store_contacts(dsn: str, responder: int) -> None:
    from sipnotify.sip.registrar import Binding  # noqa: PLC0415 (the package under test)
    from sipnotify.storage.postgres import PgContactStore  # noqa: PLC0415

    store = PgContactStore(dsn, "bench", systemname="loader")
    far = time.time() + 86400
    store.change([Binding(aor=f"fleet{e}", uri=f"sip:f{e}-{c}@127.0.0.1:{responder}",
                          expires_at=far, endpoint=f"fleet{e}", via_addr="127.0.0.1",
                          via_port=responder, reg_server="loader")
                  for e in range(10) for c in range(1000)], [])  # fmt: skip
    store.close()


async def _fan_out(ports: list[int]) -> float:
    """10 PJSIPNotify of 1,000 contacts each, shared among the nodes: seconds until done."""
    amis = [await Ami.open(port) for port in ports]
    start = time.perf_counter()
    for e in range(10):
        amis[e % len(amis)].writer.write(notify_action(e, f"fleet{e}"))

    async def complete(ami: Ami, expected: int) -> None:
        for _ in range(expected):
            await ami.until(b"Event: PJSIPNotifyComplete", 120)

    await asyncio.gather(*(complete(ami, 10 // len(amis)) for ami in amis))
    took = time.perf_counter() - start
    for ami in amis:
        ami.close()
    return took


@contextlib.contextmanager
def _postgres() -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="sipnotify-b8-pg-") as folder:
        Path(folder).chmod(0o755)
        yield from running(Path(folder))


def b8(workdir: Path, rates: list[int]) -> dict[str, float]:
    if not available():
        return {"skipped_no_postgresql": 1.0}
    results: dict[str, float] = {}
    with _postgres() as server:
        new_database = server.new_database
        with service(UDP + PHONES, workdir / "b8-sqlite") as one:
            results.update(_ladder("register_sqlite", [one.sip_port], rates, workdir))
        dsn = new_database()
        with service(UDP + PHONES, workdir / "b8-pg", realtime(dsn, "a")) as one:
            results.update(_ladder("register_pg", [one.sip_port], rates, workdir))
        dsn = new_database()
        with service(UDP + PHONES, workdir / "b8-pg2a", realtime(dsn, "a")) as a, \
                service(UDP + PHONES, workdir / "b8-pg2b", realtime(dsn, "b")) as b:  # fmt: skip
            results.update(_ladder("register_pg_two_nodes", [a.sip_port, b.sip_port],
                                   rates, workdir))  # fmt: skip
        workers = _workers(new_database())
        with service(UDP + PHONES, workdir / "b8-workers", workers) as both:
            time.sleep(3)  # the second worker's start (the first answered the probe)
            results.update(_workers_memory(both.process.pid))
            results.update(_ladder("register_pg_two_workers", [both.sip_port, both.sip_port],
                                   rates, workdir))  # fmt: skip
        ami_only = _workers(new_database())  # as the first, with HTTP off
        with service(UDP + PHONES, workdir / "b8-workers-ami", ami_only, http=False) as both:
            time.sleep(3)
            results.update({k.replace("_per_worker_", "_per_worker_no_http_"): v
                            for k, v in _workers_memory(both.process.pid).items()
                            if k.startswith("idle_")})  # fmt: skip

        async def cluster() -> None:
            loop = asyncio.get_running_loop()
            responder, _ = await loop.create_datagram_endpoint(
                Responder, local_addr=("127.0.0.1", 0)
            )
            dsn = new_database()
            _store_contacts(dsn, responder.get_extra_info("sockname")[1])
            pjsip = UDP + MANY + FLEET
            with service(pjsip, workdir / "b8-a", realtime(dsn, "a")) as a, \
                    service(pjsip, workdir / "b8-b", realtime(dsn, "b")) as b:  # fmt: skip
                await asyncio.sleep(0.5)
                delays = await _visibility(a.sip_port, b.ami_port, 300)
                results.update({"visible_p50_ms": 1000 * percentile(delays, 0.5),
                                "visible_p99_ms": 1000 * percentile(delays, 0.99),
                                "visible_max_ms": 1000 * max(delays)})  # fmt: skip
                one, two = [], []
                for _ in range(5):  # interleaved; medians (the machine's noise is large)
                    one.append(await _fan_out([a.ami_port]))
                    two.append(await _fan_out([a.ami_port, b.ami_port]))
                results.update({"fan_out_10k_one_node_s": percentile(one, 0.5),
                                "fan_out_10k_two_nodes_s": percentile(two, 0.5)})  # fmt: skip
            responder.close()

        asyncio.run(cluster())
    return results

"""B9, the AMI reply under a fan-out: one endpoint with 1,000 contacts, every one answered 200
by a UDP responder in this process. The time from writing a PJSIPNotify to reading its
`Response: Success`, for an action sent alone (the previous one finished) and for one sent
while another's 1,000 NOTIFYs are going out; then the process CPU per 1,000 NOTIFYs.

Usage: run by bench.py (`--only B9`).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from harness import UDP, Ami, Responder, notify_action, percentile, service

CONTACTS = 1000
ROUNDS = 40


def pjsip(port: int) -> str:
    contacts = ",".join(f"sip:u{i}@127.0.0.1:{port}" for i in range(CONTACTS))
    return UDP + f"[many]\ntype=aor\ncontact={contacts}\n[many]\ntype=endpoint\naors=many\n"


async def _reply(ami: Ami, index: int) -> float:
    """Seconds until the action's reply; then its completion is awaited too."""
    start = time.perf_counter()
    ami.writer.write(notify_action(index, "many"))
    took = None
    while True:
        message = await asyncio.wait_for(ami.message(), 60)
        if message.startswith(b"Response: Success") and took is None:
            took = time.perf_counter() - start
        if message.startswith(b"Event: PJSIPNotifyComplete"):
            assert took is not None
            return took


async def _during(ami: Ami, index: int) -> float:
    """Seconds until the reply of an action sent while another one's fan-out is going out."""
    ami.writer.write(notify_action(index, "many"))
    while not (await asyncio.wait_for(ami.message(), 60)).startswith(b"Response: Success"):
        pass
    while not (await asyncio.wait_for(ami.message(), 60)).startswith(b"Event: PJSIPNotify\r\n"):
        pass  # the first results: the fan-out is under way
    start = time.perf_counter()
    ami.writer.write(notify_action(index + 1, "many"))
    took = None
    complete = 0
    while complete < 2:
        message = await asyncio.wait_for(ami.message(), 60)
        if took is None and message.startswith(b"Response: Success"):
            took = time.perf_counter() - start
        complete += message.startswith(b"Event: PJSIPNotifyComplete")
    assert took is not None
    return took


def b9(workdir: Path) -> dict[str, float]:
    async def run() -> dict[str, float]:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(Responder, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        try:
            with service(pjsip(port), workdir / "b9") as svc:
                await asyncio.sleep(0.5)
                ami = await Ami.open(svc.ami_port)
                alone = [await _reply(ami, n) for n in range(ROUNDS)]
                cpu = svc.cpu_seconds()
                during = [await _during(ami, 1000 + 2 * n) for n in range(ROUNDS)]
                cpu_per_1000 = (svc.cpu_seconds() - cpu) / (2 * ROUNDS)
                ami.close()
        finally:
            transport.close()
        ms = 1000.0
        return {"reply_alone_p50_ms": percentile(alone, 0.5) * ms,
                "reply_alone_p99_ms": percentile(alone, 0.99) * ms,
                "reply_during_fan_out_p50_ms": percentile(during, 0.5) * ms,
                "reply_during_fan_out_p99_ms": percentile(during, 0.99) * ms,
                "cpu_s_per_1000_notifies": cpu_per_1000}  # fmt: skip

    return asyncio.run(run())

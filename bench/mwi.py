"""B7, MWI: subscribers to one mailbox in this process (a UDP socket per thousand, answering
every NOTIFY 200), then one MWIUpdate: time until every subscriber has its NOTIFY; RSS of
10,000 live subscriptions; and SUBSCRIBE/s with digest (each challenged, then answered).

Usage: run by bench.py (`--only B7`).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
import time
from pathlib import Path
from typing import cast

from harness import UDP, Ami, service

HEAD = re.compile(rb"^(Via|From|To|Call-ID|CSeq):[^\r]*\r\n", re.M)
NONCE = re.compile(rb'nonce="([^"]+)"')
OPAQUE = re.compile(rb'opaque="([^"]+)"')
PJSIP = UDP + (
    "[mwi]\ntype=auth\nusername=mwi\npassword=secret\n"
    "[mwi]\ntype=aor\nmax_contacts=1\nmailboxes=1000@default\n"
    "[mwi]\ntype=endpoint\naors=mwi\nauth=mwi\n"
    "[open]\ntype=aor\nmax_contacts=1\nmailboxes=1000@default\n"
    "[open]\ntype=endpoint\naors=open\n"
)
SETTINGS = "[mwi]\nmax_subscriptions = 100000\nmax_subscriptions_per_endpoint = 100000\n"
_ids = itertools.count()


class Phones(asyncio.DatagramProtocol):
    """Many subscribers on one socket: SUBSCRIBEs out, NOTIFYs answered 200 and timed."""

    def __init__(self) -> None:
        self.notified: dict[bytes, float] = {}  # Call-ID -> when its last NOTIFY came
        self.answers: dict[bytes, asyncio.Future[bytes]] = {}  # Call-ID -> the response

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        call_id = data.split(b"Call-ID: ", 1)[1].split(b"\r\n", 1)[0]
        if data.startswith(b"NOTIFY "):
            self.notified[call_id] = time.perf_counter()
            lines = b"".join(m.group(0) for m in HEAD.finditer(data))
            self.transport.sendto(b"SIP/2.0 200 OK\r\n" + lines + b"Content-Length: 0\r\n\r\n",
                                  addr)  # fmt: skip
        elif data.startswith(b"SIP/2.0 "):
            waiting = self.answers.pop(call_id, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(data)

    async def subscribe(self, port: int, user: str, *, secret: str = "") -> bytes:
        """One subscription (answering a challenge with `secret`); its Call-ID."""
        here = self.transport.get_extra_info("sockname")[1]
        n = next(_ids)
        call_id = f"b7-{n}".encode()
        request = (f"SUBSCRIBE sip:{user}@127.0.0.1:{port} SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP 127.0.0.1:{here};branch=z9hG4bK{n}a;rport\r\n"
                   f"From: <sip:{user}@127.0.0.1>;tag=t{n}\r\nTo: <sip:{user}@127.0.0.1>\r\n"
                   f"Call-ID: b7-{n}\r\nCSeq: 1 SUBSCRIBE\r\n"
                   f"Contact: <sip:{user}@127.0.0.1:{here}>\r\nEvent: message-summary\r\n"
                   "Expires: 3600\r\n")  # fmt: skip
        answer = await self._send(call_id, request + "Content-Length: 0\r\n\r\n", port)
        if answer.startswith(b"SIP/2.0 401") and secret:
            nonce = NONCE.search(answer).group(1).decode()  # type: ignore[union-attr]
            opaque = OPAQUE.search(answer).group(1).decode()  # type: ignore[union-attr]
            uri = f"sip:{user}@127.0.0.1:{port}"
            ha1 = _md5(f"{user}:asterisk:{secret}")
            digest = _md5(f"{ha1}:{nonce}:00000001:c{n}:auth:{_md5(f'SUBSCRIBE:{uri}')}")
            request = request.replace("CSeq: 1 ", "CSeq: 2 ").replace(f"{n}a;", f"{n}b;")
            request += (f'Authorization: Digest username="{user}", realm="asterisk", '
                        f'nonce="{nonce}", uri="{uri}", response="{digest}", algorithm=MD5, '
                        f'cnonce="c{n}", qop=auth, nc=00000001, opaque="{opaque}"\r\n')  # fmt: skip
            answer = await self._send(call_id, request + "Content-Length: 0\r\n\r\n", port)
        if not answer.startswith(b"SIP/2.0 200"):
            raise RuntimeError(answer.decode(errors="replace"))
        return call_id

    async def _send(self, call_id: bytes, text: str, port: int) -> bytes:
        waiting: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.answers[call_id] = waiting
        for _ in range(6):  # UDP: send again until answered
            self.transport.sendto(text.encode(), ("127.0.0.1", port))
            try:
                return await asyncio.wait_for(asyncio.shield(waiting), 2.0)
            except TimeoutError:
                continue
        raise RuntimeError("no answer to a SUBSCRIBE")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


async def _phones(count: int) -> list[Phones]:
    loop = asyncio.get_running_loop()
    made = []
    for _ in range(max(1, count // 1000)):
        _, protocol = await loop.create_datagram_endpoint(Phones, local_addr=("127.0.0.1", 0))
        made.append(protocol)
    return made


async def _subscribe_all(phones: list[Phones], port: int, count: int, user: str, *,
                         secret: str = "", at_once: int = 50) -> None:  # fmt: skip
    left = iter(range(count))

    async def worker() -> None:
        for n in left:
            await phones[n % len(phones)].subscribe(port, user, secret=secret)

    await asyncio.gather(*(worker() for _ in range(at_once)))


def b7(workdir: Path) -> dict[str, float]:
    async def run() -> dict[str, float]:
        with service(PJSIP, workdir / "b7", extra_files={"sipnotify.conf": SETTINGS}) as svc:
            await asyncio.sleep(0.5)
            idle = svc.rss_mb()
            phones = await _phones(10_000)
            await _subscribe_all(phones, svc.sip_port, 1000, "open")
            await asyncio.sleep(0.5)  # the first NOTIFYs are in
            ami = await Ami.open(svc.ami_port, b"off")
            start = time.perf_counter()
            ami.writer.write(b"Action: MWIUpdate\r\nMailbox: 1000@default\r\nNewMessages: 2\r\n"
                             b"\r\n")  # fmt: skip
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                arrived = [t for p in phones for t in p.notified.values() if t >= start]
                if len(arrived) >= 1000:
                    break
                await asyncio.sleep(0.005)
            fan_out = max(arrived) - start
            await _subscribe_all(phones, svc.sip_port, 9000, "open")
            await asyncio.sleep(1.0)
            with_10k = svc.rss_mb()
            began = time.perf_counter()
            await _subscribe_all(phones, svc.sip_port, 2000, "mwi", secret="secret")
            digest_rate = 2000 / (time.perf_counter() - began)
            ami.close()
            for protocol in phones:
                protocol.transport.close()
        return {"subscribers": 1000.0, "update_to_all_notified_s": fan_out,
                "rss_idle_mb": idle, "rss_10k_subscriptions_above_idle_mb": with_10k - idle,
                "digest_subscribe_per_s": digest_rate}  # fmt: skip

    return asyncio.run(run())

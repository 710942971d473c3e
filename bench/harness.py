"""The benchmark's harness: a real `sipnotify serve` on a generated configuration (AMI, SIP
and HTTP on free loopback ports), SIPp peers, a minimal timestamping AMI client, and a UDP
responder that answers every NOTIFY. Used by bench.py, web.py and profile.py."""

from __future__ import annotations

import asyncio
import collections
import csv
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE.parent / "tests" / "integration" / "scenarios"
PRESETS = HERE.parent / "src" / "sipnotify" / "defaults" / "pjsip_notify.conf"
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
MANAGER = """[general]
enabled = yes
port = {port}
bindaddr = 127.0.0.1
webenabled = yes
[bench]
secret = bench
read = system,call,reporting
write = system,call
"""


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` different free loopback ports. Each socket stays bound until all are picked:
    a port is free again once its socket closes, and the next bind(0) may hand it out again
    (a server given the same port for AMI and HTTP then stops at start-up)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    ami_port: int
    sip_port: int
    started_in: float
    http_port: int

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK


Command = Callable[[Path, Path], list[str]]  # (configuration folder, data folder) -> argv


def sipnotify_command(config: Path, data: Path) -> list[str]:
    return [PYTHON, "-m", "sipnotify", "serve", "--config-dir", str(config),
            "--data-dir", str(data), "--log-level", "WARNING"]  # fmt: skip


@contextmanager
def service(
    pjsip: str, workdir: Path, extra_files: dict[str, str] | None = None,
    command: Command = sipnotify_command, *, http: bool = True,
) -> Iterator[Service]:  # fmt: skip
    """A server on a generated configuration: sipnotify, or whatever `command` starts on the
    same folder of Asterisk-syntax files (bench/reference.py: Asterisk). Without `http`,
    http.conf turns HTTP off (Asterisk's default) and `http_port` is 0."""
    config = workdir / "config"
    config.mkdir(parents=True, exist_ok=True)
    ami_port, sip_port, http_port = free_ports(3)
    (config / "manager.conf").write_text(MANAGER.format(port=ami_port))
    (config / "http.conf").write_text(
        f"[general]\nenabled = {'yes' if http else 'no'}\nbindaddr = 127.0.0.1\n"
        f"bindport = {http_port}\n"
    )
    (config / "pjsip.conf").write_text(pjsip.replace("{sip_port}", str(sip_port)))
    shutil.copy(PRESETS, config / "pjsip_notify.conf")
    for name, text in (extra_files or {}).items():
        (config / name).write_text(text)
    log = (workdir / "service.log").open("wb")
    started = time.monotonic()
    process = subprocess.Popen(
        command(config, workdir / "data"), stdin=subprocess.DEVNULL, stdout=log, stderr=log
    )
    try:
        _wait_listening(ami_port, process, 120)
        if http:
            _wait_connect(http_port, process, 30)
        yield Service(process, ami_port, sip_port, time.monotonic() - started,
                      http_port if http else 0)  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("sipnotify exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.recv(64)
            return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("sipnotify did not start")


def _wait_connect(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("sipnotify exited during start-up")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("sipnotify's HTTP server did not start")


@contextmanager
def sipp(
    scenario: str, calls: int, workdir: Path, *extra: str
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen(
        ["sipp", "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p", str(port),
         "-m", str(calls), "-nostdin", "-buff_size", "8388608", "-timeout", "300s", *extra],
        cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    time.sleep(0.3)
    try:
        yield port, process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


PHONES = 1000  # the fleet registering in B3 and B8: each phone its own endpoint and AOR


def phones_conf(phones: int = PHONES) -> str:
    """pjsip.conf sections for phones p0, p1, …: each an endpoint with its AOR (one contact,
    replaced at each registration), all proving the password of one auth section."""
    return "[fleet-auth]\ntype=auth\nusername=bob\npassword=secret\n" + "".join(
        f"[p{n}]\ntype=aor\nmax_contacts=1\nremove_existing=yes\n"
        f"[p{n}]\ntype=endpoint\naors=p{n}\nauth=fleet-auth\n"
        for n in range(phones)
    )


@dataclass
class Registering:
    """A SIPp run of `register_fleet`; `retransmissions()` once it has ended."""

    process: subprocess.Popen[bytes]
    stats: Path

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def retransmissions(self) -> int:
        """The REGISTERs SIPp sent again for want of an answer (its statistics file)."""
        rows = list(csv.reader(self.stats.read_text().splitlines(), delimiter=";"))
        return int(rows[-1][rows[0].index("Retransmissions(C)")])


def register_fleet(port: int, rate: int, seconds: int, workdir: Path, *, part: int = 0,
                   parts: int = 1) -> Registering:  # fmt: skip
    """SIPp registering the phones of `phones_conf` (those whose number is `part` modulo
    `parts`, in turn, again and again) with digest at `rate` a second for `seconds`. Its port
    is odd for an odd `part` (bind(0) gives even ones): with `workers = 2` on one port, each
    worker takes one part (the steering adds address and port, modulo 2)."""
    users = workdir / f"phones-{part}-of-{parts}.csv"
    users.write_text("SEQUENTIAL\n" + "".join(f"p{n};\n" for n in range(part, PHONES, parts)))
    local = free_port() + part % 2
    stats = workdir / f"register-{local}.csv"
    process = subprocess.Popen(
        ["sipp", f"127.0.0.1:{port}", "-sf", str(SCENARIOS / "uac_register_fleet.xml"),
         "-inf", str(users), "-i", "127.0.0.1", "-p", str(local), "-m", str(rate * seconds),
         "-r", str(rate), "-nostdin", "-set", "expires", "600", "-au", "bob", "-ap", "secret",
         "-timeout", f"{seconds * 10}s", "-buff_size", "8388608", "-trace_stat", "-stf",
         str(stats), "-fd", str(seconds * 100)],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return Registering(process, stats)


class Ami:
    """A minimal asyncio AMI client that timestamps every reply and result event."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buffer = b""  # the start of a message not yet whole
        self.ready: collections.deque[bytes] = collections.deque()

    @classmethod
    async def open(cls, port: int, events: bytes = b"system") -> Ami:
        """A logged-in session, once the server has told FullyBooted (Asterisk's AMI listens
        before PJSIPNotify is loaded): a session without events is opened after one with
        them has seen it."""
        if events == b"off":
            (await cls.open(port)).close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)
        ami = cls(reader, writer)
        await reader.readline()
        # PJSIPNotify's results are system events: the session takes them (and FullyBooted)
        writer.write(b"Action: Login\r\nUsername: bench\r\nSecret: bench\r\nEvents: %s\r\n\r\n"
                     % events)  # fmt: skip
        assert b"Authentication accepted" in await ami.message()
        if events != b"off":  # Asterisk may tell of other system events before it
            for _ in range(100):
                if (await ami.message()).startswith(b"Event: FullyBooted\r\n"):
                    break
            else:
                raise AssertionError("no FullyBooted")
        return ami

    async def message(self) -> bytes:
        """The next message."""
        while not self.ready:
            await self._read()
        return self.ready.popleft()

    async def messages(self) -> list[bytes]:
        """Every whole message read so far, reading once when there is none. A burst's
        reader awaits (with its timeout) once per read, not once per message: `wait_for`
        makes a task and a timer and turns the loop three times, and for each message that
        took the client's CPU from the two cores the servers share, the more so the more
        a server tells."""
        while not self.ready:
            await self._read()
        taken = list(self.ready)
        self.ready.clear()
        return taken

    async def until(self, head: bytes, timeout: float) -> int:
        """Read up to the next message that starts with `head`, within `timeout` seconds;
        how many messages came before it. What follows it stays for the next call."""
        deadline = time.perf_counter() + timeout
        skipped = 0
        while True:
            while self.ready:
                if self.ready.popleft().startswith(head):
                    return skipped
                skipped += 1
            await asyncio.wait_for(self._read(), max(deadline - time.perf_counter(), 0.0))

    async def _read(self) -> None:
        """Each read is split whole: taking one message at a time off the front of a large
        read copied the rest each time."""
        chunk = await self.reader.read(1 << 20)
        if not chunk:
            raise ConnectionError("AMI closed")
        *whole, self.buffer = (self.buffer + chunk).split(b"\r\n\r\n")
        self.ready.extend(whole)

    def close(self) -> None:
        self.writer.close()


def notify_action(index: int, endpoint: str = "phone") -> bytes:
    return (
        b"Action: PJSIPNotify\r\nActionID: %d\r\nEndpoint: %s\r\nOption: polycom-check-cfg\r\n\r\n"
        % (index, endpoint.encode())
    )


async def drive(
    port: int, ids: range, pace: float | None, *, completions: bool = True,
    events: bytes = b"system",
) -> dict[str, list[float]]:  # fmt: skip
    """Send the actions (all at once, or `pace` per second) on a session that logs in with
    `events`; record reply and completion latencies until every action has completed
    (bounded by a timeout). Without `completions` (Asterisk, which tells no PJSIPNotify's
    result, or a session that takes no events), until every action has its reply."""
    ami = await Ami.open(port, events)
    sent: dict[int, float] = {}
    replies: list[float] = []
    results: list[float] = []
    failures = 0

    async def send() -> None:
        if pace is None:
            now = time.perf_counter()
            ami.writer.write(b"".join(notify_action(i) for i in ids))
            sent.update(dict.fromkeys(ids, now))
            return
        start = time.perf_counter()
        for n, i in enumerate(ids):
            due = start + n / pace
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[i] = time.perf_counter()
            ami.writer.write(notify_action(i))

    sender = asyncio.ensure_future(send())
    remaining = len(ids)
    while remaining:
        batch = await asyncio.wait_for(ami.messages(), 120)
        now = time.perf_counter()
        for message in batch:
            head, _, rest = message.partition(b"\r\n")
            if head == b"Event: PJSIPNotifyResult" or b"ActionID: " not in rest:
                continue  # a contact's result, or an event of the server's own
            action_id = int(rest.split(b"ActionID: ", 1)[1].split(b"\r\n", 1)[0])
            if head == b"Response: Success":
                replies.append(now - sent[action_id])
                remaining -= not completions
            elif head == b"Event: PJSIPNotifyComplete":
                results.append(now - sent[action_id])
                failures += b"Failed: 0" not in message
                remaining -= 1
            elif head == b"Response: Error":
                raise RuntimeError(message.decode(errors="replace"))
    await sender
    ami.close()
    return {"replies": replies, "results": results, "failures": [float(failures)]}


# uas_notify_hold.xml holds each answered NOTIFY's call this long, so SIPp exits this long
# after it answered the last one
HOLD_S = 4.0


def answered_at(peer: subprocess.Popen[bytes], timeout: float = 60.0) -> float:
    """When a uas_notify_hold.xml SIPp answered its last NOTIFY (perf_counter): its exit,
    less the hold. Works alike whatever server sent the NOTIFYs."""
    deadline = time.perf_counter() + timeout
    while peer.poll() is None and time.perf_counter() < deadline:
        time.sleep(0.001)
    if peer.returncode is None:
        raise RuntimeError("SIPp did not answer every NOTIFY")
    return time.perf_counter() - HOLD_S


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


UDP = "[udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:{sip_port}\n"
PHONE = """[udp]
type=transport
protocol=udp
bind=127.0.0.1:{sip_port}
[phone]
type=aor
contact=sip:phone@127.0.0.1:{uas}
[phone]
type=endpoint
aors=phone
"""


class Responder(asyncio.DatagramProtocol):
    """Every phone of B5: answers each NOTIFY 200 OK with its Via, From, To, Call-ID, CSeq."""

    HEAD = re.compile(rb"^(Via|From|To|Call-ID|CSeq):[^\r]*\r\n", re.M)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        lines = b"".join(m.group(0) for m in self.HEAD.finditer(data))
        self.transport.sendto(b"SIP/2.0 200 OK\r\n" + lines + b"Content-Length: 0\r\n\r\n", addr)

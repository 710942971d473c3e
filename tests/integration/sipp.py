"""Drive real SIPp processes (and socat as a TLS front for them) from tests.

SIPp runs in the foreground with `-m N`, a global timeout and `-trace_msg`; the messages it
received are read back from its message file, byte for byte as they arrived.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.ports import free_port

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
_RECEIVED = re.compile(rb"(?:UDP|TCP|TLS) message received \[(\d+)\] bytes :\n\n")


def port_taken(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def wait_bound(port: int, kind: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        if port_taken(port, kind):
            return
        time.sleep(0.02)
    raise AssertionError(f"peer did not bind port {port}")


@dataclass
class Sipp:
    """A SIPp UAS on 127.0.0.1:port; `finish()` waits for it and returns its exit code."""

    scenario: str
    workdir: Path
    calls: int = 1
    transport: str = "u1"
    timeout: int = 15
    extra: tuple[str, ...] = ()
    remote: int | None = None  # a UAC's target port on 127.0.0.1
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def messages_file(self) -> Path:
        return self.workdir / f"sipp-{self.port}-msgs.log"

    def start(self) -> Sipp:
        target = [f"127.0.0.1:{self.remote}", "-mp", str(free_port())] if self.remote else []
        command = [
            "sipp", *target, "-sf", str(SCENARIOS / self.scenario), "-i", "127.0.0.1",
            "-p", str(self.port), "-t", self.transport, "-m", str(self.calls), "-nostdin",
            "-trace_msg", "-message_file", str(self.messages_file),
            "-timeout", f"{self.timeout}s", "-timeout_error", *self.extra,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if self.remote is None:
            kind = socket.SOCK_DGRAM if self.transport == "u1" else socket.SOCK_STREAM
            wait_bound(self.port, kind, self.process)
        return self

    def finish(self, timeout: float = 30) -> int:
        assert self.process is not None
        try:
            output, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        self.output = output.decode(errors="replace")
        return self.process.returncode

    def received(self) -> list[bytes]:
        """Every message SIPp received, in order, byte for byte (cut by its logged size)."""
        if not self.messages_file.exists():
            return []
        log = self.messages_file.read_bytes()
        return [log[m.end() : m.end() + int(m.group(1))] for m in _RECEIVED.finditer(log)]

    def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            self.process.communicate(timeout=10)  # also closes the stdout pipe


@dataclass
class TlsFront:
    """socat terminating TLS (OpenSSL) on `port` and relaying to a TCP peer."""

    target_port: int
    cert: Path
    key: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> TlsFront:
        listen = f"OPENSSL-LISTEN:{self.port},bind=127.0.0.1,reuseaddr,fork,cert={self.cert},"
        listen += f"key={self.key},verify=0"
        self.process = subprocess.Popen(
            ["socat", listen, f"TCP:127.0.0.1:{self.target_port}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_bound(self.port, socket.SOCK_STREAM, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def header(message: bytes, name: str) -> list[str]:
    """Every value of a header in a raw message, by its exact full name."""
    head = message.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
    prefix = name.lower() + ":"
    return [
        line.split(":", 1)[1].strip()
        for line in head.split("\r\n")[1:]
        if line.lower().startswith(prefix)
    ]


def body(message: bytes) -> bytes:
    return message.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in message else b""

"""Real sipnotify processes on loopback, on ports picked at run time, and a raw AMI client."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pytest

from tests.integration.ports import free_port
from tests.integration.sipp import Sipp

START_TIMEOUT = 15.0


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class Service:
    """A running `sipnotify serve`; its stderr goes to `log_path`."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    data_dir: Path
    stopped: bool = field(default=False)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def sip_port(self, protocol: str = "udp") -> int:
        """The port of the first SIP transport of `protocol`, read from the start-up log."""
        found = re.search(rf"SIP \S+: {protocol} 127\.0\.0\.1:(\d+)", self.log())
        assert found is not None, self.log()
        return int(found.group(1))

    def http_port(self, scheme: str = "HTTP") -> int:
        """The port the HTTP (or HTTPS) server listens on, from the start-up log."""
        pattern = rf"{scheme}: listening on 127\.0\.0\.1:(\d+)"
        wait_for(lambda: re.search(pattern, self.log()), START_TIMEOUT, f"the {scheme} server")
        found = re.search(pattern, self.log())
        assert found is not None
        return int(found.group(1))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if not self.stopped:
            self.process.send_signal(sig)
            self.stopped = True
        return self.process.wait(timeout=timeout)


class StartService(Protocol):
    def __call__(
        self,
        manager_conf: str | None = ...,
        *,
        extra_args: tuple[str, ...] = ...,
        files: dict[str, str] | None = ...,
        open_files: int | None = ...,
    ) -> Service: ...


ADMIN_CONF = """[general]
enabled = yes
port = {port}
bindaddr = 127.0.0.1
{general}
[admin]
secret = s3cret
read = system,call,log,verbose,agent,user,config,dtmf,reporting,cdr,dialplan
write = system,call,agent,user,config,command,reporting,originate,message
"""


def admin_conf(general: str = "") -> str:
    return ADMIN_CONF.replace("{general}", general)


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[StartService]:
    """Start sipnotify on a fresh config dir; `{port}` in manager_conf is a free port.

    With manager_conf None the embedded defaults run, on a free port via --ami-port.
    """
    started: list[Service] = []

    def start(
        manager_conf: str | None = admin_conf(),
        *,
        extra_args: tuple[str, ...] = (),
        files: dict[str, str] | None = None,
        open_files: int | None = None,
    ) -> Service:
        """`open_files` sets the process's limit on open files (soft and hard)."""
        port = free_port()
        index = len(started)
        data_dir = tmp_path / f"data{index}"
        args = ["--data-dir", str(data_dir), "--log-level", "DEBUG", *extra_args]
        if manager_conf is None:
            args += ["--ami-port", str(port), "--sip-port", "0", "--http-port", "0"]
        else:
            config_dir = tmp_path / f"config{index}"
            config_dir.mkdir()
            (config_dir / "manager.conf").write_text(manager_conf.replace("{port}", str(port)))
            for name, text in (files or {}).items():
                (config_dir / name).write_text(text)
            args += ["--config-dir", str(config_dir)]
        log_path = tmp_path / f"service{index}.log"
        limit = [] if open_files is None else ["prlimit", f"--nofile={open_files}", "--"]
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [*limit, sys.executable, "-m", "sipnotify", "serve", *args],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        service = Service(process=process, port=port, log_path=log_path, data_dir=data_dir)
        started.append(service)
        wait_for(
            lambda: "AMI listening on" in service.log() or process.poll() is not None,
            START_TIMEOUT,
            "the AMI listener",
        )
        assert process.poll() is None, service.log()
        return service

    yield start
    for service in started:  # stopped as an operator would, so `make coverage` sees them end
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
            try:
                service.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait(timeout=10)


class RawAmi:
    """A plain-socket AMI client that reads exact bytes."""

    def __init__(self, port: int, *, source: str = "127.0.0.1", timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout, source_address=(source, 0)
        )
        self.buffer = b""

    def __enter__(self) -> RawAmi:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            if not self._fill():
                raise AssertionError(f"closed before {marker!r}; got {self.buffer!r}")
        head, _, self.buffer = self.buffer.partition(marker)
        return head + marker

    def banner(self) -> bytes:
        return self.read_until(b"\r\n")

    def message(self) -> bytes:
        return self.read_until(b"\r\n\r\n")

    def closed(self) -> bool:
        """True once the server has closed (reads what is left first)."""
        try:
            while self._fill():
                pass
        except ConnectionResetError:
            return True
        return True

    def notify(self, headers: str, *, timeout: float = 30.0) -> tuple[bytes, list[bytes]]:
        """Send a PJSIPNotify; return its reply and, on success, every event up to and
        including PJSIPNotifyComplete."""
        self.send(f"Action: PJSIPNotify\r\n{headers}\r\n".encode())
        answer = self.message()
        events: list[bytes] = []
        if not answer.startswith(b"Response: Success"):
            return answer, events
        self.sock.settimeout(timeout)
        while not events or not events[-1].startswith(b"Event: PJSIPNotifyComplete"):
            message = self.message()
            if message.startswith(b"Event: PJSIPNotify"):
                events.append(message)
        return answer, events

    def login(
        self,
        user: str = "admin",
        secret: str = "s3cret",
        *,
        events: str = "off",
        booted: bool | None = None,
    ) -> None:
        """Log in; PJSIPNotify's result events need `events="system"` (or "on"). The
        FullyBooted event a session taking system events hears is read unless `booted` is
        False (a user without the `system` read class hears none)."""
        self.banner()
        login = f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\nEvents: {events}\r\n"
        self.send(login.encode() + b"\r\n")
        assert self.message() == b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
        if booted if booted is not None else events != "off":
            assert self.message().startswith(b"Event: FullyBooted\r\n")


Uas = Callable[..., Sipp]


@pytest.fixture
def uas(tmp_path: Path) -> Iterator[Uas]:
    """Start SIPp UAS processes (see sipp.py); every one is stopped at teardown."""
    started: list[Sipp] = []

    def start_uas(scenario: str, **kw: object) -> Sipp:
        sipp = Sipp(scenario, tmp_path, **kw)  # type: ignore[arg-type]
        started.append(sipp)
        return sipp.start()

    yield start_uas
    for sipp in started:
        sipp.stop()

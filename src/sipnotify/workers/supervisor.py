"""The supervisor of `workers = N`: binds every listening socket once per worker, starts the
workers, restarts one that dies, passes reloads on, and stops them all.

Workers are forked from the supervisor, which has imported everything a worker runs (the
caller's `preload`): the workers share those pages with it until they write to them, and a
worker restarts without importing anything. A forked worker reads the configuration files
again (`run`), so one started again after a reload runs what the files say now.

It runs no event loop and serves nothing itself: it waits for signals. SIGINT/SIGTERM stop
every worker (SIGKILL after STOP_GRACE); SIGHUP reloads every worker; a worker's SIGUSR1
(an AMI Reload it ran) reloads the others; SIGCHLD is a worker that ended. A worker that
ends while the supervisor runs is started again with the same index, name and sockets,
after a delay that doubles while it keeps dying young. A worker whose first start fails
(exit code CANNOT_START: a configuration, port or database it cannot use) stops them all:
the others would fail the same way. Failing to start again later (the database is down) is
retried like any other end.
"""

from __future__ import annotations

import gc
import logging
import os
import secrets
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sipnotify.config.load import Config
from sipnotify.config.realtime import ObjectType, OwnTable
from sipnotify.workers.sockets import (
    SOCKETS_ENV,
    Kind,
    Listen,
    bind_group,
    descriptors,
    environment,
)  # fmt: skip
from sipnotify.workers.worker import WORKER_ENV, Worker

log = logging.getLogger("sipnotify.workers")

SUPERVISED = frozenset(
    {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGUSR1}
)
STOP_GRACE = 15.0  # seconds workers have to stop before SIGKILL
CANNOT_START = 78  # a worker's exit code when it could not start (sysexits' EX_CONFIG)
LIVED = 30.0  # a worker that ran this long restarts after the shortest delay again
FIRST_DELAY, LONGEST_DELAY = 0.5, 30.0
WAKE = 1.0  # seconds between checks for restarts due
REAP_STEP = 0.05  # seconds between looks at a worker that is stopping


def refusal(config: Config) -> str:
    """Why this configuration cannot run several workers ("" when it can)."""
    realtime = config.realtime
    missing = [name for name, kept in (
        ("ps_contacts", realtime.table(ObjectType.CONTACT) is not None),
        ("sipnotify_mailboxes", OwnTable.MAILBOXES in realtime.own),
        ("sipnotify_jobs", OwnTable.JOBS in realtime.own),
    ) if not kept]  # fmt: skip
    if missing:
        return (
            f"workers = {config.settings.workers} needs {', '.join(missing)} in PostgreSQL "
            "(sorcery.conf, extconfig.conf; see docs/workers.md), where the workers share "
            "them: with the embedded store, run one worker"
        )
    if not config.options.systemname:
        return "workers needs asterisk.conf [options] systemname (each worker is <systemname>-<n>)"
    return ""


def listens(config: Config, ami_port: int | None) -> list[Listen]:
    """Every address the workers listen on: pjsip.conf's transports, AMI, HTTP(S)."""
    found = [
        Listen(Kind.UDP if t.protocol == "udp" else Kind.STREAM, t.host, t.port)
        for t in config.pjsip.transports.values()
    ]
    general = config.manager.general
    if general.enabled:
        found.append(Listen(Kind.AMI, general.bindaddr, general.port if ami_port is None
                            else ami_port))  # fmt: skip
    http = config.http
    if http.serving and http.bindaddr is not None:
        found.append(Listen(Kind.HTTP, http.bindaddr, http.bindport))
    if http.serving_tls and http.tlsbindaddr is not None:
        found.append(Listen(Kind.HTTP, http.tlsbindaddr, http.tlsbindport))
    return found


class _Process:
    """A forked worker, as the supervisor watches it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """Its exit code once it has ended (None while it runs)."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float) -> bool:
        """Whether it ended within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(REAP_STEP)
        return True

    def send_signal(self, signo: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, signo)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
        os.waitpid(self.pid, 0)
        self.returncode = -signal.SIGKILL


@dataclass(slots=True)
class _Slot:
    """One worker's place: its process (None while waiting to restart) and its history."""

    worker: Worker
    process: _Process | None = None
    started: float = 0.0
    delay: float = FIRST_DELAY
    due: float | None = None  # when to start it again
    restarts: int = 0


class Supervisor:
    def __init__(self, config: Config, groups: Mapping[Listen, list[socket.socket]],
                 run: Callable[[], int]) -> None:  # fmt: skip
        """`run` is a worker's life, in the forked process: its exit code."""
        self._count = config.settings.workers
        self._groups = groups
        self._run = run
        base = secrets.token_hex(4)  # marks the identifiers of this supervisor's workers
        self._slots = [_Slot(Worker(i, self._count, base, config.options.systemname))
                       for i in range(self._count)]  # fmt: skip

    def run(self) -> int:
        """Until SIGINT or SIGTERM (0), or a worker that cannot start (1)."""
        signal.pthread_sigmask(signal.SIG_BLOCK, SUPERVISED)
        for slot in self._slots:
            self._start(slot)
        code = None
        while code is None:
            info = signal.sigtimedwait(SUPERVISED, WAKE)
            code = self._on(info.si_signo, info.si_pid) if info is not None else None
            if code is None:
                code = self._reap()
                self._restart_due()
        self._stop_all()
        return code

    def _on(self, signo: int, sender: int) -> int | None:
        if signo in (signal.SIGINT, signal.SIGTERM):
            log.info("stopping %d workers", self._count)
            return 0
        if signo == signal.SIGHUP:
            self._signal_all(signal.SIGHUP, but=None)
        elif signo == signal.SIGUSR1:
            self._signal_all(signal.SIGHUP, but=sender)
        return None

    def _signal_all(self, signo: int, *, but: int | None) -> None:
        for slot in self._slots:
            if slot.process is not None and slot.process.pid != but:
                slot.process.send_signal(signo)

    def _reap(self) -> int | None:
        now = time.monotonic()
        for slot in self._slots:
            if slot.process is None or (code := slot.process.poll()) is None:
                continue
            slot.process = None
            name = slot.worker.name
            if code == CANNOT_START and slot.restarts == 0:
                log.error("worker %s could not start (exit %d): stopping", name, code)
                return 1
            lived = now - slot.started
            slot.delay = FIRST_DELAY if lived >= LIVED else min(slot.delay * 2, LONGEST_DELAY)
            slot.due = now + slot.delay
            log.warning("worker %s ended (exit %d) after %.1f s: starting it again in %.1f s",
                        name, code, lived, slot.delay)  # fmt: skip
        return None

    def _restart_due(self) -> None:
        now = time.monotonic()
        for slot in self._slots:
            if slot.due is not None and slot.due <= now:
                slot.due = None
                slot.restarts += 1
                self._start(slot)

    def _start(self, slot: _Slot) -> None:
        worker = slot.worker
        gc.freeze()  # what is imported stays shared: the collector never writes to it
        pid = os.fork()
        if pid == 0:
            os._exit(self._worker(worker))
        slot.process = _Process(pid)
        slot.started = time.monotonic()
        log.info("worker %s started (pid %d)", worker.name, pid)

    def _worker(self, worker: Worker) -> int:
        """In the forked process: keep this worker's sockets (their numbers in the
        environment, as a worker finds them), close the others', run; the exit code."""
        try:
            os.environ[WORKER_ENV] = worker.environment()
            os.environ[SOCKETS_ENV] = environment(self._groups, worker.index)
            ours = set(descriptors(self._groups.values(), worker.index))
            for group in self._groups.values():
                for sock in group:
                    if sock.fileno() in ours:
                        sock.detach()  # the worker's own objects take the descriptor
                    else:
                        sock.close()
            return self._run()
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # a worker's end is its exit code
            traceback.print_exc()
            return 1
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()

    def _stop_all(self) -> None:
        self._signal_all(signal.SIGTERM, but=None)
        deadline = time.monotonic() + STOP_GRACE
        for slot in self._slots:
            if slot.process is None:
                continue
            if not slot.process.wait(max(0.0, deadline - time.monotonic())):
                log.warning("worker %s did not stop: killed", slot.worker.name)
                slot.process.kill()


def supervise(config: Config, ami_port: int | None, *, preload: Callable[[], None],
              run: Callable[[], int]) -> int:  # fmt: skip
    """`sipnotify serve` with workers > 1: returns the exit code. `preload` imports what the
    workers will run; `run` is a worker's life in its forked process."""
    reason = refusal(config)
    if reason:
        log.error("%s", reason)
        return 1
    preload()
    groups: dict[Listen, list[socket.socket]] = {}
    try:
        for listen in listens(config, ami_port):
            try:
                groups[listen] = bind_group(listen, config.settings.workers)
            except OSError as exc:
                log.error("cannot listen on %s %s:%d: %s", listen.kind.value, listen.host,
                          listen.port, exc.strerror or exc)  # fmt: skip
                return 1
        return Supervisor(config, groups, run).run()
    finally:
        for group in groups.values():
            for sock in group:
                sock.close()

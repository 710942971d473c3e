"""Composition root: load the configuration, build the AMI server, run until a signal.

The one place that picks concrete parts and owns the process lifecycle: SIGINT/SIGTERM stop
accepting, let queued work finish within a bound, and close every session.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from sipnotify import __version__, permissions
from sipnotify.ami import channel_events, contact_events
from sipnotify.ami.actions import (
    channels,
    command,
    core,
    modules,
    originate,
    pjsip,
    pjsip_show,
)
from sipnotify.ami.security_events import security_event
from sipnotify.ami.server import AmiServer
from sipnotify.ami.session import Action, AmiContext
from sipnotify.calls.channels import Channel
from sipnotify.calls.manager import CallManager
from sipnotify.config.load import DEFAULTS_DIR, Config, Part, load_config
from sipnotify.config.parser import Concern
from sipnotify.datadir import DEFAULT_USER, ensure_secret, secret_path
from sipnotify.endpoint import SipEndpoint
from sipnotify.notify import Notifier
from sipnotify.reachability import Reachability
from sipnotify.registrar import Registrar, SecurityEvent
from sipnotify.registry import Change, Registry
from sipnotify.reload import Reloader
from sipnotify.sip.registrar import Binding
from sipnotify.storage.base import StorageError
from sipnotify.storage.sqlite import SqliteContactStore
from sipnotify.transport.stream import Limits

try:
    import uvloop
except ImportError:  # not on Linux: the standard event loop serves
    uvloop = None  # type: ignore[assignment]

log = logging.getLogger("sipnotify")

SHUTDOWN_GRACE = 5.0
PRUNE_INTERVAL = 30.0
CONTACTS_FILE = "contacts.sqlite3"


@dataclass(frozen=True, slots=True)
class ServeOptions:
    config_dir: Path | None
    data_dir: Path
    ami_port: int | None = None
    sip_port: int | None = None


def action_table() -> dict[str, Action]:
    return {
        action.name.lower(): action
        for action in (
            *core.ACTIONS,
            *pjsip.ACTIONS,
            *pjsip_show.ACTIONS,
            *command.ACTIONS,
            *channels.ACTIONS,
            *originate.ACTIONS,
            *modules.ACTIONS,
        )
    }


def load(options: ServeOptions, *, generate_secret: bool) -> Config:
    """The configuration to run: the given folder, or the embedded defaults plus the
    generated secret from the data directory. Raises ConfigError."""
    if options.config_dir is not None:
        return load_config(options.config_dir)
    if generate_secret:
        ensure_secret(options.data_dir)
    config = load_config(DEFAULTS_DIR, manager_extra=_manager_extra(options))
    if options.sip_port is None:
        return config
    transports = {
        name: replace(transport, port=options.sip_port)
        for name, transport in config.pjsip.transports.items()
    }
    return replace(config, pjsip=replace(config.pjsip, transports=transports))


async def run(config: Config, options: ServeOptions) -> int:
    """Serve until SIGINT or SIGTERM; returns the process exit code."""
    publish = _Publisher()
    try:
        registry = Registry(
            SqliteContactStore(options.data_dir / CONTACTS_FILE),
            time.time(),
            publish.registration,
        )
    except (OSError, StorageError) as exc:
        log.error("cannot open the contact store in %s: %s", options.data_dir, _reason(exc))
        return 1
    registrar = Registrar(config.pjsip, registry, publish.security)
    sip = SipEndpoint(config.pjsip, registrar, limits=stream_limits(_descriptors()))
    try:
        for line in await sip.start():
            log.info("%s", line)
    except OSError as exc:
        log.error("cannot start SIP transports: %s", exc.strerror or exc)
        await sip.close()
        registry.close()
        return 1
    notifier = Notifier(
        config=config.pjsip,
        presets=config.notify,
        sender=sip,
        registered=lambda aor: registry.bindings(aor, time.time()),
    )
    publish.notifier = notifier
    checker = Reachability(
        notifier, lambda *change: publish.contact(contact_events.reachability(*change))
    )
    calls = CallManager(
        config=config.pjsip,
        dialplan=config.dialplan,
        registrar=registrar,
        notifier=notifier,
        timers=sip.timers,
        listener=publish.channel,
        max_channels=config.options.maxcalls,
    )
    sip.uas.calls = calls
    calls.attach(sip.invite)
    now = time.time()
    ctx = AmiContext(
        manager=config.manager,
        actions=action_table(),
        started_at=now,
        reloaded_at=now,
        notifier=notifier,
        reachability=checker,
        calls=calls,
    )
    ami = AmiServer(ctx)
    publish.server = ami
    chores = _Chores(registry, checker)
    running = _Running(notifier, calls, registrar, sip, ctx, chores)
    ctx.reloader = Reloader(config, running.apply, manager_extra=_manager_extra(options))
    if not await _listen(ami, config, options):
        await sip.close()
        registry.close()
        return 1
    if options.config_dir is None:
        _announce_default_login(config, options.data_dir)
    chores.start()
    await _wait_for_signal(lambda: _sighup(ctx.reloader))
    log.info("shutting down")
    chores.stop()
    calls.hang_up_all()
    await ami.shutdown(SHUTDOWN_GRACE)
    await sip.close()
    registry.close()
    return 0


async def _listen(ami: AmiServer, config: Config, options: ServeOptions) -> bool:
    """Start the AMI listener manager.conf asks for; False when it cannot bind."""
    general = config.manager.general
    if not general.enabled:
        log.warning("AMI is disabled: manager.conf [general] has no 'enabled = yes'")
        return True
    port = options.ami_port if options.ami_port is not None else general.port
    try:
        bound = await ami.start(general.bindaddr, port)
    except OSError as exc:
        log.error("cannot listen for AMI on %s:%d: %s", general.bindaddr, port, _reason(exc))
        return False
    for host, bound_port in bound:
        log.info("AMI listening on %s:%d", host, bound_port)
    return True


@dataclass(frozen=True, slots=True)
class _Running:
    """The running parts a reload hands its new configuration to; registrations, calls and
    sessions stay."""

    notifier: Notifier
    calls: CallManager
    registrar: Registrar
    sip: SipEndpoint
    ctx: AmiContext
    chores: _Chores

    def apply(self, new: Config, parts: frozenset[Part]) -> None:
        if Part.PJSIP in parts:
            pjsip = self.sip.running(new.pjsip)
            self.notifier.config = self.calls.config = pjsip
            self.registrar.reconfigure(pjsip)
            self.sip.reconfigure(pjsip)
            self.chores.requalify()
        if Part.NOTIFY in parts:
            self.notifier.presets = new.notify
        if Part.DIALPLAN in parts:
            self.calls.dialplan = new.dialplan
        if Part.MANAGER in parts:
            general = self.ctx.manager.general
            if new.manager.general != general:
                log.warning("manager.conf [general] changes take effect at the next start")
            self.ctx.manager = replace(new.manager, general=general)


class _Chores:
    """The periodic work: pruning expired registrations, and qualifying contacts (started
    again after a reload, so new AORs are scheduled)."""

    def __init__(self, registry: Registry, checker: Reachability) -> None:
        self._registry = registry
        self._checker = checker
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(_prune(self._registry)),
                       loop.create_task(self._checker.run())]  # fmt: skip

    def requalify(self) -> None:
        if len(self._tasks) == 2:
            self._tasks[1].cancel()
            self._tasks[1] = asyncio.get_running_loop().create_task(self._checker.run())

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()


def _sighup(reloader: Reloader | None) -> None:
    """SIGHUP reloads everything, as `core reload` does."""
    log.info("SIGHUP: reloading the configuration")
    if reloader is not None:
        reloader.reload(None)


def _manager_extra(options: ServeOptions) -> list[Path]:
    """The generated secret is read after manager.conf on the embedded defaults."""
    return [secret_path(options.data_dir)] if options.config_dir is None else []


class _Publisher:
    """Registration, qualify and channel events go to the AMI server once it exists."""

    server: AmiServer | None = None
    notifier: Notifier | None = None  # how many contacts an endpoint has

    def contact(self, fields: tuple[tuple[str, str], ...]) -> None:
        if self.server is not None:
            self.server.publish("ContactStatus", permissions.SYSTEM, fields)

    def registration(self, binding: Binding, change: Change) -> None:
        notifier = self.notifier
        if self.server is None or notifier is None:
            return
        config = notifier.config
        endpoint = config.endpoints.get(binding.endpoint)
        aors = [config.aors[n] for n in (endpoint.aors if endpoint else ()) if n in config.aors]
        remaining = sum(len(a.contacts) + len(notifier.registered(a.name)) for a in aors)
        aor = config.aors.get(binding.aor)
        qualified = aor is not None and aor.qualify_frequency > 0
        for event in contact_events.registration(binding, change, remaining=remaining,
                                                 qualified=qualified):  # fmt: skip
            self.server.publish(event.name, event.category, event.fields)

    def security(self, event: SecurityEvent) -> None:
        if self.server is not None:
            sent = security_event(event, time.time())
            self.server.publish(sent.name, sent.category, sent.fields)

    def channel(self, name: str, channel: Channel) -> None:
        if self.server is not None:
            self.server.publish(name, permissions.CALL, channel_events.event_fields(name, channel))


async def _prune(registry: Registry) -> None:
    """Drop expired registrations every PRUNE_INTERVAL seconds (Asterisk: 30). A store that
    fails (locked, disk full) is reported and tried again at the next round."""
    while True:
        await asyncio.sleep(PRUNE_INTERVAL)
        try:
            removed = registry.prune(time.time())
        except StorageError as exc:
            log.error("cannot prune expired registrations (will retry): %s", exc)
            continue
        if removed:
            log.info("removed %d expired registrations", removed)


def _descriptors() -> int:
    """Raise the soft limit on open files to the hard one (at most 65,536): every TCP/TLS
    connection and AMI session holds one. Returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard if hard != resource.RLIM_INFINITY else 65536, 65536)
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            log.debug("cannot raise the open-file limit from %d", soft)
    return soft


def stream_limits(descriptors: int) -> Limits:
    """SIP TCP/TLS connections may use half of the descriptors left after a reserve for AMI
    sessions, files and UDP sockets; one address at most a quarter of those."""
    total = max(16, (descriptors - 256) // 2)
    return Limits(total=total, per_address=max(4, total // 4))


def _reason(exc: Exception) -> str:
    """The kernel's words for an OSError (asyncio wraps them in longer ones), else the text."""
    return os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else str(exc)


def _announce_default_login(config: Config, data_dir: Path) -> None:
    user = config.manager.user(DEFAULT_USER)
    if user is not None and user.secret is not None:
        log.info(
            "AMI login: username '%s', secret '%s' (kept in %s)",
            DEFAULT_USER,
            user.secret,
            secret_path(data_dir),
        )


async def _wait_for_signal(on_hangup: Callable[[], None]) -> None:
    """Until SIGINT or SIGTERM; SIGHUP calls `on_hangup` meanwhile."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, on_hangup)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)


def serve(config: Config, options: ServeOptions) -> int:
    log.info("sipnotify %s starting with configuration from %s", __version__, config.directory)
    no_effect = [w for w in config.warnings if w.concern is Concern.NO_EFFECT]
    for warning in config.warnings:
        if warning.concern is Concern.WARNING:
            log.warning("%s", warning)
        else:
            log.debug("%s", warning)
    if no_effect:
        log.info("%d options have no effect in sipnotify (`sipnotify check-config` lists them)",
                 len(no_effect))  # fmt: skip
    if uvloop is None:
        return asyncio.run(run(config, options))
    return uvloop.run(run(config, options))

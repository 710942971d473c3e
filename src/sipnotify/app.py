"""Composition root: load the configuration, build the AMI server, run until a signal.

The one place that picks concrete parts and owns the process lifecycle: SIGINT/SIGTERM stop
accepting, let queued work finish within a bound, and close every session.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import random
import resource
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from sipnotify import __version__
from sipnotify.ami import channel_events, contact_events
from sipnotify.ami.actions import (
    channels,
    command,
    core,
    fleet,
    modules,
    originate,
    pjsip,
    pjsip_show,
)
from sipnotify.ami.actions import mwi as mwi_actions
from sipnotify.ami.audience import Audience, Broadcast
from sipnotify.ami.security_events import security_event
from sipnotify.ami.server import AmiServer
from sipnotify.ami.session import Action, AmiContext, ManagerSettings
from sipnotify.calls.manager import CallManager
from sipnotify.clock import Clock
from sipnotify.config import permissions
from sipnotify.config.datadir import DEFAULT_USER, ensure_secret, secret_path
from sipnotify.config.http import HTTP_OFF, HttpConfig
from sipnotify.config.load import DEFAULTS_DIR, Config, Part, load_config
from sipnotify.config.parser import Concern, ConfigError
from sipnotify.config.pjsip import PjsipConfig
from sipnotify.config.realtime import Connection, ObjectType
from sipnotify.config.reload import Reloader
from sipnotify.fleet.catalogue import Catalogue, load_catalogue
from sipnotify.fleet.plan import Mwi
from sipnotify.fleet.service import FleetService
from sipnotify.fleet.service import Listener as FleetListener
from sipnotify.mwi.mailboxes import Mailboxes
from sipnotify.mwi.service import MwiService
from sipnotify.mwi.subscriptions import Subscriptions
from sipnotify.notify.notifier import Notifier
from sipnotify.registrar.commits import Offload, inline
from sipnotify.registrar.helper import HelperThread
from sipnotify.registrar.reachability import Reachability
from sipnotify.registrar.registry import Change, Registry
from sipnotify.registrar.service import ContactChange, Registrar
from sipnotify.sip.ids import Ids
from sipnotify.sip.transactions.machines import Timers
from sipnotify.storage.base import ContactStore, StorageError
from sipnotify.storage.jobs import JobRecord, JobStore, PhoneRecord, PhoneState
from sipnotify.storage.mailboxes import MailboxStore
from sipnotify.storage.sqlite import SqliteContactStore
from sipnotify.storage.sqlite_jobs import SqliteJobStore
from sipnotify.storage.sqlite_mailboxes import SqliteMailboxStore
from sipnotify.storage.sqlite_subscriptions import SqliteSubscriptionStore
from sipnotify.storage.subscriptions import SubscriptionStore
from sipnotify.transport.stream import Limits
from sipnotify.ua.addresses import Hop, Local
from sipnotify.ua.endpoint import SipEndpoint
from sipnotify.ua.routing import Router
from sipnotify.ua.server import Uas
from sipnotify.ua.transports import Transports
from sipnotify.web.hub import Hub
from sipnotify.web.metrics import Metrics, Sources
from sipnotify.workers.handoff import Handoff
from sipnotify.workers.sockets import Inherited, Kind
from sipnotify.workers.supervisor import CANNOT_START, SUPERVISED, supervise
from sipnotify.workers.wiring import UdpHere, reloading_siblings
from sipnotify.workers.worker import Worker

try:
    import uvloop
except ImportError:  # not on Linux: the standard event loop serves
    uvloop = None  # type: ignore[assignment]

S = TypeVar("S")  # a store
EMBEDDED_FILE = "contacts.sqlite3"  # the embedded store: contacts, jobs and mailboxes

if TYPE_CHECKING:
    from sipnotify.cluster.events import EventRelay
    from sipnotify.cluster.node import Node
    from sipnotify.web.api import Api
    from sipnotify.web.server import WebServer

log = logging.getLogger("sipnotify")

SHUTDOWN_GRACE = 5.0
PRUNE_INTERVAL = 30.0


@dataclass(frozen=True, slots=True)
class ServeOptions:
    config_dir: Path | None
    data_dir: Path
    ami_port: int | None = None
    sip_port: int | None = None
    http_port: int | None = None  # embedded defaults only, as sip_port


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
            *fleet.ACTIONS,
            *mwi_actions.ACTIONS,
        )
    }


def load(options: ServeOptions, *, generate_secret: bool) -> Config:
    """The configuration to run: the given folder, or the embedded defaults plus the
    generated secret from the data directory. Raises ConfigError."""
    if options.config_dir is not None:
        return load_config(options.config_dir, rows=_read_rows)
    if generate_secret:
        ensure_secret(options.data_dir)
    config = load_config(DEFAULTS_DIR, manager_extra=_manager_extra(options))
    if options.http_port is not None:
        config = replace(config, http=replace(config.http, bindport=options.http_port))
    if options.sip_port is None:
        return config
    transports = {
        name: replace(transport, port=options.sip_port)
        for name, transport in config.pjsip.transports.items()
    }
    return replace(config, pjsip=replace(config.pjsip, transports=transports))


def _read_rows(connection: Connection, table: str) -> list[dict[str, str]]:
    """A realtime table's rows (psycopg is imported only when tables are configured)."""
    from sipnotify.cluster.objects import read_rows  # noqa: PLC0415

    return read_rows(connection, table)


class StartupError(Exception):
    """A part could not start; the message says which and why."""


class Server:
    """One sipnotify process. `run` builds every part in order, each with its collaborators
    (the store, the AMI audience, the registrar, the SIP endpoint, PJSIPNotify, qualify,
    calls, the server side of SIP, the AMI server), starts them, serves until SIGINT or
    SIGTERM (SIGHUP reloads), and stops them in the reverse order with one exit stack."""

    def __init__(
        self, config: Config, options: ServeOptions, *, clock: Clock | None = None,
        ids: Ids | None = None, worker: Worker | None = None,
        inherited: Inherited | None = None,
    ) -> None:  # fmt: skip
        self._config = config
        self._options = options
        self._clock = clock or Clock()
        self._ids = ids or Ids(prefix=worker.ids_prefix() if worker is not None else None)
        self._worker = worker
        self._inherited = inherited

    async def run(self) -> int:
        """Serve until SIGINT or SIGTERM; returns the process exit code."""
        async with contextlib.AsyncExitStack() as stack:
            try:
                reloader = await self._startup(stack)
            except StartupError as exc:
                log.error("%s", exc)
                return 1
            await _wait_for_signal(lambda: _sighup(reloader))
            log.info("shutting down")
        return 0

    async def _startup(self, stack: contextlib.AsyncExitStack) -> Reloader:
        config, options, clock, ids = self._config, self._options, self._clock, self._ids
        stores = _stores(config, options, stack, clock.wall())
        node, registry, jobs = stores.node, stores.registry, stores.jobs
        audience = Audience(config.manager.general, clock.wall)
        hub = Hub()  # the web's live job progress
        metrics = Metrics()
        timers = timers_of(config.pjsip)
        transports = self._transports(stack, timers)
        router = Router(config.pjsip, transports)
        sip = SipEndpoint(transports, router, timers, clock=clock.monotonic, ids=ids)
        stack.callback(sip.close)
        notifier = Notifier(
            config=config.pjsip,
            presets=config.notify,
            sender=sip,
            ids=ids,
            registered=lambda aor: registry.bindings(aor, clock.wall()),
            clock=clock.monotonic,
        )
        fleet_service = FleetService(
            store=jobs,
            notifier=notifier,
            catalogue=_catalogue(options),
            local_for=lambda hop: _local_for(router, hop),
            wall=clock.wall,
            ids=ids,
            rng=random.Random(),
            listener=_Both(fleet.FleetEvents(_everywhere(audience, node)), hub),
            settings=config.settings.fleet,
            observe=metrics.observe,
            lamp=lambda order, endpoints: _lamp(mwi, audience, order, endpoints),
            node=config.options.systemname,
            tell_owner=node.tell_job if node is not None else None,
        )
        stack.callback(fleet_service.stop)
        checker = Reachability(
            notifier,
            lambda *change: audience.publish(
                "ContactStatus", permissions.SYSTEM, contact_events.reachability(*change)
            ),
            clock=clock.monotonic,
        )
        registrar = Registrar(
            config.pjsip,
            registry,
            security=lambda event: audience.publish_all((security_event(event, clock.wall()),)),
            security_wanted=lambda: audience.listening(permissions.SECURITY),
            contacts=lambda change: _contact_changed(
                change,
                audience=audience,
                jobs=fleet_service,
                metrics=metrics,
                mwi=mwi,
                checker=checker,
            ),
            soon=asyncio.get_running_loop().call_soon,
            offload=_offload(node, stack),
            systemname=config.options.systemname,
            nonce_key=node.nonce_key if node is not None else None,
        )
        mwi = _mwi(config, stores, notifier, registrar, audience=audience, metrics=metrics,
                   clock=clock, ids=ids)  # fmt: skip
        if node is not None:
            node.follow(registrar, mwi, lambda c: audience.publish_all(mwi_actions.events([*c])),
                        clock.wall, resume=lambda: fleet_service.resume() + mwi.restore(),
                        contacts=lambda: registry.all(clock.wall()), notifier=notifier,
                        job_changed=fleet_service.heard, jobs_missed=fleet_service.recheck,
                        orphan=lambda b: checker.orphan(b.aor, b.endpoint, b.uri),
                        publish_event=audience.publish)  # fmt: skip
            notifier.forward = UdpHere.around(notifier.forward, self._worker)
        stack.callback(mwi.stop)
        calls = CallManager(
            config=config.pjsip,
            dialplan=config.dialplan,
            registrar=registrar,
            notifier=notifier,
            timers=timers,
            send_invite=sip.invite,
            listener=lambda name, channel: audience.publish(
                name, permissions.CALL, channel_events.event_fields(name, channel)
            ),
            max_channels=config.options.maxcalls,
            wall_clock=clock.wall,
        )
        uas = Uas(sip, registrar=registrar, calls=calls, user_agent=config.pjsip.global_.user_agent,
                  ids=ids, soon=asyncio.get_running_loop().call_soon,
                  wall_clock=clock.wall, subscribing=mwi)  # fmt: skip
        try:
            for line in await sip.start(uas):
                log.info("%s", line)
        except OSError as exc:
            raise StartupError(f"cannot start SIP transports: {exc.strerror or exc}") from None
        chores = _Chores(registrar, checker, clock.wall)
        settings = ManagerSettings(config.manager)
        running = _Running(notifier, calls, registrar, sip, uas, settings, chores)
        reloader = Reloader(config, running.apply, manager_extra=_manager_extra(options),
                            rows=_read_rows)  # fmt: skip
        now = clock.wall()
        ctx = AmiContext(
            settings=settings,
            actions=action_table(),
            audience=audience,
            notifier=notifier,
            reachability=checker,
            calls=calls,
            fleet=fleet_service,
            mwi=mwi,
            reload=reloading_siblings(reloader.reload) if self._worker else reloader.reload,
            started_at=now,
            reloaded_at=now,
            wall_clock=clock.wall,
            observe=metrics.observe,
        )
        ami = AmiServer(ctx)
        await _listen(ami, config, options, self._inherited)
        stack.push_async_callback(ami.shutdown, SHUTDOWN_GRACE)
        web = _Web(ctx, clock, hub, metrics, inherited=self._inherited)
        await web.start(config.http)
        metrics.watch(Sources(
            config=lambda: notifier.config, bindings=registry.grouped, state_of=checker.state,
            now=clock.wall, ami_sessions=lambda: len(audience),
            http_sessions=web.manager_sessions, api_sessions=web.api_sessions,
            transactions=lambda: (sip.layer.open_clients, sip.layer.open_servers,
                                  sip.layer.retransmissions),
            jobs=lambda: [(j.state, fleet_service.counts(j.id)) for j in fleet_service.mine()],
        ))  # fmt: skip
        stack.push_async_callback(web.stop)
        running.web = web
        stack.callback(calls.hang_up_all)
        if options.config_dir is None:
            _announce_default_login(config, options.data_dir)
        chores.start()
        stack.callback(chores.stop)
        self._ready(fleet_service, mwi)
        return reloader

    def _ready(self, fleet_service: FleetService, mwi: MwiService) -> None:
        """Every part runs: what was under way before the last stop goes on."""
        resumed = fleet_service.resume()
        if resumed:
            log.info("resumed %d fleet jobs", resumed)
        mwi.boot()  # endpoints with mailboxes hear their state, as at Asterisk's FullyBooted
        _restore(mwi)
        if self._inherited is not None:
            self._inherited.close_rest()
        # What start-up built (configuration, contacts, jobs) lives as long as the process or
        # a reload, without cycles: the cyclic collector's full passes need not walk it again.
        gc.freeze()

    def _transports(self, stack: contextlib.AsyncExitStack, timers: Timers) -> Transports:
        """pjsip.conf's transports; for a worker, on the supervisor's sockets, with its end of
        the hand-off between siblings (see workers/handoff.py)."""
        config = self._config.pjsip.transports
        limits = stream_limits(_descriptors())
        if self._worker is None:
            return Transports(config, limits=limits, connect_timeout=timers.timeout)

        def inject(transport: str, data: bytes, source: tuple[str, int]) -> None:
            transports.inject(transport, data, source)  # made just below

        handoff = Handoff(self._worker, inject)
        transports = Transports(config, limits=limits, connect_timeout=timers.timeout,
                                inherited=self._inherited, divert=handoff.divert)  # fmt: skip
        try:
            handoff.start()
        except OSError as exc:
            raise StartupError(f"cannot open the hand-off socket: {_reason(exc)}") from None
        stack.callback(handoff.close)
        return transports


def _lamp(mwi: MwiService, audience: Audience, order: Mwi, endpoints: list[str]) -> None:
    """A fleet `mwi` job's counts go to its endpoints' mailboxes, told as an MWIUpdate is."""
    try:
        changes = mwi.lamp(order.new, order.old, endpoints)
    except StorageError as exc:
        log.error("cannot store the mailboxes of an mwi job: %s", exc)
        return
    audience.publish_all(mwi_actions.events(changes))


def _mwi(config: Config, stores: _Stores, notifier: Notifier, registrar: Registrar, *,
         audience: Audience, metrics: Metrics, clock: Clock, ids: Ids) -> MwiService:  # fmt: skip
    """Mailboxes, unsolicited MWI and subscriptions, with sipnotify.conf's caps."""
    caps = config.settings.mwi
    return MwiService(
        Mailboxes(stores.mailboxes), notifier, observe=metrics.observe, ids=ids,
        wall=clock.wall, store=stores.subscriptions,
        tell=lambda e, m, r: audience.publish_all((mwi_actions.result_event(e, m, r),)),
        admit=registrar.admit,
        subscriptions=Subscriptions(total=caps.max_subscriptions,
                                    per_endpoint=caps.max_subscriptions_per_endpoint),
    )  # fmt: skip


def _catalogue(options: ServeOptions) -> Catalogue:
    try:
        return load_catalogue(options.config_dir)
    except ConfigError as exc:
        raise StartupError(f"configuration error: {exc}") from None


def _local_for(router: Router, hop: Hop) -> Local:
    """Where a dry run's NOTIFY would leave from; a name not yet resolved is shown leaving
    from the first transport."""
    try:
        routed = router.route_now(hop)
    except OSError:
        routed = None
    if routed is not None:
        return routed[0]
    first = next(iter(router.config.transports.values()), None)
    if first is None:
        return Local("udp", "0.0.0.0", 5060)
    return Local(first.protocol, first.host, first.port)


def _contact_changed(change: ContactChange, *, audience: Audience, jobs: FleetService,
                     metrics: Metrics, mwi: MwiService, checker: Reachability) -> None:  # fmt: skip
    metrics.registration(change.change)
    audience.publish_all(contact_events.registration(change))
    if change.change is Change.CREATED and change.local:  # the registering node tells the lamp
        mwi.registered(change.binding)
    if change.change is not Change.REMOVED:
        binding = change.binding
        checker.registered(binding.aor, binding.uri)
        jobs.registered(binding.aor, binding.call_id, binding.user_agent)


def _everywhere(audience: Audience, node: Node | None) -> fleet.EventSink:
    """This node's sessions, and in a cluster every node's."""
    return audience if node is None else _Relayed(audience, node.events)


class _Relayed:
    """Events for this node's sessions and, through the database, the other nodes'."""

    def __init__(self, audience: Audience, relay: EventRelay) -> None:
        self._audience, self._relay = audience, relay

    def listening(self, _category: int) -> bool:
        return True  # another node's sessions may

    def publish_all(self, events: Iterable[Broadcast]) -> None:
        for event in events:
            self._audience.publish(event.name, event.category, event.fields, event.action_id)
            self._relay.send(event.name, event.category, event.fields, event.action_id)


class _Both:
    """A fleet job's progress, told to AMI sessions and to the web's event streams."""

    def __init__(self, first: FleetListener, second: FleetListener) -> None:
        self._listeners = (first, second)

    def phone(self, job: JobRecord, phone: PhoneRecord) -> None:
        for listener in self._listeners:
            listener.phone(job, phone)

    def finished(self, job: JobRecord, counts: Mapping[PhoneState, int]) -> None:
        for listener in self._listeners:
            listener.finished(job, counts)


def timers_of(pjsip: PjsipConfig) -> Timers:
    """The transaction timers of pjsip.conf's [system]: T1, and Timer B for every
    transaction timeout (behaviour: system timers)."""
    t1 = pjsip.system.timer_t1 / 1000
    return Timers(t1=t1, t2=max(4.0, t1), t4=5.0, timeout=pjsip.system.timer_b / 1000)


def _restore(mwi: MwiService) -> None:
    """The stored MWI subscriptions, made again (at start)."""
    try:
        made = mwi.restore()
    except StorageError as exc:
        log.error("MWI: cannot read the stored subscriptions: %s", exc)
        return
    if made:
        log.info("MWI: %d stored subscriptions made again", made)


@dataclass(frozen=True, slots=True)
class _Stores:
    node: Node | None  # this node's place in a cluster, if any
    registry: Registry
    jobs: JobStore
    mailboxes: MailboxStore
    subscriptions: SubscriptionStore


def _stores(config: Config, options: ServeOptions, stack: contextlib.AsyncExitStack,
            now: float) -> _Stores:  # fmt: skip
    """The node's place in a cluster (if any) and the stores, each closed by `stack`."""
    node = _join(config)
    if node is not None:
        stack.push_async_callback(node.stop)
    shared_contacts: ContactStore | None = node.contacts if node else None
    shared_jobs: JobStore | None = node.jobs if node else None
    shared_mailboxes: MailboxStore | None = node.mailboxes if node else None
    shared_subscriptions: SubscriptionStore | None = node.subscriptions if node else None
    data = options.data_dir
    contacts = _store(SqliteContactStore, shared_contacts, "contact", data)
    try:
        registry = Registry(contacts, now)
    except StorageError as exc:
        contacts.close()
        raise StartupError(f"cannot read the contacts: {exc}") from None
    stack.callback(registry.close)
    jobs = stack.enter_context(contextlib.closing(_store(SqliteJobStore, shared_jobs, "job", data)))
    mailboxes = stack.enter_context(
        contextlib.closing(_store(SqliteMailboxStore, shared_mailboxes, "mailbox", data))
    )
    subscriptions = stack.enter_context(contextlib.closing(
        _store(SqliteSubscriptionStore, shared_subscriptions, "subscription", data)))  # fmt: skip
    return _Stores(node, registry, jobs, mailboxes, subscriptions)


def _offload(node: Node | None, stack: contextlib.AsyncExitStack) -> Offload:
    """Where a group commit's store work runs: on a helper thread for PostgreSQL (a network
    round trip), on the loop for SQLite (a local file, used by the loop only)."""
    if node is None:
        return inline
    helper = HelperThread()
    stack.callback(helper.close)  # before the store closes
    return helper


def _store(open_store: Callable[[Path], S], shared: S | None, what: str, data_dir: Path) -> S:
    """The cluster's shared store, else the embedded one in the data directory."""
    if shared is not None:
        return shared
    try:
        return open_store(data_dir / EMBEDDED_FILE)
    except (OSError, StorageError) as exc:
        raise StartupError(f"cannot open the {what} store in {data_dir}: {_reason(exc)}") from None


def _join(config: Config) -> Node | None:
    """This node's place in a cluster, when PostgreSQL keeps contacts, subscriptions,
    mailboxes or jobs."""
    realtime = config.realtime
    kept = (ObjectType.CONTACT, ObjectType.SUBSCRIPTION_PERSISTENCE)
    if all(realtime.table(kind) is None for kind in kept) and not realtime.own:
        return None
    from sipnotify.cluster.node import Node  # noqa: PLC0415 (psycopg only when configured)

    try:
        return Node(config.realtime, config.options.systemname)
    except StorageError as exc:
        raise StartupError(f"cannot join the cluster: {exc}") from None


async def _listen(ami: AmiServer, config: Config, options: ServeOptions,
                  inherited: Inherited | None) -> None:  # fmt: skip
    """Start the AMI listener manager.conf asks for."""
    general = config.manager.general
    if not general.enabled:
        log.warning("AMI is disabled: manager.conf [general] has no 'enabled = yes'")
        return
    port = options.ami_port if options.ami_port is not None else general.port
    try:
        sock = inherited.take(Kind.AMI, general.bindaddr, port) if inherited else None
        bound = await ami.start(general.bindaddr, port, sock)
    except OSError as exc:
        raise StartupError(
            f"cannot listen for AMI on {general.bindaddr}:{port}: {_reason(exc)}"
        ) from None
    for host, bound_port in bound:
        log.info("AMI listening on %s:%d", host, bound_port)


@dataclass(slots=True)
class _Running:
    """The running parts a reload hands its new configuration to; registrations, calls and
    sessions stay."""

    notifier: Notifier
    calls: CallManager
    registrar: Registrar
    sip: SipEndpoint
    uas: Uas
    settings: ManagerSettings
    chores: _Chores
    web: _Web | None = None  # set once AMI runs

    def apply(self, new: Config, parts: frozenset[Part]) -> None:
        if Part.HTTP in parts and self.web is not None:
            self.web.reconfigure(new.http)
        if Part.PJSIP in parts:
            pjsip = self.sip.running(new.pjsip)
            self.notifier.config = self.calls.config = pjsip
            self.registrar.reconfigure(pjsip)
            self.sip.router.reconfigure(pjsip)
            self.uas.user_agent = pjsip.global_.user_agent
            self.chores.requalify()
        if Part.NOTIFY in parts:
            self.notifier.presets = new.notify
        if Part.DIALPLAN in parts:
            self.calls.dialplan = new.dialplan
        if Part.MANAGER in parts:
            general = self.settings.config.general
            if new.manager.general != general:
                log.warning("manager.conf [general] changes take effect at the next start")
            self.settings.config = replace(new.manager, general=general)


class _Web:
    """The HTTP server http.conf asks for: AMI over HTTP when manager.conf's `webenabled` is
    on, the JSON API, metrics and the console. The web stack (aiohttp, prometheus_client and
    the modules on them, some 15 MB of a process) is imported when a listener is first asked
    for, at start or by a reload: a server with HTTP off, Asterisk's default, never loads it."""

    def __init__(self, ctx: AmiContext, clock: Clock, hub: Hub, metrics: Metrics, *,
                 inherited: Inherited | None) -> None:  # fmt: skip
        self._ctx = ctx
        self._clock = clock
        self._hub = hub
        self._metrics = metrics
        self._inherited = inherited
        self._server: WebServer | None = None
        self._api: Api | None = None
        self._tasks: set[asyncio.Future[None]] = set()

    async def start(self, http: HttpConfig) -> None:
        """Listen as `http` says (raises StartupError when it cannot)."""
        if not http.listening:
            log.info("%s", HTTP_OFF)
            return
        try:
            await self._run(self._build(http))
        except OSError as exc:
            raise StartupError(f"cannot start the HTTP server: {_reason(exc)}") from None

    def reconfigure(self, http: HttpConfig) -> None:
        """A reload: the running server applies it; a first listener starts (in a task: a
        reload answers at once)."""
        if self._server is not None:
            self._server.reconfigure(http)
        elif http.listening:
            task = asyncio.ensure_future(self._start_later(self._build(http)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._server is not None:
            await self._server.stop()

    def manager_sessions(self) -> int:
        return self._server.manager_sessions() if self._server is not None else 0

    def api_sessions(self) -> int:
        return len(self._api.sessions) if self._api is not None else 0

    async def _run(self, server: WebServer) -> None:
        try:
            lines = await server.start()
        except OSError:
            await server.stop()
            self._server = None  # a later reload tries again
            raise
        for line in lines:
            log.info("%s", line)

    async def _start_later(self, server: WebServer) -> None:
        try:
            await self._run(server)
        except OSError as exc:  # as a running server says when it cannot re-bind
            log.error("HTTP: cannot listen as http.conf now says: %s", _reason(exc))

    def _build(self, http: HttpConfig) -> WebServer:
        """The server and everything it serves (kept as the one running from now on)."""
        from sipnotify.web.api import Api  # noqa: PLC0415 (the web stack, on first use)
        from sipnotify.web.console import Console  # noqa: PLC0415
        from sipnotify.web.manager import ManagerOverHttp  # noqa: PLC0415
        from sipnotify.web.server import Routes, WebServer  # noqa: PLC0415

        ctx, clock = self._ctx, self._clock
        server: WebServer

        def servername() -> str:
            return server.config.servername

        def prefix() -> str:
            return server.config.prefix

        manager = ManagerOverHttp(ctx, now=clock.wall, servername=servername)
        server = WebServer(http, manager, webenabled=lambda: ctx.manager.general.webenabled,
                           inherited=self._inherited)  # fmt: skip
        api = self._api = Api(ctx, self._hub, self._metrics, head=server.head, prefix=prefix,
                              now=clock.wall)  # fmt: skip
        console = Console(head=server.head, prefix=prefix, not_found=server.not_found)
        server.serve(api.routes())
        server.serve(Routes({"/console": console.bare}, {"/console/": console.file}))
        self._server = server
        return server


class _Chores:
    """The periodic work: pruning expired registrations, and qualifying contacts (started
    again after a reload, so new AORs are scheduled)."""

    def __init__(self, registrar: Registrar, checker: Reachability,
                 wall: Callable[[], float]) -> None:  # fmt: skip
        self._registrar = registrar
        self._checker = checker
        self._wall = wall
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(_prune(self._registrar, self._wall)),
                       loop.create_task(self._checker.run())]  # fmt: skip

    def requalify(self) -> None:
        if len(self._tasks) == 2:
            self._tasks[1].cancel()
            self._tasks[1] = asyncio.get_running_loop().create_task(self._checker.run())

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._registrar.commit()  # registrations decided in the last loop turn are answered


def _sighup(reloader: Reloader) -> None:
    """SIGHUP reloads everything, as `core reload` does."""
    log.info("SIGHUP: reloading the configuration")
    reloader.reload(None)


def _manager_extra(options: ServeOptions) -> list[Path]:
    """The generated secret is read after manager.conf on the embedded defaults."""
    return [secret_path(options.data_dir)] if options.config_dir is None else []


class Pruner(Protocol):
    def prune(self, now: float) -> int: ...


async def _prune(registrar: Pruner, wall: Callable[[], float] = time.time) -> None:
    """Drop expired registrations every PRUNE_INTERVAL seconds (Asterisk: 30). A store that
    fails (locked, disk full) is reported and tried again at the next round."""
    while True:
        await asyncio.sleep(PRUNE_INTERVAL)
        try:
            removed = registrar.prune(wall())
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
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})  # one sent while starting
    try:
        await stop.wait()
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})  # none ends the shutdown
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)


def serve(config: Config, options: ServeOptions) -> int:
    # A SIGHUP before the server can reload (a worker just restarted, an operator's reload
    # during start-up) waits, blocked, instead of ending the process; `_wait_for_signal`
    # takes it. Workers are forked with it blocked already.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
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
    worker = Worker.from_environment()
    if worker is None and config.settings.workers > 1:
        return supervise(config, options.ami_port, preload=lambda: _preload(config),
                         run=lambda: _serve_again(options))  # fmt: skip
    if worker is not None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SUPERVISED - {signal.SIGHUP})
        _name_logs(worker)
        config = replace(config, options=replace(config.options, systemname=worker.name))
        # What a worker keeps in files (its MWI subscriptions) is its own, found again by the
        # worker of the same number after a restart; no file is shared between processes.
        options = replace(options, data_dir=options.data_dir / f"worker-{worker.index + 1}")
    server = Server(config, options, worker=worker, inherited=Inherited.from_environment())
    code = asyncio.run(server.run()) if uvloop is None else uvloop.run(server.run())
    return CANNOT_START if worker is not None and code == 1 else code


def _preload(config: Config) -> None:
    """What a worker imports beyond what is loaded already, imported once in the supervisor
    before it forks so that the workers share it: PostgreSQL's driver (workers always share
    their state there), and the web stack when http.conf asks for a listener (with what a
    metrics scrape loads: any worker may be scraped)."""
    from sipnotify.cluster.node import Node  # noqa: PLC0415, F401

    if config.http.listening:
        from sipnotify.web import api, console, exposition, server  # noqa: PLC0415, F401


def _serve_again(options: ServeOptions) -> int:
    """A forked worker's life: the configuration read again (a restarted worker runs what the
    files say now), then served."""
    try:
        config = load(options, generate_secret=False)
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        return CANNOT_START
    return serve(config, options)


def _name_logs(worker: Worker) -> None:
    """A worker's log lines say which worker wrote them."""
    named = logging.Formatter(f"%(asctime)s %(levelname)s [{worker.name}] %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setFormatter(named)

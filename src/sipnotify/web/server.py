"""The HTTP server (aiohttp, on the loop that runs SIP and AMI): listening as http.conf says,
routing every path under the prefix to its handler, and the headers Asterisk's server writes,
in its order (behaviour: AMI over HTTP): Server, Date, Cache-Control, then the handler's.

Routes are read from the running configuration at each request, so `Reload Module: http`
(a new prefix, status page, server name) and manager.conf's `webenabled` apply at once; a new
address or port re-binds. More than `sessionlimit` requests at once get 503.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate

from aiohttp import web

from sipnotify.config.http import HTTP_OFF, HttpConfig
from sipnotify.web import pages
from sipnotify.web.formats import Format
from sipnotify.web.manager import HttpAnswer, HttpRequest, ManagerOverHttp
from sipnotify.workers.sockets import Inherited, Kind

log = logging.getLogger("sipnotify.web")
MAX_BODY = 64 * 1024  # bytes of a request body (a form, a JSON document)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# path under the prefix -> (format, digest-authenticated)
MANAGER_PATHS = {
    "/rawman": (Format.RAW, False),
    "/manager": (Format.HTML, False),
    "/mxml": (Format.XML, False),
    "/arawman": (Format.RAW, True),
    "/amanager": (Format.HTML, True),
    "/amxml": (Format.XML, True),
}


@dataclass(frozen=True, slots=True)
class Routes:
    """What the server offers besides the manager URIs (the JSON API, metrics, console)."""

    exact: dict[str, Handler]
    below: dict[str, Handler]  # path prefixes (the console's files, the API's ids)


class WebServer:
    def __init__(self, http: HttpConfig, manager: ManagerOverHttp, *,
                 webenabled: Callable[[], bool], routes: Routes | None = None,
                 inherited: Inherited | None = None) -> None:  # fmt: skip
        self.config = http
        self._inherited = inherited
        self._manager = manager
        self._webenabled = webenabled
        self._routes = routes or Routes({}, {})
        self._runner: web.AppRunner | None = None
        self._sites: list[web.BaseSite] = []
        self._bound: list[str] = []
        self._busy = 0
        self._tasks: set[asyncio.Future[None]] = set()

    def serve(self, routes: Routes) -> None:
        """Offer these routes too (the API's, the console's)."""
        self._routes = Routes({**self._routes.exact, **routes.exact},
                              {**self._routes.below, **routes.below})  # fmt: skip

    def manager_sessions(self) -> int:
        """AMI-over-HTTP sessions alive."""
        return len(self._manager.sessions)

    @property
    def bound(self) -> list[str]:
        """`address:port` of each listener (the port the system chose for 0)."""
        return list(self._bound)

    async def start(self) -> list[str]:
        """Listen as configured; the lines to log."""
        if not self.config.listening:
            return [HTTP_OFF]
        app = web.Application(client_max_size=MAX_BODY, handler_args={"max_field_size": 8190})
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        keepalive = self.config.session_inactivity_ms / 1000
        self._runner = web.AppRunner(app, access_log=None, keepalive_timeout=keepalive)
        await self._runner.setup()
        lines = []
        for host, port, context in self._listeners():
            before = len(self._runner.addresses)
            site = self._site(host, port, context)
            await site.start()
            self._sites.append(site)
            bound = _shown(self._runner.addresses[before])
            self._bound.append(bound)
            scheme = "https" if context else "http"
            lines.append(f"{scheme.upper()}: listening on {bound} (console: "
                         f"{scheme}://{bound}{self.config.prefix}/console/)")  # fmt: skip
        return lines

    async def stop(self) -> None:
        self._manager.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner, self._sites, self._bound = None, [], []

    def reconfigure(self, http: HttpConfig) -> None:
        """A reload: routes and names apply at the next request; a new listener re-binds
        (in a task: a reload answers at once)."""
        listening = _listening(self.config)
        self.config = http
        if _listening(http) != listening:
            task = asyncio.ensure_future(self._rebind())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _rebind(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner, self._sites, self._bound = None, [], []
        try:
            for line in await self.start():
                log.info("%s", line)
        except OSError as exc:
            log.error("HTTP: cannot listen as http.conf now says: %s", exc.strerror or exc)

    def _site(self, host: str, port: int, context: ssl.SSLContext | None) -> web.BaseSite:
        """A listener on host:port: on the socket the supervisor bound for a worker, if any."""
        assert self._runner is not None
        sock = self._inherited.take(Kind.HTTP, host, port) if self._inherited else None
        if sock is not None:
            return web.SockSite(self._runner, sock, ssl_context=context)
        return web.TCPSite(self._runner, host, port, ssl_context=context, reuse_address=True)

    def _listeners(self) -> list[tuple[str, int, ssl.SSLContext | None]]:
        config = self.config
        found: list[tuple[str, int, ssl.SSLContext | None]] = []
        if config.serving and config.bindaddr is not None:
            found.append((config.bindaddr, config.bindport, None))
        if config.serving_tls and config.tlsbindaddr is not None:
            found.append((config.tlsbindaddr, config.tlsbindport, _tls(config)))
        return found

    # -- requests --------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if self._busy >= self.config.sessionlimit:
            return self._page(503, "Too many requests at once; try again.")
        self._busy += 1
        try:
            return await self._route(request)
        finally:
            self._busy -= 1

    async def _route(self, request: web.Request) -> web.StreamResponse:
        prefix = self.config.prefix
        path = request.path
        if prefix and not (path == prefix or path.startswith(prefix + "/")):
            return self._page(404, pages.NOT_FOUND_TEXT)
        below = path[len(prefix) :]
        manager = MANAGER_PATHS.get(below)
        if manager is not None and self._webenabled():
            return await self._manager_uri(request, *manager)
        if below == "/httpstatus" and self.config.enable_status:
            return self._status()
        handler = self._routes.exact.get(below)
        if handler is None:
            handler = next((h for p, h in self._routes.below.items() if below.startswith(p)),
                           None)  # fmt: skip
        if handler is None:
            return self._page(404, pages.NOT_FOUND_TEXT)
        return await handler(request)

    async def _manager_uri(self, request: web.Request, form: Format,
                           digest: bool) -> web.StreamResponse:  # fmt: skip
        params = list(request.query.items())
        if request.method == "POST":
            try:
                params += [(k, v) for k, v in (await request.post()).items()
                           if isinstance(v, str)]  # fmt: skip
            except web.HTTPRequestEntityTooLarge:
                return self._page(413, "The request body is too large.")
        asked = HttpRequest(method=request.method, target=request.path_qs, params=params,
                            cookie=request.cookies.get("mansession_id"),
                            authorization=request.headers.get("Authorization"),
                            peer=request.remote or "")  # fmt: skip
        return self._manager_answer(await self._manager.answer(asked, form, digest=digest))

    def _manager_answer(self, answer: HttpAnswer) -> web.Response:
        headers = self.head()
        if answer.challenge is not None:
            headers["WWW-authenticate"] = answer.challenge
        headers["Content-type"] = answer.content_type
        if answer.cookie is not None:
            timeout = self._manager_timeout()
            headers["Set-Cookie"] = f'mansession_id="{answer.cookie}"; Version=1; Max-Age={timeout}'
            headers["Pragma"] = "SuppressEvents"
        return web.Response(status=answer.status, body=answer.body.encode("utf-8", "replace"),
                            headers=headers)  # fmt: skip

    def _manager_timeout(self) -> int:
        return self._manager.httptimeout

    def _status(self) -> web.Response:
        body = pages.status_page(self.config.servername, self.config.prefix, self._bound)
        headers = self.head()
        headers["Content-type"] = "text/html"
        return web.Response(body=body.encode(), headers=headers)

    def not_found(self) -> web.Response:
        return self._page(404, pages.NOT_FOUND_TEXT)

    def _page(self, status: int, text: str) -> web.Response:
        headers = self.head()
        headers["Content-type"] = "text/html"
        body = pages.error_page(status, text, self.config.servername)
        return web.Response(status=status, body=body.encode(), headers=headers)

    def head(self) -> dict[str, str]:
        """The headers every response starts with, in Asterisk's order."""
        headers = {"Server": self.config.servername} if self.config.servername else {}
        headers["Date"] = formatdate(usegmt=True)
        headers["Cache-Control"] = "no-cache, no-store"
        return headers


def _listening(http: HttpConfig) -> tuple[object, ...]:
    return (http.serving, http.bindaddr, http.bindport, http.serving_tls, http.tlsbindaddr,
            http.tlsbindport, http.tlscertfile, http.tlsprivatekey)  # fmt: skip


def _tls(config: HttpConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    assert config.tlscertfile is not None
    context.load_cert_chain(config.tlscertfile, config.tlsprivatekey or config.tlscertfile)
    return context


def _shown(address: object) -> str:
    host, port = address[:2]  # type: ignore[index]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"

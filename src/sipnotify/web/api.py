"""The JSON API (`<prefix>/api/v1/…`, described by `openapi.json` beside it): sign in and out,
endpoints and contacts, a NOTIFY with each phone's answer in the response, fleet jobs (dry
run, start, list, inspect, pause, resume, cancel) with live progress as Server-Sent Events,
presets and the vendor catalogue.

Sending goes through the AMI actions themselves (PJSIPNotify, FleetNotify), run for the
calling user, so the rules, permissions and error texts are the socket's. A JSON body is
checked field by field before anything is run: an unknown field, a wrong type or a control
character is a 400 naming it, and nothing is sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sipnotify.ami.codec import Fields, FramingError
from sipnotify.ami.dispatch import handle
from sipnotify.ami.session import AmiContext, SessionState
from sipnotify.config import permissions
from sipnotify.fleet.service import FleetError
from sipnotify.storage.base import StorageError
from sipnotify.web import views
from sipnotify.web.auth import (
    COOKIE,
    SESSION_LIFETIME,
    ApiSessions,
    Caller,
    basic,
    check_secret,
    csrf_ok,
)
from sipnotify.web.formats import BadRequest, to_request
from sipnotify.web.hub import Hub
from sipnotify.web.metrics import Metrics
from sipnotify.web.openapi import SPEC
from sipnotify.web.server import Routes

log = logging.getLogger("sipnotify.web")
BASE = "/api/v1"
NOTIFY_WAIT = 40.0  # seconds a NOTIFY's answers are awaited (beyond Timer F's 32)
SIGN_IN_DELAY = 1.0  # after a failed sign-in, as after a failed AMI login
KEEPALIVE = 15.0  # seconds between comments on an idle event stream

Head = Callable[[], dict[str, str]]
Json = dict[str, Any]


class ApiError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


# JSON field -> (AMI header, kind) for FleetNotify; kinds: str, bool, number, list
JOB_FIELDS: dict[str, tuple[str, str]] = {
    "verb": ("Verb", "str"), "option": ("Option", "str"), "mwi": ("MWI", "str"),
    "variables": ("Variable", "variables"), "all": ("All", "bool"),
    "endpoints": ("Endpoint", "list"), "match": ("Match", "str"), "regex": ("Regex", "str"),
    "user_agent": ("UserAgent", "str"), "aors": ("AOR", "list"),
    "registration": ("Registration", "str"), "rate": ("Rate", "rate"),
    "in_flight": ("InFlight", "number"), "per_address": ("PerAddress", "number"),
    "jitter": ("Jitter", "number"), "start_at": ("StartAt", "number"),
    "deadline": ("Deadline", "number"), "confirm": ("Confirm", "bool"),
    "dry_run": ("DryRun", "bool"),
}  # fmt: skip
NOTIFY_FIELDS: dict[str, tuple[str, str]] = {
    "endpoint": ("Endpoint", "str"), "uri": ("URI", "str"), "channel": ("Channel", "str"),
    "option": ("Option", "str"), "variables": ("Variable", "variables"),
}  # fmt: skip


class Api:
    def __init__(self, ctx: AmiContext, hub: Hub, metrics: Metrics, *, head: Head,
                 prefix: Callable[[], str], now: Callable[[], float]) -> None:  # fmt: skip
        self._ctx = ctx
        self._hub = hub
        self._metrics = metrics
        self._head = head
        self._prefix = prefix
        self._now = now
        self.sessions = ApiSessions()
        self._tasks: set[asyncio.Future[None]] = set()

    def routes(self) -> Routes:
        guarded: Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]
        guarded = self._guard
        exact = {
            f"{BASE}/openapi.json": self._openapi,
            f"{BASE}/session": self._session,
            f"{BASE}/endpoints": guarded(self._endpoints),
            f"{BASE}/contacts": guarded(self._contacts),
            f"{BASE}/notify": guarded(self._notify),
            f"{BASE}/jobs": guarded(self._jobs),
            f"{BASE}/events": guarded(self._events),
            f"{BASE}/presets": guarded(self._presets),
            f"{BASE}/vendors": guarded(self._vendors),
            "/metrics": guarded(self._scrape),
        }
        return Routes(exact=exact, below={f"{BASE}/jobs/": guarded(self._job)})

    # -- authentication --------------------------------------------------------------------

    def _guard(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def guarded(request: web.Request) -> web.StreamResponse:
            try:
                caller = self._caller(request)
                if request.method not in ("GET", "HEAD"):
                    self._check_change(request, caller)
                return await handler(request, caller)
            except ApiError as exc:
                return self._error(exc.status, exc.text, request)

        return guarded

    def _caller(self, request: web.Request) -> Caller:
        manager = self._ctx.manager
        header = request.headers.get("Authorization")
        caller = basic(manager, header, request.remote or "") if header else None
        if caller is None and not header:
            token = request.cookies.get(COOKIE)
            caller = self.sessions.find(token, manager, self._now()) if token else None
        if caller is None:
            raise ApiError(401, "authentication required")
        return caller

    def _check_change(self, request: web.Request, caller: Caller) -> None:
        """A change must come as JSON, and from a session with its CSRF token."""
        if request.content_type != "application/json":
            raise ApiError(415, "send the request as application/json")
        if caller.token and not csrf_ok(caller, request.headers.get("X-CSRF-Token")):
            raise ApiError(403, "missing or wrong X-CSRF-Token")

    async def _session(self, request: web.Request) -> web.StreamResponse:
        try:
            if request.method == "POST":
                return await self._sign_in(request)
            caller = self._caller(request)
            if request.method == "DELETE":
                self._check_change(request, caller)
                self.sessions.close(caller.token)
                response = self._json(200, {"signed_out": True})
                response.del_cookie(COOKIE, path=self._cookie_path())
                return response
            if request.method == "GET":
                return self._json(200, _who(caller))
            raise ApiError(405, "use GET, POST or DELETE")
        except ApiError as exc:
            return self._error(exc.status, exc.text, request)

    async def _sign_in(self, request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        _only(body, {"username", "secret"})
        username, secret = _text(body, "username"), _text(body, "secret")
        user = check_secret(self._ctx.manager, username, secret, request.remote or "")
        if user is None:
            log.warning("%s failed to sign in to the API as '%s'", request.remote, username)
            await asyncio.sleep(SIGN_IN_DELAY)
            raise ApiError(401, "authentication failed")
        caller = self.sessions.open(user, self._now())
        response = self._json(200, _who(caller))
        response.set_cookie(COOKIE, caller.token, max_age=int(SESSION_LIFETIME),
                            path=self._cookie_path(), httponly=True, samesite="Strict")  # fmt: skip
        return response

    def _cookie_path(self) -> str:
        return (self._prefix() or "") + "/"

    # -- endpoints, contacts, presets, vendors ---------------------------------------------

    async def _endpoints(self, request: web.Request, _caller: Caller) -> web.StreamResponse:
        _method(request, "GET")
        notifier = self._ctx.notifier
        found = views.endpoints(notifier.config, notifier.registered, self._ctx.reachability.state,
                                search=request.query.get("search", ""),
                                status=request.query.get("status", ""))  # fmt: skip
        return self._json(200, {"endpoints": found})

    async def _contacts(self, request: web.Request, _caller: Caller) -> web.StreamResponse:
        _method(request, "GET")
        notifier = self._ctx.notifier
        found = views.contacts(notifier.config, notifier.registered, self._ctx.reachability.state)
        return self._json(200, {"contacts": found})

    async def _presets(self, request: web.Request, _caller: Caller) -> web.StreamResponse:
        _method(request, "GET")
        presets = self._ctx.notifier.presets
        shown = [{"name": p.name, "items": [list(i) for i in p.items]}
                 for p in presets.by_name.values()]  # fmt: skip
        return self._json(200, {"presets": shown})

    async def _vendors(self, request: web.Request, _caller: Caller) -> web.StreamResponse:
        _method(request, "GET")
        catalogue = self._ctx.fleet.catalogue
        shown = [
            {"name": v.name, "user_agents": [p.pattern for p in v.user_agents],
             "verbs": {verb.value: [list(i) for i in items] for verb, items in v.verbs.items()}}
            for v in (*catalogue.vendors, catalogue.fallback)
        ]  # fmt: skip
        return self._json(200, {"vendors": shown})

    async def _scrape(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        """Prometheus' scrape: needs the system or reporting read class."""
        _method(request, "GET")
        if not caller.readperm & (permissions.SYSTEM | permissions.REPORTING):
            raise ApiError(403, "metrics need the system or reporting read class")
        # prometheus_client (1 MB) is loaded by the first scrape, not by every process with
        # HTTP on: where nothing scrapes, nothing needs it
        from sipnotify.web.exposition import CONTENT_TYPE, scrape  # noqa: PLC0415

        headers = self._head()
        headers["Content-Type"] = CONTENT_TYPE
        return web.Response(body=scrape(self._metrics), headers=headers)

    async def _openapi(self, request: web.Request) -> web.StreamResponse:
        if request.method != "GET":
            return self._error(405, "use GET", request)
        return self._json(200, SPEC)

    # -- sending ---------------------------------------------------------------------------

    async def _act(self, request: web.Request, caller: Caller, action: str,
                   table: dict[str, tuple[str, str]], *,
                   wait: bool) -> tuple[dict[str, str], list[Fields]]:  # fmt: skip
        """The JSON body as the AMI action's fields, run as the caller: the reply (an error
        reply raised as ApiError) and what followed it."""
        _method(request, "POST")
        fields = [("Action", action), *_fields(await _body(request), table)]
        replies, events = await self._run(caller, fields, wait=wait)
        reply = dict(replies[0])
        if reply.get("Response") != "Success":
            message = reply.get("Message", "")
            raise ApiError(_status_of(message), message.strip())
        return reply, events

    async def _notify(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        reply, events = await self._act(request, caller, "PJSIPNotify", NOTIFY_FIELDS, wait=True)
        results = [_result(dict(e)) for e in events if dict(e).get("Event") == "PJSIPNotifyResult"]
        return self._json(200, {
            "message": reply.get("Message", ""), "results": results,
            "succeeded": sum(r["ok"] for r in results),
            "failed": sum(not r["ok"] for r in results),
        })  # fmt: skip

    async def _jobs(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        fleet = self._ctx.fleet
        if request.method == "GET":
            return self._json(
                200, {"jobs": [views.job(j, fleet.counts(j.id)) for j in fleet.jobs()]}
            )
        reply, events = await self._act(request, caller, "FleetNotify", JOB_FIELDS, wait=False)
        if reply.get("EventList") == "start":
            phones = [_dry_phone(e) for e in events if dict(e).get("Event") == "FleetDryRunPhone"]
            return self._json(200, {"dry_run": True, "phones": phones})
        record, _ = fleet.job(reply["JobID"])
        return self._json(201, {"job": views.job(record, fleet.counts(record.id))})

    async def _job(self, request: web.Request, _caller: Caller) -> web.StreamResponse:
        rest = request.path[len(self._prefix()) + len(BASE) + len("/jobs/") :]
        job_id, _, verb = rest.partition("/")
        fleet = self._ctx.fleet
        try:
            if not verb:
                _method(request, "GET")
                record, phones = fleet.job(job_id)
                return self._json(200, {"job": views.job(record, fleet.counts(job_id)),
                                        "phones": [views.phone(p) for p in phones]})  # fmt: skip
            change = {"cancel": fleet.cancel, "pause": fleet.pause, "resume": fleet.resume_job}
            if verb not in change:
                raise ApiError(404, f"no such operation '{verb}' on a job")
            _method(request, "POST")
            record = change[verb](job_id)
        except FleetError as exc:
            raise ApiError(404 if str(exc).startswith("no job") else 409, str(exc)) from None
        except StorageError as exc:
            raise ApiError(503, f"the job store failed: {exc}") from None
        return self._json(200, {"job": views.job(record, fleet.counts(job_id))})

    async def _run(self, caller: Caller, fields: list[tuple[str, str]], *,
                   wait: bool) -> tuple[list[Fields], list[Fields]]:  # fmt: skip
        """Run one AMI action as the caller: its replies, and what followed them (a list, or
        with `wait` the results of a NOTIFY)."""
        incoming = to_request(fields)
        if isinstance(incoming, BadRequest):
            raise ApiError(400, incoming.text)
        if isinstance(incoming, FramingError):
            raise ApiError(400, incoming.text)
        session = SessionState(peer="api", authenticated=True, username=caller.username,
                               readperm=caller.readperm | permissions.SYSTEM,
                               writeperm=caller.writeperm, over_http=True)  # fmt: skip
        outcome = handle(self._ctx, session, incoming)
        events: list[Fields] = []
        if outcome.followup is not None and (outcome.exclusive or wait):
            try:
                await asyncio.wait_for(asyncio.ensure_future(outcome.followup(_Collect(events))),
                                       NOTIFY_WAIT)  # fmt: skip
            except TimeoutError:
                log.warning("API: %s did not finish within %g s", fields[0][1], NOTIFY_WAIT)
        elif outcome.followup is not None:  # goes on after the response
            task = asyncio.ensure_future(outcome.followup(_Collect([])))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return list(outcome.replies), events

    # -- live events -----------------------------------------------------------------------

    async def _events(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        _method(request, "GET")
        if not caller.may_watch:
            raise ApiError(403, "live events need the system read class")
        subscription = self._hub.subscribe(request.query.get("job") or None)
        headers = self._head()
        headers.update({"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"})
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        try:
            while True:
                try:
                    item = await asyncio.wait_for(subscription.queue.get(), KEEPALIVE)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if item is None:  # the subscriber fell behind: cut off
                    await response.write(b"event: overflow\ndata: {}\n\n")
                    break
                kind, data = item
                await response.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._hub.unsubscribe(subscription)
        return response

    # -- responses -------------------------------------------------------------------------

    def _json(self, status: int, data: Json | dict[str, Any]) -> web.Response:
        headers = self._head()
        headers["Content-Type"] = "application/json; charset=utf-8"
        return web.Response(status=status, body=json.dumps(data).encode(), headers=headers)

    def _error(self, status: int, text: str, request: web.Request) -> web.Response:
        response = self._json(status, {"error": text})
        if status == 401 and "X-Requested-With" not in request.headers:
            response.headers["WWW-Authenticate"] = 'Basic realm="sipnotify"'
        return response


Handler = Callable[[web.Request, Caller], Awaitable[web.StreamResponse]]


class _Collect:
    def __init__(self, into: list[Fields]) -> None:
        self._into = into

    def __call__(self, fields: Fields) -> None:
        self._into.append(fields)

    async def drain(self) -> None:
        return None


def _who(caller: Caller) -> Json:
    return {"username": caller.username, "read": permissions.privilege_text(caller.readperm),
            "write": permissions.privilege_text(caller.writeperm), "csrf": caller.csrf,
            "may_act": caller.may_act, "may_watch": caller.may_watch}  # fmt: skip


def _method(request: web.Request, method: str) -> None:
    if request.method != method:
        raise ApiError(405, f"use {method}")


async def _body(request: web.Request) -> Json:
    try:
        data = await request.json()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "the request body is too large") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    return data


def _only(body: Json, allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, f"unknown field '{unknown[0]}'")


def _text(body: Json, name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise ApiError(400, f"'{name}' must be a string")
    return value


def _fields(body: Json, table: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    """The AMI headers a JSON body stands for, each value checked for its kind."""
    _only(body, set(table))
    fields: list[tuple[str, str]] = []
    for name, value in body.items():
        header, kind = table[name]
        fields += _field(name, header, kind, value)
    return fields


def _field(name: str, header: str, kind: str, value: object) -> list[tuple[str, str]]:
    if kind == "bool":
        if not isinstance(value, bool):
            raise ApiError(400, f"'{name}' must be true or false")
        return [(header, "yes")] if value else []
    if kind in ("number", "rate"):
        if kind == "rate" and value == "unlimited":
            return [(header, "unlimited")]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ApiError(400, f"'{name}' must be a number")
        return [(header, repr(value))]
    if kind == "list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ApiError(400, f"'{name}' must be a list of strings")
        return [(header, v) for v in value]
    if kind == "variables":
        return [(header, line) for line in _variables(name, value)]
    if not isinstance(value, str):
        raise ApiError(400, f"'{name}' must be a string")
    return [(header, value)]


def _variables(name: str, value: object) -> list[str]:
    """`{"Event": "check-sync"}` or `[["Event", "check-sync"]]` as `Variable` lines."""
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 for p in value):
        pairs = [(p[0], p[1]) for p in value]
    else:
        raise ApiError(400, f"'{name}' must be an object or a list of [name, value] pairs")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in pairs):
        raise ApiError(400, f"'{name}' names and values must be strings")
    return [f"{k}={v}" for k, v in pairs]


def _status_of(message: str) -> int:
    return 404 if message.startswith(("Unable to retrieve endpoint", "Unable to find")) else 400


def _result(event: dict[str, str]) -> Json:
    code = event.get("StatusCode", "")
    return {
        "endpoint": event.get("Endpoint", ""), "uri": event.get("URI", ""),
        "result": event.get("Result", ""), "status": int(code) if code.isdigit() else None,
        "reason": event.get("ReasonPhrase", ""), "error": event.get("Error", ""),
        "rtt_ms": _float(event.get("RoundtripUsec", "")),
        "ok": event.get("Result", "") == "Success",
    }  # fmt: skip


def _float(text: str) -> float | None:
    return round(int(text) / 1000, 3) if text.isdigit() else None


def _dry_phone(event: Fields) -> Json:
    fields = dict(event)
    return {"endpoint": fields.get("Endpoint", ""), "uri": fields.get("URI", ""),
            "aor": fields.get("AOR", ""), "user_agent": fields.get("UserAgent", ""),
            "vendor": fields.get("Vendor", ""),
            "request": "\r\n".join(v for k, v in event if k == "Request")}  # fmt: skip

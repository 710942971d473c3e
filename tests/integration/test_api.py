"""The JSON API over real HTTP (aiohttp's client, with its cookie jar), against SIPp phones;
every JSON response is checked against the OpenAPI description the server serves."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from tests.integration.conftest import Service, StartService, Uas, admin_conf

USERS = """
[viewer]
secret = v1ew
read = call
write = call
"""
HTTP = "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = 0\n"
JSON = {"Content-Type": "application/json"}


def basic(user: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def client(user: str = "", secret: str = "") -> aiohttp.ClientSession:
    """A client with a cookie jar that keeps cookies of an IP host, as browsers do."""
    headers = basic(user, secret) if user else {}
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers=headers)


def pjsip(ports: list[int]) -> str:
    text = "[udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:0\n"
    for n, port in enumerate(ports, 1):
        text += f"[desk{n}]\ntype=aor\ncontact=sip:desk{n}@127.0.0.1:{port}\n"
        text += f"[desk{n}]\ntype=endpoint\naors=desk{n}\n"
    return text


class Checked:
    """Responses checked against the served OpenAPI description."""

    def __init__(self, spec: dict[str, Any]) -> None:
        validate(spec)
        self.spec = spec

    def check(self, data: object, schema: str) -> None:
        root = {**self.spec, "$ref": f"#/components/schemas/{schema}"}
        Draft202012Validator(root).validate(data)


def start(start_service: StartService, ports: list[int]) -> tuple[Service, str]:
    service = start_service(admin_conf() + USERS,
                            files={"http.conf": HTTP, "pjsip.conf": pjsip(ports)})  # fmt: skip
    return service, f"http://127.0.0.1:{service.http_port()}/api/v1"


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 60))


async def fetch(session: aiohttp.ClientSession, method: str, url: str,
                **kw: Any) -> tuple[int, Any]:  # fmt: skip
    async with session.request(method, url, **kw) as response:
        return response.status, await response.json()


def test_nobody_and_the_under_privileged_get_401_and_403_and_learn_nothing(
    start_service: StartService,
) -> None:
    _, base = start(start_service, [9])

    async def test() -> None:
        async with client() as anonymous:
            status, body = await fetch(anonymous, "GET", f"{base}/endpoints")
            assert (status, body) == (401, {"error": "authentication required"})
            started = time.monotonic()
            status, body = await fetch(anonymous, "POST", f"{base}/session", headers=JSON,
                                       json={"username": "admin", "secret": "wrong"})  # fmt: skip
            assert time.monotonic() - started >= 0.9
            assert (status, body) == (401, {"error": "authentication failed"})
            status, _ = await fetch(anonymous, "GET", f"{base}/jobs", headers=basic("admin", "x"))
            assert status == 401
        async with client("viewer", "v1ew") as session:
            status, body = await fetch(session, "POST", f"{base}/notify", headers=JSON,
                                       json={"endpoint": "desk1", "option": "x"})  # fmt: skip
            assert (status, body) == (400, {"error": "Permission denied"})
            status, body = await fetch(session, "GET", f"{base}/events")
            assert (status, body) == (403, {"error": "live events need the system read class"})

    run(test)


def test_a_signed_in_console_session_reads_sends_and_signs_out(
    start_service: StartService, uas: Uas
) -> None:
    phones = [uas("uas_notify.xml") for _ in range(2)]
    _, base = start(start_service, [p.port for p in phones])

    async def test() -> None:
        async with client() as session:
            status, spec = await fetch(session, "GET", f"{base}/openapi.json")
            checked = Checked(spec)
            status, who = await fetch(session, "POST", f"{base}/session", headers=JSON,
                                      json={"username": "admin", "secret": "s3cret"})  # fmt: skip
            assert status == 200
            checked.check(who, "Session")
            csrf = {**JSON, "X-CSRF-Token": who["csrf"]}
            status, listed = await fetch(session, "GET", f"{base}/endpoints?search=desk2")
            checked.check(listed, "Endpoints")
            assert [e["name"] for e in listed["endpoints"]] == ["desk2"]
            notify = {"endpoint": "desk1", "variables": {"Event": "x"}}
            status, body = await fetch(session, "POST", f"{base}/notify", headers=JSON, json=notify)
            assert (status, body) == (403, {"error": "missing or wrong X-CSRF-Token"})
            status, sent = await fetch(session, "POST", f"{base}/notify", headers=csrf,
                                       json={"endpoint": "desk1",
                                             "variables": [["Event", "check-sync"]]})  # fmt: skip
            assert status == 200, sent
            checked.check(sent, "NotifyResponse")
            assert (sent["succeeded"], sent["failed"]) == (1, 0)
            assert sent["results"][0]["status"] == 200
            for kind in ("contacts", "presets", "vendors"):
                status, data = await fetch(session, "GET", f"{base}/{kind}")
                checked.check(data, kind.capitalize())
            status, _ = await fetch(session, "DELETE", f"{base}/session", headers=csrf)
            assert status == 200
            status, body = await fetch(session, "GET", f"{base}/endpoints")
            assert status == 401  # the cookie is dead

    run(test)
    assert phones[0].finish() == 0, phones[0].output


def test_a_job_from_dry_run_to_its_end_with_live_events(
    start_service: StartService, uas: Uas
) -> None:
    phones = [uas("uas_notify.xml") for _ in range(3)]
    _, base = start(start_service, [p.port for p in phones])

    async def test() -> None:
        async with client("admin", "s3cret") as session:
            _, spec = await fetch(session, "GET", f"{base}/openapi.json")
            checked = Checked(spec)
            look = {"verb": "reboot", "all": True, "dry_run": True}
            status, dry = await fetch(session, "POST", f"{base}/jobs", headers=JSON, json=look)
            assert status == 200
            checked.check(dry, "DryRun")
            assert [p["vendor"] for p in dry["phones"]] == ["fallback"] * 3
            assert "Event: check-sync;reboot=true" in dry["phones"][0]["request"]
            async with session.get(f"{base}/events") as stream:
                status, started = await fetch(session, "POST", f"{base}/jobs", headers=JSON,
                                              json={"verb": "resync", "all": True,
                                                    "rate": "unlimited"})  # fmt: skip
                assert status == 201, started
                checked.check(started, "JobCreated")
                job_id = started["job"]["id"]
                seen = await events_until_job_ends(stream)
            phone_events = [data for kind, data in seen if kind == "phone"]
            for data in phone_events:
                checked.check(data, "Phone")
            assert sorted(d["uri"] for d in phone_events if d["state"] == "answered") == sorted(
                f"sip:desk{n}@127.0.0.1:{p.port}" for n, p in enumerate(phones, 1)
            )
            _, done = seen[-1]
            checked.check(done, "Job")
            assert (done["id"], done["state"], done["counts"]["answered"]) == (job_id, "done", 3)
            status, detail = await fetch(session, "GET", f"{base}/jobs/{job_id}")
            checked.check(detail, "JobDetail")
            status, body = await fetch(session, "POST", f"{base}/jobs/{job_id}/cancel",
                                       headers=JSON)  # fmt: skip
            assert (status, body) == (409, {"error": f"job {job_id} has already ended (done)"})
            status, body = await fetch(session, "GET", f"{base}/jobs/nope")
            assert (status, body) == (404, {"error": "no job nope"})
            status, listed = await fetch(session, "GET", f"{base}/jobs")
            checked.check(listed, "Jobs")

    run(test)
    for phone in phones:
        assert phone.finish() == 0, phone.output


async def events_until_job_ends(stream: aiohttp.ClientResponse) -> list[tuple[str, Any]]:
    assert stream.headers["Content-Type"] == "text/event-stream"
    seen: list[tuple[str, Any]] = []
    kind = ""
    for _ in range(200):
        line = (await asyncio.wait_for(stream.content.readline(), 10)).decode().strip()
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            seen.append((kind, json.loads(line[6:])))
            if kind == "job":
                return seen
    raise AssertionError(f"no job event: {seen}")


def test_bad_input_gets_a_clear_400_and_sends_nothing(
    start_service: StartService, uas: Uas
) -> None:
    phone = uas("uas_notify.xml")
    _, base = start(start_service, [phone.port])

    async def test() -> None:
        async with client("admin", "s3cret") as session:
            cases: list[tuple[Any, int, str]] = [
                ("{not json", 400, "the body is not JSON"),
                ([1, 2], 400, "the body must be a JSON object"),
                ({"verb": "resync", "colour": "red"}, 400, "unknown field 'colour'"),
                ({"verb": 5, "all": True}, 400, "'verb' must be a string"),
                ({"verb": "resync", "all": "yes"}, 400, "'all' must be true or false"),
                ({"verb": "resync", "all": True, "rate": 0}, 400,
                 "a rate of 0 phones per second sends nothing"),
                ({"verb": "explode", "all": True}, 400, "unknown verb 'explode'"),
                ({"verb": "resync", "regex": "("}, 400, "the endpoint regex '(' does not compile"),
                ({"option": "x", "all": True, "variables": {"X": "a\r\nInjected: 1"}}, 400,
                 "control character in parameter 'Variable'"),
            ]  # fmt: skip
            for body, code, text in cases:
                raw = body if isinstance(body, str) else json.dumps(body)
                status, answer = await fetch(session, "POST", f"{base}/jobs", headers=JSON,
                                             data=raw)  # fmt: skip
                assert status == code, (body, answer)
                assert answer["error"].startswith(text), (body, answer)
            status, answer = await fetch(session, "POST", f"{base}/jobs", data="verb=resync",
                                         headers={"Content-Type": "text/plain"})  # fmt: skip
            assert (status, answer) == (415, {"error": "send the request as application/json"})
            async with session.post(f"{base}/jobs", headers=JSON,
                                    data="[" + "1," * 40_000 + "1]") as too_big:  # fmt: skip
                assert too_big.status == 413

    run(test)
    assert phone.finish(timeout=3) != 0  # nothing was sent: the phone timed out waiting
    assert phone.received() == []


def test_metrics_are_scraped_with_credentials_and_count_what_happened(
    start_service: StartService, uas: Uas
) -> None:
    phone = uas("uas_notify.xml")
    _, base = start(start_service, [phone.port, 9])
    root = base.removesuffix("/api/v1")

    async def test() -> None:
        async with client("admin", "s3cret") as session:
            notify = {"endpoint": "desk1", "variables": {"Event": "x"}}
            status, sent = await fetch(session, "POST", f"{base}/notify", headers=JSON, json=notify)
            assert status == 200, sent
            async with session.get(f"{root}/metrics") as scraped:
                assert scraped.status == 200
                assert scraped.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                text = await scraped.text()
        assert (
            'sipnotify_notifies_total{order="variables",result="2xx",source="pjsipnotify",'
            'vendor="none"} 1.0'
        ) in text
        assert "sipnotify_notify_roundtrip_seconds_bucket{" in text
        assert 'sipnotify_contacts{kind="static",status="NonQualified"} 2.0' in text
        assert "sipnotify_endpoints 2.0" in text
        assert "desk1" not in text  # no per-phone labels
        async with client() as anonymous, anonymous.get(f"{root}/metrics") as refused:
            assert refused.status == 401
        async with client("viewer", "v1ew") as viewer, viewer.get(f"{root}/metrics") as denied:
            assert denied.status == 403

    run(test)
    assert phone.finish() == 0, phone.output

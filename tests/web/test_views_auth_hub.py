"""The API's sans-IO parts: endpoints and contacts as shown and filtered, callers proven by
Basic credentials or a session (ended at sign-out, refreshed from manager.conf), CSRF, and
the live-event hub cutting off a subscriber that falls behind."""

from __future__ import annotations

import asyncio
import base64

from sipnotify.config.manager import ManagerConfig, load_manager, named_acls
from sipnotify.config.parser import parse_text
from sipnotify.config.pjsip import load_pjsip
from sipnotify.registrar.reachability import State
from sipnotify.sip.registrar import Binding
from sipnotify.storage.jobs import JobRecord, JobState, PhoneRecord, PhoneState
from sipnotify.web import views
from sipnotify.web.auth import SESSION_LIFETIME, ApiSessions, basic, csrf_ok
from sipnotify.web.hub import QUEUE, Hub

PJSIP = (
    "[desk1]\ntype=aor\ncontact=sip:desk1@192.0.2.1\n[desk1]\ntype=endpoint\naors=desk1\n"
    "[yl]\ntype=aor\nmax_contacts=1\n[yl]\ntype=endpoint\naors=yl\n"
)
CONFIG = load_pjsip(parse_text(PJSIP))[0]
YEALINK = Binding("yl", "sip:yl@192.0.2.9:5062", 1500.0, "yl", user_agent="Yealink T46S",
                  via_addr="192.0.2.9", via_port=5062)  # fmt: skip


def registered(aor: str) -> list[Binding]:
    return [YEALINK] if aor == "yl" else []


def state_of(_aor: str, uri: str) -> State:
    return State("Reachable", 0.0123) if uri == YEALINK.uri else State("NonQualified")


def manager(text: str = "[admin]\nsecret = s3cret\nread = all\nwrite = all\n") -> ManagerConfig:
    return load_manager(parse_text(text), named_acls(parse_text(""))[0])[0]


def test_endpoints_show_each_contact_and_filter() -> None:
    shown = views.endpoints(CONFIG, registered, state_of)
    assert [e["name"] for e in shown] == ["desk1", "yl"]
    (static,) = shown[0]["contacts"]
    assert (static["static"], static["status"], static["rtt_ms"]) == (True, "NonQualified", None)
    (phone,) = shown[1]["contacts"]
    assert (phone["user_agent"], phone["rtt_ms"], phone["via"]) == (
        "Yealink T46S",
        12.3,
        "192.0.2.9:5062",
    )
    assert shown[1]["registered"]
    assert not shown[0]["registered"]
    assert [e["name"] for e in views.endpoints(CONFIG, registered, state_of,
                                               search="yealink")] == ["yl"]  # fmt: skip
    assert [e["name"] for e in views.endpoints(CONFIG, registered, state_of,
                                               status="unregistered")] == ["desk1"]  # fmt: skip
    assert [e["name"] for e in views.endpoints(CONFIG, registered, state_of,
                                               status="reachable")] == ["yl"]  # fmt: skip
    assert [c["endpoint"] for c in views.contacts(CONFIG, registered, state_of)] == ["desk1", "yl"]


def test_a_job_and_a_phone_as_json() -> None:
    job = JobRecord("j1", "reboot", "all endpoints", 1.0, 1.0, 3601.0, JobState.RUNNING,
                    rate=float("inf"))  # fmt: skip
    shown = views.job(job, {PhoneState.SENT: 2})
    assert (shown["total"], shown["counts"]["sent"], shown["pace"]["rate"]) == (2, 2, None)
    phone = views.phone(PhoneRecord("j1", "sip:a@h", "a", "a", PhoneState.ANSWERED, 200))
    assert (phone["state"], phone["status"]) == ("answered", 200)


def test_basic_credentials_prove_a_user_within_its_acl() -> None:
    def header(user: str, secret: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()

    config = manager("[admin]\nsecret = s3cret\nread = system\nwrite = call\n"
                     "[far]\nsecret = x\ndeny = 0.0.0.0/0\n")  # fmt: skip
    caller = basic(config, header("admin", "s3cret"), "127.0.0.1")
    assert caller is not None
    assert (caller.may_watch, caller.may_act) == (True, False)
    assert basic(config, header("admin", "wrong"), "127.0.0.1") is None
    assert basic(config, header("far", "x"), "127.0.0.1") is None
    assert basic(config, "Basic !!!", "127.0.0.1") is None
    assert basic(config, "Digest x", "127.0.0.1") is None


def test_sessions_end_at_sign_out_expire_and_follow_manager_conf() -> None:
    sessions = ApiSessions()
    config = manager()
    user = config.user("admin")
    assert user is not None
    caller = sessions.open(user, 0.0)
    assert len(caller.token) == 32
    assert sessions.find(caller.token, config, 10.0) is caller
    assert csrf_ok(caller, caller.csrf)
    assert not csrf_ok(caller, "nope")
    assert not csrf_ok(caller, None)
    assert sessions.find(caller.token, config, 10.0 + SESSION_LIFETIME + 1) is None  # idle
    again = sessions.open(user, 0.0)
    assert sessions.find(again.token, manager("[other]\nsecret = y\n"), 1.0) is None  # removed
    third = sessions.open(user, 0.0)
    sessions.close(third.token)
    assert sessions.find(third.token, config, 1.0) is None


def test_a_subscriber_that_falls_behind_is_cut_off() -> None:
    async def test() -> None:
        hub = Hub()
        mine, everyone = hub.subscribe("j1"), hub.subscribe(None)
        job = JobRecord("j1", "resync", "all", 1.0, 1.0, 2.0, JobState.RUNNING)
        other = JobRecord("j2", "resync", "all", 1.0, 1.0, 2.0, JobState.RUNNING)
        hub.phone(other, PhoneRecord("j2", "sip:b@h", "b", "b"))
        assert (mine.queue.qsize(), everyone.queue.qsize()) == (0, 1)
        for n in range(QUEUE + 1):
            hub.phone(job, PhoneRecord("j1", f"sip:{n}@h", "a", "a"))
        assert mine.overflowed
        assert await mine.queue.get() is None  # the stream ends at once
        hub.unsubscribe(mine)
        hub.unsubscribe(everyone)
        assert len(hub) == 0

    asyncio.run(test())

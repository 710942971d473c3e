"""Reload, ModuleCheck, ModuleLoad and Command in memory: the replies, the Reload events, and
what the reloader is asked (a fake at the edge that answers as told)."""

from __future__ import annotations

import pytest

from sipnotify.config.reload import ReloadResult as Reloaded
from sipnotify.config.reload import Status
from tests.ami.helpers import FakeSender, Reloads, Session, context

PJSIP = """
[bob]
type=aor
contact=sip:bob@192.0.2.40:5060
[bob]
type=endpoint
aors=bob
"""
ADMIN = "Action: Login\r\nUsername: single\r\nSecret: one\r\nEvents: system\r\n\r\n"


def session(outcome: Reloaded | None = None, sender: FakeSender | None = None) -> Session:
    made = Session(context(pjsip_conf=PJSIP, sender=sender))
    if outcome is not None:
        made.ctx.reload = Reloads(outcome)
    made.send(ADMIN)
    return made


def asked(made: Session) -> list[str | None]:
    reload = made.ctx.reload
    assert isinstance(reload, Reloads)
    return reload.asked


def action(name: str, **fields: str) -> str:
    lines = "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    return f"Action: {name}\r\nActionID: a1\r\n{lines}\r\n"


def test_reload_of_everything_succeeds_and_tells_every_session() -> None:
    made = session()
    outcome = made.outcome(action("Reload"))
    (answer,) = outcome.replies
    assert dict(answer)["Message"] == "Module Reloaded"
    (event,) = outcome.broadcast
    assert (event.name, dict(event.fields)) == ("Reload", {"Module": "All", "Status": "0"})
    assert asked(made) == [None]
    assert made.ctx.reloaded_at == 1042.5


@pytest.mark.parametrize(
    ("outcome", "message", "status"),
    [
        (Reloaded(Status.NOT_FOUND), "No such module", "2"),
        (Reloaded(Status.NOT_SUPPORTED), "Module does not support reload", "6"),
        (
            Reloaded(Status.ERROR, "pjsip.conf:3: bad"),
            "An unknown error occurred: pjsip.conf:3: bad",
            "3",
        ),
    ],
)
def test_reload_failures_keep_asterisks_words(outcome: Reloaded, message: str, status: str) -> None:
    made = session(outcome)
    result = made.outcome(action("Reload", Module="res_pjsip.so"))
    assert dict(result.replies[0]) == {"Response": "Error", "ActionID": "a1", "Message": message}
    assert dict(result.broadcast[0].fields)["Status"] == status
    assert asked(made) == ["res_pjsip.so"]


def test_module_check_knows_the_modules_sipnotify_stands_in_for() -> None:
    made = session()
    assert made.run(action("ModuleCheck", Module="res_pjsip_notify"))[0]["Response"] == "Success"
    assert made.run(action("ModuleCheck", Module="chan_sip.so"))[0]["Message"] == (
        "Module not loaded"
    )


@pytest.mark.parametrize(
    ("fields", "messages"),
    [
        ({"LoadType": "load"}, ["Need module name", "Could not load module."]),
        ({"LoadType": "load", "Module": "res_pjsip.so"}, ["Could not load module."]),
        ({"LoadType": "load", "Module": "nothing.so"}, ["Module not found."]),
        ({"LoadType": "unload", "Module": "res_pjsip.so"}, ["Could not unload module."]),
        ({}, ["Incomplete ModuleLoad action.", "Incomplete ModuleLoad action."]),
        ({"LoadType": "sideways"}, ["Incomplete ModuleLoad action."]),
    ],
)
def test_module_load_refusals(fields: dict[str, str], messages: list[str]) -> None:
    replies = session().outcome(action("ModuleLoad", **fields)).replies
    assert [dict(r)["Message"] for r in replies] == messages


def test_module_load_reload_and_refresh() -> None:
    made = session()
    everything = made.outcome(action("ModuleLoad", LoadType="reload"))
    assert dict(everything.replies[0])["Message"] == "All modules reloaded"
    one = made.outcome(action("ModuleLoad", LoadType="reload", Module="res_pjsip.so"))
    assert dict(one.replies[0])["Message"] == "Module reloaded."
    fresh = made.outcome(action("ModuleLoad", LoadType="refresh", Module="res_pjsip.so"))
    assert dict(fresh.replies[0])["Message"] == "Module unloaded and loaded."
    assert [e.name for e in fresh.broadcast] == ["Unload", "Load"]
    failed = session(Reloaded(Status.ERROR, "x.conf:1: y"))
    answer = failed.outcome(action("ModuleLoad", LoadType="reload", Module="res_pjsip.so"))
    assert dict(answer.replies[0])["Message"] == "Could not reload module.: x.conf:1: y"


def test_command_module_reload_and_core_reload_use_the_reloader() -> None:
    made = session()
    made.run(action("Command", Command="module reload res_pjsip_notify.so"))
    made.run(action("Command", Command="core reload"))
    assert asked(made) == ["res_pjsip_notify.so", None]


def output(made: Session, command: str) -> list[str]:
    (answer,) = made.outcome(action("Command", Command=command)).replies
    return [value for name, value in answer if name == "Output"]


def test_command_pjsip_send_notify_prints_asterisks_lines_and_sends() -> None:
    sender = FakeSender()
    made = session(sender=sender)
    command = "pjsip send notify clear-mwi endpoint bob nobody"
    assert output(made, command) == [
        "Sending NOTIFY of type 'clear-mwi' to 'bob'",
        "Sending NOTIFY of type 'clear-mwi' to 'nobody'",
        "Unable to retrieve endpoint nobody",
    ]
    messages = made.run(action("Command", Command=command))
    assert messages[0]["Response"] == "Success"
    assert [m["Event"] for m in messages[1:]] == ["PJSIPNotifyResult", "PJSIPNotifyComplete"]
    assert len(sender.sent) == 1  # sent by the follow-up, which only `run` starts


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("pjsip send notify", "Usage: pjsip send notify <type>"),
        ("pjsip send notify nope endpoint bob", "Unable to find notify type 'nope'"),
        ("core show nothing", "No such command 'core show nothing'"),
    ],
)
def test_command_errors_are_the_clis_words(command: str, expected: str) -> None:
    made = session()
    (answer,) = made.run(action("Command", Command=command))
    assert answer["Response"] == "Error"
    assert output(made, command)[0].startswith(expected)

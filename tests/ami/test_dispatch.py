"""The generic request rules of behaviour: AMI wire, as exact bytes."""

from __future__ import annotations

from sipnotify.ami import replies
from sipnotify.ami.codec import AmiMessage
from sipnotify.ami.session import Action, ActionResult, AmiContext, SessionState, reply
from sipnotify.config.permissions import SYSTEM
from tests.ami.helpers import Session, context


def test_missing_action() -> None:
    assert Session().send("ActionID: 5\r\n\r\n") == (
        b"Response: Error\r\nActionID: 5\r\nMessage: Missing action in request\r\n\r\n"
    )


def test_empty_action_is_missing_but_a_later_non_empty_one_counts() -> None:
    session = Session()
    assert b"Missing action" in session.send("Action:\r\n\r\n")
    assert b"Authentication accepted" in session.send(
        "Action: \r\nAction: Login\r\nUsername: admin\r\nSecret: s3cret\r\n\r\n"
    )


def test_everything_but_login_logoff_challenge_needs_login() -> None:
    session = Session()
    for action in ("Ping", "ListCommands", "Events", "NoSuchThing", "PJSIPNotify"):
        assert session.send(f"Action: {action}\r\nActionID: x\r\n\r\n") == (
            b"Response: Error\r\nActionID: x\r\nMessage: Permission denied\r\n\r\n"
        )


def test_unknown_action_text_keeps_the_name_as_sent() -> None:
    session = Session()
    session.login()
    assert session.send("Action: FooBar\r\n\r\n") == (
        b"Response: Error\r\nMessage: Invalid/unknown command: FooBar. "
        b"Use Action: ListCommands to show available commands.\r\n\r\n"
    )


def test_action_names_are_case_insensitive() -> None:
    session = Session()
    assert b"Authentication accepted" in session.send(
        "action: LOGIN\r\nusername: admin\r\nsecret: s3cret\r\n\r\n"
    )
    assert b"Ping: Pong" in session.send("ACTION: pInG\r\n\r\n")


def test_shutting_down() -> None:
    session = Session()
    session.ctx.shutting_down = True
    assert session.send("Action: Ping\r\nActionID: 3\r\n\r\n") == (
        b"Response: Error\r\nActionID: 3\r\nMessage: Asterisk is shutting down\r\n\r\n"
    )


def test_login_already_in_use_is_delayed_and_closes() -> None:
    ctx = context()
    first = Session(ctx)
    assert b"accepted" in first.login("single", "one")
    second = Session(ctx)
    outcome = second.outcome("Action: Login\r\nUsername: SINGLE\r\nSecret: one\r\n\r\n")
    assert outcome.delay == 1.0
    assert outcome.close
    assert outcome.replies == ((("Response", "Error"), ("Message", "Login Already In Use")),)
    ctx.release(first.state)
    assert b"accepted" in second.login("single", "one")


def test_multiple_logins_allowed_by_default() -> None:
    ctx = context()
    for _ in range(3):
        assert b"accepted" in Session(ctx).login()
    assert ctx.logins["admin"] == 3


def test_write_class_is_checked_before_the_action_runs() -> None:
    ran: list[str] = []

    def secret_action(_ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
        ran.append(request.action)
        return reply(replies.success(request, "ran"))

    ctx = context()
    ctx.actions = {**ctx.actions, "needsystem": Action("NeedSystem", "x", SYSTEM, secret_action)}
    admin, reader = Session(ctx), Session(ctx)
    admin.login()
    reader.login("reader", "r")
    assert reader.send("Action: NeedSystem\r\n\r\n") == (
        b"Response: Error\r\nMessage: Permission denied\r\n\r\n"
    )
    assert admin.send("Action: NeedSystem\r\n\r\n") == (
        b"Response: Success\r\nMessage: ran\r\n\r\n"
    )
    assert ran == ["NeedSystem"]

"""A sans-IO AMI session for unit tests: requests in, exact reply bytes out."""

from __future__ import annotations

from sipnotify.ami.codec import AmiDecoder, AmiMessage, encode
from sipnotify.ami.dispatch import handle
from sipnotify.ami.session import AmiContext, Outcome, SessionState
from sipnotify.app import action_table
from sipnotify.config.manager import load_manager, named_acls
from sipnotify.config.parser import parse_text

MANAGER_CONF = """
[general]
enabled = yes
[admin]
secret = s3cret
read = system,call,reporting
write = system,call
[reader]
secret = r
read = call
write = call
[single]
secret = one
allowmultiplelogin = no
read = all
write = all
[local]
secret = l
deny = 0.0.0.0/0
permit = 127.0.0.1
"""


def context(manager_conf: str = MANAGER_CONF) -> AmiContext:
    acls, _ = named_acls(parse_text(""))
    manager, _ = load_manager(parse_text(manager_conf, name="manager.conf"), acls)
    return AmiContext(
        manager=manager,
        actions=action_table(),
        started_at=1000.0,
        reloaded_at=1000.0,
        wall_clock=lambda: 1042.5,
        new_challenge=lambda: "840744101",
    )


class Session:
    """One session in memory; `send` answers with the outcome and its wire bytes."""

    def __init__(self, ctx: AmiContext | None = None, peer: str = "127.0.0.1") -> None:
        self.ctx = ctx or context()
        self.state = SessionState(peer=peer)

    def outcome(self, raw: str) -> Outcome:
        (incoming,) = AmiDecoder().feed(raw.encode())
        return handle(self.ctx, self.state, incoming)

    def send(self, raw: str) -> bytes:
        return b"".join(encode(fields) for fields in self.outcome(raw).replies)

    def login(self, user: str = "admin", secret: str = "s3cret", events: str = "") -> bytes:
        extra = f"Events: {events}\r\n" if events else ""
        return self.send(f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\n{extra}\r\n")


def message(*fields: tuple[str, str]) -> AmiMessage:
    return AmiMessage(headers=fields)

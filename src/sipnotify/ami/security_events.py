"""The AMI security events of a REGISTER's authentication (class `security`), as Asterisk 23
sends them: ChallengeSent, SuccessfulAuth and ChallengeResponseFailed, each with the time, the
service, the account, the SIP Call-ID as session, and both addresses."""

from __future__ import annotations

import time

from sipnotify.ami.audience import Broadcast
from sipnotify.config import permissions
from sipnotify.registrar.service import Security, SecurityEvent

_SEVERITY = {Security.CHALLENGE_RESPONSE_FAILED: "Error"}


def security_event(event: SecurityEvent, now: float) -> Broadcast:
    source = event.source
    transport = source.protocol.upper()
    head = (
        ("EventTV", event_tv(now)),
        ("Severity", _SEVERITY.get(event.kind, "Informational")),
        ("Service", "PJSIP"),
        ("EventVersion", "1"),
        ("AccountID", event.account),
        ("SessionID", event.call_id),
        ("LocalAddress", _address(transport, source.local_host, source.local_port)),
        ("RemoteAddress", _address(transport, source.address, source.port)),
    )
    if event.kind is Security.SUCCESSFUL_AUTH:
        tail: tuple[tuple[str, str], ...] = (("UsingPassword", "1"),)
    elif event.kind is Security.CHALLENGE_SENT:
        tail = (("Challenge", ""),)
    else:
        tail = (("Challenge", event.challenge), ("Response", event.response),
                ("ExpectedResponse", ""))  # fmt: skip
    return Broadcast(event.kind.value, permissions.SECURITY, (*head, *tail))


def event_tv(now: float) -> str:
    """`2026-11-30T03:19:45.945+0000`: UTC with milliseconds."""
    millis = int(now * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{millis:03d}+0000"


def _address(transport: str, host: str, port: int) -> str:
    family = "IPV6" if ":" in host else "IPV4"
    return f"{family}/{transport}/{host}/{port}"

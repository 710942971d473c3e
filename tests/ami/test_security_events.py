"""The REGISTER security events as Asterisk 23 formats them."""

from __future__ import annotations

from sipnotify.ami.security_events import event_tv, security_event
from sipnotify.config import permissions
from sipnotify.registrar.service import Security, SecurityEvent
from sipnotify.sip.registrar import Source

SOURCE = Source(address="192.0.2.7", port=5062, protocol="udp", local_host="::1", local_port=5060)


def test_a_failed_response_names_the_challenge_and_the_response() -> None:
    event = SecurityEvent(Security.CHALLENGE_RESPONSE_FAILED, "bob", "c1", SOURCE,
                          challenge="n0nce", response="d1gest")  # fmt: skip
    sent = security_event(event, 1796008785.945)
    fields = dict(sent.fields)
    assert (sent.name, sent.category) == ("ChallengeResponseFailed", permissions.SECURITY)
    assert fields["EventTV"] == "2026-11-30T03:19:45.945+0000"
    assert fields["Severity"] == "Error"
    assert fields["LocalAddress"] == "IPV6/UDP/::1/5060"
    assert fields["RemoteAddress"] == "IPV4/UDP/192.0.2.7/5062"
    assert (fields["Challenge"], fields["Response"], fields["ExpectedResponse"]) == (
        "n0nce",
        "d1gest",
        "",
    )


def test_success_and_challenge_carry_their_own_tails() -> None:
    ok = security_event(SecurityEvent(Security.SUCCESSFUL_AUTH, "bob", "c1", SOURCE), 0.0)
    assert ok.fields[-1] == ("UsingPassword", "1")
    assert dict(ok.fields)["Severity"] == "Informational"
    sent = security_event(SecurityEvent(Security.CHALLENGE_SENT, "bob", "c1", SOURCE), 0.0)
    assert sent.fields[-1] == ("Challenge", "")
    assert event_tv(0.5) == "1970-01-01T00:00:00.500+0000"

"""pjsip.conf into the model (behaviour: pjsip.conf): types, lists, warnings and errors with
file:line."""

from __future__ import annotations

import pytest

from sipnotify.app import timers_of
from sipnotify.config.parser import Concern, ConfigError, parse_text
from sipnotify.config.pjsip import load_pjsip


def test_objects_defaults_and_same_named_sections() -> None:
    config, warnings = load_pjsip(
        parse_text(
            "[t](!)\ntype=endpoint\ncontext=from-phones\n"
            "[udp]\ntype=transport\nbind=0.0.0.0\n"
            "[tls]\ntype=transport\nprotocol=TLS\nbind=[::1]\nmethod=tlsv1_2\nverify_server=yes\n"
            "[user1]\ntype=aor\ncontact=sip:a@h1\ncontact=sip:b@h2,sip:c@h3\nmax_contacts=1\n"
            "[user1](t)\ntype=endpoint\naors=user1\nallow=!all,ulaw\ndirect_media=no\n"
            "[system]\ntype=system\ntimer_t1=100\n",
            name="pjsip.conf",
        )
    )
    assert [(str(w), w.concern) for w in warnings] == [
        ("pjsip.conf:21: 'allow' is accepted but has no effect in sipnotify", Concern.NO_EFFECT),
        ("pjsip.conf:22: 'direct_media' is accepted but has no effect in sipnotify",
         Concern.NO_EFFECT),
    ]  # fmt: skip
    assert config.transports["udp"].bind == "0.0.0.0:5060"
    tls = config.transports["tls"]
    assert (tls.protocol, tls.bind, tls.method, tls.verify_server) == (
        "tls",
        "[::1]:5061",
        "tlsv1_2",
        True,
    )
    assert config.aors["user1"].contacts == ("sip:a@h1", "sip:b@h2", "sip:c@h3")
    endpoint = config.endpoints["user1"]
    assert (endpoint.aors, endpoint.context) == (("user1",), "from-phones")
    assert config.system.timer_t1 == 100
    assert config.global_.default_outbound_endpoint == "default_outbound_endpoint"
    assert "t" not in config.endpoints


def test_unknown_options_and_types_warn_with_file_and_line() -> None:
    _, warnings = load_pjsip(
        parse_text(
            "[e]\ntype=endpoint\nfrobnicate=1\n[x]\ntype=gizmo\n[n]\nfoo=bar\n", name="p.conf"
        )
    )
    assert [str(w) for w in warnings] == [
        "p.conf:3: unknown option 'frobnicate' for endpoint 'e'",
        "p.conf:5: unknown type 'gizmo'; section ignored",
        "p.conf:6: section [n] has no type=; ignored",
    ]


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("[t]\ntype=transport\nprotocol=ws\n", 3, "protocol = 'ws' is not supported"),
        ("[t]\ntype=transport\nbind=999.1.1.1:5060\n", 1, "is not an IP address"),
        ("[t]\ntype=transport\nbind=127.0.0.1:70000\n", 1, "out of range"),
        ("[e]\ntype=endpoint\nuser_eq_phone=perhaps\n", 3, "is not yes or no"),
        ("[a]\ntype=aor\n\ncontact=http://x\n", 4, "contact: not a SIP URI"),
        ("[e]\ntype=endpoint\ntransport=nope\n", 1, "transport 'nope' does not exist"),
        ("[e]\ntype=endpoint\noutbound_auth=nope\n", 1, "outbound_auth 'nope' does not exist"),
        ("[g]\ntype=global\nmax_forwards=0\n", 3, "max_forwards = 0 is out of range"),
        ("[a]\ntype=auth\nauth_type=google_oauth\n", 3, "auth_type = 'google_oauth'"),
    ],
)
def test_invalid_values_stop_with_file_and_line(text: str, line: int, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_pjsip(parse_text(text, name="pjsip.conf"))
    assert str(caught.value).startswith(f"pjsip.conf:{line}: ")
    assert needle in str(caught.value)


def test_timer_b_is_every_transactions_timeout_and_never_below_64_t1() -> None:
    config, warnings = load_pjsip(
        parse_text("[system]\ntype=system\ntimer_t1=100\ntimer_b=10000\n", name="pjsip.conf")
    )
    assert (config.system.timer_t1, config.system.timer_b, warnings) == (100, 10000, [])
    timers = timers_of(config)
    assert (timers.t1, timers.timeout) == (0.1, 10.0)
    low, warnings = load_pjsip(
        parse_text("[system]\ntype=system\ntimer_t1=500\ntimer_b=1000\n", name="pjsip.conf")
    )
    assert low.system.timer_b == 32000
    assert [str(w) for w in warnings] == [
        "pjsip.conf:1: Timer B setting is too low. Setting to 32000"
    ]
    assert timers_of(load_pjsip(parse_text(""))[0]).timeout == 32.0  # Asterisk's default


def test_mwi_options_are_read_kept_for_the_show_actions_and_not_warned_about() -> None:
    config, warnings = load_pjsip(parse_text(
        "[alice]\ntype=endpoint\naors=alice\nmailboxes = 1000@default, 1001@default\n"
        "mwi_from_user = vm\n[carol]\ntype=endpoint\naggregate_mwi = no\n"
        "mwi_subscribe_replaces_unsolicited = yes\n"
        "[alice]\ntype=aor\nmailboxes = 1000@default\nvoicemail_extension = 1000\n",
        name="pjsip.conf"))  # fmt: skip
    alice, carol = config.endpoints["alice"], config.endpoints["carol"]
    assert alice.mailboxes == ("1000@default", "1001@default")
    assert (alice.aggregate_mwi, alice.mwi_from_user, alice.mwi_subscribe_replaces_unsolicited) == (
        True, "vm", False)  # fmt: skip
    assert (carol.mailboxes, carol.aggregate_mwi, carol.mwi_subscribe_replaces_unsolicited) == (
        (), False, True)  # fmt: skip
    assert config.aors["alice"].mailboxes == ("1000@default",)
    assert config.aors["alice"].voicemail_extension == "1000"
    assert not [w for w in warnings if "mailboxes" in w.message or "mwi" in w.message]
    with pytest.raises(ConfigError, match="aggregate_mwi = 'perhaps' is not yes or no"):
        load_pjsip(parse_text("[e]\ntype=endpoint\naggregate_mwi = perhaps\n"))

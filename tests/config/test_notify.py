"""pjsip_notify.conf presets, including the embedded sample file (behaviour: notify presets)."""

from __future__ import annotations

from sipnotify.config.load import DEFAULTS_DIR, load_config
from sipnotify.config.notify import load_notify
from sipnotify.config.parser import parse_text

SAMPLE_NAMES = [
    "clear-mwi",
    "aastra-check-cfg",
    "aastra-xml",
    "digium-check-cfg",
    "linksys-cold-restart",
    "linksys-warm-restart",
    "polycom-check-cfg",
    "sipura-check-cfg",
    "sipura-get-report",
    "snom-check-cfg",
    "snom-reboot",
    "cisco-check-cfg",
    "custom-notify-1",
    "custom-notify-2",
]


def test_embedded_sample_presets() -> None:
    notify = load_config(DEFAULTS_DIR).notify
    assert notify.names() == SAMPLE_NAMES
    clear = notify.find("CLEAR-MWI")
    assert clear is not None
    assert clear.items == (
        ("Event", "message-summary"),
        ("Content-type", "application/simple-message-summary"),
        ("Content", "Messages-Waiting: no"),
        ("Content", "Message-Account: sip:asterisk@127.0.0.1"),
        ("Content", "Voice-Message: 0/0 (0/0)"),
        ("Content", ""),
    )
    reboot, check = notify.find("snom-reboot"), notify.find("snom-check-cfg")
    assert reboot is not None
    assert reboot.items == (("Event", "check-sync;reboot=true"),)
    assert check is not None
    assert check.items == (("Event", "check-sync;reboot=false"),)


def test_general_is_not_a_preset_and_repeats_warn() -> None:
    presets, warnings = load_notify(
        parse_text("[general]\nx=1\n[a]\nEvent=>one\n[A]\nEvent=>two\n", name="n.conf")
    )
    assert presets.names() == ["a"]
    found = presets.find("a")
    assert found is not None
    assert found.items == (("Event", "one"),)
    assert [str(w) for w in warnings] == ["n.conf:5: notify type 'A' repeats n.conf:3; ignored"]

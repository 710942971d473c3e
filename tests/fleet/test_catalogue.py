"""The vendor catalogue: the shipped entries, a user's file over them, and its errors with
file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sipnotify.config.parser import ConfigError, parse_text
from sipnotify.fleet.catalogue import Catalogue, Verb, catalogue_from, load_catalogue


def shipped() -> Catalogue:
    return load_catalogue(None)


@pytest.mark.parametrize(
    ("user_agent", "vendor", "resync", "reboot"),
    [
        ("Yealink SIP-T46S 66.86.0.15", "yealink", "check-sync;reboot=false",
         "check-sync;reboot=true"),
        ("PolycomVVX-VVX_411-UA/6.4.0.1234", "polycom", "check-sync", "check-sync"),
        ("snom D785/10.1.46.16", "snom", "check-sync;reboot=false", "check-sync;reboot=true"),
        ("Cisco/SPA504G-7.6.2", "cisco-spa", "resync", "reboot"),
        ("Grandstream GXP2170 1.0.11.3", "grandstream", "resync", "check-sync;reboot=true"),
        ("Fanvil X4U 2.12.1", "fanvil", "check-sync", "check-sync;reboot=true"),
        ("Mitel 6867i/5.1.0", "aastra", "check-sync", "check-sync;reboot=true"),
        ("Gigaset N870 IP PRO/83.V2.38.0", "gigaset", "check-sync;reboot=false",
         "check-sync;reboot=true"),
        ("Sangoma S505 V3.0.4.69", "sangoma", "resync", "check-sync;reboot=true"),
        ("Htek UC912G V2.0.4.4.62", "htek", "resync", "check-sync;reboot=true"),
        ("Panasonic-KX-HDV230/12.019", "panasonic", "check-sync", "check-sync;reboot=true"),
        ("baresip v3.10.1 (x86_64/linux)", "fallback", "check-sync", "check-sync;reboot=true"),
        ("", "fallback", "check-sync", "check-sync;reboot=true"),
    ],
)  # fmt: skip
def test_the_shipped_catalogue_knows_the_vendors(
    user_agent: str, vendor: str, resync: str, reboot: str
) -> None:
    catalogue = shipped()
    assert catalogue.vendor_for(user_agent).name == vendor
    assert catalogue.items(Verb.RESYNC, user_agent) == (("Event", resync),)
    assert catalogue.items(Verb.REBOOT, user_agent) == (("Event", reboot),)


def test_cisco_enterprise_phones_restart_with_a_service_control_notify() -> None:
    items = shipped().items(Verb.REBOOT, "Cisco-CP8841/14.1.1")
    assert items == (
        ("Event", "service-control"),
        ("Content-Type", "text/plain"),
        ("Content", "action=restart"),
    )


def test_a_users_section_replaces_the_shipped_one_and_the_users_come_first(
    tmp_path: Path,
) -> None:
    (tmp_path / "vendors.conf").write_text(
        "[lab]\ntype=vendor\nuser_agent=Yealink SIP-T46S\nresync=lab-sync\n"
        "[yealink]\ntype=vendor\nuser_agent=^Yealink\nreboot=check-sync\n"
    )
    catalogue = load_catalogue(tmp_path)
    assert catalogue.vendor_for("Yealink SIP-T46S").name == "lab"
    assert catalogue.items(Verb.RESYNC, "Yealink SIP-T46S") == (("Event", "lab-sync"),)
    assert catalogue.items(Verb.REBOOT, "Yealink SIP-T48S") == (("Event", "check-sync"),)
    # a verb the user's vendor does not name falls back
    assert catalogue.items(Verb.RESYNC, "Yealink SIP-T48S") == (("Event", "check-sync"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[x]\ntype=vendor\nuser_agent=(\n", "vendors.conf:3: user_agent '(' is not a regular"),
        ("[x]\ntype=vendor\nuser_agent=x\nrestart=now\n", "vendors.conf:4: 'restart' is not an"),
        ("[x]\ntype=vendor\nreboot=check-sync\n", "vendors.conf:1: vendor [x] has no user_agent"),
        ("[x]\ntype=vendor\nuser_agent=x\nreboot=@nothing\n", "vendors.conf:4: '@nothing' names"),
        ("[x]\ntype=phone\n", "vendors.conf:2: [x] needs type = vendor or type = notify"),
        ("[n]\ntype=notify\nBad Header=>1\n[x]\ntype=vendor\nuser_agent=x\nreboot=@n\n",
         "vendors.conf:1: 'Bad Header' is not a header name"),
        ("[fallback]\ntype=vendor\nresync=check-sync\n", "vendors.conf:1: [fallback] must say"),
    ],
)  # fmt: skip
def test_errors_name_the_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        catalogue_from(parse_text(text, name="vendors.conf"), None)
    assert str(raised.value).startswith(message)


def test_the_shipped_file_is_complete_on_its_own() -> None:
    catalogue = shipped()
    assert len(catalogue.vendors) >= 13
    assert set(catalogue.fallback.verbs) == set(Verb)

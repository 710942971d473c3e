"""Choosing phones and planning what each gets, in memory: the criteria and their
combinations, the errors, the vendor's NOTIFY for each verb, the lamp, presets, variables,
the confirmation rule and the exact request of a dry run."""

from __future__ import annotations

import pytest

from sipnotify.config.notify import load_notify
from sipnotify.config.parser import parse_text
from sipnotify.config.pjsip import PjsipConfig, load_pjsip
from sipnotify.fleet.catalogue import Verb, load_catalogue
from sipnotify.fleet.plan import Mwi, PlanError, Preset, Variables, plan, wire
from sipnotify.fleet.selection import Registration, Selection, SelectionError, select
from sipnotify.sip.ids import Ids
from sipnotify.sip.message import Request
from sipnotify.sip.parser import parse_message
from sipnotify.sip.registrar import Binding
from sipnotify.ua.addresses import Local

PJSIP = """
[floor3-101]
type=aor
[floor3-101]
type=endpoint
aors=floor3-101
[floor3-102]
type=aor
[floor3-102]
type=endpoint
aors=floor3-102
[lobby]
type=aor
contact=sip:lobby@192.0.2.30:5060
[lobby]
type=endpoint
aors=lobby
"""
AGENTS = {
    "floor3-101": "Yealink SIP-T46S 66.86.0.15",
    "floor3-102": "snom D785/10.1.46.16",
}
HERE = Local("udp", "192.0.2.5", 5060)


def config() -> PjsipConfig:
    return load_pjsip(parse_text(PJSIP, name="pjsip.conf"))[0]


def registered(aor: str) -> list[Binding]:
    agent = AGENTS.get(aor)
    if agent is None:
        return []
    return [Binding(aor=aor, uri=f"sip:{aor}@192.0.2.{len(aor)}:5062", expires_at=9e9,
                    endpoint=aor, user_agent=agent)]  # fmt: skip


def names(selection: Selection) -> list[str]:
    return [p.target.endpoint.name for p in select(config(), selection, registered)]


@pytest.mark.parametrize(
    ("selection", "chosen"),
    [
        (Selection(all=True), ["floor3-101", "floor3-102", "lobby"]),
        (Selection(endpoints=("lobby",)), ["lobby"]),
        (Selection(glob="floor3-*"), ["floor3-101", "floor3-102"]),
        (Selection(regex=r"-10[2-9]$"), ["floor3-102"]),
        (Selection(all=True, user_agent="^yealink"), ["floor3-101"]),
        (Selection(all=True, registration=Registration.STATIC), ["lobby"]),
        (Selection(all=True, registration=Registration.REGISTERED), ["floor3-101", "floor3-102"]),
        (Selection(glob="floor3-*", user_agent="snom D7"), ["floor3-102"]),
        (Selection(all=True, aors=("lobby", "floor3-101")), ["floor3-101", "lobby"]),
    ],
)
def test_criteria_and_their_combinations(selection: Selection, chosen: list[str]) -> None:
    assert names(selection) == chosen


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        (Selection(), "choose phones: all, endpoint names, a pattern or a regex"),
        (Selection(endpoints=("nobody",)), "no endpoint named nobody"),
        (Selection(regex="("), "the endpoint regex '(' does not compile"),
        (Selection(all=True, user_agent="[z"), "the User-Agent regex '[z' does not compile"),
        (Selection(all=True, user_agent="^Polycom"), "no phone matches all endpoints and "
                                                    "User-Agent /^Polycom/"),
    ],
)  # fmt: skip
def test_a_selection_that_cannot_be_used_says_why(selection: Selection, message: str) -> None:
    with pytest.raises(SelectionError) as raised:
        select(config(), selection, registered)
    assert str(raised.value).startswith(message)


def planned_events(order: Verb) -> dict[str, tuple[str, str | None]]:
    phones = select(config(), Selection(all=True), registered)
    presets = load_notify(parse_text(""))[0]
    return {
        p.phone.target.endpoint.name: (p.vendor, dict(p.content.headers).get("Event"))
        for p in plan(phones, order, load_catalogue(None), presets)
    }


def test_each_phone_gets_its_vendors_notify() -> None:
    assert planned_events(Verb.RESYNC) == {
        "floor3-101": ("yealink", "check-sync;reboot=false"),
        "floor3-102": ("snom", "check-sync;reboot=false"),
        "lobby": ("fallback", "check-sync"),
    }


def test_a_destructive_verb_on_many_phones_needs_confirming() -> None:
    phones = select(config(), Selection(all=True), registered)
    catalogue, presets = load_catalogue(None), load_notify(parse_text(""))[0]
    with pytest.raises(PlanError, match="reboot of 3 phones needs confirming"):
        plan(phones, Verb.REBOOT, catalogue, presets, confirm_above=2)
    assert len(plan(phones, Verb.REBOOT, catalogue, presets, confirmed=True, confirm_above=2)) == 3
    assert len(plan(phones, Verb.RESYNC, catalogue, presets, confirm_above=2)) == 3


def test_the_lamp_presets_and_variables() -> None:
    phones = select(config(), Selection(endpoints=("floor3-101",)), registered)
    catalogue = load_catalogue(None)
    presets = load_notify(parse_text("[clear-mwi]\nEvent=>message-summary\n"))[0]
    (lamp,) = plan(phones, Mwi(new=2, old=1), catalogue, presets)
    assert lamp.content.content_type == "application/simple-message-summary"
    assert lamp.content.body == (
        "Messages-Waiting: yes\r\nMessage-Account: sip:floor3-101@192.0.2.10\r\n"
        "Voice-Message: 2/1 (0/0)"
    )
    (preset,) = plan(phones, Preset("CLEAR-MWI"), catalogue, presets)
    assert preset.content.headers == (("Event", "message-summary"),)
    with pytest.raises(PlanError, match="no notify type 'nope'"):
        plan(phones, Preset("nope"), catalogue, presets)
    with pytest.raises(PlanError, match="must not contain CR, LF or NUL"):
        plan(phones, Variables((("Event", "x\r\nVia: y"),)), catalogue, presets)


def test_a_dry_run_shows_the_exact_notify() -> None:
    phones = select(config(), Selection(endpoints=("floor3-102",)), registered)
    (planned,) = plan(phones, Verb.REBOOT, load_catalogue(None), load_notify(parse_text(""))[0])
    request = parse_message(wire(planned, HERE, config(), Ids("dry", seed=1)))
    assert isinstance(request, Request)
    assert request.uri == "sip:floor3-102@192.0.2.10:5062"
    assert request.header("Event") == "check-sync;reboot=true"
    assert request.top_via.branch.startswith("z9hG4bKPjdry-")

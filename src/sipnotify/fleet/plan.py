"""What each chosen phone would be sent: the verb turned into its vendor's NOTIFY (or the
message-waiting lamp, a pjsip_notify.conf preset, `Variable` items), and the exact request on
the wire, for a dry run. Nothing here sends.

A destructive verb (reboot) on more phones than the limit is refused unless confirmed: one
mistyped pattern must not restart a whole site.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sipnotify.config.notify import NotifyPresets
from sipnotify.config.pjsip import PjsipConfig
from sipnotify.fleet.catalogue import FALLBACK, Catalogue, Verb
from sipnotify.fleet.selection import Phone
from sipnotify.notify.content import NotifyContent, NotifyError, build_content, preset_content
from sipnotify.notify.requests import request_factory
from sipnotify.sip.ids import Ids
from sipnotify.ua.addresses import Local

CONFIRM_ABOVE = 10  # destructive verbs on more phones than this need confirming


class PlanError(Exception):
    """An order that cannot be planned; the text is for the operator."""


@dataclass(frozen=True, slots=True)
class Mwi:
    """The message-waiting lamp (RFC 3842): on with counts, or off."""

    new: int = 0
    old: int = 0
    urgent_new: int = 0
    urgent_old: int = 0

    @property
    def waiting(self) -> bool:
        return self.new + self.urgent_new > 0


@dataclass(frozen=True, slots=True)
class Preset:
    """A pjsip_notify.conf section, as PJSIPNotify's `Option`."""

    name: str


@dataclass(frozen=True, slots=True)
class Variables:
    """Header, Content-Type and Content items, as PJSIPNotify's `Variable` lines."""

    items: tuple[tuple[str, str], ...]


Order = Verb | Mwi | Preset | Variables


@dataclass(frozen=True, slots=True)
class Planned:
    """One phone and what it gets; `vendor` names the catalogue entry a verb used."""

    phone: Phone
    vendor: str
    content: NotifyContent


def plan(
    phones: Sequence[Phone], order: Order, catalogue: Catalogue, presets: NotifyPresets, *,
    confirmed: bool = False, confirm_above: int = CONFIRM_ABOVE,
) -> list[Planned]:  # fmt: skip
    """Each phone with its NOTIFY. Raises PlanError (an unknown preset, a variable that
    would break the message, an unconfirmed destructive verb on too many phones)."""
    if isinstance(order, Verb) and order.destructive and not confirmed:
        _check_confirmed(order, len(phones), confirm_above)
    try:
        if isinstance(order, Mwi):  # each phone's own account
            return [_planned(phone, order, catalogue, presets) for phone in phones]
        shared: dict[str, Planned] = {}  # by User-Agent: phones alike get one content
        return [_alike(phone, order, catalogue, presets, shared) for phone in phones]
    except NotifyError as exc:
        raise PlanError(exc.message) from None


def _alike(phone: Phone, order: Order, catalogue: Catalogue, presets: NotifyPresets,
           shared: dict[str, Planned]) -> Planned:  # fmt: skip
    """A phone's plan made from that of an earlier phone with the same User-Agent (the
    content depends on nothing else), so a fleet of one model costs one content."""
    known = shared.get(phone.user_agent)
    if known is None:
        known = shared[phone.user_agent] = _planned(phone, order, catalogue, presets)
        return known
    return Planned(phone, known.vendor, known.content)


def _check_confirmed(verb: Verb, count: int, limit: int) -> None:
    if count > limit:
        raise PlanError(f"{verb.value} of {count} phones needs confirming (more than {limit})")


def _planned(phone: Phone, order: Order, catalogue: Catalogue, presets: NotifyPresets) -> Planned:
    if isinstance(order, Verb):
        vendor = catalogue.vendor_for(phone.user_agent)
        return Planned(phone, vendor.name, preset_content(catalogue.items(order, phone.user_agent)))
    if isinstance(order, Mwi):
        return Planned(phone, FALLBACK, preset_content(mwi_items(order, phone)))
    if isinstance(order, Preset):
        found = presets.find(order.name)
        if found is None:
            raise PlanError(f"no notify type '{order.name}' in pjsip_notify.conf")
        return Planned(phone, FALLBACK, preset_content(found.items))
    return Planned(phone, FALLBACK, build_content(order.items, from_ami=True))


def mwi_items(mwi: Mwi, phone: Phone) -> tuple[tuple[str, str], ...]:
    """RFC 3842 §5.2: Messages-Waiting, the account the counts are for, and the voice
    counts as new/old (urgent new/urgent old)."""
    account = f"sip:{phone.aor}@{phone.target.uri.host}"
    counts = f"{mwi.new}/{mwi.old} ({mwi.urgent_new}/{mwi.urgent_old})"
    return (
        ("Event", "message-summary"),
        ("Content-Type", "application/simple-message-summary"),
        ("Content", f"Messages-Waiting: {'yes' if mwi.waiting else 'no'}"),
        ("Content", f"Message-Account: {account}"),
        ("Content", f"Voice-Message: {counts}"),
    )


def wire(planned: Planned, local: Local, config: PjsipConfig, ids: Ids) -> bytes:
    """The NOTIFY exactly as it would leave from `local` (first attempt, no credentials)."""
    build = request_factory(planned.phone.target, planned.content, local, config, ids=ids)
    return build(ids.cseq(), ()).data

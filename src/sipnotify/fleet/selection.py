"""Choosing phones: which contacts a fleet operation reaches.

Endpoints are chosen by name (a list, all of them, a glob or a regular expression), then
resolved to contacts exactly as PJSIPNotify resolves an endpoint (every AOR, static contacts
then registered ones), then narrowed by AOR, by registration state and by the User-Agent the
contact registered with (vendor, model, firmware: a case-insensitive regular expression). The
criteria combine with AND. A selection that cannot be read, or that matches nobody, is a
`SelectionError` whose text says what was wrong.
"""

from __future__ import annotations

import enum
import fnmatch
import re
from dataclasses import dataclass

from sipnotify.config.pjsip import PjsipConfig
from sipnotify.notify.targets import Registered, Target, aor_targets
from sipnotify.sip.registrar import Binding


class SelectionError(Exception):
    """A selection that cannot be used; the text is for the operator."""


class Registration(enum.Enum):
    ANY = "any"
    REGISTERED = "registered"  # contacts that registered (and have not expired)
    STATIC = "static"  # contacts written in pjsip.conf


@dataclass(frozen=True, slots=True)
class Selection:
    endpoints: tuple[str, ...] = ()  # names; empty with no pattern and not `all`: nobody
    all: bool = False
    glob: str = ""  # on the endpoint name, as a shell matches file names
    regex: str = ""  # on the endpoint name (searched)
    user_agent: str = ""  # on the contact's registered User-Agent (searched)
    aors: tuple[str, ...] = ()
    registration: Registration = Registration.ANY


@dataclass(frozen=True, slots=True)
class Phone:
    """One contact chosen: the target as PJSIPNotify would send to it, its AOR, and what it
    registered with (empty for a static contact)."""

    target: Target
    aor: str
    binding: Binding | None

    @property
    def user_agent(self) -> str:
        return self.binding.user_agent if self.binding is not None else ""


def select(config: PjsipConfig, selection: Selection, registered: Registered) -> list[Phone]:
    """The phones `selection` names, endpoint by endpoint in name order. Raises
    SelectionError."""
    names = _endpoint_names(config, selection)
    agent = _compile(selection.user_agent, "User-Agent") if selection.user_agent else None
    phones = [
        phone
        for name in names
        for phone in _phones(config, name, registered)
        if _wanted(phone, selection, agent)
    ]
    if not phones:
        raise SelectionError(f"no phone matches {describe(selection)}")
    return phones


def _endpoint_names(config: PjsipConfig, selection: Selection) -> list[str]:
    unknown = [name for name in selection.endpoints if name not in config.endpoints]
    if unknown:
        raise SelectionError(f"no endpoint named {unknown[0]}")
    if not (selection.all or selection.endpoints or selection.glob or selection.regex):
        raise SelectionError("choose phones: all, endpoint names, a pattern or a regex")
    pattern = _compile(selection.regex, "endpoint") if selection.regex else None
    chosen = []
    for name in sorted(config.endpoints):
        if selection.endpoints and name not in selection.endpoints:
            continue
        if selection.glob and not fnmatch.fnmatchcase(name, selection.glob):
            continue
        if pattern is not None and not pattern.search(name):
            continue
        chosen.append(name)
    return chosen


def _phones(config: PjsipConfig, name: str, registered: Registered) -> list[Phone]:
    """The endpoint's contacts as PJSIPNotify resolves them: AOR by AOR, static ones first."""
    endpoint = config.endpoints[name]
    phones = []
    for aor_name in endpoint.aors:
        aor = config.aors.get(aor_name)
        if aor is None:
            continue
        bindings = registered(aor_name)
        targets = aor_targets(endpoint, aor, bindings)
        static = len(targets) - len(bindings)
        for index, target in enumerate(targets):
            binding = bindings[index - static] if index >= static else None
            phones.append(Phone(target, aor_name, binding))
    return phones


def _wanted(phone: Phone, selection: Selection, agent: re.Pattern[str] | None) -> bool:
    if selection.aors and phone.aor not in selection.aors:
        return False
    if selection.registration is Registration.REGISTERED and phone.binding is None:
        return False
    if selection.registration is Registration.STATIC and phone.binding is not None:
        return False
    return agent is None or bool(agent.search(phone.user_agent))


def _compile(text: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(text, re.IGNORECASE)
    except re.error as exc:
        raise SelectionError(f"the {what} regex '{text}' does not compile: {exc}") from None


def describe(selection: Selection) -> str:
    """The selection in words, for messages."""
    parts = []
    if selection.all:
        parts.append("all endpoints")
    if selection.endpoints:
        parts.append("endpoints " + ", ".join(selection.endpoints))
    if selection.glob:
        parts.append(f"endpoints like '{selection.glob}'")
    if selection.regex:
        parts.append(f"endpoints matching /{selection.regex}/")
    if selection.aors:
        parts.append("AORs " + ", ".join(selection.aors))
    if selection.registration is not Registration.ANY:
        parts.append(f"{selection.registration.value} contacts")
    if selection.user_agent:
        parts.append(f"User-Agent /{selection.user_agent}/")
    return " and ".join(parts) or "nothing"

"""What the JSON API and the console show of endpoints and contacts, sans I/O: each endpoint
with its AORs and every contact (static from pjsip.conf, or registered), with the contact's
status and round-trip time as qualify last saw them, its User-Agent and expiry; filtered by a
search text and a status; and fleet jobs with their phones. Plain dicts and lists, ready for
JSON.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from sipnotify.config.pjsip import Endpoint, PjsipConfig
from sipnotify.notify.targets import Registered
from sipnotify.registrar.reachability import State
from sipnotify.storage.jobs import JobRecord, PhoneRecord, PhoneState

Json = dict[str, Any]
StateOf = Callable[[str, str], State]  # (aor, uri) -> what qualify knows


def endpoints(config: PjsipConfig, registered: Registered, state_of: StateOf, *,
              search: str = "", status: str = "") -> list[Json]:  # fmt: skip
    """Every endpoint by name, with its contacts; `search` (any part of the name, an AOR, a
    contact URI or User-Agent, case-insensitive) and `status` (`registered`, `unregistered`,
    or a contact status such as `Reachable`) narrow the list."""
    found = []
    for name in sorted(config.endpoints):
        shown = endpoint(config, config.endpoints[name], registered, state_of)
        if _matches(shown, search.lower()) and _has_status(shown, status.lower()):
            found.append(shown)
    return found


def endpoint(config: PjsipConfig, endpoint: Endpoint, registered: Registered,
             state_of: StateOf) -> Json:  # fmt: skip
    contacts: list[Json] = []
    for aor_name in endpoint.aors:
        aor = config.aors.get(aor_name)
        if aor is None:
            continue
        for uri in aor.contacts:
            contacts.append(_contact(aor_name, uri, state_of(aor_name, uri), static=True))
        for binding in registered(aor_name):
            shown = _contact(aor_name, binding.uri, state_of(aor_name, binding.uri))
            shown.update(user_agent=binding.user_agent, expires_at=round(binding.expires_at),
                         via=f"{binding.via_addr}:{binding.via_port}",
                         transport=binding.protocol)  # fmt: skip
            contacts.append(shown)
    return {
        "name": endpoint.name,
        "aors": list(endpoint.aors),
        "transport": endpoint.transport,
        "registered": any(not c["static"] for c in contacts),
        "contacts": contacts,
    }


def contacts(config: PjsipConfig, registered: Registered, state_of: StateOf) -> list[Json]:
    """Every contact of every endpoint, each with its endpoint's name."""
    return [
        {"endpoint": shown["name"], **contact}
        for shown in endpoints(config, registered, state_of)
        for contact in shown["contacts"]
    ]


def _contact(aor: str, uri: str, state: State, *, static: bool = False) -> Json:
    rtt = None if state.rtt is None else round(state.rtt * 1000, 3)
    return {"aor": aor, "uri": uri, "static": static, "status": state.status, "rtt_ms": rtt,
            "user_agent": "", "expires_at": None, "via": "", "transport": ""}  # fmt: skip


def _matches(shown: Json, search: str) -> bool:
    if not search:
        return True
    texts = [shown["name"], *shown["aors"]]
    texts += [text for c in shown["contacts"] for text in (c["uri"], c["user_agent"])]
    return any(search in text.lower() for text in texts)


def _has_status(shown: Json, status: str) -> bool:
    if not status:
        return True
    if status in ("registered", "unregistered"):
        return bool(shown["registered"]) == (status == "registered")
    return any(c["status"].lower() == status for c in shown["contacts"])


def job(record: JobRecord, counts: Mapping[PhoneState, int]) -> Json:
    """A fleet job: what, whom, its pace and state, and how many phones are in each state."""
    return {
        "id": record.id,
        "order": record.order,
        "selection": record.selection,
        "state": record.state.value,
        "created_at": record.created_at,
        "start_at": record.start_at,
        "deadline": record.deadline,
        "pace": {
            "rate": None if math.isinf(record.rate) else record.rate,
            "in_flight": record.in_flight,
            "per_address": record.per_address,
            "jitter": record.jitter,
        },
        "total": sum(counts.values()),
        "counts": {state.value: counts.get(state, 0) for state in PhoneState},
    }


def phone(record: PhoneRecord) -> Json:
    """One phone of a job and its progress."""
    return {
        "job": record.job_id,
        "endpoint": record.endpoint,
        "uri": record.uri,
        "aor": record.aor,
        "state": record.state.value,
        "status": record.status,
        "attempts": record.attempts,
        "updated_at": record.updated_at,
        "user_agent_before": record.user_agent_before,
        "user_agent_after": record.user_agent_after,
    }
